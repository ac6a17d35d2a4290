"""Shared setup of the SDK tests: a RunPod emulator, datasets, and the metric batches a pod
would post, signed with the SDK's own tokens."""

from __future__ import annotations

import json
import pathlib
import time
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

import trainpod
from trainpod.testing import ACCOUNT_KEY, Emulator

T0 = 1_900_000_000
CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}'
KEYS = f"k1:active:{trainpod.generate_secret()}"
APP_URL = "http://127.0.0.1:9"
MODEL = "Qwen/Qwen2.5-0.5B"

Client = TypeVar("Client", trainpod.Trainpod, trainpod.AsyncTrainpod)
T = TypeVar("T")


def eventually(what: str, probe: Callable[[], T | None], within: float = 60.0) -> T:
    """Polls ``probe`` until it gives a value; the bound is generous, for loaded machines."""
    end = time.monotonic() + within
    while True:
        value = probe()
        if value is not None:
            return value
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def datasets(root: pathlib.Path) -> pathlib.Path:
    """A datasets directory with a valid chat dataset and a broken one."""
    d = root / "datasets"
    d.mkdir(parents=True, exist_ok=True)
    (d / "chat").write_text("\n".join([CHAT] * 50) + "\n")
    (d / "broken").write_text(f'{CHAT}\n{{"messages": [\n')
    return d


def settings(emu: Emulator, root: pathlib.Path, store: str = "memory:") -> dict[str, Any]:
    """The constructor's keyword arguments for the emulator as a local provider."""
    return {
        "local_provider": (emu.base_url, ACCOUNT_KEY),
        "app_url": APP_URL,
        "signing_keys": KEYS,
        "store": store,
        "datasets_dir": datasets(root),
        "artifacts_dir": root / "artifacts",
        "ignore_env": True,
        "now": T0,
        "follow_interval": 0.05,
    }


def make(cls: type[Client], emu: Emulator, root: pathlib.Path, store: str = "memory:") -> Client:
    return cls(**settings(emu, root, store))


def spec(job: str, **overrides: Any) -> trainpod.JobSpec:
    fields: dict[str, Any] = {
        "user": "user-1",
        "model": MODEL,
        "dataset": "chat",
        "budget_usd": 2.0,
    }
    return trainpod.JobSpec(**{**fields, "job_id": job, **overrides})


def event(n: int, ts: int, kind: str, **extra: Any) -> dict[str, Any]:
    return {"n": n, "source": "bootstrap", "type": kind, "ts": ts, "data": {}, **extra}


def batch(
    tp: trainpod.Trainpod | trainpod.AsyncTrainpod,
    job: str,
    attempt: int,
    n: int,
    events: list[dict[str, Any]],
) -> tuple[str, bytes]:
    """A metrics batch as the pod posts it, with a metrics token for `attempt`."""
    token = tp.tokens.issue("metrics.write", "user-1", job, ttl_secs=3600, epoch=attempt).token
    body = {"job": job, "attempt": attempt, "batch": n, "events": events}
    return f"Bearer {token}", json.dumps(body).encode()


def training_events() -> list[dict[str, Any]]:
    stages = [
        event(i + 1, T0 + 10, "stage", stage=s)
        for i, s in enumerate(["preflight", "dataset", "training"])
    ]
    log = event(4, T0 + 20, "log", source="trainer", data={"step": 3, "max_steps": 6, "loss": 2.0})
    return [*stages, log]


def final_events() -> list[dict[str, Any]]:
    return [
        event(5, T0 + 40, "result", source="trainer", data={"runtime_s": 12.5, "train_loss": 1.2}),
        event(6, T0 + 41, "final", stage="done", data={"status": "succeeded", "exit_code": 0}),
    ]


def create_orphan_pod(emu: Emulator, name: str = "trainpod-ghost") -> str:
    """A pod named like trainpod's with no job behind it."""
    body = {"name": name, "image": "runpod/pytorch:1", "gpu": {"id": "NVIDIA A40"}}
    request = urllib.request.Request(
        f"{emu.base_url}/pods",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {ACCOUNT_KEY}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.loads(response.read())["id"])


def pod_status(emu: Emulator, pod_id: str) -> str:
    """The pod's status as the emulator keeps it (terminated pods included)."""
    return str(emu._control("GET", f"pods/{pod_id}")["status"])
