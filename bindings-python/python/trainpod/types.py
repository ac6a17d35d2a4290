"""The SDK's values: what a job asks for (:class:`JobSpec`) and what ``Trainpod`` returns.

They are plain frozen dataclasses built from the core's own JSON form of each result, so they
print, compare and pickle like any Python value. Every rule behind them lives in the core.
:class:`IngestOutcome`, the result of every metrics batch, is the exception: a native class with
the same fields, built without the JSON step (re-exported here).
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

from trainpod._native import IngestOutcome as IngestOutcome

#: Where a job is. ``succeeded``, ``failed``, ``cancelled``, ``timed_out`` and ``over_budget``
#: are final.
JobState: TypeAlias = Literal[
    "queued",
    "provisioning",
    "starting",
    "downloading",
    "training",
    "uploading",
    "succeeded",
    "failed",
    "cancelled",
    "timed_out",
    "over_budget",
]
Method: TypeAlias = Literal["lora", "qlora", "full"]
Cloud: TypeAlias = Literal["SECURE", "COMMUNITY"]
#: A hyperparameter value: every name, its type, default and range are in
#: ``docs/hyperparameters.md``; ``Plan.hyperparameters`` shows the values a job runs with. A list
#: of names is ``lora_target_modules`` (``"all-linear"`` or ``["q_proj", "v_proj"]``).
Hyperparameter: TypeAlias = float | int | bool | str | list[str]


@dataclass(frozen=True)
class AppDataset:
    """A dataset the app serves: the file ``<datasets_dir>/<id>``, downloaded by the pod
    through a signed URL scoped to the job."""

    id: str


@dataclass(frozen=True)
class UrlDataset:
    """A dataset at a public https URL, checked on the pod against ``bytes`` and ``sha256``."""

    url: str
    bytes: int
    sha256: str


DatasetRef: TypeAlias = AppDataset | UrlDataset


def _dataset_json(dataset: str | DatasetRef) -> dict[str, Any]:
    if isinstance(dataset, str):
        return {"kind": "app", "id": dataset}
    if isinstance(dataset, AppDataset):
        return {"kind": "app", "id": dataset.id}
    return {"kind": "url", "url": dataset.url, "bytes": dataset.bytes, "sha256": dataset.sha256}


def _dataset(data: Mapping[str, Any]) -> DatasetRef:
    if data["kind"] == "url":
        return UrlDataset(url=data["url"], bytes=data["bytes"], sha256=data["sha256"])
    return AppDataset(id=data["id"])


@dataclass(frozen=True)
class JobSpec:
    """One training job, as asked for. Fields left ``None`` take the core's defaults (LoRA,
    one GPU, the secure cloud, the method's hyperparameters); ``Plan.spec`` shows them filled.

    ``dataset`` is an app dataset id (a ``str``), :class:`AppDataset` or :class:`UrlDataset`.
    ``hyperparameters`` overrides some of the method's defaults (``{"max_steps": 100}``).
    ``gpus`` lists GPU type ids in order of preference (empty: the cheapest that fits).
    """

    user: str
    model: str
    dataset: str | DatasetRef
    budget_usd: float
    job_id: str | None = None
    params_b: float | None = None
    method: Method | None = None
    hyperparameters: Mapping[str, Hyperparameter] | None = None
    gpus: Sequence[str] | None = None
    gpu_count: int | None = None
    cloud: Cloud | None = None
    data_centers: Sequence[str] | None = None
    max_hours: float | None = None
    image: str | None = None
    image_vouched: bool | None = None

    def _to_json(self) -> str:
        given: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if f.name == "dataset":
                value = _dataset_json(value)
            elif f.name in ("gpus", "data_centers"):
                value = list(value)
            elif f.name == "hyperparameters":
                value = dict(value)
            given[f.name] = value
        return json.dumps(_finite(given), allow_nan=False)

    @classmethod
    def _from(cls, data: Mapping[str, Any]) -> JobSpec:
        return cls(
            user=data["user"],
            model=data["model"],
            dataset=_dataset(data["dataset"]),
            budget_usd=data["budget_usd"],
            job_id=data.get("job_id"),
            params_b=data.get("params_b"),
            method=data.get("method"),
            hyperparameters=data.get("hyperparameters"),
            gpus=tuple(data.get("gpus") or ()),
            gpu_count=data.get("gpu_count"),
            cloud=data.get("cloud"),
            data_centers=tuple(data.get("data_centers") or ()),
            max_hours=data.get("max_hours"),
            image=data.get("image"),
            image_vouched=data.get("image_vouched"),
        )


@dataclass(frozen=True)
class CostLine:
    """One phase of a job (``provisioning``, ``dependencies``, ``model_download``,
    ``dataset_transfer``, ``training``, ``upload``), its time and cost as a range."""

    phase: str
    seconds_low: float
    seconds_high: float
    usd_low: float
    usd_high: float

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> CostLine:
        return cls(d["phase"], d["seconds_low"], d["seconds_high"], d["usd_low"], d["usd_high"])


@dataclass(frozen=True)
class CostEstimate:
    """What a job is expected to cost, phase by phase, billed per second from pod creation.
    ``throughput`` says where the training time came from (``{"kind": "heuristic", ...}`` or
    ``{"kind": "measured", "samples": n}``)."""

    lines: tuple[CostLine, ...]
    seconds_low: float
    seconds_high: float
    usd_low: float
    usd_high: float
    price_per_hour: float
    training_flops: float
    throughput: Mapping[str, Any]

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> CostEstimate:
        return cls(
            lines=tuple(CostLine._from(line) for line in d["lines"]),
            seconds_low=d["seconds_low"],
            seconds_high=d["seconds_high"],
            usd_low=d["usd_low"],
            usd_high=d["usd_high"],
            price_per_hour=d["price_per_hour"],
            training_flops=d["training_flops"],
            throughput=d["throughput"],
        )


@dataclass(frozen=True)
class GpuChoice:
    """One GPU placement and what the whole job would cost on it."""

    gpu_id: str
    count: int
    memory_gb: int
    price_per_hour: float
    availability: str | None
    estimate: CostEstimate

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> GpuChoice:
        return cls(
            gpu_id=d["gpu_id"],
            count=d["count"],
            memory_gb=d["memory_gb"],
            price_per_hour=d["price_per_hour"],
            availability=d.get("availability"),
            estimate=CostEstimate._from(d["estimate"]),
        )


@dataclass(frozen=True)
class DatasetSummary:
    """What the dataset holds, as inspected (``rows`` is 0 for a URL dataset). ``tokens`` has
    ``per_epoch`` and ``longest_example``."""

    format: str | None
    rows: int
    bytes: int
    sha256: str
    tokens: Mapping[str, float]

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> DatasetSummary:
        return cls(d.get("format"), d["rows"], d["bytes"], d["sha256"], d["tokens"])


@dataclass(frozen=True)
class MemoryEstimate:
    """GPU memory needed per GPU, and the rule that gave it."""

    needed_gb: float
    bytes_per_param: float
    rule: str

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> MemoryEstimate:
        return cls(d["needed_gb"], d["bytes_per_param"], d["rule"])


def _money(low: float, high: float) -> str:
    return f"${low:.4f} to ${high:.4f}" if high < 1 else f"${low:.2f} to ${high:.2f}"


def _span(s: float) -> str:
    """A duration as a person reads it: seconds, minutes under two hours, then hours."""
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _duration(low: float, high: float) -> str:
    return f"{_span(low)} to {_span(high)}"


@dataclass(frozen=True, repr=False)
class Plan:
    """A checked job, ready to :meth:`~trainpod.Trainpod.deploy`: the chosen GPU (and
    fallbacks), the cost ``estimate`` phase by phase, the hard deadline the budget buys, and
    what the user should know (``warnings``). In a notebook it renders as a cost table."""

    job_id: str
    spec: JobSpec
    hyperparameters: Mapping[str, Hyperparameter]
    params_b: float
    dataset: DatasetSummary
    memory: MemoryEstimate
    gpu: GpuChoice
    fallbacks: tuple[GpuChoice, ...]
    estimate: CostEstimate
    deadline_secs: int
    image: str
    warnings: tuple[str, ...]
    created_at: int
    #: The core's JSON of this plan: ``deploy`` deploys exactly this.
    _raw: str = field(compare=False)

    @classmethod
    def _from(cls, raw: str) -> Plan:
        d = json.loads(raw)
        return cls(
            job_id=d["job_id"],
            spec=JobSpec._from(d["spec"]),
            hyperparameters=d["hyperparameters"],
            params_b=d["params_b"],
            dataset=DatasetSummary._from(d["dataset"]),
            memory=MemoryEstimate._from(d["memory"]),
            gpu=GpuChoice._from(d["gpu"]),
            fallbacks=tuple(GpuChoice._from(g) for g in d["fallbacks"]),
            estimate=CostEstimate._from(d["estimate"]),
            deadline_secs=d["deadline_secs"],
            image=d["image"],
            warnings=tuple(d["warnings"]),
            created_at=d["created_at"],
            _raw=raw,
        )

    def __repr__(self) -> str:
        e = self.estimate
        return (
            f"Plan(job_id={self.job_id!r}, gpu={self.gpu.gpu_id!r} x{self.gpu.count} "
            f"at ${self.gpu.price_per_hour:.2f}/h, estimate={_money(e.usd_low, e.usd_high)}, "
            f"deadline={_span(self.deadline_secs)}, warnings={len(self.warnings)})"
        )

    def describe(self) -> str:
        """The plan as text: the GPU, the deadline, the cost table and the warnings."""
        e = self.estimate
        out = [
            f"job {self.job_id}: {self.spec.model} on {self.gpu.gpu_id} x{self.gpu.count} "
            f"at ${self.gpu.price_per_hour:.2f}/h",
            f"memory {self.memory.needed_gb:.1f} GB of {self.gpu.memory_gb} GB; deadline "
            f"{_span(self.deadline_secs)} (what the ${self.spec.budget_usd:.2f} budget buys)",
            f"{'phase':<18} {'time':>22} {'cost':>22}",
        ]
        for line in e.lines:
            out.append(
                f"{line.phase:<18} {_duration(line.seconds_low, line.seconds_high):>22} "
                f"{_money(line.usd_low, line.usd_high):>22}"
            )
        out.append(
            f"{'total':<18} {_duration(e.seconds_low, e.seconds_high):>22} "
            f"{_money(e.usd_low, e.usd_high):>22}"
        )
        out.extend(f"warning: {w}" for w in self.warnings)
        return "\n".join(out)

    def _repr_html_(self) -> str:
        e, esc = self.estimate, html.escape
        rows = "".join(
            f"<tr><td>{esc(line.phase)}</td>"
            f"<td style='text-align:right'>{_duration(line.seconds_low, line.seconds_high)}</td>"
            f"<td style='text-align:right'>{_money(line.usd_low, line.usd_high)}</td></tr>"
            for line in e.lines
        )
        total = (
            f"<tr style='font-weight:bold'><td>total</td>"
            f"<td style='text-align:right'>{_duration(e.seconds_low, e.seconds_high)}</td>"
            f"<td style='text-align:right'>{_money(e.usd_low, e.usd_high)}</td></tr>"
        )
        warnings = "".join(f"<li>{esc(w)}</li>" for w in self.warnings)
        return (
            f"<div><b>Plan {esc(self.job_id)}</b>: {esc(self.spec.model)} on "
            f"{esc(self.gpu.gpu_id)} x{self.gpu.count} at ${self.gpu.price_per_hour:.2f}/h; "
            f"deadline {_span(self.deadline_secs)}"
            f"<table><thead><tr><th>phase</th><th>time</th><th>cost</th></tr></thead>"
            f"<tbody>{rows}{total}</tbody></table>"
            + (f"<ul>{warnings}</ul>" if warnings else "")
            + "</div>"
        )


@dataclass(frozen=True)
class JobStatus:
    """A job's status: where it is, its progress (0 to 1), loss, ETA and cost so far (across
    its attempts; it stops growing when the job ends). A job that did not succeed has
    ``reason``, a stable code (the failed stage, ``deadline``, ``pod_vanished``,
    ``no_container``...), and ``cause``, what happened in plain words with what to do (empty
    while the job runs as it should): show ``cause`` to a person, test on ``reason``. ``stage``
    is the stage the pod last reported (where a failed job failed), ``exit_code`` the pod's
    exit code once it ended, and ``log_tail`` the end of a failed pod's log, kept so that it
    can be read after the pod is gone."""

    job_id: str
    user: str
    attempt: int
    state: JobState
    reason: str
    cause: str
    stage: str
    exit_code: int | None
    log_tail: str
    pod_id: str | None
    step: int | None
    total_steps: int | None
    progress: float
    loss: float | None
    eta_secs: int | None
    cost_usd: float
    budget_usd: float
    price_per_hour: float
    last_heartbeat: int | None
    deadline_unix: int
    estimate_usd: tuple[float, float] | None

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> JobStatus:
        est = d.get("estimate_usd")
        return cls(
            job_id=d["job_id"],
            user=d["user"],
            attempt=d["attempt"],
            state=d["state"],
            reason=d["reason"],
            cause=d["cause"],
            stage=d["stage"],
            exit_code=d.get("exit_code"),
            log_tail=d["log_tail"],
            pod_id=d.get("pod_id"),
            step=d.get("step"),
            total_steps=d.get("total_steps"),
            progress=d["progress"],
            loss=d.get("loss"),
            eta_secs=d.get("eta_secs"),
            cost_usd=d["cost_usd"],
            budget_usd=d["budget_usd"],
            price_per_hour=d["price_per_hour"],
            last_heartbeat=d.get("last_heartbeat"),
            deadline_unix=d["deadline_unix"],
            estimate_usd=None if est is None else (est[0], est[1]),
        )

    def describe(self) -> str:
        """The status as text: where the job is, its progress and cost, and for a job that did
        not succeed, why (its stage, exit code and cause) and the end of its pod's log."""
        out = [f"job {self.job_id} (attempt {self.attempt}): {self.state}"]
        if self.total_steps:
            out.append(f"step {self.step or 0} of {self.total_steps}")
        if self.eta_secs is not None:
            out.append(f"{_span(self.eta_secs)} to go")
        out.append(f"cost ${self.cost_usd:.4f} of ${self.budget_usd:.2f}")
        lines = [", ".join(out)]
        if self.reason:
            code = "" if self.exit_code is None else f", exit code {self.exit_code}"
            where = f" at stage {self.stage}" if self.stage else ""
            lines.append(f"{self.reason}{where}{code}: {self.cause}")
        if self.log_tail:
            lines.append("the end of the pod's log:")
            lines.extend(self.log_tail.splitlines()[-20:])
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        # Every string here came from the user or the pod (a cause is the pod's own words, a log
        # tail its output): escaped, so that a notebook shows `<script>` as text and runs nothing.
        esc = html.escape
        progress = f"step {self.step or 0} of {self.total_steps}, " if self.total_steps else ""
        head = (
            f"<div><b>Job {esc(self.job_id)}</b> of {esc(self.user)} (attempt {self.attempt}): "
            f"{esc(self.state)}; {progress}cost ${self.cost_usd:.4f} of ${self.budget_usd:.2f}"
        )
        why = ""
        if self.reason:
            code = "" if self.exit_code is None else f", exit code {self.exit_code}"
            where = f" at stage {esc(self.stage)}" if self.stage else ""
            why = f"<p><b>{esc(self.reason)}</b>{where}{code}: {esc(self.cause)}</p>"
        tail = ""
        if self.log_tail:
            shown = "\n".join(self.log_tail.splitlines()[-20:])
            tail = f"<pre>{esc(shown)}</pre>"
        return f"{head}{why}{tail}</div>"


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
class LogLine:
    """One line of a pod's log. ``source`` is ``container`` or ``system``; ``id`` resumes."""

    source: str
    line: str
    ts: str | None = None
    id: str | None = None


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
class ArtifactFile:
    """One artifact file: its path under the output directory, size and sha256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class RowError:
    """One invalid row: its 1-based ``line`` (element, in a JSON array) and why."""

    line: int
    reason: str


@dataclass(frozen=True)
class DatasetReport:
    """What ``inspect_dataset`` found in a file: its ``container`` (``jsonl``, ``json_array``
    or ``gzip_jsonl``), the rows' ``format`` (``messages``, ``prompt_completion``, ``text``
    or ``alpaca``), the valid ``rows``, its size and sha256 as stored, the longest row, the
    first ``errors`` and how many rows were refused in all."""

    container: str
    format: str | None
    rows: int
    bytes: int
    sha256: str
    longest_row_bytes: int
    errors: Sequence[RowError]
    error_count: int

    @property
    def is_valid(self) -> bool:
        """Whether the dataset can be trained on: some rows, none refused."""
        return self.error_count == 0 and self.rows > 0

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> DatasetReport:
        return cls(
            container=d["container"],
            format=d.get("format"),
            rows=d["rows"],
            bytes=d["bytes"],
            sha256=d["sha256"],
            longest_row_bytes=d["longest_row_bytes"],
            errors=tuple(RowError(**e) for e in d["errors"]),
            error_count=d["error_count"],
        )


@dataclass(frozen=True, repr=False)
class RenderedFile:
    """One file of a pod's bundle as the pod unpacks it, credentials replaced."""

    name: str
    mode: int
    text: str

    def __repr__(self) -> str:
        return f"RenderedFile(name={self.name!r}, mode=0o{self.mode:o}, {len(self.text)} chars)"


@dataclass(frozen=True, repr=False)
class RenderedScript:
    """The pod script ``deploy`` would generate: the container's ``start_command``, the ``env``
    variables it sets (names only), the encoded bundle's real size and sha256, and its
    ``files`` with every credential replaced by ``<redacted>``."""

    start_command: str
    env: Sequence[str]
    bytes: int
    sha256: str
    files: Sequence[RenderedFile]

    def file(self, name: str) -> str:
        """The text of the bundle file ``name`` (``bootstrap.sh``, ``config.json``...)."""
        for f in self.files:
            if f.name == name:
                return f.text
        names = ", ".join(f.name for f in self.files)
        raise KeyError(f"no file {name!r} in the bundle; it holds {names}")

    def __repr__(self) -> str:
        names = ", ".join(f.name for f in self.files)
        return f"RenderedScript({self.bytes} bytes, sha256={self.sha256[:12]}..., files: {names})"

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> RenderedScript:
        return cls(
            start_command=d["start_command"],
            env=tuple(d["env"]),
            bytes=d["bytes"],
            sha256=d["sha256"],
            files=tuple(RenderedFile(**f) for f in d["files"]),
        )


def _finite(value: Any) -> Any:
    """``value`` with each NaN or infinity as its text: JSON has no such numbers, and the core
    then refuses the field by name."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _decode(kind: str, raw: str) -> object:
    """Build the Python value of a core result from its JSON (called by the native module)."""
    if kind == "plan":
        return Plan._from(raw)
    d = json.loads(raw)
    if kind == "status":
        return JobStatus._from(d)
    if kind == "follow":
        status = d.get("status")
        return FollowUpdate(
            kind=d["kind"],
            status=None if status is None else JobStatus._from(status),
            event=d.get("event"),
        )
    if kind == "log":
        return LogLine(source=d["source"], line=d["line"], ts=d.get("ts"), id=d.get("id"))
    if kind == "reconcile":
        return [ReconcileAction._from(a) for a in d]
    if kind == "artifacts_answer":
        return ArtifactsAnswer(**d)
    if kind == "artifact_file":
        return ArtifactFile(**d)
    if kind == "artifact_files":
        return [ArtifactFile(**f) for f in d]
    if kind == "dataset_report":
        return DatasetReport._from(d)
    if kind == "rendered_script":
        return RenderedScript._from(d)
    raise ValueError(f"unknown result kind {kind!r}")
