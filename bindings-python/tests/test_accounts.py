"""Many users on their own RunPod accounts, from Python: a credentials resolver (sync and
async), each job's pod on its account, the key check, and a resolver that fails."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
import trainpod
from sdk_helpers import APP_URL, KEYS, T0, batch, datasets, event, pod_status, spec
from trainpod.testing import Emulator

KEYS_BY_ACCOUNT = {"alice": "rpa_py_alice", "bob": "rpa_py_bob"}


@pytest.fixture(scope="module")
def accounts_emu() -> Iterator[Emulator]:
    """An emulator with two accounts, and a read-only key of alice's."""
    args = [f"--account={a}:{k}" for a, k in KEYS_BY_ACCOUNT.items()]
    args = [x for a in args for x in a.split("=", 1)]
    args += ["--account", "alice:rpa_py_alice_ro:read_only"]
    with Emulator(args=args) as emu:
        yield emu


def settings(emu: Emulator, root: pathlib.Path, credentials: object) -> dict[str, Any]:
    return {
        "runpod_base_url": emu.base_url,
        "credentials": credentials,
        "allow_loopback": True,
        "app_url": APP_URL,
        "signing_keys": KEYS,
        "store": "memory:",
        "datasets_dir": datasets(root),
        "ignore_env": True,
        "now": T0,
    }


def pod_account(emu: Emulator, pod_id: str) -> str:
    return str(emu._control("GET", f"pods/{pod_id}")["account"])


def test_each_users_job_runs_on_their_own_account(
    accounts_emu: Emulator, tmp_path: pathlib.Path
) -> None:
    asked: list[str] = []

    def credentials(account: str) -> str | None:
        asked.append(account)
        return KEYS_BY_ACCOUNT.get(account)

    tp = trainpod.Trainpod(**settings(accounts_emu, tmp_path, credentials))
    pods = {}
    for user in ("alice", "bob"):
        plan = tp.plan(spec(f"py-{user}", user=user, account=user))
        status = tp.deploy(plan)
        assert (status.user, status.account) == (user, user)
        assert status.pod_id is not None
        pods[user] = status.pod_id
        assert pod_account(accounts_emu, status.pod_id) == user
    assert set(asked) == {"alice", "bob"}
    # Cancelling bob's job ends bob's pod, with bob's key; alice's runs on.
    assert tp.cancel("py-bob").state == "cancelled"
    assert pod_status(accounts_emu, pods["bob"]) == "TERMINATED"
    assert pod_status(accounts_emu, pods["alice"]) != "TERMINATED"
    tp.cancel("py-alice")


def test_an_async_resolver_is_awaited_on_the_callers_loop(
    accounts_emu: Emulator, tmp_path: pathlib.Path
) -> None:
    loops: list[asyncio.AbstractEventLoop] = []

    async def credentials(account: str) -> str | None:
        loops.append(asyncio.get_running_loop())
        await asyncio.sleep(0)
        return KEYS_BY_ACCOUNT.get(account)

    async def run() -> tuple[str, asyncio.AbstractEventLoop]:
        tp = trainpod.AsyncTrainpod(**settings(accounts_emu, tmp_path, credentials))
        plan = await tp.plan(spec("py-async", user="alice", account="alice"))
        status = await tp.deploy(plan)
        await tp.cancel("py-async")
        assert status.pod_id is not None
        return status.pod_id, asyncio.get_running_loop()

    pod, loop = asyncio.run(run())
    assert pod_account(accounts_emu, pod) == "alice"
    assert loops and all(seen is loop for seen in loops)

    # From the blocking class, an async resolver runs on a loop of its own.
    tp = trainpod.Trainpod(**settings(accounts_emu, tmp_path / "sync", credentials))
    plan = tp.plan(spec("py-async-sync", user="bob", account="bob"))
    assert plan.spec.account == "bob"


def test_a_resolver_that_fails_or_has_no_key_says_what_to_do(
    accounts_emu: Emulator, tmp_path: pathlib.Path
) -> None:
    def credentials(account: str) -> str | None:
        if account == "down":
            raise ConnectionError("secrets table unreachable")
        if account == "odd":
            return 42  # type: ignore[return-value]
        return None

    tp = trainpod.Trainpod(**settings(accounts_emu, tmp_path, credentials))
    with pytest.raises(trainpod.CredentialsUnavailableError) as down:
        tp.plan(spec("py-down", user="u", account="down"))
    assert "ConnectionError: secrets table unreachable" in str(down.value)
    assert down.value.retryable
    with pytest.raises(trainpod.CredentialsUnavailableError, match="not a str"):
        tp.plan(spec("py-odd", user="u", account="odd"))
    with pytest.raises(trainpod.AuthInvalidError, match="settings"):
        tp.plan(spec("py-none", user="u", account="nobody"))
    with pytest.raises(trainpod.InvalidInputError, match="account"):
        tp.plan(spec("py-unnamed", user="u"))
    with pytest.raises(TypeError):
        trainpod.Trainpod(**settings(accounts_emu, tmp_path, "not callable"))


def test_the_key_check_tells_what_a_key_can_do(
    accounts_emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = trainpod.Trainpod(**settings(accounts_emu, tmp_path, KEYS_BY_ACCOUNT.get))
    good = tp.check_runpod_key("rpa_py_alice")
    assert isinstance(good, trainpod.KeyCheck)
    assert (good.valid, good.access, good.can_run_jobs, good.problem) == (
        True,
        "read_write",
        True,
        "",
    )
    assert good.gpus and good.gpus[0].available
    read_only = tp.check_runpod_key("rpa_py_alice_ro")
    assert (read_only.access, read_only.can_run_jobs) == ("read_only", False)
    assert "Read Only" in read_only.problem
    refused = tp.check_runpod_key("rpa_never_issued")
    assert (refused.valid, refused.access) == (False, "refused")
    assert "settings" in refused.problem


def test_the_final_bill_shows_beside_the_estimate(
    accounts_emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = trainpod.Trainpod(
        **settings(accounts_emu, tmp_path, KEYS_BY_ACCOUNT.get),
        reconcile={"bill_after_secs": 0},
    )
    plan = tp.plan(spec("py-bill", account="alice"))
    tp.deploy(plan)
    accounts_emu._control("POST", "advance", {"secs": 600})
    tp.set_now(T0 + 600)
    final = [event(1, T0 + 600, "final", stage="done", data={"status": "succeeded"})]
    auth, body = batch(tp, "py-bill", 1, 1, final)
    assert tp.ingest_metrics("py-bill", auth, body).state == "succeeded"
    actions = tp.reconcile()
    assert [a.reason for a in actions if a.job_id == "py-bill"] == ["billed"]
    status = tp.status("py-bill")
    assert status.billed_usd is not None and status.billed_usd > 0
    assert status.cost_usd == status.billed_usd
    low, high = plan.estimate.usd_low, plan.estimate.usd_high
    assert status.estimate_usd == (low, high)
    assert f"billed by RunPod ${status.billed_usd:.4f}" in status.describe()
    assert "estimated" in status._repr_html_()
