"""RunPod's own failures, driven from Python through the emulator's testing helper: named
profiles, pods that vanish, image pull backoff, and a pod's ``runpodctl``."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
import trainpod
from sdk_helpers import eventually
from trainpod.testing import ACCOUNT_KEY, PROFILES, Emulator

IMAGE = "runpod/pytorch:1.0.2-cu1281-torch280-ubuntu2404"


def call(emu: Emulator, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """A v2 call with the account key: status and JSON body (None when there is none)."""
    request = urllib.request.Request(
        f"{emu.base_url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {ACCOUNT_KEY}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as err:
        raw = err.read()
        return err.code, json.loads(raw) if raw else None


def create(emu: Emulator, **fields: Any) -> dict[str, Any]:
    body = {"name": "trainpod-py", "image": IMAGE, "gpu": {"id": "NVIDIA A40"}, **fields}
    status, pod = call(emu, "POST", "/pods", body)
    assert status == 201, pod
    return dict(pod)


def system_line(emu: Emulator, pod_id: str, wanted: str) -> str:
    """The first line of the pod's system log containing ``wanted``, read from the live log
    stream (it stays open while the pod lives, so lines are read one by one, with a timeout)."""
    url = urllib.parse.urlsplit(emu.base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=10)
    try:
        conn.request(
            "GET",
            f"/v2/pods/{pod_id}/logs?source=system&tail=5000",
            headers={"Authorization": f"Bearer {ACCOUNT_KEY}"},
        )
        response = conn.getresponse()
        assert response.status == 200
        while True:
            line = response.readline().decode()
            assert line, f"the stream ended before a line with {wanted!r}"
            if line.startswith("data: ") and wanted in line:
                return str(json.loads(line[len("data: ") :])["line"])
    finally:
        conn.close()


def test_a_profile_applies_and_an_unknown_one_is_refused() -> None:
    with Emulator() as emu:
        emu.faults(profile="capacity-machine-wording")
        status, refused = call(
            emu,
            "POST",
            "/pods",
            {"name": "p", "image": IMAGE, "gpu": {"id": "NVIDIA GeForce RTX 4090"}},
        )
        assert status == 500
        assert refused["detail"].startswith("This machine does not have the resources")
        with pytest.raises(trainpod.InvalidInputError) as refused_profile:
            emu.faults(profile="meteor")
        assert all(name in str(refused_profile.value) for name in PROFILES)


def test_a_vanished_pod_is_gone_and_its_billing_stays() -> None:
    with Emulator() as emu:
        pod = create(emu)
        emu.advance(10)
        record = emu.vanish(pod["id"], cause="host")
        assert (record["status"], record["vanished"]) == ("TERMINATED", "host")
        _, listed = call(emu, "GET", "/pods")
        assert all(p["id"] != pod["id"] for p in listed["pods"])
        assert call(emu, "GET", f"/pods/{pod['id']}")[0] == 404
        assert call(emu, "POST", f"/pods/{pod['id']}/action", {"action": "stop"})[0] == 404
        status, bill = call(emu, "GET", f"/billing/pods?podId={pod['id']}")
        assert status == 200
        assert bill["records"][0]["totalAmount"] == pytest.approx(0.40 * 10 / 3600)
        assert emu.pod(pod["id"])["vanished"] == "host"


def test_the_vanish_fault_removes_a_pod_after_its_seconds() -> None:
    with Emulator() as emu:
        emu.faults(vanish_after_secs=5, vanish_cause="console")
        pod = create(emu)
        emu.advance(4)
        assert call(emu, "GET", f"/pods/{pod['id']}")[0] == 200
        emu.advance(1)
        assert call(emu, "GET", f"/pods/{pod['id']}")[0] == 404
        with pytest.raises(trainpod.InvalidInputError):
            emu.faults(vanish_cause="host")


def test_a_pull_backoff_pod_reads_running_with_no_container() -> None:
    with Emulator() as emu:
        emu.faults(profile="pull-backoff")
        pod = create(emu)
        emu.advance(3)
        _, got = call(emu, "GET", f"/pods/{pod['id']}")
        assert (got["status"], got["runtime"]) == ("RUNNING", None)
        line = system_line(emu, pod["id"], "toomanyrequests")
        assert "You have reached your pull rate limit" in line
        record = emu.pod(pod["id"])
        assert (record["containerRunning"], record["waitingFor"]) == (False, "pull")
        emu.faults(reset=True, pull_backoff_secs=2, old_cuda_hosts=True, quota_per_minute=1000)
        later = create(emu, image="runpod/base:0.6.2-ubuntu2204")
        emu.advance(3)
        assert emu.pod(later["id"])["cudaVersion"] == "12.4"
        assert call(emu, "GET", f"/pods/{later['id']}")[1]["runtime"]["uptime"] == 0


def test_a_pods_runpodctl_call_is_recorded() -> None:
    with Emulator(args=["--run-pods"]) as emu:
        emu.faults(pod_key_refused=True)
        script = 'runpodctl remove pod "$RUNPOD_POD_ID"; exec sleep 600'
        pod = create(emu, args='sh -c "$SCRIPT"', env={"SCRIPT": script})
        calls = eventually("the runpodctl call", lambda: emu.runpodctl_calls() or None)
        assert calls[0]["args"] == ["remove", "pod", pod["id"]]
        assert (calls[0]["exitCode"], calls[0]["caller"]) == (0, pod["id"])
        assert "deprecated" in calls[0]["stderr"]
        assert eventually(
            "the pod to terminate",
            lambda: emu.pod(pod["id"])["status"] == "TERMINATED" or None,
        )
