"""The PyTorch peer of `npm run bench -- cnn batchnorm`: Keras' mnist_convnet (conv 3x3x32 valid,
[batch norm], relu, maxpool 2, conv 3x3x64 valid, [batch norm], relu, maxpool 2, flatten,
dropout 0.5, dense 10), glorot-uniform weights and zero biases, Adam 1e-3 (eps 1e-7), batch 128 on
all 60,000 MNIST training images (x/255, shuffled each epoch), ghost batch norm as our engine trains
it: each batch's forward runs in `ghost`-row chunks (momentum 0.01 = Keras' 0.99, eps 1e-3), one
loss over the whole batch. Prints one JSON line per epoch, with the test accuracy under the moving
statistics.

usage: python3 torch_mnist_bn.py <mnist data dir> <bn|nobn> <ghost rows> <threads> <epochs> <seed>
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
    data, mode, ghost, threads, epochs, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    bn = mode == 'bn'
    x = torch.from_numpy(idx(f'{data}/train-images-idx3-ubyte', 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255)
    y = torch.from_numpy(idx(f'{data}/train-labels-idx1-ubyte', 8).astype(np.int64))
    xt = torch.from_numpy(idx(f'{data}/t10k-images-idx3-ubyte', 16).reshape(-1, 1, 28, 28).astype(np.float32) / 255)
    yt = torch.from_numpy(idx(f'{data}/t10k-labels-idx1-ubyte', 8).astype(np.int64))
    norm = (lambda c: [nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)]) if bn else (lambda c: [])
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3), *norm(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), *norm(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.5), nn.Linear(1600, 10))
    for m in model:
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_sum = nn.CrossEntropyLoss(reduction='sum')
    n = x.shape[0]
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(n)
        correct, total_loss = 0, 0.0
        started = time.perf_counter()
        for s in range(0, n, 128):
            ib = perm[s:s + 128]
            xb, yb = x[ib], y[ib]
            opt.zero_grad(set_to_none=True)
            out = torch.cat([model(xb[j:j + ghost]) for j in range(0, len(ib), ghost)])
            loss = loss_sum(out, yb) / len(ib)
            loss.backward()
            opt.step()
            correct += (out.argmax(1) == yb).sum().item()
            total_loss += loss.item() * len(ib)
        seconds = time.perf_counter() - started
        model.eval()
        with torch.no_grad():
            test_accuracy = (model(xt).argmax(1) == yt).float().mean().item()
        print(json.dumps({'epoch': epoch, 'train_loss': total_loss / n, 'train_accuracy': correct / n, 'test_accuracy': test_accuracy,
                          'samples_per_sec': n / seconds, 'seconds': seconds, 'torch': torch.__version__}), flush=True)


if __name__ == '__main__':
    main()
