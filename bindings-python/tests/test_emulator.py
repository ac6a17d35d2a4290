"""The RunPod emulator can be started and stopped from Python tests."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest
import trainpod
from trainpod.testing import ACCOUNT_KEY, Emulator


def get(url: str, key: str) -> tuple[int, Any]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, None


def test_start_serve_and_stop() -> None:
    with Emulator() as emu:
        assert emu.running
        assert emu.base_url.startswith("http://127.0.0.1:")
        status, pods = get(f"{emu.base_url}/pods", ACCOUNT_KEY)
        assert (status, pods) == (200, {"pods": []})
        status, gpus = get(f"{emu.base_url}/catalog/gpus", ACCOUNT_KEY)
        assert status == 200 and gpus
        assert get(f"{emu.base_url}/pods", "wrong-key")[0] == 401
        url = emu.base_url
    assert not emu.running
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{url}/pods", timeout=2)


def test_a_missing_binary_is_a_typed_error() -> None:
    with pytest.raises(trainpod.InvalidInputError):
        Emulator(binary="/nonexistent/trainpod-emulator")


def test_faults_clock_and_logs_are_driven_from_python() -> None:
    with Emulator() as emu:
        emu.faults(statuses=[402])
        assert get(f"{emu.base_url}/pods", ACCOUNT_KEY)[0] == 402
        body = {"name": "trainpod-p", "image": "runpod/pytorch:1", "gpu": {"id": "NVIDIA A40"}}
        request = urllib.request.Request(
            f"{emu.base_url}/pods",
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Authorization": f"Bearer {ACCOUNT_KEY}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            pod = json.loads(response.read())
        assert emu.advance(3) > 0
        assert get(f"{emu.base_url}/pods/{pod['id']}", ACCOUNT_KEY)[1]["status"] == "RUNNING"
        emu.push_log(pod["id"], "epoch 1")
        assert any(r["uri"] == "/v2/pods" and r["status"] == 201 for r in emu.requests())
        with pytest.raises(trainpod.InvalidInputError):
            emu.push_log("nope", "x")
