"""`Trainpod` and `AsyncTrainpod` on the RunPod emulator: the builder's typed errors, plan,
deploy, the pod's metric batches through `ingest_metrics`, status, follow, cancel, retry,
reconcile, the dataset and artifacts routes, in both classes."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import inspect
import json
import pathlib
import pickle
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trainpod
from sdk_helpers import (
    APP_URL,
    KEYS,
    T0,
    batch,
    create_orphan_pod,
    event,
    final_events,
    make,
    pod_status,
    settings,
    spec,
    training_events,
)
from trainpod.testing import ACCOUNT_KEY, Emulator

OUTCOME_FIELDS = (
    "status",
    "body",
    "replay",
    "terminate_pod",
    "job_id",
    "attempt",
    "state",
    "step",
    "total_steps",
    "loss",
)

CLASSES = [trainpod.Trainpod, trainpod.AsyncTrainpod]


def public(cls: type) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_")}


def test_sync_and_async_have_the_same_methods_signatures_and_docstrings() -> None:
    sync, aio = trainpod.Trainpod, trainpod.AsyncTrainpod
    assert public(sync) == public(aio)
    expected = {
        "plan",
        "deploy",
        "status",
        "follow",
        "logs",
        "ingest_metrics",
        "authorize_dataset_download",
        "reconcile",
        "cancel",
        "retry",
        "artifact_manifest",
        "put_artifact",
        "artifacts",
        "download_artifacts",
        "checkpoint_file",
        "inspect_dataset",
        "convert_alpaca",
        "render_script",
        "stored_plan",
    }
    assert expected <= public(sync)
    assert inspect.signature(sync) == inspect.signature(aio)
    # The constructor's settings are documented in both class docstrings, identically.
    settings = (sync.__doc__ or "").split("\n\n", 1)[1]
    assert "runpod_api_key" in settings and "pod_runtime" in settings
    assert (aio.__doc__ or "").split("\n\n", 1)[1] == settings
    for name in sorted(public(sync)):
        a, b = getattr(sync, name), getattr(aio, name)
        assert a.__doc__ and a.__doc__ == b.__doc__, name
        if callable(a):
            assert inspect.signature(a) == inspect.signature(b), name


def test_the_builder_refuses_a_missing_key_and_an_app_a_pod_cannot_reach(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)
    for cls in CLASSES:
        with pytest.raises(trainpod.AuthInvalidError) as info:
            cls(signing_keys=KEYS, store="memory:")
        assert info.value.code == "AUTH_INVALID"
        assert "RUNPOD_API_KEY" in info.value.message
        with pytest.raises(trainpod.UrlUnreachableFromPodError) as unreachable:
            cls(runpod_api_key="rpa_x", app_url="http://localhost:3000", signing_keys=KEYS)
        assert unreachable.value.code == "URL_UNREACHABLE_FROM_POD"
        assert isinstance(unreachable.value, ValueError)
        assert "tunnel" in unreachable.value.message
        # Allowed where the pods run on this machine.
        cls(
            runpod_api_key="rpa_x",
            app_url="http://localhost:3000",
            allow_loopback=True,
            signing_keys=KEYS,
            store="memory:",
        )
        with pytest.raises(trainpod.InvalidInputError):
            cls(runpod_api_key="rpa_x", store="memory:", ignore_env=True)  # no signing keys
        with pytest.raises(trainpod.InvalidInputError):
            cls(local_provider=("http://127.0.0.1:1/v2", "k"), runpod_api_key="rpa_x")
        with pytest.raises(TypeError):
            cls(runpod_api_key="rpa_x", signing_keys=42, store="memory:")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            cls(runpod_key="rpa_x")  # type: ignore[call-arg]
        base: dict[str, Any] = {"runpod_api_key": "rpa_x", "signing_keys": KEYS, "store": "memory:"}
        cls(**base, pod_python="/usr/bin/python3", pod_runtime={"heartbeat_s": 2})
        with pytest.raises(trainpod.InvalidInputError, match="no field `heartbeat`; the fields"):
            cls(**base, pod_runtime={"heartbeat": 2})
        with pytest.raises(trainpod.InvalidInputError, match="`heartbeat_s` is not valid"):
            cls(**base, pod_runtime={"heartbeat_s": "often"})
        with pytest.raises(trainpod.InvalidInputError):
            cls(**base, follow_interval=-1)
    # The environment supplies what is not given, unless ignore_env.
    monkeypatch.setenv("RUNPOD_API_KEY", "rpa_from_env")
    monkeypatch.setenv("TRAINPOD_SIGNING_KEYS", KEYS)
    tp = trainpod.Trainpod(store="memory:")
    assert tp.store_backend == "memory"
    with pytest.raises(trainpod.AuthInvalidError):
        trainpod.Trainpod(store="memory:", ignore_env=True, signing_keys=KEYS)
    store = tmp_path / "jobs.db"
    assert trainpod.Trainpod(store=f"sqlite://{store}").store_backend == "sqlite"
    assert store.exists()


def test_signing_keys_take_a_spec_or_tokens_like_the_golden_vectors(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    from conftest import fixture

    config = fixture("token-vectors.json")["config"]
    standalone = trainpod.Tokens(config["keys"], APP_URL, now=T0)
    for keys in (config["keys"], standalone):
        tp = trainpod.Trainpod(**{**settings(emu, tmp_path), "signing_keys": keys})
        assert "k2" in repr(tp.tokens), "the ring's active key signs"
        issued = tp.tokens.issue("metrics.write", "user-1", "job-1", ttl_secs=60)
        assert issued.token.startswith("v1.k2.")
        assert standalone.verify(issued.token, "metrics.write", job="job-1").sub == "user-1"


def test_plan_renders_its_estimate_and_refuses_what_would_fail(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    plan = tp.plan(spec("plan-1"))
    assert isinstance(plan, trainpod.Plan)
    assert plan.job_id == "plan-1" and plan.params_b == 0.5 and plan.dataset.rows == 50
    phases = [line.phase for line in plan.estimate.lines]
    assert phases == [
        "provisioning",
        "dependencies",
        "model_download",
        "dataset_transfer",
        "training",
        "upload",
    ]
    assert 0 < plan.estimate.usd_low < plan.estimate.usd_high
    assert plan.deadline_secs == int(2.0 / plan.gpu.price_per_hour * 3600)
    # The core's defaults, filled in.
    assert (plan.spec.method, plan.spec.gpu_count, plan.spec.cloud) == ("lora", 1, "SECURE")
    assert plan.hyperparameters["learning_rate"] == 2e-4
    html = plan._repr_html_()
    assert "<table>" in html and all(p in html for p in phases) and "total" in html
    assert "plan-1" in repr(plan) and "$" in repr(plan)
    assert "training" in plan.describe()
    assert pickle.loads(pickle.dumps(plan)) == plan

    custom = tp.plan(spec("plan-2", hyperparameters={"max_steps": 10}, method="full"))
    assert custom.hyperparameters["max_steps"] == 10
    assert custom.hyperparameters["learning_rate"] == 2e-5
    assert custom.spec.method == "full"

    cases: list[tuple[trainpod.JobSpec, type[trainpod.TrainpodError]]] = [
        (spec("bad", budget_usd=0.0), trainpod.InvalidInputError),
        (spec("../x"), trainpod.InvalidInputError),
        (spec("bad", gpus=["NVIDIA Imaginary"]), trainpod.InvalidInputError),
        (spec("bad", hyperparameters={"epochz": 1}), trainpod.InvalidInputError),
        (spec("bad", method="lorax"), trainpod.InvalidInputError),
        # QLoRA needs a CUDA GPU; the local provider's pods expect none: refused at plan.
        (spec("bad", method="qlora"), trainpod.InvalidInputError),
        (spec("bad", dataset=trainpod.AppDataset("missing")), trainpod.DatasetNotFoundError),
        (spec("bad", dataset="broken"), trainpod.DatasetInvalidError),
    ]
    for bad, error in cases:
        with pytest.raises(error):
            tp.plan(bad)
    # Every refusal of a field names it, whatever the value (a NaN has no JSON form).
    named: list[tuple[dict[str, Any], str]] = [
        ({"learning_rate": float("nan")}, "`hyperparameters.learning_rate`"),
        ({"learning_rate": "1e-4"}, "`hyperparameters.learning_rate`"),
        ({"epochz": 1}, "`hyperparameters.epochz`"),
    ]
    for hp, field in named:
        with pytest.raises(trainpod.InvalidInputError) as refused:
            tp.plan(spec("bad", hyperparameters=hp))
        assert field in refused.value.message, refused.value.message
    with pytest.raises(trainpod.InvalidInputError) as refused:
        tp.plan(spec("bad", budget_usd=float("inf")))
    assert "`budget_usd`" in refused.value.message
    with pytest.raises(TypeError):
        tp.plan({"user": "u"})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        tp.deploy(spec("not-a-plan"))  # type: ignore[arg-type]


CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}'


def test_inspect_dataset_reports_rows_and_errors_in_both_classes(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text(f"{CHAT}\n" * 3)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(f"{CHAT}\nnot json\n{CHAT}\n{{}}\n")
    tp = make(trainpod.Trainpod, emu, tmp_path)
    report = tp.inspect_dataset(good)
    assert isinstance(report, trainpod.DatasetReport) and report.is_valid
    assert (report.container, report.format, report.rows) == ("jsonl", "messages", 3)
    assert report.sha256 == hashlib.sha256(good.read_bytes()).hexdigest()
    assert report.bytes == good.stat().st_size
    refused = tp.inspect_dataset(str(bad), max_errors=1)
    assert not refused.is_valid
    assert (refused.rows, refused.error_count) == (2, 2)
    assert [e.line for e in refused.errors] == [2], "only max_errors are kept"
    assert pickle.loads(pickle.dumps(refused)) == refused
    with pytest.raises(trainpod.DatasetNotFoundError) as missing:
        tp.inspect_dataset(tmp_path / "missing.jsonl")
    assert missing.value.code == "DATASET_NOT_FOUND"

    async def main() -> trainpod.DatasetReport:
        return await make(trainpod.AsyncTrainpod, emu, tmp_path).inspect_dataset(good)

    assert asyncio.run(main()) == report


ALPACA = '{"instruction":"Translate","input":"chat","output":"cat","id":1}'


def test_an_alpaca_dataset_is_planned_and_trained_as_prompt_and_completion(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    source = tmp_path / "datasets" / "alpaca"
    source.write_text(f"{ALPACA}\n" * 20)
    plan = tp.plan(spec("alpaca-1", dataset="alpaca"))
    assert plan.dataset.format == "alpaca"
    said = [w for w in plan.warnings if "Alpaca" in w]
    assert len(said) == 1, plan.warnings
    assert "prompt (instruction, then input" in said[0] and "completion (output)" in said[0]
    # The pod's trainer is told the format, as data in its config.
    config = json.loads(tp.render_script(plan).file("config.json"))
    assert config["training"]["dataset_format"] == "alpaca"
    chat = tp.plan(spec("chat-1"))
    assert not any("Alpaca" in w for w in chat.warnings)
    chat_config = json.loads(tp.render_script(chat).file("config.json"))
    assert chat_config["training"]["dataset_format"] == "messages"

    # The same rows, written out before anything is spent.
    converted = tmp_path / "converted.jsonl"
    report = tp.convert_alpaca(source, converted)
    assert isinstance(report, trainpod.DatasetReport) and report.is_valid
    assert (report.format, report.rows) == ("prompt_completion", 20)
    rows = [json.loads(line) for line in converted.read_text().splitlines()]
    assert rows[0] == {"prompt": "Translate\n\nchat", "completion": "cat"}
    with pytest.raises(trainpod.InvalidInputError) as other:
        tp.convert_alpaca(tmp_path / "datasets" / "chat", tmp_path / "nope.jsonl")
    assert "not in the Alpaca format" in other.value.message
    assert not (tmp_path / "nope.jsonl").exists()
    with pytest.raises(trainpod.DatasetNotFoundError):
        tp.convert_alpaca(tmp_path / "missing.jsonl", tmp_path / "nope.jsonl")

    async def main() -> trainpod.DatasetReport:
        aio = make(trainpod.AsyncTrainpod, emu, tmp_path)
        return await aio.convert_alpaca(str(source), str(tmp_path / "again.jsonl"))

    assert asyncio.run(main()) == report


def test_lora_target_modules_are_planned_or_refused_by_name(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    assert tp.plan(spec("targets-0")).hyperparameters["lora_target_modules"] == "all-linear"
    plan = tp.plan(spec("targets-1", hyperparameters={"lora_target_modules": ["q_proj", "v_proj"]}))
    assert plan.hyperparameters["lora_target_modules"] == ["q_proj", "v_proj"]
    config = json.loads(tp.render_script(plan).file("config.json"))
    assert config["training"]["hyperparameters"]["lora_target_modules"] == ["q_proj", "v_proj"]
    bad: list[Any] = [
        [],
        ["q-proj"],
        ["x" * 65],
        [f"m{i}" for i in range(33)],
        "all_linear",
        "q_proj",
        [5],
        {"q_proj": True},
    ]
    for value in bad:
        with pytest.raises(trainpod.InvalidInputError) as refused:
            tp.plan(spec("targets-bad", hyperparameters={"lora_target_modules": value}))
        message = refused.value.message
        assert "lora_target_modules" in message, (value, message)
        assert "all-linear" in message or "q_proj" in message, (value, message)


def test_render_script_shows_the_bundle_deploy_would_send_without_its_tokens(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    plan = tp.plan(spec("render-1"))
    rendered = tp.render_script(plan)
    assert isinstance(rendered, trainpod.RenderedScript)
    assert rendered.env == ("TRAINPOD_BUNDLE",)
    assert "base64 -d" in rendered.start_command
    config = json.loads(rendered.file("config.json"))
    assert config["job_id"] == "render-1"
    assert config["telemetry"]["token"] == "<redacted>"
    assert "set -" in rendered.file("bootstrap.sh")
    with pytest.raises(KeyError, match=r"bootstrap\.sh"):
        rendered.file("nope")
    # No token of this app's keys is anywhere in it: they all start alike (version, key id,
    # and the encoded opening of their claims).
    version, kid, claims, _ = tp.tokens.issue("metrics.write", "u", "render-1").token.split(".")
    prefix = f"{version}.{kid}.{claims[:8]}"
    assert all(prefix not in f.text for f in rendered.files)
    assert "TRAINPOD_BUNDLE" not in repr(rendered) and "config.json" in repr(rendered)
    # Nothing was created: the job is as plan() stored it, queued, with no pod.
    assert (tp.status("render-1").state, tp.status("render-1").pod_id) == ("queued", None)

    async def main() -> trainpod.RenderedScript:
        return await make(trainpod.AsyncTrainpod, emu, tmp_path).render_script(plan)

    again = asyncio.run(main())
    assert [f.name for f in again.files] == [f.name for f in rendered.files]


def pods_created(emu: Emulator) -> int:
    return sum(
        r["method"] == "POST" and r["uri"] == "/v2/pods" and r["status"] < 300
        for r in emu.requests()
    )


def test_plan_stores_the_job_and_deploy_deploys_the_stored_plan(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    store = f"sqlite://{tmp_path}/jobs.db"
    tp = make(trainpod.Trainpod, emu, tmp_path, store=store)
    plan = tp.plan(spec("stored-1"))
    status = tp.status("stored-1")
    assert (status.state, status.pod_id, status.cost_usd) == ("queued", None, 0.0)
    assert status.estimate_usd == pytest.approx((plan.estimate.usd_low, plan.estimate.usd_high))
    assert tp.stored_plan("stored-1") == plan
    before = pods_created(emu)
    # The plan as deploy receives it, edited after plan() made it: refused, nothing created.
    raw = json.loads(plan._raw)
    raw["gpu"]["price_per_hour"] /= 10
    edited = dataclasses.replace(plan, _raw=json.dumps(raw))
    with pytest.raises(trainpod.InvalidInputError, match="changed after plan"):
        tp.deploy(edited)
    assert pods_created(emu) == before
    assert tp.status("stored-1").state == "queued"
    # Planned again while queued, the newer plan is the one deployed.
    newer = tp.plan(spec("stored-1", budget_usd=3.0))
    with pytest.raises(trainpod.InvalidInputError, match="planned again since"):
        tp.deploy(plan)
    job = tp.deploy(newer)
    assert (job.state, job.budget_usd) == ("provisioning", 3.0)
    assert pods_created(emu) == before + 1
    with pytest.raises(trainpod.exceptions.InvalidStateError, match="until it is deployed"):
        tp.plan(spec("stored-1"))
    # A plan another store never saw was never made there.
    other = make(trainpod.Trainpod, emu, tmp_path / "other")
    with pytest.raises(trainpod.exceptions.NotFoundError, match=r"call plan\(\) first"):
        other.deploy(newer)
    assert pods_created(emu) == before + 1

    async def main() -> trainpod.Plan:
        atp = make(trainpod.AsyncTrainpod, emu, tmp_path, store=store)
        return await atp.stored_plan("stored-1")

    assert asyncio.run(main()) == newer


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_a_job_runs_to_succeeded_sync(
    emu: Emulator, tmp_path: pathlib.Path, backend: str, request: pytest.FixtureRequest
) -> None:
    urls = {"memory": "memory:", "sqlite": f"sqlite://{tmp_path}/jobs.db"}
    store = urls.get(backend) or request.getfixturevalue("postgres_url")
    tp = make(trainpod.Trainpod, emu, tmp_path, store=store)
    assert tp.store_backend == backend
    job_id = f"life-{backend}-{uuid.uuid4().hex[:8]}"
    plan = tp.plan(spec(job_id))
    job = tp.deploy(plan)
    assert (job.state, job.attempt) == ("provisioning", 1)
    assert job.pod_id is not None
    assert tp.deploy(plan).pod_id == job.pod_id, "deploying again creates no second pod"
    follow = tp.follow(job_id)

    tp.set_now(T0 + 30)
    auth, body = batch(tp, job_id, 1, 1, training_events())
    out = tp.ingest_metrics(job_id, auth, body)
    assert (out.status, out.state, out.step, out.replay) == (200, "training", 3, False)
    assert repr(out) == (
        f"IngestOutcome(status=200, body={out.body!r}, replay=False, terminate_pod=False, "
        f"job_id='{job_id}', attempt=1, state='training', step=3, total_steps=6, loss={out.loss!r})"
    )
    assert pickle.loads(pickle.dumps(out)) == out
    values = {f: getattr(out, f) for f in OUTCOME_FIELDS}
    assert trainpod.IngestOutcome(**values) == out
    assert trainpod.IngestOutcome(**{**values, "state": "failed"}) != out
    assert tp.ingest_metrics(job_id, auth, body).replay
    status = tp.status(job_id)
    assert status.user == plan.spec.user, "whose job it is, for the app's checks"
    assert (status.step, status.total_steps, status.progress) == (3, 6, 0.5)
    assert status.eta_secs == 30
    assert status.estimate_usd == pytest.approx((plan.estimate.usd_low, plan.estimate.usd_high))

    auth, body = batch(tp, job_id, 1, 2, final_events())
    done = tp.ingest_metrics(job_id, auth, body)
    assert done.terminate_pod and done.state == "succeeded"
    assert pod_status(emu, job.pod_id) == "TERMINATED"

    updates = list(follow)
    last = updates[-1]
    assert last.kind == "status" and last.status is not None
    assert last.status.state == "succeeded"
    events = [u.event for u in updates if u.kind == "event"]
    assert len(events) == 6
    assert [u.loss for u in updates if u.loss is not None] == [2.0]
    assert list(follow) == [], "an ended follow stays ended"


def test_a_job_runs_to_succeeded_async(emu: Emulator, tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        tp = make(trainpod.AsyncTrainpod, emu, tmp_path)
        plan = await tp.plan(spec("life-async"))
        job = await tp.deploy(plan)
        assert job.state == "provisioning"
        seen: list[trainpod.FollowUpdate] = []

        async def follow() -> None:
            async for update in tp.follow("life-async"):
                seen.append(update)

        follower = asyncio.create_task(follow())
        tp.set_now(T0 + 30)
        for n, events in ((1, training_events()), (2, final_events())):
            auth, body = batch(tp, "life-async", 1, n, events)
            await tp.ingest_metrics("life-async", auth, body)
        await asyncio.wait_for(follower, 30)
        assert seen[-1].status is not None and seen[-1].status.state == "succeeded"
        assert sum(u.kind == "event" for u in seen) == 6
        assert (await tp.status("life-async")).progress == 1.0
        with pytest.raises(trainpod.exceptions.NotFoundError) as info:
            await tp.status("nope")
        back = pickle.loads(pickle.dumps(info.value))
        assert (type(back), back.code) == (trainpod.exceptions.NotFoundError, "NOT_FOUND")

    asyncio.run(main())


def test_errors_from_follow_are_raised_while_iterating(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    stream = tp.follow("no-such-job")
    with pytest.raises(trainpod.exceptions.NotFoundError):
        next(stream)

    async def main() -> None:
        atp = make(trainpod.AsyncTrainpod, emu, tmp_path)
        with pytest.raises(trainpod.exceptions.NotFoundError):
            async for _ in atp.follow("no-such-job"):
                pass

    asyncio.run(main())


def test_follow_with_a_progress_bar(
    emu: Emulator,
    tmp_path: pathlib.Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    tp.deploy(tp.plan(spec("bar")))
    tp.set_now(T0 + 30)
    for n, events in ((1, training_events()), (2, final_events())):
        auth, body = batch(tp, "bar", 1, n, events)
        tp.ingest_metrics("bar", auth, body)
    # tqdm is installed (requirements-dev.txt): its bar, on stderr.
    updates = list(tp.follow("bar", progress=True))
    assert updates[-1].status is not None and updates[-1].status.state == "succeeded"
    shown = capsys.readouterr()
    assert "100%|" in shown.err and "succeeded" in shown.err, shown
    # Without tqdm: one line of text per status change, on stdout.
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # makes the import raise ImportError
    again = list(tp.follow("bar", progress=True))
    assert [u.status for u in again if u.status] == [u.status for u in updates if u.status]
    text = capsys.readouterr().out
    assert f"bar [{'#' * 24}] 100% succeeded" in text, text


def test_cancel_then_retry_starts_a_new_attempt(emu: Emulator, tmp_path: pathlib.Path) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    first = tp.deploy(tp.plan(spec("retry-1")))
    with pytest.raises(trainpod.exceptions.InvalidStateError):
        tp.retry("retry-1")
    cancelled = tp.cancel("retry-1")
    assert cancelled.state == "cancelled"
    assert first.pod_id is not None and pod_status(emu, first.pod_id) == "TERMINATED"
    assert tp.cancel("retry-1").state == "cancelled", "cancel is idempotent"
    tp.set_now(T0 + 60)
    second = tp.retry("retry-1")
    assert (second.attempt, second.state) == (2, "provisioning")
    assert second.pod_id not in (None, first.pod_id)
    auth, body = batch(tp, "retry-1", 1, 1, [event(1, T0, "heartbeat")])
    with pytest.raises(trainpod.exceptions.TokenScopeMismatchError):
        tp.ingest_metrics("retry-1", auth, body)
    auth, body = batch(tp, "retry-1", 2, 1, [event(1, T0 + 61, "heartbeat")])
    assert tp.ingest_metrics("retry-1", auth, body.decode()).attempt == 2
    with pytest.raises(trainpod.exceptions.NotFoundError):
        tp.status("nope")
    with pytest.raises(trainpod.InvalidInputError):
        tp.cancel("../etc")
    with pytest.raises(trainpod.exceptions.TokenMissingError):
        tp.ingest_metrics("retry-1", None, body)
    with pytest.raises(TypeError):
        tp.ingest_metrics("retry-1", auth, 42)  # type: ignore[arg-type]


def test_cancel_and_retry_async(emu: Emulator, tmp_path: pathlib.Path) -> None:
    async def main() -> None:
        tp = make(trainpod.AsyncTrainpod, emu, tmp_path)
        await tp.deploy(await tp.plan(spec("retry-a")))
        assert (await tp.cancel("retry-a")).state == "cancelled"
        second = await tp.retry("retry-a")
        assert second.attempt == 2

    asyncio.run(main())


def test_reconcile_ends_late_and_orphan_pods(emu: Emulator, tmp_path: pathlib.Path) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    late = tp.deploy(tp.plan(spec("late", max_hours=1.0)))
    orphan = create_orphan_pod(emu)
    auth, body = batch(tp, "late", 1, 1, [event(1, T0 + 10, "heartbeat")])
    tp.ingest_metrics("late", auth, body)
    tp.set_now(T0 + 3601)
    actions = tp.reconcile()
    found = {(a.job_id, a.reason, a.job_state) for a in actions}
    assert ("late", "deadline", "timed_out") in found
    assert (None, "orphan", None) in found
    assert any(a.pod_id == orphan for a in actions)
    assert pod_status(emu, orphan) == "TERMINATED"
    assert late.pod_id is not None and pod_status(emu, late.pod_id) == "TERMINATED"
    assert tp.status("late").state == "timed_out"

    async def again() -> list[trainpod.ReconcileAction]:
        return await make(trainpod.AsyncTrainpod, emu, tmp_path).reconcile()

    assert all(a.pod_id not in (orphan, late.pod_id) for a in asyncio.run(again()))


def test_the_dataset_route_grants_the_staged_file(emu: Emulator, tmp_path: pathlib.Path) -> None:
    # One store for both classes: the route serves only a job the store has.
    store = f"sqlite://{tmp_path}/jobs.db"
    tp = make(trainpod.Trainpod, emu, tmp_path, store)
    tp.deploy(tp.plan(spec("ds-route")))
    data = (tmp_path / "datasets" / "chat").read_bytes()
    token = tp.tokens.issue(
        "dataset.read", "user-1", "ds-route", dataset="chat", ttl_secs=60, epoch=1
    ).token
    with tp.authorize_dataset_download(f"Bearer {token}", None, "chat") as grant:
        assert grant.status == 200 and b"".join(grant) == data
    part = tp.authorize_dataset_download(None, token, "chat", "bytes=0-9")
    assert (part.status, part.read()) == (206, data[:10])
    with pytest.raises(trainpod.exceptions.TokenScopeMismatchError):
        tp.authorize_dataset_download(f"Bearer {token}", None, "broken")

    async def main() -> bytes:
        atp = make(trainpod.AsyncTrainpod, emu, tmp_path, store)
        pending = atp.authorize_dataset_download(f"Bearer {token}", None, "chat")
        assert inspect.isawaitable(pending)
        grant = await pending
        with grant:
            return b"".join(grant)

    assert asyncio.run(main()) == data


def test_the_dataset_route_refuses_a_job_that_is_gone_ended_or_not_the_tokens(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    store = f"sqlite://{tmp_path}/jobs.db"
    tp = make(trainpod.Trainpod, emu, tmp_path, store)
    atp = make(trainpod.AsyncTrainpod, emu, tmp_path, store)
    tp.deploy(tp.plan(spec("ds-ends")))

    def token(user: str, job: str, epoch: int | None = None) -> str:
        issued = tp.tokens.issue(
            "dataset.read", user, job, dataset="chat", ttl_secs=3600, epoch=epoch
        )
        return issued.token

    def blocking(tok: str) -> trainpod.DatasetGrant:
        return tp.authorize_dataset_download(f"Bearer {tok}", None, "chat")

    def awaited(tok: str) -> trainpod.DatasetGrant:
        return asyncio.run(atp.authorize_dataset_download(f"Bearer {tok}", None, "chat"))

    def refused(tok: str, error: type[trainpod.TrainpodError], status: int) -> None:
        for call in (blocking, awaited):
            with pytest.raises(error) as info:
                call(tok)
            assert trainpod.http_status(info.value.code) == status
            assert tok not in info.value.message

    first = token("user-1", "ds-ends", epoch=1)
    assert tp.authorize_dataset_download(f"Bearer {first}", None, "chat").status == 200
    refused(token("user-1", "no-such-job"), trainpod.exceptions.NotFoundError, 404)
    refused(token("user-2", "ds-ends"), trainpod.exceptions.TokenScopeMismatchError, 403)
    tp.cancel("ds-ends")
    refused(first, trainpod.exceptions.InvalidStateError, 409)
    # A new attempt: the first attempt's token stays refused, the new attempt's is served.
    tp.set_now(T0 + 60)
    tp.retry("ds-ends")
    refused(first, trainpod.exceptions.TokenScopeMismatchError, 403)
    second = token("user-1", "ds-ends", epoch=2)
    assert tp.authorize_dataset_download(f"Bearer {second}", None, "chat").status == 200


def test_artifacts_are_taken_until_a_grace_period_after_the_job_ended(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    tp.deploy(tp.plan(spec("arts-late")))
    files = {"adapter/model.bin": b"weights"}
    auth = f"Bearer {tp.tokens.issue('artifacts.write', 'user-1', 'arts-late', epoch=1).token}"
    assert tp.artifact_manifest("arts-late", auth, manifest("arts-late", files)).status == 200
    tp.cancel("arts-late")
    # The core's ARTIFACT_UPLOAD_GRACE_SECS: 600 s after the job's end.
    tp.set_now(T0 + 599)
    assert tp.artifact_manifest("arts-late", auth, manifest("arts-late", files)).status == 200
    kept = tp.put_artifact("arts-late", auth, "adapter/model.bin", files["adapter/model.bin"])
    assert kept.path == "adapter/model.bin"
    tp.set_now(T0 + 600)
    with pytest.raises(trainpod.exceptions.InvalidStateError):
        tp.artifact_manifest("arts-late", auth, manifest("arts-late", files))
    with pytest.raises(trainpod.exceptions.InvalidStateError):
        tp.put_artifact("arts-late", auth, "adapter/model.bin", files["adapter/model.bin"])
    other = tp.tokens.issue("artifacts.write", "user-2", "arts-late").token
    with pytest.raises(trainpod.exceptions.TokenScopeMismatchError):
        tp.artifact_manifest("arts-late", f"Bearer {other}", manifest("arts-late", files))


def manifest(job: str, files: dict[str, bytes], complete: bool = False) -> bytes:
    listed = [
        {"path": p, "size": len(b), "sha256": hashlib.sha256(b).hexdigest()}
        for p, b in files.items()
    ]
    return json.dumps({"job": job, "attempt": 1, "files": listed, "complete": complete}).encode()


def test_artifacts_upload_confirm_and_download(emu: Emulator, tmp_path: pathlib.Path) -> None:
    store = f"sqlite://{tmp_path}/jobs.db"
    tp = make(trainpod.Trainpod, emu, tmp_path, store)
    tp.deploy(tp.plan(spec("arts")))
    files = {"adapter/model.bin": b"\x00\x01" * 5000, "adapter/config.json": b'{"r": 4}'}
    token = tp.tokens.issue("artifacts.write", "user-1", "arts", ttl_secs=600, epoch=1).token
    auth = f"Bearer {token}"
    answer = tp.artifact_manifest("arts", auth, manifest("arts", files))
    assert answer.status == 200
    assert {u["path"] for u in json.loads(answer.body)["uploads"]} == set(files)
    assert tp.artifacts("arts") == []
    blob = files["adapter/model.bin"]
    chunks = (blob[i : i + 1024] for i in range(0, len(blob), 1024))
    stored = tp.put_artifact("arts", auth, "adapter/model.bin", chunks)
    assert stored.sha256 == hashlib.sha256(blob).hexdigest()
    with pytest.raises(trainpod.InvalidInputError):
        tp.put_artifact("arts", auth, "adapter/config.json", b"tampered")
    with pytest.raises(TypeError):
        tp.put_artifact("arts", auth, "adapter/config.json", "text")  # type: ignore[arg-type]

    async def upload() -> trainpod.ArtifactFile:
        atp = make(trainpod.AsyncTrainpod, emu, tmp_path, store)

        async def body() -> AsyncIterator[bytes]:
            for part in (b'{"r"', b": 4}"):
                await asyncio.sleep(0)
                yield part

        return await atp.put_artifact("arts", auth, "adapter/config.json", body())

    assert asyncio.run(upload()).path == "adapter/config.json"
    done = tp.artifact_manifest("arts", auth, manifest("arts", files, complete=True))
    assert json.loads(done.body) == {"complete": True}
    assert {f.path for f in tp.artifacts("arts")} == set(files)
    out = tmp_path / "out"
    copied = tp.download_artifacts("arts", out)
    assert len(copied) == 2
    assert (out / "adapter" / "model.bin").read_bytes() == blob
    with pytest.raises(trainpod.exceptions.TokenMissingError):
        tp.artifact_manifest("arts", None, manifest("arts", files))


def test_logs_stream_the_pod_log(emu: Emulator, tmp_path: pathlib.Path) -> None:
    store = f"sqlite://{tmp_path}/jobs.db"
    tp = make(trainpod.Trainpod, emu, tmp_path, store)
    job = tp.deploy(tp.plan(spec("logs")))
    assert job.pod_id is not None
    emu.push_log(job.pod_id, "epoch 1")
    emu.push_log(job.pod_id, "epoch 2")
    stream = tp.logs("logs", tail=50)
    lines: list[str] = []
    for line in stream:
        assert isinstance(line, trainpod.LogLine)
        if line.source == "container":
            lines.append(line.line)
        if len(lines) == 2:
            break
    stream.close()
    assert lines == ["epoch 1", "epoch 2"]

    async def main() -> list[str]:
        atp = make(trainpod.AsyncTrainpod, emu, tmp_path, store)
        stream = atp.logs("logs", tail=1)
        line = await anext(stream)
        await stream.aclose()
        return [line.line]

    assert asyncio.run(main()) == ["epoch 2"]
    tp.cancel("logs")
    with pytest.raises(trainpod.exceptions.NotFoundError):
        next(tp.logs("logs"))


def test_emulator_key_is_checked_by_plan(emu: Emulator, tmp_path: pathlib.Path) -> None:
    wrong = trainpod.Trainpod(
        **{**settings(emu, tmp_path), "local_provider": (emu.base_url, "rpa_not_a_key")}
    )
    url = trainpod.UrlDataset("https://93.184.215.14/d.jsonl", 10, "a" * 64)
    with pytest.raises(trainpod.AuthInvalidError) as info:
        wrong.plan(trainpod.JobSpec("u", "Qwen/Qwen2.5-0.5B", url, 1.0))
    assert info.value.status == 401
    assert info.value.request_id == "emu-req", "RunPod's x-request-id, for its support"
    assert ACCOUNT_KEY not in str(info.value)


def test_a_job_trains_from_its_first_step_and_says_how_long_is_left(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    tp.deploy(tp.plan(spec("steps")))
    # The training stage opens with the model loading: not training yet.
    loading = [
        event(1, T0 + 10, "stage", stage="dataset"),
        event(2, T0 + 11, "stage", stage="training", data={"awaits_first_step": True}),
    ]
    auth, body = batch(tp, "steps", 1, 1, loading)
    tp.set_now(T0 + 20)
    tp.ingest_metrics("steps", auth, body)
    status = tp.status("steps")
    assert (status.state, status.stage, status.eta_secs) == ("downloading", "training", None)
    first = [event(3, T0 + 600, "progress", source="trainer", data={"step": 1, "max_steps": 300})]
    auth, body = batch(tp, "steps", 1, 2, first)
    tp.set_now(T0 + 60)
    tp.ingest_metrics("steps", auth, body)
    status = tp.status("steps")
    assert (status.state, status.step) == ("training", 1)
    assert status.eta_secs is not None and status.eta_secs > 3600
    # Read as a person does: hours, and minutes under two hours (never "0.0 h").
    assert " h to go" in status.describe()
    assert trainpod._present._span(90 * 60) == "90.0 min"


def test_a_throughput_far_from_the_rule_of_thumb_is_not_believed(
    emu: Emulator, tmp_path: pathlib.Path
) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    plan = tp.plan(spec("slow"))
    tp.deploy(plan)
    # The job's result: 12.5 s for its FLOPs, far below what its GPU's rule of thumb gives.
    for n, events in enumerate([training_events(), final_events()], start=1):
        auth, body = batch(tp, "slow", 1, n, events)
        tp.ingest_metrics("slow", auth, body)
    assert tp.status("slow").state == "succeeded"
    again = tp.plan(spec("slow-2", gpus=[plan.gpu.gpu_id]))
    assert again.estimate.throughput["kind"] == "heuristic"
    assert any("rule of thumb" in w for w in again.warnings), again.warnings
