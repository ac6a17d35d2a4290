"""`pod_env=`: a name that changes how the pod's processes load, or that trainpod or RunPod set,
is refused when the client is built (the Hub's settings stay allowed); the pod's whole
environment, its script with pod_env, is bounded at plan, with the sizes in the message."""

from __future__ import annotations

import pathlib

import pytest
import trainpod
from sdk_helpers import settings, spec
from trainpod.testing import Emulator


@pytest.mark.parametrize(
    "name",
    ["TRAINPOD_BUNDLE", "RUNPOD_API_KEY", "LD_PRELOAD", "BASH_ENV", "PATH", "PYTHONPATH", "HOME"],
)
def test_a_reserved_name_is_refused_at_build(
    emu: Emulator, tmp_path: pathlib.Path, name: str
) -> None:
    with pytest.raises(trainpod.InvalidInputError) as caught:
        trainpod.Trainpod(**settings(emu, tmp_path), pod_env={name: "value-never-shown"})
    assert f"pod_env may not set {name}: " in caught.value.message
    assert "value-never-shown" not in repr(caught.value)


def test_the_hub_settings_stay_allowed(emu: Emulator, tmp_path: pathlib.Path) -> None:
    hub = {"HF_TOKEN": "hf_abc", "HUGGING_FACE_HUB_TOKEN": "hf_abc", "HF_HOME": "/workspace/hf"}
    trainpod.Trainpod(**settings(emu, tmp_path), pod_env=hub)


def test_forty_values_of_30_kib_are_refused_at_build(emu: Emulator, tmp_path: pathlib.Path) -> None:
    big = {f"BIG_{i:02}": "v" * 30 * 1024 for i in range(40)}
    with pytest.raises(trainpod.InvalidInputError) as caught:
        trainpod.Trainpod(**settings(emu, tmp_path), pod_env=big)
    assert f"{40 * (6 + 30 * 1024)} bytes" in caught.value.message
    assert "131072-byte" in caught.value.message


def test_the_whole_environment_is_bounded_at_plan(emu: Emulator, tmp_path: pathlib.Path) -> None:
    # pod_env alone fits; with the pod's script it does not.
    big = {f"BIG_{i}": "v" * 30 * 1024 for i in range(4)}
    tp = trainpod.Trainpod(**settings(emu, tmp_path), pod_env=big)
    with pytest.raises(trainpod.InvalidInputError) as caught:
        tp.plan(spec("env-plan"))
    message = caught.value.message
    assert "the pod's environment would hold" in message
    assert f"{4 * (5 + 30 * 1024)} pod_env's" in message
