"""Test helpers: the in-tree RunPod v2 emulator, started, controlled and stopped from Python.

    with Emulator() as emu:
        client_base_url, key = emu.base_url, emu.account_key
        emu.faults(no_capacity=["NVIDIA A40"], rate_limits=[2])
        emu.advance(5)                       # the manual clock (unless real_time=True)
        emu.push_log(pod_id, "epoch 1")      # appears on the pod's log stream
        emu.requests()                       # what the emulator received

The emulator is the `trainpod-emulator` binary (`cargo build -p trainpod-emulator`); it is found
through the ``binary`` argument, then ``$TRAINPOD_EMULATOR``, then ``PATH``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from trainpod.exceptions import InvalidInputError

#: The account key the emulator accepts.
ACCOUNT_KEY = "rpa_emulator_account_key"


def _find(binary: str | None) -> str:
    found = binary or os.environ.get("TRAINPOD_EMULATOR") or shutil.which("trainpod-emulator")
    if not found or not os.access(found, os.X_OK):
        raise InvalidInputError(
            "the trainpod-emulator binary was not found; build it with "
            "`cargo build -p trainpod-emulator` and set TRAINPOD_EMULATOR to its path"
        )
    return found


class Emulator:
    """A RunPod v2 emulator on a free loopback port, for the lifetime of a ``with`` block.

    ``args`` go to the binary: ``["--run-pods", "--env", "NAME=VALUE"]`` makes it the local
    provider, running each pod it creates as a local process group."""

    account_key = ACCOUNT_KEY

    def __init__(
        self, binary: str | None = None, *, real_time: bool = False, args: Iterable[str] = ()
    ) -> None:
        self._binary = _find(binary)
        self._real_time = real_time
        self._args = list(args)
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def start(self) -> Emulator:
        """Start it and wait for its base URL (``http://127.0.0.1:PORT/v2``)."""
        self._process = subprocess.Popen(
            [self._binary, *(["--real-time"] if self._real_time else []), *self._args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().strip()
        if not line.startswith("http://127.0.0.1:"):
            self.stop()
            raise InvalidInputError(f"the emulator did not start (it printed {line!r})")
        self.base_url = line
        return self

    def stop(self) -> None:
        """Stop it: closing its stdin ends it; it is killed if it lingers."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.stdin is not None:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def _control(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Call the emulator's test-control endpoint ``/_emulator/<path>``."""
        if not self.base_url:
            raise InvalidInputError("the emulator is not running: call start() first")
        root = self.base_url.removesuffix("/v2")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{root}/_emulator/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as err:
            detail = json.loads(err.read() or b"{}").get("error", err.reason)
            raise InvalidInputError(f"the emulator refused {path}: {detail}") from None

    def faults(
        self,
        *,
        no_capacity: Iterable[str] = (),
        no_capacity_at: Iterable[tuple[str, str]] = (),
        fail_after_create: int | None = None,
        rate_limits: Iterable[int] = (),
        statuses: Iterable[int] = (),
        latency_ms: int | None = None,
        reset: bool = False,
    ) -> None:
        """Inject faults into the next requests. Lists add to what is set; ``reset`` clears first.

        ``no_capacity``: GPU type ids refused everywhere; ``no_capacity_at``: (GPU type id, data
        center id) pairs refused; ``fail_after_create``: creates that create the pod and answer
        500; ``rate_limits``: 429s with these Retry-After seconds; ``statuses``: problem+json
        answers with these codes (401, 402, 403, 500, ...); ``latency_ms``: a delay on every
        answer.
        """
        body: dict[str, Any] = {
            "reset": reset,
            "noCapacity": list(no_capacity),
            "noCapacityAt": [list(pair) for pair in no_capacity_at],
            "rateLimits": list(rate_limits),
            "statuses": list(statuses),
        }
        if fail_after_create is not None:
            body["failAfterCreate"] = fail_after_create
        if latency_ms is not None:
            body["latencyMs"] = latency_ms
        self._control("POST", "faults", body)

    def advance(self, secs: int) -> int:
        """Move the emulator's clock forward; returns its time (seconds since the epoch)."""
        return int(self._control("POST", "advance", {"secs": secs})["now"])

    def push_log(self, pod_id: str, line: str, source: str = "container") -> None:
        """Append a line to a pod's log (``container`` or ``system``)."""
        self._control("POST", f"pods/{pod_id}/logs", {"line": line, "source": source})

    def requests(self) -> list[dict[str, Any]]:
        """Every RunPod request received so far: ``method``, ``uri`` and ``status``."""
        return list(self._control("GET", "requests")["requests"])

    @property
    def running(self) -> bool:
        """Whether the emulator process is alive."""
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
