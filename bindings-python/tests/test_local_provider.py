"""Whole jobs on the local provider from Python: the real generated pod script and real TRL
training of a tiny Llama on the CPU, the app's routes served by the quickstart's ``http.server``
app, each job followed to the end, once by ``Trainpod`` and once by ``AsyncTrainpod``.

Needs the pod side's Python (``TRAINPOD_TRAIN_PYTHON``, ``bash scripts/train-venv.sh``); skipped
without it unless ``TRAINPOD_REQUIRE_TRAINING`` is set (as in CI)."""

from __future__ import annotations

import asyncio
import http.server
import os
import pathlib
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import pytest
import trainpod
from sdk_helpers import KEYS, pod_status
from trainpod.testing import ACCOUNT_KEY, Emulator

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples/python"))
import quickstart  # noqa: E402  (its tiny model, app routes and hyperparameters)

pytestmark = pytest.mark.skipif(
    not (os.environ.get("TRAINPOD_TRAIN_PYTHON") or os.environ.get("TRAINPOD_REQUIRE_TRAINING")),
    reason="set TRAINPOD_TRAIN_PYTHON (bash scripts/train-venv.sh) for real training",
)

Client = TypeVar("Client", trainpod.Trainpod, trainpod.AsyncTrainpod)


@dataclass
class Local:
    emu: Emulator
    work: pathlib.Path
    app_url: str
    python: str
    model: pathlib.Path

    def sdk(self, cls: type[Client]) -> Client:
        """An SDK on the local provider, sharing the app's keys and store."""
        return cls(
            local_provider=(self.emu.base_url, ACCOUNT_KEY),
            app_url=self.app_url,
            signing_keys=KEYS,
            store=f"sqlite://{self.work / 'trainpod.db'}",
            datasets_dir=self.work / "datasets",
            artifacts_dir=self.work / "artifacts",
            pod_python=self.python,
            expect_gpu=False,
            pod_runtime={"min_free_disk_gb": 1, "heartbeat_s": 2, "flush_s": 1, "progress_s": 1},
            ignore_env=True,
        )

    def spec(self) -> trainpod.JobSpec:
        return trainpod.JobSpec(
            user="pytest",
            model=str(self.model),
            dataset="chat",
            budget_usd=0.50,
            params_b=0.00002,
            gpus=[quickstart.GPU],
            hyperparameters=quickstart.TINY,
        )


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Local]:
    """The local provider (pods are local process groups) and the app the pods call back."""
    work = tmp_path_factory.mktemp("local-provider")
    python = quickstart.train_python()
    model = quickstart.tiny_model(python, ROOT / "target/quickstart")
    (work / "datasets").mkdir()
    shutil.copy(ROOT / "examples/data/chat.jsonl", work / "datasets/chat")
    args = ["--run-pods", "--workspace-root", str(work / "pods")]
    for env in quickstart.OFFLINE:
        args += ["--env", env]
    server = quickstart.Server(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    with Emulator(args=args) as emu:
        setup = Local(emu, work, f"http://127.0.0.1:{server.server_address[1]}", python, model)
        quickstart.serve(setup.sdk(trainpod.Trainpod), server)
        try:
            yield setup
        finally:
            server.shutdown()


def check_ended(
    local: Local, job: trainpod.JobStatus, updates: list[trainpod.FollowUpdate]
) -> None:
    statuses = [u.status for u in updates if u.status is not None]
    assert statuses[-1].state == "succeeded", statuses[-1]
    assert statuses[-1].progress == 1.0 and statuses[-1].step == quickstart.TINY["max_steps"]
    losses = [u.loss for u in updates if u.loss is not None]
    assert len(losses) >= 5 and losses[-1] < losses[0], losses
    stages = [u.event["stage"] for u in updates if u.event and u.event.get("type") == "stage"]
    assert "training" in stages, stages
    assert job.pod_id is not None and pod_status(local.emu, job.pod_id) == "TERMINATED"


def test_a_real_job_runs_to_succeeded_sync(local: Local, tmp_path: pathlib.Path) -> None:
    tp = local.sdk(trainpod.Trainpod)
    job = tp.deploy(tp.plan(local.spec()))
    updates = list(tp.follow(job.job_id))
    check_ended(local, job, updates)
    files = tp.download_artifacts(job.job_id, tmp_path / "adapter")
    assert any(f.path.endswith("adapter_model.safetensors") for f in files), files


def test_a_real_job_runs_to_succeeded_async(local: Local, tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        atp = local.sdk(trainpod.AsyncTrainpod)
        job = await atp.deploy(await atp.plan(local.spec()))
        # The event loop stays free while the job runs: a ticker keeps ticking.
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        ticker = asyncio.create_task(tick())
        updates = [u async for u in atp.follow(job.job_id)]
        ticker.cancel()
        assert ticks > 20, ticks
        check_ended(local, job, updates)
        files = await atp.download_artifacts(job.job_id, tmp_path / "adapter")
        assert any(f.path.endswith("adapter_model.safetensors") for f in files), files

    asyncio.run(main())
