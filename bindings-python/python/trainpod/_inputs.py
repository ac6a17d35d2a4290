# Generated from core's types by
# `cargo run -p trainpod --example bindings_codegen --features schema`: do not edit.
"""The shapes a ``JobSpec`` is made of, built from core's JSON like the rest of
:mod:`trainpod._types`, in a module of their own: ``JobSpec`` (in :mod:`trainpod._present`)
uses them, and :mod:`trainpod._types` uses ``JobSpec``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypedDict

from trainpod._parse import _known


@dataclass(frozen=True)
class AppDataset:
    """A dataset served by the app: the file ``<datasets dir>/<id>``, downloaded by the pod
    through a signed URL scoped to the job."""

    #: The dataset id.
    id: str
    kind: Literal["app"] = "app"

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> AppDataset:
        _known(cls, d)
        return cls(
            kind=d["kind"],
            id=d["id"],
        )


@dataclass(frozen=True)
class BucketDataset:
    """An object in the builder's S3-compatible bucket (uploaded with
    ``BucketStaging::upload_file``), fetched by the pod through a presigned GET issued at
    deploy for each attempt."""

    #: The object key.
    key: str
    #: Size in bytes.
    bytes: int
    #: sha256, lowercase hex.
    sha256: str
    kind: Literal["bucket"] = "bucket"

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> BucketDataset:
        _known(cls, d)
        return cls(
            kind=d["kind"],
            key=d["key"],
            bytes=d["bytes"],
            sha256=d["sha256"],
        )


@dataclass(frozen=True)
class VolumeDataset:
    """A file on the builder's RunPod network volume (uploaded with ``VolumeStaging``), read by
    the pod from its mount; the pod runs in the volume's data center and leaves its artifacts
    on the volume when no app receives them."""

    #: The object key on the volume (its path under the mount).
    key: str
    #: Size in bytes.
    bytes: int
    #: sha256, lowercase hex.
    sha256: str
    kind: Literal["volume"] = "volume"

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> VolumeDataset:
        _known(cls, d)
        return cls(
            kind=d["kind"],
            key=d["key"],
            bytes=d["bytes"],
            sha256=d["sha256"],
        )


@dataclass(frozen=True)
class UrlDataset:
    """A public https URL, checked on the pod against the size and sha256 given here."""

    #: The URL.
    url: str
    #: Size in bytes.
    bytes: int
    #: sha256, lowercase hex.
    sha256: str
    kind: Literal["url"] = "url"

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> UrlDataset:
        _known(cls, d)
        return cls(
            kind=d["kind"],
            url=d["url"],
            bytes=d["bytes"],
            sha256=d["sha256"],
        )


#: Where the dataset comes from.
DatasetRef: TypeAlias = AppDataset | BucketDataset | VolumeDataset | UrlDataset


def _from_dataset_ref(d: Mapping[str, Any]) -> DatasetRef:
    if d["kind"] == "app":
        return AppDataset._from(d)
    if d["kind"] == "bucket":
        return BucketDataset._from(d)
    if d["kind"] == "volume":
        return VolumeDataset._from(d)
    if d["kind"] == "url":
        return UrlDataset._from(d)
    raise ValueError(f"not a DatasetRef: {d!r}")


#: How the model is adapted.
Method: TypeAlias = Literal["lora", "qlora", "full"]


#: ``"all-linear"`` (every linear layer but the output head) or module names.
LoraTargetModules: TypeAlias = Literal["all-linear"] | list[str]


#: Numeric precision on the GPU; CPU always trains in full precision.
Precision: TypeAlias = Literal["auto", "bf16", "fp16"]


class Hyperparameters(TypedDict):
    """Training hyperparameters, with the defaults the training notes recommend. Each one's
    meaning, default and allowed range are in ``docs/hyperparameters.md``."""

    #: Passes over the dataset (ignored when ``max_steps`` is set).
    epochs: float
    #: Stop after this many optimizer steps; 0 means epochs decide.
    max_steps: int
    #: Examples per device per step.
    batch_size: int
    #: Batches accumulated per optimizer step.
    gradient_accumulation_steps: int
    #: Peak learning rate.
    learning_rate: float
    #: Tokens per example; longer examples are truncated (TRL's 1024 default truncates silently).
    max_length: int
    #: Log every this many steps.
    logging_steps: int
    #: Save a checkpoint every this many steps; 0 leaves it to ``save_minutes``. Each checkpoint is
    #: copied whole to where the job keeps its artifacts, and a retry resumes from the newest.
    save_steps: int
    #: Save a checkpoint every this many minutes of training as well; 0 never by the clock. Absent
    #: in older specs: 30.
    save_minutes: int
    #: The share of the dataset held out to evaluate on (0 up to 0.5); 0 evaluates nothing.
    eval_fraction: float
    #: Evaluate every this many steps; 0 evaluates about ten times in the run.
    eval_steps: int
    #: Stop when the held-out loss has not improved for this many evaluations in a row, and keep the
    #: best checkpoint as the model; 0 never stops early. Needs ``eval_fraction``.
    early_stopping_patience: int
    #: Train on padding-free batches (each batch's sequences concatenated, kept apart by their
    #: position ids) where the model's architecture and attention support it, padded batches
    #: otherwise. Absent in older specs: true.
    padding_free: bool
    #: LoRA rank.
    lora_r: int
    #: LoRA alpha.
    lora_alpha: int
    #: LoRA dropout.
    lora_dropout: float
    #: The modules LoRA adapts: ``"all-linear"`` (every linear layer but the output head) or a list
    #: of module names such as ``["q_proj", "v_proj"]``. Absent in older specs: every linear layer,
    #: as before the field existed.
    lora_target_modules: LoraTargetModules
    #: Trade compute for memory on the GPU.
    gradient_checkpointing: bool
    #: Precision on the GPU.
    precision: Precision
    #: Random seed.
    seed: int


#: Cloud tier.
Cloud: TypeAlias = Literal["SECURE", "COMMUNITY"]
