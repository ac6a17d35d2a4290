"""The result types are generated from the core's serde types (`_types.py`): every field the core
sends is read, and a field this package does not know fails loudly instead of being dropped."""

from __future__ import annotations

import dataclasses
import json
import pathlib
import typing

import pytest
import trainpod
from sdk_helpers import make, spec
from trainpod.testing import Emulator


def test_a_plan_reads_every_field_the_core_sends(emu: Emulator, tmp_path: pathlib.Path) -> None:
    tp = make(trainpod.Trainpod, emu, tmp_path)
    plan = tp.plan(spec("gen-1"))
    raw = json.loads(plan._raw)
    names = {f.name for f in dataclasses.fields(plan) if not f.name.startswith("_")}
    assert names == set(raw)
    assert {f.name for f in dataclasses.fields(plan.spec)} == set(raw["spec"])
    assert {f.name for f in dataclasses.fields(plan.estimate)} == set(raw["estimate"])
    assert plan.estimate.throughput["kind"] in ("heuristic", "measured")
    assert plan.dataset.tokens["per_epoch"] > 0
    assert isinstance(plan.spec.dataset, trainpod.AppDataset)
    # A core newer than this module: a field it does not know is an error, never dropped.
    raw["gpu"]["new_field"] = 1
    with pytest.raises(TypeError, match="GpuChoice has no field"):
        trainpod.Plan._from(raw)
    raw["gpu"].pop("new_field")
    raw["spec"]["new_field"] = 1
    with pytest.raises(TypeError, match="JobSpec has no field"):
        trainpod.Plan._from(raw)


def test_every_dataset_kind_the_core_knows_crosses_both_ways() -> None:
    for dataset in (
        trainpod.AppDataset("ds-1"),
        trainpod.types.BucketDataset("k/d.jsonl", 10, "a" * 64),
        trainpod.types.VolumeDataset("k/d.jsonl", 10, "a" * 64),
        trainpod.UrlDataset("https://example.com/d.jsonl", 10, "a" * 64),
    ):
        sent = json.loads(trainpod.JobSpec("u", "m", dataset, 1.0)._to_json())["dataset"]
        assert sent == {"kind": dataset.kind, **dataclasses.asdict(dataset)}
        assert trainpod._inputs._from_dataset_ref(sent) == dataset
    sent = json.loads(trainpod.JobSpec("u", "m", "ds-2", 1.0)._to_json())["dataset"]
    assert sent == {"kind": "app", "id": "ds-2"}


def test_the_job_states_are_the_cores() -> None:
    states = typing.get_args(trainpod.types.JobState)
    assert "over_budget" in states and "timed_out" in states
