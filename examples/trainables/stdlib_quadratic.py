#!/usr/bin/env python3
"""A noisy quadratic minimised by SGD with momentum: a Hypersweep trainable, standard library only.

Parameters: lr (default 0.01), momentum (default 0.9), noise (default 0.1). Each step runs 25
noisy SGD iterations on an ill-conditioned 8-dimensional quadratic and reports `loss` (lower is
better) and `score` = 1 / (1 + loss) (higher is better). The state is saved in checkpoint_dir()
after each step, and every process start appends a line to checkpoint_dir()/resume.log, so a
resumed trial shows where it started. The noise of a step depends only on the trial and the
step, so a resumed trial reproduces the run it continues.

hypersweep.py is found next to this file, on PYTHONPATH, or in the repository's clients/python.

Knobs for tests (environment variables; steps are report numbers):
  HS_EXAMPLE_SLEEP=<seconds>       sleep this long in each step (stopping promptly on SIGTERM)
  HS_EXAMPLE_CRASH_AT=<step>       exit 3 instead of reporting this step, with a message on stderr
  HS_EXAMPLE_HANG=<step>           stop reporting at this step: wait until SIGTERM (then exit 0)
  HS_EXAMPLE_GARBAGE=<step>        print a line that is not JSON to stdout before this step's report
  HS_EXAMPLE_IGNORE_SIGTERM=1      ignore SIGTERM (only SIGKILL ends the process)
  HS_EXAMPLE_CHILD=<path>          start a sleeping child process and write its pid to <path>
  HS_EXAMPLE_CHECKPOINT_EVERY=<n>  save and report checkpoint: true every n steps (default 1)
"""

import json
import math
import os
import random
import signal
import subprocess
import sys
import time

sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
import hypersweep as hs  # noqa: E402

DIM = 8
ITERATIONS_PER_STEP = 25
CURVATURE = [10 ** (2 * i / (DIM - 1)) for i in range(DIM)]  # 1 … 100: ill-conditioned
TARGET = [math.sin(i + 1) * 3 for i in range(DIM)]
BOUND = 1e3  # a diverging run is clipped here, so every loss stays finite


def env_int(name):
    text = os.environ.get(name, "")
    return int(text) if text.strip() else None


def loss_of(w):
    return 0.5 * sum(a * (x - c) ** 2 for a, x, c in zip(CURVATURE, w, TARGET))


def save_state(directory, state):
    path = os.path.join(directory, "state.json")
    with open(path + ".tmp", "w") as f:
        json.dump(state, f)
    os.replace(path + ".tmp", path)  # atomic: a kill never leaves half a file


def sleep_unless_stopped(seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not hs.should_stop():
        time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))


def main():
    p = hs.params({"lr": 0.01, "momentum": 0.9, "noise": 0.1})
    lr, momentum, noise = float(p["lr"]), float(p["momentum"]), float(p["noise"])
    trial = hs.trial()
    ckpt = hs.checkpoint_dir()
    start = hs.start_step()
    max_steps = hs.max_steps() or 20
    hs.handle_sigterm()  # SIGTERM sets should_stop() from here on
    if os.environ.get("HS_EXAMPLE_IGNORE_SIGTERM") == "1":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sleep = float(os.environ.get("HS_EXAMPLE_SLEEP") or 0)
    crash_at, hang_at = env_int("HS_EXAMPLE_CRASH_AT"), env_int("HS_EXAMPLE_HANG")
    garbage_at = env_int("HS_EXAMPLE_GARBAGE")
    every = env_int("HS_EXAMPLE_CHECKPOINT_EVERY") or 1

    with open(os.path.join(ckpt, "resume.log"), "a") as f:
        f.write(json.dumps({"startStep": start, "attempt": trial["attempt"], "pid": os.getpid()}) + "\n")

    if start > 0:
        with open(os.path.join(ckpt, "state.json")) as f:
            state = json.load(f)
        if state["step"] != start:
            print(f"checkpoint holds step {state['step']}, but HYPERSWEEP_START_STEP is {start}", file=sys.stderr)
            return 2
        w, v = state["w"], state["v"]
    else:
        w, v = [0.0] * DIM, [0.0] * DIM

    if os.environ.get("HS_EXAMPLE_CHILD"):
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        with open(os.environ["HS_EXAMPLE_CHILD"], "w") as f:
            f.write(str(child.pid))

    print(f"trial {trial['number']} attempt {trial['attempt']}: lr={lr} momentum={momentum} from step {start + 1}",
          file=sys.stderr, flush=True)
    for step in range(start + 1, max_steps + 1):
        if crash_at == step:
            print(f"crashing at step {step} as HS_EXAMPLE_CRASH_AT asks", file=sys.stderr, flush=True)
            return 3
        if hang_at == step:
            print(f"hanging at step {step} as HS_EXAMPLE_HANG asks", file=sys.stderr, flush=True)
            while not hs.should_stop():
                time.sleep(0.05)
            return 0
        rng = random.Random(f"{trial['trialId'] or 'local'}:{step}")
        for _ in range(ITERATIONS_PER_STEP):
            for i in range(DIM):
                grad = CURVATURE[i] * (w[i] - TARGET[i]) + rng.gauss(0.0, noise)
                v[i] = momentum * v[i] - lr * grad
                w[i] = min(BOUND, max(-BOUND, w[i] + v[i]))
        sleep_unless_stopped(sleep)
        if hs.should_stop():
            print(f"stopping before step {step} ({hs.stop_reason()})", file=sys.stderr, flush=True)
            return 0
        loss = loss_of(w)
        checkpoint = step % every == 0 or step == max_steps
        if checkpoint:
            save_state(ckpt, {"step": step, "w": w, "v": v})
        if garbage_at == step:
            print(f"this is not JSON (HS_EXAMPLE_GARBAGE={step})", flush=True)
        answer = hs.report(step, {"loss": loss, "score": 1.0 / (1.0 + loss)}, checkpoint=checkpoint)
        if answer == "stop" or hs.should_stop():
            print(f"stopped after step {step} ({hs.stop_reason()})", file=sys.stderr, flush=True)
            return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
