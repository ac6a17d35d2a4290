"""A job of two nodes through the Python SDK: the quickstart's local job, planned with
``nodes=2``, runs as an Instant Cluster on the local provider, each node a process group of its
own training the tiny model with the other (torch's gloo on CPU); the primary reports and uploads
one adapter, and the cluster ends with the job.

Needs the pod side's Python (``TRAINPOD_TRAIN_PYTHON``, ``bash scripts/train-venv.sh``); skipped
without it unless ``TRAINPOD_REQUIRE_TRAINING`` is set (as in CI)."""

from __future__ import annotations

import os
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "examples/python"))
import quickstart  # noqa: E402

needs_train_python = pytest.mark.skipif(
    not (os.environ.get("TRAINPOD_TRAIN_PYTHON") or os.environ.get("TRAINPOD_REQUIRE_TRAINING")),
    reason="set TRAINPOD_TRAIN_PYTHON (bash scripts/train-venv.sh) for pods that train",
)


@needs_train_python
def test_a_two_node_job_trains_as_one_cluster(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc = quickstart.local(tmp_path / "work", nodes=2)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "x1 on each of 2 nodes" in out, out
    assert re.search(r"==> succeeded after \d+ steps", out), out
    adapters = list((tmp_path / "work/adapter").rglob("adapter_model.safetensors"))
    assert len(adapters) == 1, out
    # The losses the primary reported, in order: training went somewhere.
    losses = [float(m) for m in re.findall(r"^\s+\d+\s+([0-9.]+) #", out, re.M)]
    assert len(losses) >= 2 and losses[-1] < losses[0], out
