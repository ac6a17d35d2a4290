"""Pod telemetry: events queued without blocking, sent in numbered batches by a background thread.

`emit` never blocks or raises. The worker batches events at least every `flush_s`, sends a
heartbeat at least every `heartbeat_s` even when training is silent, spools each batch to the
outbox before sending (so a batch is retried with the same number, and the bootstrap can flush
what is left at the end), backs off on failures, and drains on `close`. Every event is also
written to stdout as a `TRAINPOD_EVENT <json>` line for the logs transport.

Only the job's primary process reports: global rank 0 (torchrun's RANK) on node 0 (RunPod's
NODE_RANK). Anywhere else `from_bundle` gives a reporter that drops every event, so that the
app sees one stream per attempt.

As a CLI, for custom training commands: `python reporter.py TYPE [JSON_OBJECT]`.
"""

import collections
import fcntl
import json
import math
import os
import random
import sys
import threading
import time
import urllib.error
import urllib.request

BATCH_MAX = 500
QUEUE_MAX = 10_000
POLL_S = 0.05


def _finite(value):
    """JSON has no NaN or Infinity: send them as null (the app refuses them)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class Outbox:
    """Numbered batches on disk; numbers are shared with the bash bootstrap through flock."""

    def __init__(self, state_dir, job, attempt):
        self.dir = os.path.join(state_dir, "outbox")
        self.state_dir = state_dir
        self.job = job
        self.attempt = attempt
        os.makedirs(self.dir, exist_ok=True)

    def next_number(self):
        with open(os.path.join(self.state_dir, "batch.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = os.path.join(self.state_dir, "batch")
            try:
                with open(path, encoding="ascii") as f:
                    n = int(f.read().strip() or 0) + 1
            except FileNotFoundError:
                n = 1
            with open(path, "w", encoding="ascii") as f:
                f.write(f"{n}\n")
            return n

    def spool(self, encoded):
        """Write one batch of already-encoded events; returns its number."""
        n = self.next_number()
        head = json.dumps({"job": self.job, "attempt": self.attempt, "batch": n})
        body = head[:-1] + ',"events":[' + ",".join(encoded) + "]}"
        path = os.path.join(self.dir, f"{n:012d}.json")
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(body)
        os.replace(path + ".tmp", path)
        return n

    def pending(self):
        return sorted(p for p in os.listdir(self.dir) if p.endswith(".json"))


class Sender:
    """POSTs spooled batches oldest first; remembers a permanent refusal."""

    def __init__(self, state_dir, url, token, timeout_s=10.0):
        self.url = url
        self._auth = f"Bearer {token}"
        self.timeout_s = timeout_s
        self.disabled_path = os.path.join(state_dir, "metrics.disabled")
        self.cancel_requested = False

    def __repr__(self):
        return f"Sender(url={self.url!r}, token=<redacted>)"

    def send(self, path):
        """True when the batch is done with (taken or refused for good), False to retry later."""
        if not self.url or os.path.exists(self.disabled_path):
            return True
        with open(path, "rb") as f:
            data = f.read()
        request = urllib.request.Request(self.url, data=data, method="POST")
        request.add_header("Authorization", self._auth)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                self._read_reply(response.read(65536))
                return True
        except urllib.error.HTTPError as err:
            if err.code in (401, 403):
                open(self.disabled_path, "a").close()
            return err.code in (400, 401, 403, 404, 409, 413, 422)
        except (OSError, ValueError):
            return False

    def _read_reply(self, raw):
        try:
            if json.loads(raw or b"{}").get("cancel") is True:
                self.cancel_requested = True
        except (ValueError, AttributeError):
            pass


def is_primary():
    """Whether this process reports for the job: rank 0 of the primary node, or alone."""
    return os.environ.get("RANK", "0") == "0" and os.environ.get("NODE_RANK", "0") == "0"


class Silent:
    """The reporter of a process that does not report: it takes events and drops them."""

    cancel_requested = False
    dropped = 0

    def start(self):
        return self

    def emit(self, type_, **data):
        pass

    def close(self, timeout=10.0):
        pass


class Reporter:
    """The in-process reporter used by the trainer."""

    def __init__(
        self,
        state_dir,
        url,
        token,
        job,
        attempt,
        flush_s=5.0,
        heartbeat_s=30.0,
        source="trainer",
        out=None,
    ):
        self.outbox = Outbox(state_dir, job, attempt)
        self.sender = Sender(state_dir, url, token)
        self.flush_s = flush_s
        self.heartbeat_s = heartbeat_s
        self.source = source
        self.out = out if out is not None else sys.stdout
        self.dropped = 0
        self._n = 0
        # A deque: appends are atomic and lock-free under the GIL, so emit costs about a
        # microsecond; the worker polls it (a Queue's lock and condition cost ten times more).
        self._events = collections.deque()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trainpod-reporter", daemon=True)
        self._last_sent = time.monotonic()
        self._retry_at = 0.0
        self._failures = 0

    @classmethod
    def from_bundle(cls, **overrides):
        """The reporter the bundle's config describes; a `Silent` one outside the primary."""
        if not is_primary():
            return Silent()
        bundle = os.environ["TRAINPOD_BUNDLE_DIR"]
        with open(os.path.join(bundle, "config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        telemetry = cfg.get("telemetry") or {}
        args = {
            "state_dir": os.environ["TRAINPOD_STATE_DIR"],
            "url": telemetry.get("url") or "",
            "token": telemetry.get("token") or "",
            "job": cfg["job_id"],
            "attempt": cfg["attempt"],
            "flush_s": cfg["runtime"]["flush_s"],
            "heartbeat_s": cfg["runtime"]["heartbeat_s"],
        }
        args.update(overrides)
        return cls(**args)

    @property
    def cancel_requested(self):
        return self.sender.cancel_requested

    def start(self):
        self._thread.start()
        return self

    def emit(self, type_, **data):
        """Queue an event; never blocks, never raises (a full queue counts a drop)."""
        try:
            if len(self._events) >= QUEUE_MAX:
                self.dropped += 1
                return
            self._n += 1
            event = {"n": self._n, "source": self.source, "type": type_, "data": data}
            event["ts"] = time.time()
            self._events.append(event)
        except Exception:  # noqa: BLE001, S110 - telemetry must never break training
            pass

    def close(self, timeout=10.0):
        """Drain the queue and try to send everything, within `timeout` seconds."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        else:
            self._spool_queued()
            self._send_pending(time.monotonic() + timeout)

    def _run(self):
        while not self._stop.is_set():
            try:
                self._cycle()
            except Exception:  # noqa: BLE001 - keep reporting whatever happens
                time.sleep(self.flush_s)
        self._spool_queued()
        self._send_pending(time.monotonic() + 5.0, ignore_backoff=True)

    def _cycle(self):
        deadline = time.monotonic() + self.flush_s
        while time.monotonic() < deadline and len(self._events) < BATCH_MAX:
            if self._stop.wait(POLL_S):
                return
        if not self._events and time.monotonic() - self._last_sent >= self.heartbeat_s:
            self.emit("heartbeat", dropped=self.dropped)
        self._spool_queued()
        self._send_pending(time.monotonic() + self.flush_s)

    def _spool_queued(self):
        while self._events:
            events = []
            while self._events and len(events) < BATCH_MAX:
                events.append(self._events.popleft())
            self._spool(events)

    def _spool(self, events):
        encoded = [_encode(e) for e in events]
        self.outbox.spool(encoded)
        self._last_sent = time.monotonic()
        self.out.write("".join(f"TRAINPOD_EVENT {line}\n" for line in encoded))
        self.out.flush()

    def _send_pending(self, until, ignore_backoff=False):
        if not ignore_backoff and time.monotonic() < self._retry_at:
            return
        for name in self.outbox.pending():
            if time.monotonic() >= until:
                return
            path = os.path.join(self.outbox.dir, name)
            if not os.path.exists(path):
                continue  # the bootstrap sent it meanwhile
            if self.sender.send(path):
                _remove(path)
                self._failures = 0
            else:
                self._failures += 1
                delay = min(30.0, 2.0 ** min(self._failures - 1, 5))
                self._retry_at = time.monotonic() + delay * random.uniform(0.75, 1.25)
                return


def _encode(event):
    try:
        return json.dumps(event, separators=(",", ":"), allow_nan=False)
    except (ValueError, TypeError):
        return json.dumps(_finite(event), separators=(",", ":"))


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    try:
        data = json.loads(argv[1]) if len(argv) > 1 else {}
    except ValueError:
        print("reporter: the second argument must be a JSON object", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print("reporter: the second argument must be a JSON object", file=sys.stderr)
        return 2
    if not is_primary():
        return 0
    rep = Reporter.from_bundle(source="command")
    rep.emit(argv[0], **data)
    rep._spool_queued()
    rep._send_pending(time.monotonic() + 5.0)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
