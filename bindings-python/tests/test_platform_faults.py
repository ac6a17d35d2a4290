"""RunPod as it fails, through the Python SDK on the local provider with the real generated
pod script (the bindings' counterpart of ``tests/e2e/tests/platform_faults.rs``): a pod RunPod
removes by itself ends its job at the next ``reconcile``, and a pod that never starts ends at the
provision timeout. The SDK's clock is fixed (``now=``) at the real time and moved with
``set_now``, so that the reconciler's limits are crossed without waiting; the pods keep the real
clock.

A pod that starts stays in its dataset stage, alive and reporting: its dataset is served by a
socket that accepts and never answers.

The vanished pod needs the pod side's Python (``TRAINPOD_TRAIN_PYTHON``, ``bash
scripts/train-venv.sh``: its preflight imports torch); it is skipped without it unless
``TRAINPOD_REQUIRE_TRAINING`` is set (as in CI). A pod that never starts runs no Python."""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import pathlib
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from typing import TypeVar

import pytest
import trainpod
from sdk_helpers import APP_URL, KEYS, MODEL, eventually
from trainpod.testing import ACCOUNT_KEY, Emulator

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples/python"))
import quickstart  # noqa: E402  (its app serves the metrics route the pod checks in on)

Client = TypeVar("Client", trainpod.Trainpod, trainpod.AsyncTrainpod)

GPU = "NVIDIA GeForce RTX 4090"
#: Restarts and stops quickly, so that a test never waits on the emulator's defaults.
LOCAL_PROVIDER = ["--run-pods", "--restart-delay-ms", "300", "--stop-grace-ms", "1000"]

train_python = os.environ.get("TRAINPOD_TRAIN_PYTHON", "")
needs_train_python = pytest.mark.skipif(
    not (train_python or os.environ.get("TRAINPOD_REQUIRE_TRAINING")),
    reason="set TRAINPOD_TRAIN_PYTHON (bash scripts/train-venv.sh) for a pod that runs",
)


def billed(emu: Emulator, pod_id: str) -> float:
    """What RunPod's billing says the pod has cost, USD."""
    request = urllib.request.Request(
        f"{emu.base_url}/billing/pods?podId={pod_id}",
        headers={"Authorization": f"Bearer {ACCOUNT_KEY}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return float(sum(r["totalAmount"] for r in json.loads(response.read())["records"]))


@pytest.fixture
def stalled_dataset() -> Iterator[trainpod.UrlDataset]:
    """A dataset URL whose server accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def hold() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=hold, daemon=True).start()
    port = listener.getsockname()[1]
    try:
        yield trainpod.UrlDataset(f"http://127.0.0.1:{port}/dataset.jsonl", 100, "0" * 64)
    finally:
        # Shut down first: that wakes the thread blocked in accept (a close alone may not).
        try:
            listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        listener.close()
        for conn in held:
            conn.close()


def sdk(
    cls: type[Client],
    emu: Emulator,
    app_url: str,
    python: str,
    now: int,
    reconcile: Mapping[str, object] | None = None,
) -> Client:
    """An SDK on the local provider, its clock fixed at ``now``, its pods quick to report."""
    return cls(
        local_provider=(emu.base_url, ACCOUNT_KEY),
        app_url=app_url,
        signing_keys=KEYS,
        store="memory:",
        ignore_env=True,
        now=now,
        follow_interval=0.1,
        pod_runtime={
            "python": python,
            "expect_gpu": False,
            "min_free_disk_gb": 0,
            "heartbeat_s": 1,
            "flush_s": 1,
            "requirements": [],
            # A pod whose check-in goes unanswered runs anyway after this long.
            "checkin_budget_s": 5,
        },
        reconcile=reconcile,
    )


def spec(job: str, dataset: trainpod.UrlDataset) -> trainpod.JobSpec:
    return trainpod.JobSpec(
        user="user-1", model=MODEL, dataset=dataset, budget_usd=5.0, job_id=job, gpus=[GPU]
    )


@needs_train_python
def test_a_vanished_pod_ends_its_job_at_the_next_reconcile(
    stalled_dataset: trainpod.UrlDataset,
) -> None:
    server = quickstart.Server(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    app_url = f"http://127.0.0.1:{server.server_address[1]}"
    now = int(time.time())
    with Emulator(args=LOCAL_PROVIDER) as emu:
        tp = sdk(trainpod.Trainpod, emu, app_url, train_python, now)
        quickstart.serve(tp, server)
        try:
            job = tp.deploy(tp.plan(spec("gone", stalled_dataset)))
            pod = job.pod_id
            assert pod is not None
            eventually("the pod to report", lambda: tp.status("gone").last_heartbeat)
            # Billed for at least a second, so that the settled cost below is RunPod's own.
            eventually("RunPod to bill the pod", lambda: billed(emu, pod) or None)
            emu.vanish(pod)
            eventually("the pod's processes to end", lambda: emu.pod(pod)["pid"] is None or None)
            # A pod created within the last minute may not be listed yet, so a job is judged
            # gone only past that grace: one reconcile interval later it ends, its cost
            # settled from RunPod's billing.
            tp.set_now(now + 120)
            actions = tp.reconcile()
            assert actions == [
                trainpod.ReconcileAction(
                    pod_id=pod, job_id="gone", reason="pod_vanished", job_state="failed"
                )
            ]
            ended = tp.status("gone")
            assert (ended.state, ended.reason) == ("failed", "pod_vanished")
            assert pod in ended.cause, ended.cause
            assert ended.cost_usd == pytest.approx(billed(emu, pod), abs=1e-9)
            assert ended.cost_usd > 0
            # RunPod's billing stopped when the pod went: the clock moves on, the cost does not.
            tp.set_now(now + 120 + 3600)
            assert tp.status("gone").cost_usd == pytest.approx(ended.cost_usd, abs=1e-9)
            # Past RunPod's billing delay the bill is final: it is recorded once.
            assert [(a.job_id, a.reason) for a in tp.reconcile()] == [("gone", "billed")]
            assert tp.status("gone").billed_usd == pytest.approx(ended.cost_usd, abs=1e-9)
            assert tp.reconcile() == [], "nothing is left to do"
        finally:
            server.shutdown()
            server.server_close()


def test_a_pod_that_never_starts_ends_at_the_provision_timeout(
    stalled_dataset: trainpod.UrlDataset,
) -> None:
    # Nothing runs on the pod: any Python does, and no app answers.
    python = train_python or "python3"
    now = int(time.time())

    async def main(emu: Emulator) -> None:
        atp = sdk(
            trainpod.AsyncTrainpod,
            emu,
            APP_URL,
            python,
            now,
            reconcile={"provision_timeout_secs": 300},
        )
        job = await atp.deploy(await atp.plan(spec("stuck", stalled_dataset)))
        pod = job.pod_id
        assert pod is not None
        eventually("the pod to read RUNNING", lambda: emu.pod(pod)["status"] == "RUNNING" or None)
        # Before the timeout it is left alone: a slow host may still start it.
        assert await atp.reconcile() == []
        atp.set_now(now + 301)
        actions = await atp.reconcile()
        assert [(a.pod_id, a.reason, a.job_state, a.error) for a in actions] == [
            (pod, "no_container", "failed", None)
        ]
        assert emu.pod(pod)["status"] == "TERMINATED"
        ended = await atp.status("stuck")
        assert (ended.state, ended.reason) == ("failed", "no_container")
        assert "no container ran" in ended.cause, ended.cause

    with Emulator(args=LOCAL_PROVIDER) as emu:
        emu.faults(profile="stuck-host")
        asyncio.run(main(emu))


def test_reconcile_settings_are_checked_when_the_sdk_is_built() -> None:
    now = int(time.time())
    with Emulator() as emu:
        for bad in ({"provision_timeout": 300}, {"lease_secs": -1}, {"retry_unstarted": "yes"}):
            with pytest.raises(trainpod.InvalidInputError):
                sdk(trainpod.Trainpod, emu, APP_URL, "python3", now, reconcile=bad)
        with pytest.raises(TypeError):  # a caller without a type checker
            sdk(trainpod.Trainpod, emu, APP_URL, "python3", now, reconcile=300)  # type: ignore[arg-type]
        kept = sdk(trainpod.Trainpod, emu, APP_URL, "python3", now, reconcile={})
        assert kept.reconcile() == []


def test_a_failed_jobs_cause_stage_and_log_outlive_its_pod(
    stalled_dataset: trainpod.UrlDataset,
) -> None:
    # The pod's Python has no torch: it fails its preflight, reports why and ends itself.
    server = quickstart.Server(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    app_url = f"http://127.0.0.1:{server.server_address[1]}"
    with Emulator(args=LOCAL_PROVIDER) as emu:
        tp = sdk(trainpod.Trainpod, emu, app_url, "python3", int(time.time()))
        quickstart.serve(tp, server)
        try:
            job = tp.deploy(tp.plan(spec("broken", stalled_dataset)))
            pod = job.pod_id
            assert pod is not None
            ended = eventually(
                "the job to fail",
                lambda: s if (s := tp.status("broken")).state == "failed" else None,
            )
            eventually("the pod to end", lambda: emu.pod(pod)["status"] == "TERMINATED" or None)
            # Read again once the pod is gone: the job kept what it said.
            status = tp.status("broken")
            assert (status.reason, status.stage) == ("preflight", "preflight")
            assert status.exit_code not in (None, 0)
            assert "torch is not installed" in status.cause, status.cause
            assert "preflight failed" in status.log_tail
            assert status == ended
            text = status.describe()
            assert "preflight" in text and "torch is not installed" in text
        finally:
            server.shutdown()
