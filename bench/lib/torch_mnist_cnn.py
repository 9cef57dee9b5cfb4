"""The PyTorch peer of bench/cnn.ts: the same CNN spec (our JSON model format) trained on the same
MNIST batches (the first `batches` × `batch` training images, x/255), Adam 1e-3, a fixed number
of steps after a warm-up. Channels-first (PyTorch's native layout); the layers and their sizes
are the spec's. Prints one JSON line with samples/s.

usage: python3 torch_mnist_cnn.py <mnist data dir> <model.json> <threads> <warmup steps> <steps> <batch> <batches>
"""
import json
import sys
import time

import numpy as np
import torch
from torch import nn


def idx(path, header):
    with open(path, 'rb') as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def build(spec):
    """nn.Sequential of the spec's layers (reshape to [H, W, C] becomes [C, H, W])."""
    shape = list(spec['inputShape'])  # channels-last, as the spec
    layers = []
    acts = {'relu': nn.ReLU, 'tanh': nn.Tanh, 'sigmoid': nn.Sigmoid, 'linear': None}
    for layer in spec['layers']:
        t = layer['type']
        if t == 'reshape':
            target = layer['targetShape']
            layers.append(nn.Unflatten(1, (target[2], target[0], target[1])))
            shape = list(target)
        elif t == 'conv2d':
            k = pair(layer['kernelSize'])
            s = pair(layer.get('strides', 1))
            if layer.get('padding', 'valid') == 'same' and s != (1, 1):
                raise ValueError('same padding with strides: not in this peer')
            conv = nn.Conv2d(shape[2], layer['filters'], k, stride=s, padding=layer.get('padding', 'valid'), bias=layer.get('useBias', True))
            layers.append(conv)
            act = acts[layer.get('activation', 'linear')]
            if act:
                layers.append(act())
            if layer.get('padding', 'valid') == 'same':
                shape = [shape[0], shape[1], layer['filters']]
            else:
                shape = [(shape[0] - k[0]) // s[0] + 1, (shape[1] - k[1]) // s[1] + 1, layer['filters']]
        elif t in ('max_pool2d', 'avg_pool2d'):
            p = pair(layer.get('poolSize', 2))
            s = pair(layer.get('strides', p))
            if layer.get('padding', 'valid') != 'valid':
                raise ValueError('same-padded pooling: not in this peer')
            layers.append((nn.MaxPool2d if t == 'max_pool2d' else nn.AvgPool2d)(p, s))
            shape = [(shape[0] - p[0]) // s[0] + 1, (shape[1] - p[1]) // s[1] + 1, shape[2]]
        elif t == 'dropout':
            layers.append(nn.Dropout(layer['rate']))
        elif t == 'flatten':
            layers.append(nn.Flatten())
            shape = [int(np.prod(shape))]
        elif t == 'dense':
            layers.append(nn.Linear(shape[-1] if len(shape) == 1 else int(np.prod(shape)), layer['units']))
            act = acts[layer.get('activation', 'linear')]
            if act:
                layers.append(act())
            shape = [layer['units']]
        else:
            raise ValueError(f'layer type {t}: not in this peer')
    return nn.Sequential(*layers)


def main():
    data_dir, model_path = sys.argv[1], sys.argv[2]
    threads, warmup, steps, batch, batches = (int(a) for a in sys.argv[3:8])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    with open(model_path) as f:
        spec = json.load(f)
    n = batch * batches
    h, w = spec['inputShape'][0], spec['inputShape'][1]
    x = torch.from_numpy(idx(f'{data_dir}/train-images-idx3-ubyte', 16)[: n * h * w].reshape(n, h * w).astype(np.float32) / 255.0)
    y = torch.from_numpy(idx(f'{data_dir}/train-labels-idx1-ubyte', 8)[:n].astype(np.int64))
    model = build(spec)
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()

    def step(i):
        b = i % batches
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[b * batch:(b + 1) * batch]), y[b * batch:(b + 1) * batch])
        loss.backward()
        opt.step()
        return loss

    for i in range(warmup):
        step(i)
    started = time.perf_counter()
    for i in range(steps):
        loss = step(warmup + i)
    loss.item()
    seconds = time.perf_counter() - started
    print(json.dumps({'samples_per_sec': steps * batch / seconds, 'seconds': seconds, 'steps': steps, 'threads': threads,
                      'torch': torch.__version__, 'layers': str(model)}), flush=True)


if __name__ == '__main__':
    main()
