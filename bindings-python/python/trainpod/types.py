"""The SDK's values: what a job asks for (:class:`JobSpec`) and what ``Trainpod`` returns.

They are plain frozen dataclasses built from the core's own JSON form of each result, so they
print, compare and pickle like any Python value. Every rule behind them lives in the core. The
shapes of the core's types are generated from them (:mod:`trainpod._types`, never edited by
hand) on top of their presentation (:mod:`trainpod._present`); the values this binding shapes
itself (``follow`` updates, ``reconcile`` actions) are here. :class:`IngestOutcome`, the result
of every metrics batch, is the exception: a native class with the same fields, built without
the JSON step (re-exported here).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from trainpod._inputs import AppDataset as AppDataset
from trainpod._inputs import BucketDataset as BucketDataset
from trainpod._inputs import Cloud as Cloud
from trainpod._inputs import DatasetRef as DatasetRef
from trainpod._inputs import Hyperparameters as Hyperparameters
from trainpod._inputs import LoraTargetModules as LoraTargetModules
from trainpod._inputs import Method as Method
from trainpod._inputs import Precision as Precision
from trainpod._inputs import UrlDataset as UrlDataset
from trainpod._inputs import VolumeDataset as VolumeDataset
from trainpod._native import IngestOutcome as IngestOutcome
from trainpod._present import Hyperparameter as Hyperparameter
from trainpod._present import JobSpec as JobSpec
from trainpod._types import ArtifactFile as ArtifactFile
from trainpod._types import Container as Container
from trainpod._types import CostEstimate as CostEstimate
from trainpod._types import CostLine as CostLine
from trainpod._types import DatasetFormat as DatasetFormat
from trainpod._types import DatasetReport as DatasetReport
from trainpod._types import DatasetSummary as DatasetSummary
from trainpod._types import DatasetTokens as DatasetTokens
from trainpod._types import DeliveryOutcome as DeliveryOutcome
from trainpod._types import GpuChoice as GpuChoice
from trainpod._types import GpuSeen as GpuSeen
from trainpod._types import HeuristicThroughput as HeuristicThroughput
from trainpod._types import JobState as JobState
from trainpod._types import JobStatus as JobStatus
from trainpod._types import KeyCheck as KeyCheck
from trainpod._types import LogLine as LogLine
from trainpod._types import LogSource as LogSource
from trainpod._types import MeasuredThroughput as MeasuredThroughput
from trainpod._types import MemoryEstimate as MemoryEstimate
from trainpod._types import Plan as Plan
from trainpod._types import RenderedFile as RenderedFile
from trainpod._types import RenderedScript as RenderedScript
from trainpod._types import RowError as RowError
from trainpod._types import ThroughputSource as ThroughputSource
from trainpod._types import WebhookDelivery as WebhookDelivery
from trainpod._types import WebhookEvent as WebhookEvent
from trainpod._types import WebhookJob as WebhookJob
from trainpod._types import WebhookReport as WebhookReport


@dataclass(frozen=True)
class FollowUpdate:
    """One thing ``follow`` saw: a status change (``kind == "status"``, with ``status``) or an
    event the pod sent (``kind == "event"``, with ``event``: ``type`` is ``stage``, ``log``,
    ``heartbeat``, ``result``, ``final``...)."""

    kind: Literal["status", "event"]
    status: JobStatus | None = None
    event: Mapping[str, Any] | None = None

    @property
    def loss(self) -> float | None:
        """The training loss this update reports, if any."""
        if self.status is not None:
            return None
        data = (self.event or {}).get("data")
        loss = data.get("loss") if isinstance(data, Mapping) else None
        return float(loss) if isinstance(loss, int | float) else None


@dataclass(frozen=True)
class ReconcileError:
    """Why a ``reconcile`` action failed: the stable ``code`` and a ``message`` that says what
    to do. The next pass tries the action again."""

    code: str
    message: str


@dataclass(frozen=True)
class ReconcileAction:
    """What ``reconcile`` did to one pod or job: terminated the pod for ``reason``
    (``orphan``, ``job_ended``, ``deadline``, ``over_budget``, ``stale_heartbeat``,
    ``pod_stopped``, ``cuda_unsupported``, ``image_pull_failed``, ``no_container``,
    ``provision_timeout``), or ended a job whose pod is gone (``pod_vanished``) or was never
    made (``deploy_abandoned``, no ``pod_id``), moving the job (if live) to ``job_state``;
    ``retried`` is the opt-in new attempt of a job whose pod never started. ``error`` is set
    when the action failed (``reason`` is then ``error`` or the action's own)."""

    pod_id: str | None
    job_id: str | None
    reason: str
    job_state: JobState | None
    error: ReconcileError | None = None

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> ReconcileAction:
        err = d.get("error")
        return cls(
            pod_id=d.get("pod_id"),
            job_id=d.get("job_id"),
            reason=d["reason"],
            job_state=d.get("job_state"),
            error=None if err is None else ReconcileError(code=err["code"], message=err["message"]),
        )


@dataclass(frozen=True)
class ArtifactsAnswer:
    """What the artifacts route answers to a manifest: HTTP ``status`` and JSON ``body``."""

    status: int
    body: str


@dataclass(frozen=True)
class CheckpointDownload:
    """A checkpoint file of an earlier attempt for the artifacts route's ``GET``: send the file
    at ``path`` (``size`` bytes) as the body."""

    path: str
    size: int


def _decode(kind: str, raw: str) -> object:
    """Build the Python value of a core result from its JSON (called by the native module)."""
    d = json.loads(raw)
    if kind == "plan":
        return dataclasses.replace(Plan._from(d), _raw=raw)
    if kind == "status":
        return JobStatus._from(d)
    if kind == "key_check":
        return KeyCheck._from(d)
    if kind == "follow":
        status = d.get("status")
        return FollowUpdate(
            kind=d["kind"],
            status=None if status is None else JobStatus._from(status),
            event=d.get("event"),
        )
    if kind == "log":
        return LogLine._from(d)
    if kind == "reconcile":
        return [ReconcileAction._from(a) for a in d]
    if kind == "artifacts_answer":
        return ArtifactsAnswer(**d)
    if kind == "checkpoint_download":
        return CheckpointDownload(**d)
    if kind == "artifact_file":
        return ArtifactFile._from(d)
    if kind == "artifact_files":
        return [ArtifactFile._from(f) for f in d]
    if kind == "dataset_report":
        return DatasetReport._from(d)
    if kind == "rendered_script":
        return RenderedScript._from(d)
    if kind == "webhook_event":
        return WebhookEvent._from(d)
    if kind == "webhook_report":
        return WebhookReport._from(d)
    raise ValueError(f"unknown result kind {kind!r}")
