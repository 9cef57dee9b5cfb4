"""Tests of hypersweep.py, standard library only.

The trainable helpers run inside a real child process while the test plays the worker's side
of docs/trainables.md (env vars, params file, report lines on stdout, answers on stdin, SIGTERM).
The REST client talks to a local http.server that stands in for our own API's ask/tell contract
(docs/ask-tell.md and the error shape of apps/api/src/errors.ts); it is no model of anything else.

Run: /usr/bin/python3 -m unittest discover -s clients/python -v
"""

import ast
import http.server
import io
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import hypersweep as hs  # noqa: E402

WAIT = 20.0  # the longest any one condition may take before a test fails


def poll(condition, what, timeout=WAIT):
    """Wait until condition() is truthy (returned), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


# A trainable as a user would write it: x shrinks by a factor (1 - lr) each step, the state is
# saved in the checkpoint dir, and what it saw is written to exit.json before exiting 0.
TRAINABLE = r'''
import json, os, sys, time
import hypersweep as hs

if os.environ.get("T_PROTECT"):
    hs.protect_stdout()
    print("a stray print that must not reach the report stream")
hs.handle_sigterm()
p = hs.params({"lr": 0.5})
ckpt = hs.checkpoint_dir()
state_path = os.path.join(ckpt, "state.json")
x = 10.0
if hs.start_step() > 0:
    with open(state_path) as f:
        x = json.load(f)["x"]
print("started", json.dumps({"startStep": hs.start_step(), "trial": hs.trial(), "params": p}), file=sys.stderr, flush=True)
pause = float(os.environ.get("T_SLEEP", "0"))
answers = []
for step in range(hs.start_step() + 1, hs.max_steps() + 1):
    deadline = time.monotonic() + pause
    while time.monotonic() < deadline and not hs.should_stop():
        time.sleep(0.01)
    if hs.should_stop():
        break
    x = x * (1 - p["lr"])
    with open(state_path, "w") as f:
        json.dump({"x": x, "step": step}, f)
    answer = hs.report(step, {"loss": x * x, "lr_seen": p["lr"]}, checkpoint=True)
    answers.append(answer)
    if answer == "stop" or hs.should_stop():
        break
with open(os.path.join(ckpt, "exit.json"), "w") as f:
    json.dump({"answers": answers, "stop": hs.should_stop(), "reason": hs.stop_reason()}, f)
'''


class Worker:
    """The worker's side of one trainable process."""

    def __init__(self, test, params=None, max_steps=3, start_step=0, env=None, stdin=subprocess.PIPE,
                 ckpt_files=None, preexec_fn=None, params_file=True, script=None, objective="loss", ckpt=None):
        self.test = test
        self.dir = tempfile.mkdtemp(prefix="hs-test-")
        test.addCleanup(self.cleanup)
        self.ckpt = ckpt or os.path.join(self.dir, "checkpoint")
        os.makedirs(self.ckpt, exist_ok=True)
        for name, content in (ckpt_files or {}).items():
            with open(os.path.join(self.ckpt, name), "w") as f:
                f.write(content)
        if script is None:
            script = os.path.join(self.dir, "train.py")
            with open(script, "w") as f:
                f.write(TRAINABLE)
        params = {"lr": 0.25} if params is None else params
        spec = {
            "params": params,
            "trial": {"sweepId": "s-1", "trialId": "t-7", "number": 7, "attempt": 2},
            "maxSteps": max_steps,
            "startStep": start_step,
            "objective": {"metric": objective, "mode": "minimize"},
        }
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("HYPERSWEEP_")}
        full_env.update({
            "PYTHONPATH": HERE,
            "HYPERSWEEP_SWEEP_ID": "s-1", "HYPERSWEEP_TRIAL_ID": "t-7",
            "HYPERSWEEP_TRIAL_NUMBER": "7", "HYPERSWEEP_ATTEMPT": "2",
            "HYPERSWEEP_CHECKPOINT_DIR": self.ckpt,
            "HYPERSWEEP_START_STEP": str(start_step), "HYPERSWEEP_MAX_STEPS": str(max_steps),
        })
        for name, value in params.items():
            full_env[f"HYPERSWEEP_PARAM_{name.upper()}"] = json.dumps(value)
        if params_file:
            full_env["HYPERSWEEP_PARAMS_FILE"] = os.path.join(self.dir, "params.json")
            with open(full_env["HYPERSWEEP_PARAMS_FILE"], "w") as f:
                json.dump(spec, f)
        full_env.update(env or {})
        self.sock = None
        child_end = None
        if stdin == "socket":  # what Node's child_process gives (the real worker): a socketpair
            self.sock, child_end = socket.socketpair()
            stdin = child_end.fileno()
        self.proc = subprocess.Popen([sys.executable, script], stdin=stdin, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=full_env, cwd=self.dir, preexec_fn=preexec_fn)
        if child_end is not None:
            child_end.close()
        self.lines = queue.Queue()
        self.stderr = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_thread.start()

    def _read_stdout(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8"))
        self.proc.stdout.close()
        self.lines.put(None)  # EOF

    def _read_stderr(self):
        for raw in self.proc.stderr:
            self.stderr.append(raw.decode("utf-8", "replace"))
        self.proc.stderr.close()

    def line(self, timeout=WAIT):
        """The next stdout line (None at EOF), or fail."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no stdout line within {timeout}s; stderr: {''.join(self.stderr)}") from None

    def report(self):
        """The next line, which must be a JSON report."""
        text = self.line()
        self.test.assertIsNotNone(text, f"stdout ended early; stderr: {''.join(self.stderr)}")
        return json.loads(text)

    def answer(self, step, decision="continue", reason=None, raw=None):
        answer = {"step": step, "decision": decision}
        if reason:
            answer["reason"] = reason
        data = (raw if raw is not None else json.dumps(answer) + "\n").encode("utf-8")
        if self.sock is not None:
            self.sock.sendall(data)
        else:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def wait(self, timeout=WAIT):
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the trainable did not exit within {timeout}s; stderr: {''.join(self.stderr)}") from None
        self._stderr_thread.join(WAIT)
        return code

    def rest(self):
        """Lines left until EOF."""
        out = []
        while True:
            text = self.line()
            if text is None:
                return out
            out.append(text)

    def exit_record(self):
        with open(os.path.join(self.ckpt, "exit.json")) as f:
            return json.load(f)

    def cleanup(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        # stdout and stderr are left to their reader threads (closing one under a blocked read would
        # wait for it): they end at EOF.
        for stream in (self.proc.stdin, self.sock):
            if stream:
                try:
                    stream.close()
                except OSError:
                    pass
        shutil.rmtree(self.dir, ignore_errors=True)


class TrainableProcessTest(unittest.TestCase):
    """A trainable in a child process, the test playing the worker."""

    def test_reports_each_step_as_one_json_line_and_reads_each_answer(self):
        w = Worker(self, params={"lr": 0.25}, max_steps=3)
        first = w.report()
        self.assertEqual(first, {"step": 1, "metrics": {"loss": 7.5 ** 2, "lr_seen": 0.25}, "checkpoint": True})
        # The process waits for its answer: nothing more arrives until the worker answers.
        with self.assertRaises(queue.Empty):
            w.lines.get(timeout=0.3)
        # Stale answers and a stray line are skipped; the answer for step 1 is the one that counts.
        w.answer(0, raw='{"step": 0, "decision": "stop"}\nnot json\n')
        w.answer(1)
        self.assertEqual(w.report()["step"], 2)
        w.answer(2)
        self.assertEqual(w.report()["step"], 3)
        w.answer(3)
        self.assertEqual(w.rest(), [])
        self.assertEqual(w.wait(), 0, "".join(w.stderr))
        self.assertEqual(w.exit_record(), {"answers": ["continue"] * 3, "stop": False, "reason": None})
        started = json.loads("".join(w.stderr).split("started ", 1)[1].splitlines()[0])
        self.assertEqual(started["trial"], {"sweepId": "s-1", "trialId": "t-7", "number": 7, "attempt": 2})
        self.assertEqual(started["params"], {"lr": 0.25})

    def test_a_stop_answer_ends_the_loop_and_the_process_exits_0(self):
        w = Worker(self, max_steps=5)
        for step in (1, 2):
            self.assertEqual(w.report()["step"], step)
            w.answer(step)
        self.assertEqual(w.report()["step"], 3)
        w.answer(3, "stop", reason="asha rung 1")
        self.assertEqual(w.rest(), [], "no report after the stop")
        self.assertEqual(w.wait(), 0, "".join(w.stderr))
        self.assertEqual(w.exit_record(), {"answers": ["continue", "continue", "stop"], "stop": True, "reason": "asha rung 1"})

    def test_answers_over_a_socketpair_as_nodes_child_process_gives(self):
        w = Worker(self, max_steps=4, stdin="socket")
        self.assertEqual(w.report()["step"], 1)
        with self.assertRaises(queue.Empty):
            w.lines.get(timeout=0.3)  # waiting for its answer
        w.answer(1)
        self.assertEqual(w.report()["step"], 2)
        w.answer(2, "stop", reason="asha rung 0")
        self.assertEqual(w.rest(), [])
        self.assertEqual(w.wait(), 0, "".join(w.stderr))
        self.assertEqual(w.exit_record(), {"answers": ["continue", "stop"], "stop": True, "reason": "asha rung 0"})

    def test_sigterm_during_a_step_exits_0_promptly(self):
        # Each step waits 60 s (polling should_stop()); SIGTERM must cut that short.
        w = Worker(self, max_steps=5, env={"T_SLEEP": "60"})
        poll(lambda: "started" in "".join(w.stderr), "the trainable to start")
        t0 = time.monotonic()
        w.proc.send_signal(signal.SIGTERM)
        self.assertEqual(w.wait(), 0, "".join(w.stderr))
        self.assertLess(time.monotonic() - t0, 5.0, "exit on SIGTERM is prompt")
        self.assertEqual(w.rest(), [])
        self.assertEqual(w.exit_record(), {"answers": [], "stop": True, "reason": "SIGTERM"})

    def test_sigterm_between_steps_after_a_checkpoint(self):
        w = Worker(self, max_steps=5, env={"T_SLEEP": "0.2"})
        self.assertEqual(w.report()["step"], 1)
        w.answer(1)
        self.assertEqual(w.report()["step"], 2)
        w.answer(2)
        t0 = time.monotonic()
        w.proc.send_signal(signal.SIGTERM)
        self.assertEqual(w.wait(), 0, "".join(w.stderr))
        self.assertLess(time.monotonic() - t0, 5.0)
        with open(os.path.join(w.ckpt, "state.json")) as f:
            state = json.load(f)
        self.assertIn(state["step"], (2, 3), "the saved state is the last step's")
        record = w.exit_record()
        self.assertTrue(record["stop"])
        self.assertEqual(record["reason"], "SIGTERM")

    def test_sigterm_while_waiting_for_an_answer_returns_stop(self):
        w = Worker(self, max_steps=5)
        self.assertEqual(w.report()["step"], 1)
        t0 = time.monotonic()
        w.proc.send_signal(signal.SIGTERM)  # never answered
        self.assertEqual(w.wait(), 0, "".join(w.stderr))
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertEqual(w.exit_record(), {"answers": ["stop"], "stop": True, "reason": "SIGTERM"})

    def test_resume_reports_from_start_step_plus_one_with_the_saved_state(self):
        w = Worker(self, params={"lr": 0.5}, max_steps=4, start_step=2,
                   ckpt_files={"state.json": json.dumps({"x": 1.0, "step": 2})})
        first = w.report()
        self.assertEqual(first["step"], 3)
        self.assertEqual(first["metrics"]["loss"], 0.25)  # x = 1.0 * (1 - 0.5)
        w.answer(3)
        self.assertEqual(w.report()["step"], 4)
        w.answer(4)
        self.assertEqual(w.rest(), [])
        self.assertEqual(w.wait(), 0, "".join(w.stderr))

    def test_stdin_devnull_means_continue_without_waiting(self):
        w = Worker(self, max_steps=3, stdin=subprocess.DEVNULL)
        self.assertEqual([json.loads(x)["step"] for x in w.rest()], [1, 2, 3])
        self.assertEqual(w.wait(), 0, "".join(w.stderr))
        self.assertEqual(w.exit_record()["answers"], ["continue"] * 3)

    def test_stdin_pipe_closed_by_the_worker_means_continue(self):
        w = Worker(self, max_steps=3)
        w.proc.stdin.close()
        self.assertEqual([json.loads(x)["step"] for x in w.rest()], [1, 2, 3])
        self.assertEqual(w.wait(), 0, "".join(w.stderr))
        self.assertEqual(w.exit_record()["answers"], ["continue"] * 3)

    def test_no_stdin_at_all_means_continue(self):
        w = Worker(self, max_steps=2, stdin=subprocess.DEVNULL, preexec_fn=lambda: os.close(0))
        self.assertEqual([json.loads(x)["step"] for x in w.rest()], [1, 2])
        self.assertEqual(w.wait(), 0, "".join(w.stderr))

    def test_protect_stdout_sends_stray_prints_to_stderr(self):
        w = Worker(self, max_steps=2, stdin=subprocess.DEVNULL, env={"T_PROTECT": "1"})
        lines = w.rest()
        self.assertEqual([json.loads(x)["step"] for x in lines], [1, 2])
        self.assertEqual(w.wait(), 0, "".join(w.stderr))
        self.assertIn("a stray print that must not reach the report stream", "".join(w.stderr))

    def test_env_params_are_used_without_a_params_file(self):
        w = Worker(self, params={"lr": 0.125}, max_steps=1, stdin=subprocess.DEVNULL, params_file=False)
        self.assertEqual(w.report()["metrics"]["lr_seen"], 0.125)
        self.assertEqual(w.wait(), 0, "".join(w.stderr))


def _params_file(test, spec):
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(spec, f)
    test.addCleanup(os.unlink, path)
    return path


class TrainableInProcessTest(unittest.TestCase):
    """Validation and the environment, on a Trainable with its own env and stdout."""

    def make(self, max_steps=10, start_step=0, objective="loss", extra=None):
        spec = {"params": {"lr": 0.1, "layers": 2}, "trial": {"sweepId": "s", "trialId": "t", "number": 1, "attempt": 1},
                "maxSteps": max_steps, "startStep": start_step}
        if objective:
            spec["objective"] = {"metric": objective, "mode": "minimize"}
        env = {"HYPERSWEEP_PARAMS_FILE": _params_file(self, spec), "HYPERSWEEP_START_STEP": str(start_step),
               "HYPERSWEEP_MAX_STEPS": str(max_steps)}
        env.update(extra or {})
        out = io.StringIO()
        # stdin_fd -1: no answers to read (fstat fails), as with a closed stdin.
        return hs.Trainable(environ=env, stdout=out, stdin_fd=-1), out

    def assertRefused(self, t, out, step, metrics, fragment, checkpoint=False):
        with self.assertRaises(ValueError) as cm:
            t.report(step, metrics, checkpoint)
        self.assertIn(fragment, str(cm.exception))
        self.assertEqual(out.getvalue(), "", "nothing is written for a refused report")

    def test_metric_names_values_and_count(self):
        t, out = self.make()
        bad_names = ["Loss", "1loss", "val-loss", "", "a" * 65, "loss\n", "lóss", 3]
        for name in bad_names:
            self.assertRefused(t, out, 1, {name: 1.0}, "must match ^[a-z][a-z0-9_]{0,63}$")
        for value, fragment in [(float("nan"), "finite"), (float("inf"), "finite"), (-float("inf"), "finite"),
                                (True, "must be a number"), ("0.5", "must be a number"), (None, "must be a number"),
                                ([1], "must be a number")]:
            self.assertRefused(t, out, 1, {"loss": value}, fragment)
        many = {f"m{i}": float(i) for i in range(64)}
        many["loss"] = 1.0
        self.assertRefused(t, out, 1, many, "at most 64")
        self.assertRefused(t, out, 1, {}, "at least one metric")
        self.assertRefused(t, out, 1, [("loss", 1.0)], "must be a dict")
        self.assertRefused(t, out, 1, {"accuracy": 0.5}, "objective metric 'loss'")
        self.assertRefused(t, out, 1, {"loss": 1.0}, "checkpoint must be True or False", checkpoint="yes")
        # 64 metrics with the objective among them are fine; the longest name too.
        ok = {f"m{i}": i for i in range(63)}
        ok["loss"] = 0.5
        ok["a" * 64] = 1
        del ok["m0"]
        self.assertEqual(t.report(1, ok), "continue")
        line = json.loads(out.getvalue())
        self.assertEqual(line["step"], 1)
        self.assertEqual(line["metrics"], ok)
        self.assertIs(line["checkpoint"], False)

    def test_steps_count_by_one_from_start_step_plus_one(self):
        t, out = self.make(max_steps=6, start_step=3)
        for step in (1, 3, 5, 0, -1, "4", 4.0, True):
            self.assertRefused(t, out, step, {"loss": 1.0}, "step")
        self.assertEqual(t.report(4, {"loss": 1.0}, checkpoint=True), "continue")
        self.assertEqual(json.loads(out.getvalue()), {"step": 4, "metrics": {"loss": 1.0}, "checkpoint": True})
        before = out.getvalue()
        with self.assertRaises(ValueError) as cm:
            t.report(4, {"loss": 1.0})
        self.assertIn("expected step 5", str(cm.exception))
        self.assertEqual(out.getvalue(), before)
        t.report(5, {"loss": 0.5})
        t.report(6, {"loss": 0.25})
        with self.assertRaises(ValueError) as cm:
            t.report(7, {"loss": 0.1})
        self.assertIn("past max_steps() = 6", str(cm.exception))
        self.assertEqual([json.loads(x)["step"] for x in out.getvalue().splitlines()], [4, 5, 6])

    def test_each_report_is_one_flushed_line(self):
        t, out = self.make()
        t.report(1, {"loss": 1.5, "n": 3})
        self.assertEqual(out.getvalue(), '{"step":1,"metrics":{"loss":1.5,"n":3},"checkpoint":false}\n')

    def test_environment(self):
        base = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, base, True)
        ckpt = os.path.join(base, "nested", "ckpt")
        t, _ = self.make(max_steps=9, start_step=4, extra={"HYPERSWEEP_CHECKPOINT_DIR": ckpt})
        self.assertEqual(t.params({"lr": 1.0, "momentum": 0.9}), {"lr": 0.1, "layers": 2, "momentum": 0.9})
        self.assertEqual(t.trial(), {"sweepId": "s", "trialId": "t", "number": 1, "attempt": 1})
        self.assertEqual(t.objective(), {"metric": "loss", "mode": "minimize"})
        self.assertEqual(t.start_step(), 4)
        self.assertEqual(t.max_steps(), 9)
        self.assertEqual(t.checkpoint_dir(), ckpt)
        self.assertTrue(os.path.isdir(ckpt), "checkpoint_dir() creates the directory")

    def test_env_vars_without_a_params_file(self):
        env = {"HYPERSWEEP_PARAM_LR": "0.01", "HYPERSWEEP_PARAM_HIDDEN": "64", "HYPERSWEEP_PARAM_ACT": '"relu"',
               "HYPERSWEEP_PARAM_NAME": "plain text", "HYPERSWEEP_TRIAL_ID": "t-1", "HYPERSWEEP_SWEEP_ID": "s-1",
               "HYPERSWEEP_TRIAL_NUMBER": "4", "HYPERSWEEP_ATTEMPT": "2", "HYPERSWEEP_START_STEP": "3"}
        t = hs.Trainable(environ=env, stdout=io.StringIO(), stdin_fd=-1)
        self.assertEqual(t.params({"batchSize": 32, "hidden": 8}),
                         {"batchSize": 32, "hidden": 64, "lr": 0.01, "act": "relu", "name": "plain text"})
        self.assertEqual(t.trial(), {"sweepId": "s-1", "trialId": "t-1", "number": 4, "attempt": 2})
        self.assertEqual(t.start_step(), 3)
        self.assertIsNone(t.max_steps())
        self.assertIsNone(t.objective())

    def test_run_by_hand(self):
        t = hs.Trainable(environ={}, stdout=io.StringIO(), stdin_fd=-1)
        self.assertEqual(t.params({"lr": 0.3}), {"lr": 0.3})
        self.assertEqual(t.start_step(), 0)
        self.assertIsNone(t.max_steps())
        path = t.checkpoint_dir()
        self.addCleanup(os.rmdir, path)
        self.assertTrue(os.path.isdir(path))
        self.assertEqual(t.checkpoint_dir(), path)
        self.assertFalse(t.under_worker())
        self.assertEqual(t.report(1, {"anything": 1}), "continue")
        self.assertFalse(t.should_stop())

    def test_bad_env_numbers_are_named(self):
        t = hs.Trainable(environ={"HYPERSWEEP_START_STEP": "two"}, stdout=io.StringIO(), stdin_fd=-1)
        with self.assertRaises(ValueError) as cm:
            t.start_step()
        self.assertIn("HYPERSWEEP_START_STEP", str(cm.exception))

    def test_module_functions_exist(self):
        for name in ("params", "trial", "checkpoint_dir", "start_step", "max_steps", "report", "should_stop"):
            self.assertTrue(callable(getattr(hs, name)), name)

    def test_source_is_python_3_9(self):
        with open(os.path.join(HERE, "hypersweep.py"), encoding="utf-8") as f:
            source = f.read()
        ast.parse(source, feature_version=(3, 9))
        for line in source.splitlines():
            if line.startswith(("import ", "from ")) and "__future__" not in line:
                module = line.split()[1].split(".")[0]
                self.assertIn(module, sys.stdlib_module_names if hasattr(sys, "stdlib_module_names") else {module},
                              f"{module} is not in the standard library")


# ---------------------------------------------------------------------------------------------
# The REST client against a stand-in for our own API's ask/tell routes
# ---------------------------------------------------------------------------------------------

class FakeApi(http.server.ThreadingHTTPServer):
    """Answers from `route(method, path, body) -> (status, headers, body)` and records requests.

    A stand-in for Hypersweep's own API contract (docs/ask-tell.md), nothing more."""

    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests = []
        self.lock = threading.Lock()
        self.route = lambda method, path, body: (404, {}, {"error": {"code": "not_found", "message": "no route", "details": []}})

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def count(self, path_end):
        with self.lock:
            return sum(1 for r in self.requests if r["path"].endswith(path_end))


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with self.server.lock:
            self.server.requests.append({"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body})
        status, headers, answer = self.server.route(self.command, self.path, body)
        data = answer if isinstance(answer, bytes) else (b"" if answer is None else json.dumps(answer).encode())
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        if status != 204:
            self.send_header("Content-Type", "application/json" if not isinstance(answer, bytes) else "text/plain")
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if status != 204:
            self.wfile.write(data)

    do_GET = do_POST = _handle


def error_body(code, message, details=()):
    return {"error": {"code": code, "message": message, "details": [{"path": p, "message": m} for p, m in details]}}


ASK_ANSWER = {
    "trial": {"id": "t-1", "number": 3, "params": {"lr": 0.01}, "attempt": 2, "startStep": 4},
    "lease": {"id": "l-9", "expiresAt": "2030-01-01T00:00:00.000Z", "leaseSeconds": 60},
}
TOKEN = "hs_0123456789abcdef0123"


class ClientTest(unittest.TestCase):
    def setUp(self):
        self.api = FakeApi()
        threading.Thread(target=self.api.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.addCleanup(self.api.server_close)
        self.addCleanup(self.api.shutdown)
        self.client = hs.Client(self.api.url, TOKEN, timeout=10)

    def trial(self, **changes):
        t = hs.Trial(sweep_id="s-1", id="t-1", number=3, params={"lr": 0.01}, attempt=2, start_step=4,
                     lease_id="l-9", lease_expires_at=None, lease_seconds=60, max_steps=8)
        for k, v in changes.items():
            setattr(t, k, v)
        return t

    def test_ask_claims_a_trial(self):
        self.api.route = lambda m, p, b: (200, {}, ASK_ANSWER)
        t = self.client.ask("s-1")
        self.assertEqual((t.sweep_id, t.id, t.number, t.params, t.attempt, t.start_step), ("s-1", "t-1", 3, {"lr": 0.01}, 2, 4))
        self.assertEqual((t.lease_id, t.lease_expires_at, t.lease_seconds), ("l-9", "2030-01-01T00:00:00.000Z", 60))
        self.assertIsNone(t.max_steps)
        [req] = self.api.requests
        self.assertEqual((req["method"], req["path"], req["body"]), ("POST", "/api/v1/sweeps/s-1/ask", {}))
        self.assertEqual(req["headers"]["Authorization"], f"Bearer {TOKEN}")
        self.assertEqual(req["headers"]["Content-Type"], "application/json")

    def test_base_url_with_api_prefix_and_no_token(self):
        self.api.route = lambda m, p, b: (200, {}, {"trial": {**ASK_ANSWER["trial"], "maxSteps": 12}, "lease": ASK_ANSWER["lease"]})
        client = hs.Client(self.api.url + "/api/v1/", "")
        self.assertEqual(client.ask("a b/c").max_steps, 12)
        [req] = self.api.requests
        self.assertEqual(req["path"], "/api/v1/sweeps/a%20b%2Fc/ask")
        self.assertNotIn("Authorization", req["headers"])

    def test_create_sweep_in_a_project(self):
        self.api.route = lambda m, p, b: (201, {}, {"id": "s-2", "project": "vision"})
        self.assertEqual(self.client.create_sweep({"name": "x"}, project="vision")["project"], "vision")
        self.client.create_sweep({"name": "y"})
        self.assertEqual([(r["method"], r["path"], r["body"]) for r in self.api.requests],
                         [("POST", "/api/v1/sweeps?project=vision", {"name": "x"}), ("POST", "/api/v1/sweeps", {"name": "y"})])

    def test_ask_204_is_none_with_retry_after(self):
        self.api.route = lambda m, p, b: (204, {"Retry-After": "7"}, None)
        self.assertIsNone(self.client.ask("s-1"))
        self.assertEqual(self.client.retry_after, 7.0)
        self.assertEqual(len(self.api.requests), 1)

    def test_ask_waits_while_204(self):
        answers = [(204, {"Retry-After": "0"}, None), (204, {"Retry-After": "0.1"}, None), (200, {}, ASK_ANSWER)]
        self.api.route = lambda m, p, b: answers.pop(0)
        t = self.client.ask("s-1", wait=WAIT)
        self.assertEqual(t.id, "t-1")
        self.assertEqual(len(self.api.requests), 3)
        self.assertIsNone(self.client.retry_after)

    def test_ask_on_an_ended_sweep_is_a_conflict(self):
        self.api.route = lambda m, p, b: (409, {}, error_body("invalid_state", "the sweep has ended", [("sweep", "is completed")]))
        with self.assertRaises(hs.Conflict) as cm:
            self.client.ask("s-1")
        e = cm.exception
        self.assertIsInstance(e, hs.ApiError)
        self.assertEqual((e.status, e.code, e.message), (409, "invalid_state", "the sweep has ended"))
        self.assertEqual(e.details, [hs.ErrorDetail("sweep", "is completed")])
        self.assertEqual(str(e), "409 invalid_state: the sweep has ended (sweep: is completed)")

    def test_heartbeat(self):
        self.api.route = lambda m, p, b: (200, {}, {"expiresAt": "2031-01-01T00:00:00.000Z"})
        t = self.trial()
        self.assertEqual(self.client.heartbeat(t), "2031-01-01T00:00:00.000Z")
        self.assertEqual(t.lease_expires_at, "2031-01-01T00:00:00.000Z")
        [req] = self.api.requests
        self.assertEqual((req["path"], req["body"]), ("/api/v1/sweeps/s-1/trials/t-1/heartbeat", {"leaseId": "l-9"}))

    def test_report_sends_the_step_and_returns_the_decision(self):
        decisions = [{"decision": "continue"}, {"decision": "stop", "reason": "asha rung 0"}]
        self.api.route = lambda m, p, b: (200, {}, decisions.pop(0))
        t = self.trial()
        self.assertEqual(self.client.report(t, 5, {"val_loss": 0.5, "n": 2}), "continue")
        self.assertEqual(self.client.report(t, 6, {"val_loss": 0.25}), "stop")
        self.assertEqual((t.decision, t.reason, t.last_step), ("stop", "asha rung 0", 6))
        self.assertEqual([(r["path"], r["body"]) for r in self.api.requests], [
            ("/api/v1/sweeps/s-1/trials/t-1/report", {"leaseId": "l-9", "step": 5, "metrics": {"val_loss": 0.5, "n": 2}}),
            ("/api/v1/sweeps/s-1/trials/t-1/report", {"leaseId": "l-9", "step": 6, "metrics": {"val_loss": 0.25}}),
        ])

    def test_report_is_validated_before_sending(self):
        self.api.route = lambda m, p, b: (200, {}, {"decision": "continue"})
        t = self.trial()
        for step, metrics, fragment in [(4, {"x": 1}, "expected step 5"), (6, {"x": 1}, "expected step 5"),
                                        (5, {"X": 1}, "must match"), (5, {"x": float("nan")}, "finite"),
                                        (5, {}, "at least one"), (5, {f"m{i}": 1 for i in range(65)}, "at most 64")]:
            with self.assertRaises(ValueError) as cm:
                self.client.report(t, step, metrics)
            self.assertIn(fragment, str(cm.exception))
        self.assertEqual(self.api.requests, [])
        t.last_step = 8
        with self.assertRaises(ValueError) as cm:
            self.client.report(t, 9, {"x": 1})
        self.assertIn("step 9 is past trial.max_steps = 8", str(cm.exception))
        self.assertEqual(self.api.requests, [])

    def test_a_refused_report_can_be_sent_again(self):
        answers = [(409, {}, error_body("conflict", "the lease is lost", [("leaseId", "expired")])), (200, {}, {"decision": "continue"})]
        self.api.route = lambda m, p, b: answers.pop(0)
        t = self.trial()
        with self.assertRaises(hs.Conflict) as cm:
            self.client.report(t, 5, {"x": 1})
        self.assertEqual(cm.exception.details, [hs.ErrorDetail("leaseId", "expired")])
        self.assertIsNone(t.last_step)
        self.assertEqual(self.client.report(t, 5, {"x": 1}), "continue")

    def test_tell(self):
        self.api.route = lambda m, p, b: (200, {}, {"trial": {"id": "t-1", "status": "completed"}})
        t = self.trial()
        self.assertEqual(self.client.tell(t), {"id": "t-1", "status": "completed"})
        self.assertTrue(t.told)
        self.client.tell(self.trial(), "failed", error="diverged")
        self.assertEqual([(r["path"], r["body"]) for r in self.api.requests], [
            ("/api/v1/sweeps/s-1/trials/t-1/tell", {"leaseId": "l-9", "status": "completed"}),
            ("/api/v1/sweeps/s-1/trials/t-1/tell", {"leaseId": "l-9", "status": "failed", "error": "diverged"}),
        ])
        with self.assertRaises(ValueError):
            self.client.tell(t, "stopped")
        self.assertEqual(len(self.api.requests), 2)

    def test_error_mapping(self):
        cases = [
            (400, error_body("invalid_request", "invalid body", [("metrics.Loss", "must be lower_snake_case"), ("step", "is required")]), hs.BadRequest),
            (401, error_body("unauthorized", "invalid or revoked token", [("headers.authorization", "is not a valid token")]), hs.Unauthorized),
            (403, error_body("forbidden", "needs the submit role"), hs.Forbidden),
            (404, error_body("not_found", "no such trial", [("trialId", "unknown")]), hs.NotFound),
            (409, error_body("conflict", "step 5 is already stored"), hs.Conflict),
            (413, error_body("payload_too_large", "too large"), hs.ApiError),
            (429, error_body("rate_limited", "slow down"), hs.RateLimited),
            (500, error_body("internal", "internal error"), hs.ServerError),
            (503, error_body("unavailable", "database unavailable"), hs.ServerError),
        ]
        for status, body, cls in cases:
            with self.subTest(status=status):
                self.api.route = lambda m, p, b, status=status, body=body: (status, {"Retry-After": "3"}, body)
                with self.assertRaises(cls) as cm:
                    self.client.heartbeat(self.trial())
                e = cm.exception
                self.assertIs(type(e), cls)
                self.assertEqual((e.status, e.code, e.message), (status, body["error"]["code"], body["error"]["message"]))
                self.assertEqual(e.details, [hs.ErrorDetail(d["path"], d["message"]) for d in body["error"]["details"]])
                self.assertEqual(e.body, body)
                self.assertEqual(e.retry_after, 3.0)

    def test_an_error_without_the_json_shape(self):
        self.api.route = lambda m, p, b: (502, {}, b"Bad Gateway from a proxy")
        with self.assertRaises(hs.ServerError) as cm:
            self.client.heartbeat(self.trial())
        self.assertEqual((cm.exception.status, cm.exception.code, cm.exception.message), (502, None, "Bad Gateway from a proxy"))
        self.assertEqual(cm.exception.details, [])

    def test_a_2xx_that_is_not_json(self):
        self.api.route = lambda m, p, b: (200, {}, b"<html>")
        with self.assertRaises(hs.TransportError):
            self.client.heartbeat(self.trial())

    def test_an_unreachable_api(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        with self.assertRaises(hs.TransportError) as cm:
            hs.Client(f"http://127.0.0.1:{port}", TOKEN, timeout=5).ask("s-1")
        self.assertIn(f"127.0.0.1:{port}/api/v1/sweeps/s-1/ask", str(cm.exception))

    def test_lease_heartbeats_in_the_background_until_the_block_ends(self):
        self.api.route = lambda m, p, b: (200, {}, {"expiresAt": "2032-01-01T00:00:00.000Z"})
        t = self.trial()
        with self.client.lease(t, interval=0.02) as lease:
            poll(lambda: self.api.count("/heartbeat") >= 3, "three heartbeats")
        self.assertFalse(lease._thread.is_alive(), "the heartbeat thread ends with the block")
        self.assertGreaterEqual(lease.beats, 3)
        self.assertFalse(lease.lost)
        self.assertEqual(t.lease_expires_at, "2032-01-01T00:00:00.000Z")
        self.assertEqual(self.api.count("/tell"), 0, "a clean exit tells nothing")

    def test_default_interval_is_a_third_of_the_lease(self):
        self.assertEqual(self.client.lease(self.trial(lease_seconds=30)).interval, 10.0)
        self.assertEqual(self.client.lease(self.trial(lease_seconds=1)).interval, 1.0)

    def test_a_lost_lease_is_flagged_and_heartbeats_end(self):
        self.api.route = lambda m, p, b: (409, {}, error_body("conflict", "the lease is lost"))
        with self.client.lease(self.trial(), interval=0.02) as lease:
            poll(lambda: lease.lost, "the lease to be flagged lost")
            lease._thread.join(WAIT)
            self.assertFalse(lease._thread.is_alive())
        self.assertIsInstance(lease.error, hs.Conflict)
        self.assertEqual(self.api.count("/heartbeat"), 1)

    def test_transient_heartbeat_failures_are_retried(self):
        answers = [(503, {}, error_body("unavailable", "db restarting"))]
        self.api.route = lambda m, p, b: answers.pop(0) if answers else (200, {}, {"expiresAt": "x"})
        with self.client.lease(self.trial(), interval=0.02) as lease:
            poll(lambda: lease.beats >= 2, "heartbeats after a 503")
        self.assertFalse(lease.lost)
        self.assertIsNone(lease.error)

    def test_an_exception_in_the_block_tells_failed(self):
        self.api.route = lambda m, p, b: (200, {}, {"trial": {"id": "t-1"}})
        t = self.trial()
        with self.assertRaises(RuntimeError):
            with self.client.lease(t, interval=60):
                raise RuntimeError("diverged at step 5")
        tells = [r for r in self.api.requests if r["path"].endswith("/tell")]
        self.assertEqual([r["body"] for r in tells], [{"leaseId": "l-9", "status": "failed", "error": "RuntimeError: diverged at step 5"}])
        self.api.requests.clear()
        with self.assertRaises(KeyError):
            with self.client.lease(self.trial(), interval=60, fail_on_error=False):
                raise KeyError("x")
        told = self.trial()
        with self.assertRaises(ValueError):
            with self.client.lease(told, interval=60):
                self.client.tell(told)
                raise ValueError("after tell")
        self.assertEqual([r["body"]["status"] for r in self.api.requests], ["completed"])


QUADRATIC = os.path.join(HERE, "..", "..", "examples", "trainables", "stdlib_quadratic.py")
QUADRATIC_PARAMS = {"lr": 0.01, "momentum": 0.9, "noise": 0.1}


class QuadraticExampleTest(unittest.TestCase):
    """examples/trainables/stdlib_quadratic.py and the knobs the end-to-end tests use."""

    def run_quadratic(self, **kwargs):
        return Worker(self, params=QUADRATIC_PARAMS, script=QUADRATIC, **kwargs)

    def all_reports(self, w):
        lines = w.rest()
        self.assertEqual(w.wait(), 0, "".join(w.stderr))
        return [json.loads(x) for x in lines]

    def test_a_crash_then_a_resume_from_the_checkpoint(self):
        fresh = self.all_reports(self.run_quadratic(max_steps=4, stdin=subprocess.DEVNULL))
        self.assertEqual([r["step"] for r in fresh], [1, 2, 3, 4])
        self.assertTrue(fresh[3]["metrics"]["loss"] < fresh[0]["metrics"]["loss"], fresh)
        for r in fresh:
            self.assertAlmostEqual(r["metrics"]["score"], 1 / (1 + r["metrics"]["loss"]))

        crash = self.run_quadratic(max_steps=4, stdin=subprocess.DEVNULL, env={"HS_EXAMPLE_CRASH_AT": "3"})
        self.assertEqual([json.loads(x)["step"] for x in crash.rest()], [1, 2])
        self.assertEqual(crash.wait(), 3)
        self.assertIn("crashing at step 3", "".join(crash.stderr))

        resumed = self.all_reports(self.run_quadratic(max_steps=4, start_step=2, stdin=subprocess.DEVNULL, ckpt=crash.ckpt))
        self.assertEqual(resumed, fresh[2:], "a resumed trial continues the run exactly")
        with open(os.path.join(crash.ckpt, "resume.log")) as f:
            log = [json.loads(line) for line in f]
        self.assertEqual([(e["startStep"], e["attempt"]) for e in log], [(0, 2), (2, 2)])

    def test_a_checkpoint_that_does_not_match_start_step_is_refused(self):
        first = self.run_quadratic(max_steps=3, stdin=subprocess.DEVNULL)
        self.all_reports(first)
        wrong = self.run_quadratic(max_steps=5, start_step=2, stdin=subprocess.DEVNULL, ckpt=first.ckpt)
        self.assertEqual(wrong.rest(), [])
        self.assertEqual(wrong.wait(), 2)
        self.assertIn("checkpoint holds step 3", "".join(wrong.stderr))

    def test_garbage_at_a_step(self):
        w = self.run_quadratic(max_steps=3, stdin=subprocess.DEVNULL, env={"HS_EXAMPLE_GARBAGE": "2"})
        lines = w.rest()
        self.assertEqual(w.wait(), 0)
        self.assertEqual(json.loads(lines[0])["step"], 1)
        self.assertRaises(ValueError, json.loads, lines[1])  # stdout line 2
        self.assertEqual([json.loads(x)["step"] for x in lines[2:]], [2, 3])

    def test_a_hang_stops_reporting_and_still_ends_on_sigterm(self):
        w = self.run_quadratic(max_steps=5, stdin="socket", env={"HS_EXAMPLE_HANG": "2"})
        self.assertEqual(w.report()["step"], 1)
        w.answer(1)
        poll(lambda: "hanging at step 2" in "".join(w.stderr), "the hang")
        w.proc.send_signal(signal.SIGTERM)
        self.assertEqual(w.wait(5), 0)
        self.assertEqual(w.rest(), [])

    def test_sigterm_during_a_slow_step_exits_0_promptly(self):
        w = self.run_quadratic(max_steps=5, stdin="socket", env={"HS_EXAMPLE_SLEEP": "60"})
        poll(lambda: "from step 1" in "".join(w.stderr), "the trainable to start")
        t0 = time.monotonic()
        w.proc.send_signal(signal.SIGTERM)
        self.assertEqual(w.wait(), 0, "".join(w.stderr))
        self.assertLess(time.monotonic() - t0, 5.0)
        self.assertIn("stopping before step 1 (SIGTERM)", "".join(w.stderr))
        self.assertEqual(w.rest(), [])

    @staticmethod
    def kill_quietly(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def test_a_child_process_pid_is_written(self):
        base = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, base, True)
        pidfile = os.path.join(base, "child.pid")
        w = self.run_quadratic(max_steps=1, stdin=subprocess.DEVNULL, env={"HS_EXAMPLE_CHILD": pidfile})

        def pid():
            try:
                with open(pidfile) as f:
                    return int(f.read() or 0)
            except FileNotFoundError:
                return 0

        child = poll(pid, "the child's pid file")
        self.addCleanup(self.kill_quietly, child)
        os.kill(child, 0)  # alive, and it holds the trainable's stdout: only killing the group ends it
        self.kill_quietly(child)
        self.assertEqual(w.wait(), 0, "".join(w.stderr))
        self.assertEqual([json.loads(x)["step"] for x in w.rest()], [1])

class AskTellExampleTest(unittest.TestCase):
    """examples/ask_tell.py end to end against the stand-in API."""

    def test_the_example_loop(self):
        api = FakeApi()
        threading.Thread(target=api.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.addCleanup(api.server_close)
        self.addCleanup(api.shutdown)
        trial = {**ASK_ANSWER["trial"], "params": {"lr": 0.1, "l2": 0.001}}
        asks = [(204, {"Retry-After": "0"}, None), (200, {}, {"trial": trial, "lease": ASK_ANSWER["lease"]}),
                (409, {}, error_body("invalid_state", "the sweep has ended"))]

        def route(method, path, body):
            if path == "/api/v1/sweeps" and method == "POST":
                return 201, {}, {"id": "s-1"}
            if path == "/api/v1/sweeps/s-1" and method == "GET":
                return 200, {}, {"id": "s-1", "spec": {"external": {"maxSteps": 6}}}
            if path.endswith("/ask"):
                return asks.pop(0)
            if path.endswith("/report"):
                return 200, {}, {"decision": "stop", "reason": "asha"} if body["step"] == 5 else {"decision": "continue"}
            if path.endswith("/tell"):
                return 200, {}, {"trial": {"id": "t-1"}}
            return 404, {}, error_body("not_found", "no route")

        api.route = route
        example = os.path.join(HERE, "..", "..", "examples", "ask_tell.py")
        env = dict(os.environ, HYPERSWEEP_TOKEN=TOKEN)
        done = subprocess.run([sys.executable, example, "--url", api.url, "--create"], env=env,
                              capture_output=True, text=True, timeout=WAIT)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("the sweep has ended", done.stderr)
        posts = [(r["path"].rsplit("/", 1)[-1], r["body"]) for r in api.requests if r["method"] == "POST"]
        self.assertEqual(posts[0][0], "sweeps")
        self.assertEqual(posts[0][1]["external"]["maxSteps"], 12)
        reports = [b for name, b in posts if name == "report"]
        self.assertEqual([b["step"] for b in reports], [5], "a trial retried at startStep 4 reports from 5; stopped at 5")
        self.assertTrue(0 < reports[0]["metrics"]["val_loss"] < 0.7, reports[0])
        self.assertTrue(0.5 < reports[0]["metrics"]["val_accuracy"] <= 1, reports[0])
        self.assertEqual([b for name, b in posts if name == "tell"], [{"leaseId": "l-9", "status": "completed"}])
        self.assertEqual([name for name, _ in posts if name == "ask"], ["ask"] * 3)

if __name__ == "__main__":
    unittest.main()
