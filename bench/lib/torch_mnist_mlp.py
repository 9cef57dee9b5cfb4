"""The peer of bench/longrun.ts: Keras' mnist_mlp recipe in PyTorch (Debian's python3-torch).

MLP 784-512-512-10 ReLU, glorot_uniform kernels and zero biases (Keras' Dense defaults), dropout
0.2, inputs x/255, batch 128, shuffled every epoch, on all 60,000 training images; tested on the
10,000 test images. Prints one JSON line per epoch and one with the test accuracy.

usage: python3 torch_mnist_mlp.py <mnist data dir> <rmsprop|adam> <seed> <epochs> <threads>
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


def main():
    data_dir, optimizer, seed, epochs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x_train = torch.from_numpy(idx(f'{data_dir}/train-images-idx3-ubyte', 16).reshape(-1, 784).astype(np.float32) / 255.0)
    y_train = torch.from_numpy(idx(f'{data_dir}/train-labels-idx1-ubyte', 8).astype(np.int64))
    x_test = torch.from_numpy(idx(f'{data_dir}/t10k-images-idx3-ubyte', 16).reshape(-1, 784).astype(np.float32) / 255.0)
    y_test = torch.from_numpy(idx(f'{data_dir}/t10k-labels-idx1-ubyte', 8).astype(np.int64))

    model = nn.Sequential(
        nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 10),
    )
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.xavier_uniform_(layer.weight)
            nn.init.zeros_(layer.bias)
    if optimizer == 'rmsprop':
        # Keras' rho = 0.9 is PyTorch's alpha; PyTorch adds ε outside the root.
        opt = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    n = x_train.shape[0]
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(n, generator=gen)
        started = time.perf_counter()
        total = 0.0
        for start in range(0, n, 128):
            batch = perm[start:start + 128]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            opt.step()
            total += loss.item() * batch.shape[0]
        seconds = time.perf_counter() - started
        print(json.dumps({'epoch': epoch, 'samples_per_sec': n / seconds, 'train_loss': total / n}), flush=True)
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    print(json.dumps({'test_accuracy': accuracy}), flush=True)


if __name__ == '__main__':
    main()
