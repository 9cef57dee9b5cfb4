#!/usr/bin/env python3
"""An ask/tell loop: trains a tiny logistic regression locally for each trial the API hands out.

    python3 examples/ask_tell.py --create              # create an external sweep, then work on it
    python3 examples/ask_tell.py --sweep <sweep id>    # work on an existing external sweep

The API is --url (env HYPERSWEEP_URL, default http://127.0.0.1:8080) with --token (env
HYPERSWEEP_TOKEN, a token with the `submit` role). Run several copies at once: two askers never
get the same trial. Standard library only; hypersweep.py is found next to this file, on
PYTHONPATH, or in the repository's clients/python.
"""

import argparse
import math
import os
import random
import sys

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "clients", "python"))
import hypersweep as hs  # noqa: E402

SPEC = {
    "name": "ask/tell logistic regression",
    "external": {"maxSteps": 12, "leaseSeconds": 30},
    "search": {
        "space": {
            "lr": {"type": "loguniform", "low": 1e-3, "high": 3.0},
            "l2": {"type": "loguniform", "low": 1e-5, "high": 1e-1},
        },
        "sampler": {"type": "tpe", "nStartupTrials": 4},
        "scheduler": {"type": "asha", "reductionFactor": 3, "minResource": 1},
        "budget": {"maxTrials": 12, "maxConcurrentTrials": 2},
    },
    "objective": {"metric": "val_loss", "mode": "minimize"},
}


def dataset(n, seed):
    """Two overlapping Gaussian blobs in 5 dimensions."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = i % 2
        rows.append(([rng.gauss(0.6 if label else -0.6, 1.0) for _ in range(5)], label))
    return rows


TRAIN, VAL = dataset(400, 1), dataset(200, 2)


def sigmoid(z):
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))


def epoch(w, b, lr, l2, step):
    """One pass of SGD, shuffled by the step number: the same epoch gives the same weights."""
    rows = TRAIN[:]
    random.Random(step).shuffle(rows)
    for x, y in rows:
        g = sigmoid(sum(wi * xi for wi, xi in zip(w, x)) + b) - y
        w = [wi - lr * (g * xi + l2 * wi) for wi, xi in zip(w, x)]
        b -= lr * g
    return w, b


def evaluate(w, b):
    loss, right = 0.0, 0
    for x, y in VAL:
        p = min(max(sigmoid(sum(wi * xi for wi, xi in zip(w, x)) + b), 1e-12), 1 - 1e-12)
        loss -= math.log(p) if y else math.log(1 - p)
        right += (p >= 0.5) == bool(y)
    return loss / len(VAL), right / len(VAL)


def run_trial(client, trial, max_steps):
    lr, l2 = float(trial.params["lr"]), float(trial.params["l2"])
    w, b = [0.0] * 5, 0.0
    for step in range(1, max_steps + 1):
        w, b = epoch(w, b, lr, l2, step)
        if step <= trial.start_step:
            continue  # a retried trial: steps up to start_step are stored; replay them silently
        val_loss, val_accuracy = evaluate(w, b)
        decision = client.report(trial, step, {"val_loss": val_loss, "val_accuracy": val_accuracy})
        print(f"trial {trial.number} step {step}: val_loss {val_loss:.4f} val_accuracy {val_accuracy:.3f} -> {decision}",
              file=sys.stderr)
        if decision == "stop":
            break
    client.tell(trial, "completed")  # after a stop too: the trial then ends stopped


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=None, help="API base URL (env HYPERSWEEP_URL)")
    parser.add_argument("--token", default=None, help="API token (env HYPERSWEEP_TOKEN)")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--sweep", help="the id of an external sweep")
    group.add_argument("--create", action="store_true", help="create an external sweep first")
    args = parser.parse_args()

    client = hs.Client(args.url, args.token)
    sweep_id = client.create_sweep(SPEC)["id"] if args.create else args.sweep
    print(f"sweep {sweep_id}", file=sys.stderr)
    max_steps = None
    while True:
        try:
            trial = client.ask(sweep_id, wait=30)
        except hs.Conflict:
            print("the sweep has ended", file=sys.stderr)
            return 0
        if trial is None:
            continue  # nothing ready yet (others are running): ask again
        if max_steps is None:
            # The ask answer does not carry maxSteps (docs/ask-tell.md); the sweep's spec does.
            max_steps = trial.max_steps or client.get_sweep(sweep_id)["spec"]["external"]["maxSteps"]
        try:
            with client.lease(trial):  # heartbeats while the trial trains; a crash tells it failed
                run_trial(client, trial, max_steps)
        except hs.Conflict as e:  # the lease lapsed (too slow, or a network cut): the API retries it
            print(f"trial {trial.number}: {e}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
