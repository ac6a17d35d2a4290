"""Test helpers: the in-tree RunPod v2 emulator, started, controlled and stopped from Python.

    with Emulator() as emu:
        client_base_url, key = emu.base_url, emu.account_key
        emu.faults(no_capacity=["NVIDIA A40"], rate_limits=[2])
        emu.faults(profile="pull-backoff")   # RunPod's own failures, by name or one by one
        emu.advance(5)                       # the manual clock (unless real_time=True)
        emu.push_log(pod_id, "epoch 1")      # appears on the pod's log stream
        emu.vanish(pod_id, cause="host")     # RunPod removes the pod by itself
        emu.pod(pod_id)                      # status, CUDA, vanished, container running
        emu.requests()                       # what the emulator received
        emu.runpodctl_calls()                # what the pods' runpodctl did (args=["--run-pods"])

The emulator is the `trainpod-emulator` binary; it is found through the ``binary`` argument, then
``$TRAINPOD_EMULATOR``, then the local provider a release wheel carries (``trainpod/bin/``), then
``PATH``. From a clone: ``cargo build -p trainpod-emulator``.
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
from typing import Any, Literal, TypedDict, cast

from trainpod import _bin
from trainpod.exceptions import InvalidInputError

#: The account key the emulator accepts.
ACCOUNT_KEY = "rpa_emulator_account_key"

#: Why RunPod removed a pod: deleted in the console, lost with its host, or the account's
#: balance reached $0 (account-wide: pods without a network volume go, the others stop, and
#: creates answer 402 until the faults are reset).
VanishCause = Literal["console", "host", "balance"]

#: The wording of a capacity refusal: v2's 400, or the 500 "This machine does not have the
#: resources to deploy your pod".
CapacityStyle = Literal["v2", "machine"]

#: The named fault profiles ``faults(profile=...)`` knows.
PROFILES = (
    "pod-vanishes",
    "host-lost",
    "zero-balance",
    "old-cuda-host",
    "pull-backoff",
    "stuck-host",
    "capacity-machine-wording",
    "rate-limited",
    "log-stream-drops",
    "pod-key-refused",
    "cluster-node-stuck",
)


class PodRecord(TypedDict):
    """What the emulator knows of a pod (``GET /_emulator/pods/{id}``; its JSON names)."""

    id: str
    status: str
    #: The CUDA version of the pod's host.
    cudaVersion: str
    #: Why the pod vanished, or None.
    vanished: VanishCause | None
    #: Whether its container runs (v2 shows ``runtime`` exactly then).
    containerRunning: bool
    #: What keeps the container from starting: "host", "pull", "cuda", or None.
    waitingFor: str | None
    restarts: int
    #: The container's main process, with the local provider.
    pid: int | None
    workspace: str | None
    logFile: str | None


class RunpodctlCall(TypedDict):
    """One call of a pod's ``runpodctl`` (local provider)."""

    args: list[str]
    #: The pod whose key made the call; None for the account key.
    caller: str | None
    exitCode: int
    stdout: str
    stderr: str


def _find(binary: str | None, args: list[str]) -> list[str]:
    """The command that starts the emulator with its ``args``."""
    chosen = binary or os.environ.get("TRAINPOD_EMULATOR")
    if not chosen:
        packaged = _bin.local_provider(args)
        if packaged is not None:
            return packaged
        chosen = shutil.which("trainpod-emulator")
    if not chosen or not os.access(chosen, os.X_OK):
        raise InvalidInputError(
            "the trainpod-emulator binary was not found (this package carries none: it was not "
            "installed from a release wheel); build it with `cargo build -p trainpod-emulator` "
            "and set TRAINPOD_EMULATOR to its path"
        )
    return [chosen, *args]


class Emulator:
    """A RunPod v2 emulator on a free loopback port, for the lifetime of a ``with`` block.

    ``args`` go to the binary: ``["--run-pods", "--env", "NAME=VALUE"]`` makes it the local
    provider, running each pod it creates as a local process group."""

    account_key = ACCOUNT_KEY

    def __init__(
        self, binary: str | None = None, *, real_time: bool = False, args: Iterable[str] = ()
    ) -> None:
        self._command = _find(binary, [*(["--real-time"] if real_time else []), *args])
        self._process: subprocess.Popen[str] | None = None
        self.base_url = ""

    def start(self) -> Emulator:
        """Start it and wait for its base URL (``http://127.0.0.1:PORT/v2``)."""
        self._process = subprocess.Popen(
            self._command,
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
        profile: str | None = None,
        vanish_after_secs: int | None = None,
        vanish_cause: VanishCause | None = None,
        old_cuda_hosts: bool | None = None,
        pull_backoff_secs: int | None = None,
        pull_backoff: bool = False,
        no_container_secs: int | None = None,
        capacity_style: CapacityStyle | None = None,
        something_went_wrong: int | None = None,
        quota_per_minute: int | None = None,
        drop_log_streams_after: int | None = None,
        pod_key_refused: bool | None = None,
        reset: bool = False,
    ) -> None:
        """Inject faults into the next requests. ``reset`` clears every fault first, then
        ``profile`` applies, then the other arguments: lists add to what is set, other values
        replace it (an argument left out changes nothing).

        ``no_capacity``: GPU type ids refused everywhere; ``no_capacity_at``: (GPU type id, data
        center id) pairs refused; ``capacity_style``: how those refusals answer (``"v2"``: 400
        "There are no longer any instances available...", ``"machine"``: 500 "This machine does
        not have the resources to deploy your pod..."); ``something_went_wrong``: the next
        creates answer 500 "Something went wrong..." and create nothing; ``fail_after_create``:
        creates that create the pod and answer 500; ``rate_limits``: 429s with these Retry-After
        seconds; ``quota_per_minute``: the minute quota of the RateLimit headers, 429 beyond it;
        ``statuses``: problem+json answers with these codes (401, 402, 403, 500, ...);
        ``latency_ms``: a delay on every answer.

        RunPod's own failures, for pods created while set: ``vanish_after_secs`` (with
        ``vanish_cause``, ``"console"`` by default): each pod vanishes that many clock seconds
        after its create; ``old_cuda_hosts``: pods without a CUDA constraint land on the CUDA
        12.4 host, where an image built for 12.8 never starts; ``pull_backoff_secs`` (or
        ``pull_backoff=True``: forever): Docker Hub's pull rate limit holds the container;
        ``no_container_secs``: RUNNING with no container (a stuck host). And for every request:
        ``drop_log_streams_after``: log streams are cut after that many events;
        ``pod_key_refused``: v2 answers 401 to pod-scoped keys. ``profile``: one of
        :data:`PROFILES`.
        """
        if vanish_cause is not None and vanish_after_secs is None:
            raise InvalidInputError("vanish_cause needs vanish_after_secs")
        body: dict[str, Any] = {
            "reset": reset,
            "noCapacity": list(no_capacity),
            "noCapacityAt": [list(pair) for pair in no_capacity_at],
            "rateLimits": list(rate_limits),
            "statuses": list(statuses),
        }
        if profile is not None:
            body["profile"] = profile
        if vanish_after_secs is not None:
            body["vanish"] = {"afterSecs": vanish_after_secs, "cause": vanish_cause or "console"}
        if pull_backoff_secs is not None or pull_backoff:
            body["pullBackoff"] = {"secs": pull_backoff_secs}
        values = {
            "failAfterCreate": fail_after_create,
            "latencyMs": latency_ms,
            "oldCudaHosts": old_cuda_hosts,
            "noContainerSecs": no_container_secs,
            "capacityStyle": capacity_style,
            "somethingWentWrong": something_went_wrong,
            "quotaPerMinute": quota_per_minute,
            "dropLogStreamsAfter": drop_log_streams_after,
            "podKeyRefused": pod_key_refused,
        }
        body.update({key: value for key, value in values.items() if value is not None})
        self._control("POST", "faults", body)

    def vanish(self, pod_id: str, cause: VanishCause = "console") -> PodRecord:
        """Make a pod vanish now, as RunPod removes one by itself: it is listed no more and
        every v2 call on it answers 404, its billing stops but stays readable, and with the
        local provider its processes are SIGKILLed. Returns its record (:meth:`pod`)."""
        return cast(PodRecord, self._control("POST", f"pods/{pod_id}/vanish", {"cause": cause}))

    def pod(self, pod_id: str) -> PodRecord:
        """What the emulator knows of a pod, gone ones included."""
        return cast(PodRecord, self._control("GET", f"pods/{pod_id}"))

    def runpodctl_calls(self) -> list[RunpodctlCall]:
        """Every call of a pod's ``runpodctl`` so far (with ``args=["--run-pods"]``, each pod
        has it on its ``PATH``; ``remove pod <id>`` terminates the pod)."""
        return cast(list[RunpodctlCall], self._control("GET", "runpodctl")["calls"])

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
