"""Hypersweep's Python client: one file, standard library only, Python >= 3.9.

Trainables (a command a worker runs for each trial, docs/trainables.md)::

    import hypersweep as hs

    p = hs.params({"lr": 0.1})                     # defaults for a run by hand
    state = load(hs.checkpoint_dir())               # empty on the first run
    for step in range(hs.start_step() + 1, (hs.max_steps() or 10) + 1):
        loss = train_one_epoch(p["lr"])
        save(hs.checkpoint_dir())
        if hs.report(step, {"loss": loss}, checkpoint=True) == "stop" or hs.should_stop():
            break                                   # exit 0: the trial is stopped

Ask/tell over REST (docs/ask-tell.md)::

    client = hs.Client("http://127.0.0.1:8080", token)
    trial = client.ask(sweep_id, wait=30)
    with client.lease(trial):
        for step in range(trial.start_step + 1, max_steps + 1):
            if client.report(trial, step, {"val_loss": ...}) == "stop":
                break
        client.tell(trial, "completed")
"""

from __future__ import annotations

import dataclasses
import email.utils
import json
import math
import numbers
import os
import re
import select
import signal
import stat
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

__all__ = [
    "Trainable", "params", "trial", "objective", "checkpoint_dir", "start_step", "max_steps",
    "report", "should_stop", "stop_reason", "handle_sigterm", "protect_stdout",
    "Client", "Trial", "Lease", "ErrorDetail", "HypersweepError", "TransportError", "ApiError",
    "BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict", "RateLimited", "ServerError",
    "METRIC_NAME", "MAX_METRICS",
]

__version__ = "0.1.0"

#: Metric names, as the API stores them.
METRIC_NAME = re.compile(r"[a-z][a-z0-9_]{0,63}")
#: Metrics one report may carry.
MAX_METRICS = 64


# ---------------------------------------------------------------------------------------------
# Validation shared by trainables and ask/tell
# ---------------------------------------------------------------------------------------------

def _check_metrics(metrics: Any, objective_metric: Optional[str] = None) -> Dict[str, float]:
    """The metrics as {name: number}, or ValueError naming the first problem."""
    if not isinstance(metrics, dict):
        raise ValueError(f"metrics must be a dict of name -> number, not {type(metrics).__name__}")
    if not metrics:
        raise ValueError("metrics must hold at least one metric")
    if len(metrics) > MAX_METRICS:
        raise ValueError(f"metrics hold {len(metrics)} metrics; a report may carry at most {MAX_METRICS}")
    out: Dict[str, float] = {}
    for name, value in metrics.items():
        if not isinstance(name, str) or not METRIC_NAME.fullmatch(name):
            raise ValueError(
                f"metric name {name!r} must match ^[a-z][a-z0-9_]{{0,63}}$ (lower_snake_case, at most 64 characters)")
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            hint = " (call .item() on a tensor)" if hasattr(value, "item") else ""
            raise ValueError(f"metric {name!r} must be a number, not {type(value).__name__} ({value!r}){hint}")
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"metric {name!r} must be a finite number, not {number!r}")
        out[name] = int(value) if isinstance(value, int) else number
    if objective_metric is not None and objective_metric not in out:
        raise ValueError(f"every report must carry the objective metric {objective_metric!r}; got {sorted(out)}")
    return out


def _check_step(step: Any, expected: int, limit: Optional[int], first: int,
                names: Tuple[str, str] = ("start_step()", "max_steps()")) -> int:
    if isinstance(step, bool) or not isinstance(step, int):
        raise ValueError(f"step must be an int, not {type(step).__name__} ({step!r})")
    if step != expected:
        raise ValueError(
            f"step {step} is out of order: expected step {expected} "
            f"(steps count by one from {names[0]} + 1 = {first})")
    if limit is not None and step > limit:
        raise ValueError(f"step {step} is past {names[1]} = {limit}")
    return step


def _int_or_none(text: Optional[str], name: str) -> Optional[int]:
    if text is None or text == "":
        return None
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not an integer") from None


# ---------------------------------------------------------------------------------------------
# Trainables
# ---------------------------------------------------------------------------------------------

class Trainable:
    """The process's side of docs/trainables.md. The module functions use one shared instance."""

    def __init__(self, environ: Optional[Dict[str, str]] = None, stdout: Any = None, stdin_fd: int = 0,
                 poll_seconds: float = 0.05) -> None:
        self._env = dict(os.environ if environ is None else environ)
        self._stdout = stdout  # None: sys.stdout at the time of each report
        self._stdin_fd = stdin_fd
        self._poll = poll_seconds
        self._spec: Optional[Dict[str, Any]] = None
        self._ckpt: Optional[str] = None
        self._last_step: Optional[int] = None
        self._stop = threading.Event()
        self._stop_reason: Optional[str] = None
        self._answers_closed = False
        self._buffer = b""
        self._handler_installed = False
        self._lock = threading.RLock()

    # -- what the worker gave -----------------------------------------------------------------

    def spec(self) -> Dict[str, Any]:
        """The parsed HYPERSWEEP_PARAMS_FILE ({} when not run by a worker)."""
        if self._spec is None:
            path = self._env.get("HYPERSWEEP_PARAMS_FILE")
            if not path:
                self._spec = {}
            else:
                with open(path, encoding="utf-8") as f:
                    spec = json.load(f)
                if not isinstance(spec, dict):
                    raise ValueError(f"{path}: the params file must hold a JSON object")
                self._spec = spec
        return self._spec

    def under_worker(self) -> bool:
        """True when a worker started this process (its env vars are set)."""
        return bool(self._env.get("HYPERSWEEP_PARAMS_FILE") or self._env.get("HYPERSWEEP_TRIAL_ID"))

    def params(self, defaults: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The trial's parameters over `defaults`: from the params file, else HYPERSWEEP_PARAM_<NAME>."""
        out = dict(defaults or {})
        spec = self.spec()
        if isinstance(spec.get("params"), dict):
            out.update(spec["params"])
            return out
        # No params file (a run by hand): the env vars; names are upper-cased there, so a default's
        # own spelling is kept when it matches, else the lower-cased name.
        by_upper = {k.upper(): k for k in out}
        for key, text in self._env.items():
            if not key.startswith("HYPERSWEEP_PARAM_") or len(key) == len("HYPERSWEEP_PARAM_"):
                continue
            upper = key[len("HYPERSWEEP_PARAM_"):]
            try:
                value = json.loads(text)
            except ValueError:
                value = text
            out[by_upper.get(upper, upper.lower())] = value
        return out

    def trial(self) -> Dict[str, Any]:
        """{"sweepId", "trialId", "number", "attempt"}; None for what is unknown."""
        t = self.spec().get("trial")
        if isinstance(t, dict):
            return {k: t.get(k) for k in ("sweepId", "trialId", "number", "attempt")}
        return {
            "sweepId": self._env.get("HYPERSWEEP_SWEEP_ID"),
            "trialId": self._env.get("HYPERSWEEP_TRIAL_ID"),
            "number": _int_or_none(self._env.get("HYPERSWEEP_TRIAL_NUMBER"), "HYPERSWEEP_TRIAL_NUMBER"),
            "attempt": _int_or_none(self._env.get("HYPERSWEEP_ATTEMPT"), "HYPERSWEEP_ATTEMPT"),
        }

    def objective(self) -> Optional[Dict[str, str]]:
        """{"metric", "mode"} from the params file, or None."""
        o = self.spec().get("objective")
        return o if isinstance(o, dict) else None

    def checkpoint_dir(self) -> str:
        """HYPERSWEEP_CHECKPOINT_DIR (created if missing); a fresh temp dir when run by hand."""
        with self._lock:
            if self._ckpt is None:
                path = self._env.get("HYPERSWEEP_CHECKPOINT_DIR")
                if path:
                    os.makedirs(path, exist_ok=True)
                    self._ckpt = os.path.abspath(path)
                else:
                    self._ckpt = tempfile.mkdtemp(prefix="hypersweep-checkpoint-")
            return self._ckpt

    def start_step(self) -> int:
        """The step the checkpoint dir was saved at; 0 to start from scratch."""
        n = _int_or_none(self._env.get("HYPERSWEEP_START_STEP"), "HYPERSWEEP_START_STEP")
        if n is None:
            n = self.spec().get("startStep", 0)
        return int(n)

    def max_steps(self) -> Optional[int]:
        """The sweep's maxSteps, or None when not run by a worker."""
        n = _int_or_none(self._env.get("HYPERSWEEP_MAX_STEPS"), "HYPERSWEEP_MAX_STEPS")
        if n is None and self.spec().get("maxSteps") is not None:
            n = int(self.spec()["maxSteps"])
        return n

    # -- reports and answers ------------------------------------------------------------------

    def report(self, step: int, metrics: Dict[str, float], checkpoint: bool = False) -> str:
        """Write one report line to stdout; return the worker's answer, 'continue' or 'stop'.

        Raises ValueError, writing nothing, for a step out of order or invalid metrics.
        """
        if not isinstance(checkpoint, bool):
            raise ValueError(f"checkpoint must be True or False, not {checkpoint!r}")
        with self._lock:
            first = self.start_step() + 1
            expected = first if self._last_step is None else self._last_step + 1
            _check_step(step, expected, self.max_steps(), first)
            objective = self.objective()
            clean = _check_metrics(metrics, objective.get("metric") if objective else None)
            line = json.dumps({"step": step, "metrics": clean, "checkpoint": checkpoint},
                              allow_nan=False, separators=(",", ":"))
            out = self._stdout if self._stdout is not None else sys.stdout
            out.write(line + "\n")
            out.flush()
            self._last_step = step
            if not self._answers_expected():
                return "stop" if self._stop.is_set() else "continue"
            return self._read_answer(step)

    def should_stop(self) -> bool:
        """True after a 'stop' answer or a SIGTERM (the first call installs the SIGTERM handler)."""
        self.handle_sigterm()
        return self._stop.is_set()

    def stop_reason(self) -> Optional[str]:
        """Why the trial is stopping ('SIGTERM', the scheduler's reason), or None."""
        return self._stop_reason

    def handle_sigterm(self) -> bool:
        """Make SIGTERM set the stop flag instead of killing the process. True once installed.

        should_stop() calls this; call it earlier to catch a SIGTERM before the first check. It
        only works from the main thread (else False), and chains to a handler set before it.
        """
        if self._handler_installed:
            return True
        try:
            previous = signal.getsignal(signal.SIGTERM)

            def on_sigterm(signum: int, frame: Any) -> None:
                self._request_stop("SIGTERM")
                if callable(previous):
                    previous(signum, frame)

            signal.signal(signal.SIGTERM, on_sigterm)
        except (ValueError, OSError, AttributeError):  # not the main thread, or no SIGTERM here
            return False
        self._handler_installed = True
        return True

    def protect_stdout(self) -> None:
        """Send everything else written to stdout (print, C libraries) to stderr; reports keep stdout."""
        with self._lock:
            if self._stdout is not None:
                return
            sys.stdout.flush()
            reports = os.fdopen(os.dup(1), "w", encoding="utf-8")
            os.dup2(2, 1)
            self._stdout = reports

    def _request_stop(self, reason: Optional[str]) -> None:
        if not self._stop.is_set():
            self._stop_reason = reason
        self._stop.set()

    def _answers_expected(self) -> bool:
        if self._answers_closed or not self.under_worker():
            return False
        try:
            mode = os.fstat(self._stdin_fd).st_mode
        except OSError:  # stdin closed
            self._answers_closed = True
            return False
        if stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode):  # Node's child stdio is a socketpair
            return True
        self._answers_closed = True
        return False

    def _read_answer(self, step: int) -> str:
        """Wait for the answer to `step`; 'stop' at once on SIGTERM, 'continue' if stdin closes."""
        while True:
            while b"\n" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\n", 1)
                try:
                    answer = json.loads(raw.decode("utf-8"))
                except ValueError:
                    continue  # not an answer
                if not isinstance(answer, dict):
                    continue
                answered = answer.get("step")
                if isinstance(answered, int) and answered < step:
                    continue  # an earlier step's answer, unread
                if answer.get("decision") == "stop":
                    self._request_stop(str(answer.get("reason") or "stop"))
                    return "stop"
                return "continue"
            if self._stop.is_set():
                return "stop"
            try:
                ready, _, _ = select.select([self._stdin_fd], [], [], self._poll)
                if not ready:
                    continue
                chunk = os.read(self._stdin_fd, 65536)
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                self._answers_closed = True
                return "stop" if self._stop.is_set() else "continue"
            self._buffer += chunk


_default: Optional[Trainable] = None
_default_lock = threading.Lock()


def _trainable() -> Trainable:
    global _default
    with _default_lock:
        if _default is None:
            _default = Trainable()
        return _default


def params(defaults: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The trial's parameters (over `defaults`, for a run by hand)."""
    return _trainable().params(defaults)


def trial() -> Dict[str, Any]:
    """The trial's ids: {"sweepId", "trialId", "number", "attempt"}."""
    return _trainable().trial()


def objective() -> Optional[Dict[str, str]]:
    """The sweep's objective {"metric", "mode"}, or None."""
    return _trainable().objective()


def checkpoint_dir() -> str:
    """The directory to save state in; what the last run saved is there on resume."""
    return _trainable().checkpoint_dir()


def start_step() -> int:
    """The step the checkpoint dir holds (0: from scratch); report from start_step() + 1."""
    return _trainable().start_step()


def max_steps() -> Optional[int]:
    """The sweep's maxSteps (None when run by hand)."""
    return _trainable().max_steps()


def report(step: int, metrics: Dict[str, float], checkpoint: bool = False) -> str:
    """Report one step's metrics; returns 'continue' or 'stop'."""
    return _trainable().report(step, metrics, checkpoint)


def should_stop() -> bool:
    """True after a 'stop' answer or SIGTERM: save, then exit 0."""
    return _trainable().should_stop()


def stop_reason() -> Optional[str]:
    """Why should_stop() is True, or None."""
    return _trainable().stop_reason()


def handle_sigterm() -> bool:
    """Turn SIGTERM into should_stop() from now on (should_stop() does this on its first call)."""
    return _trainable().handle_sigterm()


def protect_stdout() -> None:
    """Redirect stray prints to stderr so they cannot break the report stream."""
    _trainable().protect_stdout()


# ---------------------------------------------------------------------------------------------
# Ask/tell over REST
# ---------------------------------------------------------------------------------------------

class ErrorDetail(NamedTuple):
    path: str
    message: str


class HypersweepError(Exception):
    """Any failure of a Client call."""


class TransportError(HypersweepError):
    """The API could not be reached, or did not answer with JSON."""


class ApiError(HypersweepError):
    """An error answer of the API: {"error": {"code", "message", "details": [{"path", "message"}]}}."""

    def __init__(self, status: int, code: Optional[str], message: str, details: List[ErrorDetail],
                 body: Any = None, retry_after: Optional[float] = None) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.body = body
        self.retry_after = retry_after
        where = "; ".join(f"{d.path}: {d.message}" if d.path else d.message for d in details)
        super().__init__(f"{status} {code or 'error'}: {message}" + (f" ({where})" if where else ""))


class BadRequest(ApiError):
    """400: the request is invalid (details name the fields)."""


class Unauthorized(ApiError):
    """401: missing, malformed or revoked token."""


class Forbidden(ApiError):
    """403: the token lacks the role."""


class NotFound(ApiError):
    """404: no such sweep, trial or route."""


class Conflict(ApiError):
    """409: the lease is lost, the step is already stored, or the sweep has ended."""


class RateLimited(ApiError):
    """429: slow down (see retry_after)."""


class ServerError(ApiError):
    """5xx: the API's fault or unavailable; worth retrying later."""


_ERROR_CLASSES = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 429: RateLimited}


def _retry_after(value: Optional[str]) -> Optional[float]:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _api_error(status: int, headers: Any, raw: bytes) -> ApiError:
    body: Any = None
    code: Optional[str] = None
    message = ""
    details: List[ErrorDetail] = []
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        code = err.get("code") if isinstance(err.get("code"), str) else None
        message = str(err.get("message", ""))
        for d in err.get("details") or []:
            if isinstance(d, dict):
                details.append(ErrorDetail(str(d.get("path", "")), str(d.get("message", ""))))
    else:
        message = raw.decode("utf-8", "replace").strip()[:500] or f"HTTP {status}"
    cls = _ERROR_CLASSES.get(status) or (ServerError if status >= 500 else ApiError)
    return cls(status, code, message, details, body, _retry_after(headers.get("Retry-After") if headers else None))


@dataclasses.dataclass
class Trial:
    """A trial handed out by ask(), with its lease."""

    sweep_id: str
    id: str
    number: int
    params: Dict[str, Any]
    attempt: int
    start_step: int
    lease_id: str
    lease_expires_at: Optional[str]
    lease_seconds: Optional[float]
    max_steps: Optional[int] = None
    last_step: Optional[int] = None
    decision: str = "continue"
    reason: Optional[str] = None
    told: bool = False
    raw: Dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)


class Client:
    """The ask/tell routes of the REST API (urllib; one client may serve several threads)."""

    def __init__(self, base_url: Optional[str] = None, token: Optional[str] = None, timeout: float = 30.0) -> None:
        """base_url: the API root, with or without /api/v1 (default env HYPERSWEEP_URL, then
        http://127.0.0.1:8080); token: a `submit` token (default env HYPERSWEEP_TOKEN)."""
        url = (base_url or os.environ.get("HYPERSWEEP_URL") or "http://127.0.0.1:8080").rstrip("/")
        if not url.endswith("/api/v1"):
            url += "/api/v1"
        self.base_url = url
        self.token = token if token is not None else os.environ.get("HYPERSWEEP_TOKEN")
        self.timeout = timeout
        #: Seconds the last 204 from ask() asked to wait.
        self.retry_after: Optional[float] = None

    # -- plumbing -----------------------------------------------------------------------------

    def _send(self, method: str, path: str, body: Any = None):
        data = None if body is None else json.dumps(body, allow_nan=False).encode("utf-8")
        req = urllib.request.Request(self.base_url + path, data=data, method=method)
        req.add_header("Accept", "application/json")
        req.add_header("User-Agent", f"hypersweep-python/{__version__}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as res:
                status, headers, raw = res.status, res.headers, res.read()
        except urllib.error.HTTPError as e:
            try:
                raw = e.read()
            except OSError:
                raw = b""
            raise _api_error(e.code, e.headers, raw) from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise TransportError(f"{method} {self.base_url + path}: {reason}") from e
        if status >= 400:  # urlopen raises for these; kept for custom openers
            raise _api_error(status, headers, raw)
        if status == 204 or not raw:
            return status, headers, None
        try:
            return status, headers, json.loads(raw.decode("utf-8"))
        except ValueError:
            raise TransportError(f"{method} {path}: the answer ({status}) is not JSON: {raw[:200]!r}") from None

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Any route under /api/v1: the JSON answer (None for 204); ApiError for an error answer."""
        return self._send(method, path, body)[2]

    @staticmethod
    def _q(part: str) -> str:
        return urllib.parse.quote(str(part), safe="")

    def _trial_path(self, trial: Trial, action: str) -> str:
        return f"/sweeps/{self._q(trial.sweep_id)}/trials/{self._q(trial.id)}/{action}"

    # -- sweeps -------------------------------------------------------------------------------

    def create_sweep(self, spec: Dict[str, Any], project: Optional[str] = None) -> Dict[str, Any]:
        """POST /sweeps: the created sweep, in `project` (default: the token's only project, else 'default')."""
        query = "" if project is None else "?project=" + self._q(project)
        return self.request("POST", "/sweeps" + query, spec)

    def get_sweep(self, sweep_id: str) -> Dict[str, Any]:
        """GET /sweeps/{id}."""
        return self.request("GET", f"/sweeps/{self._q(sweep_id)}")

    # -- ask/tell -----------------------------------------------------------------------------

    def ask(self, sweep_id: str, wait: float = 0.0) -> Optional[Trial]:
        """Claim a trial with a lease; None if none is ready (after waiting up to `wait` seconds,
        as Retry-After says). Raises Conflict once the sweep has ended."""
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            status, headers, body = self._send("POST", f"/sweeps/{self._q(sweep_id)}/ask", {})
            if status != 204 and isinstance(body, dict):
                self.retry_after = None
                return self._trial_of(sweep_id, body)
            self.retry_after = _retry_after(headers.get("Retry-After")) if headers else None
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            pause = self.retry_after if self.retry_after is not None else 1.0
            time.sleep(min(left, max(0.05, pause), 60.0))

    @staticmethod
    def _trial_of(sweep_id: str, body: Dict[str, Any]) -> Trial:
        t = body.get("trial")
        lease = body.get("lease")
        if not isinstance(t, dict) or not isinstance(lease, dict) or "id" not in t or "id" not in lease:
            raise TransportError(f"ask: unexpected answer {json.dumps(body)[:300]}")
        max_steps = t.get("maxSteps", body.get("maxSteps"))
        return Trial(
            sweep_id=sweep_id, id=str(t["id"]), number=int(t.get("number", 0)), params=dict(t.get("params") or {}),
            attempt=int(t.get("attempt", 1)), start_step=int(t.get("startStep", 0)), lease_id=str(lease["id"]),
            lease_expires_at=lease.get("expiresAt"), lease_seconds=lease.get("leaseSeconds"),
            max_steps=int(max_steps) if max_steps is not None else None, raw=body)

    def heartbeat(self, trial: Trial) -> Optional[str]:
        """Keep the lease alive; its new expiry. Conflict once the lease is lost."""
        body = self.request("POST", self._trial_path(trial, "heartbeat"), {"leaseId": trial.lease_id})
        if isinstance(body, dict) and body.get("expiresAt"):
            trial.lease_expires_at = body["expiresAt"]
        return trial.lease_expires_at

    def report(self, trial: Trial, step: int, metrics: Dict[str, float]) -> str:
        """Report one step (from trial.start_step + 1, one more each time); 'continue' or 'stop'.
        Raises ValueError, sending nothing, for a step out of order or invalid metrics."""
        first = trial.start_step + 1
        expected = first if trial.last_step is None else trial.last_step + 1
        _check_step(step, expected, trial.max_steps, first, ("trial.start_step", "trial.max_steps"))
        clean = _check_metrics(metrics)
        body = self.request("POST", self._trial_path(trial, "report"),
                            {"leaseId": trial.lease_id, "step": step, "metrics": clean})
        trial.last_step = step
        decision = body.get("decision") if isinstance(body, dict) else None
        trial.decision = "stop" if decision == "stop" else "continue"
        trial.reason = body.get("reason") if isinstance(body, dict) else None
        return trial.decision

    def tell(self, trial: Trial, status: str = "completed", error: Optional[str] = None) -> Dict[str, Any]:
        """End the trial: 'completed' (also after a stop) or 'failed' with an error message."""
        if status not in ("completed", "failed"):
            raise ValueError(f"status must be 'completed' or 'failed', not {status!r}")
        payload: Dict[str, Any] = {"leaseId": trial.lease_id, "status": status}
        if error is not None:
            payload["error"] = str(error)
        body = self.request("POST", self._trial_path(trial, "tell"), payload)
        trial.told = True
        return body.get("trial", body) if isinstance(body, dict) else {}

    def lease(self, trial: Trial, interval: Optional[float] = None, fail_on_error: bool = True) -> "Lease":
        """A context manager heartbeating the trial's lease in a background thread."""
        return Lease(self, trial, interval, fail_on_error)


class Lease:
    """Heartbeats in a daemon thread while the `with` block runs.

    `lost` turns True (and heartbeats end) when the API refuses a heartbeat (409, 404); `error`
    holds the last failure. If the block raises and the trial was not told, it is told 'failed'
    with the exception's text (fail_on_error=True), then the exception goes on.
    """

    def __init__(self, client: Client, trial: Trial, interval: Optional[float] = None, fail_on_error: bool = True) -> None:
        self.client = client
        self.trial = trial
        seconds = trial.lease_seconds or 60
        self.interval = float(interval) if interval is not None else max(1.0, float(seconds) / 3.0)
        self.fail_on_error = fail_on_error
        self.lost = False
        self.error: Optional[BaseException] = None
        self.beats = 0
        self._done = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def __enter__(self) -> "Lease":
        self._thread = threading.Thread(target=self._run, name=f"hypersweep-lease-{self.trial.id}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        wait = self.interval
        while not self._done.wait(wait):
            try:
                self.client.heartbeat(self.trial)
                self.beats += 1
                self.error = None
                wait = self.interval
            except (Conflict, NotFound) as e:
                self.error = e
                self.lost = True
                return
            except HypersweepError as e:  # transient (network, 5xx, 429): try again sooner
                self.error = e
                wait = min(self.interval, max(0.5, e.retry_after or 0) if isinstance(e, ApiError) else 1.0)

    def stop(self) -> None:
        """End the heartbeats (the `with` block does this on exit)."""
        self._done.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        self.stop()
        if exc is not None and self.fail_on_error and not self.trial.told and not self.lost \
                and not isinstance(exc, (KeyboardInterrupt, GeneratorExit)):
            try:
                self.client.tell(self.trial, "failed", f"{exc_type.__name__}: {exc}"[:1000])
            except HypersweepError:
                pass
        return False
