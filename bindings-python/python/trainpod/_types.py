# Generated from core's types by
# `cargo run -p trainpod --example bindings_codegen --features schema`: do not edit.
"""The values core's results cross as, built from core's JSON: frozen dataclasses (and
``TypedDict`` classes where a value is a dict), each field as core documents it. Their
presentation (``describe``, ``_repr_html_``, ...) is their base in :mod:`trainpod._present`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, TypedDict

from trainpod import _present
from trainpod._inputs import Hyperparameters
from trainpod._parse import _known, _opt

#: The shape of a dataset's rows, as TRL's ``SFTTrainer`` reads them.
DatasetFormat: TypeAlias = Literal["messages", "prompt_completion", "text", "alpaca"]


class DatasetTokens(TypedDict):
    """Tokens in a dataset, from its size: about 4 bytes of JSON per token, each example
    truncated at ``max_length``."""

    #: Tokens in one pass over the dataset, after truncation.
    per_epoch: float
    #: Tokens in the longest example, before truncation.
    longest_example: float


@dataclass(frozen=True)
class DatasetSummary:
    """What the dataset holds, as inspected."""

    #: The rows' format, when the app's copy was inspected.
    format: DatasetFormat | None
    #: Rows (0 when not inspected: a public URL).
    rows: int
    #: Bytes the pod downloads.
    bytes: int
    #: sha256 the pod checks, lowercase hex.
    sha256: str
    #: Estimated tokens.
    tokens: DatasetTokens

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> DatasetSummary:
        _known(cls, d)
        return cls(
            format=d["format"],
            rows=d["rows"],
            bytes=d["bytes"],
            sha256=d["sha256"],
            tokens=d["tokens"],
        )


@dataclass(frozen=True)
class MemoryEstimate:
    """GPU memory a run needs, and the rule that gave it."""

    #: GB needed per GPU.
    needed_gb: float
    #: Bytes per parameter the rule charges for weights, gradients and optimizer state, before any
    #: sharding across GPUs.
    bytes_per_param: float
    #: The rule, in words, with its numbers.
    rule: str

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> MemoryEstimate:
        _known(cls, d)
        return cls(
            needed_gb=d["needed_gb"],
            bytes_per_param=d["bytes_per_param"],
            rule=d["rule"],
        )


@dataclass(frozen=True)
class CostLine:
    """One phase of a job, with its time and cost as a range."""

    #: ``provisioning``, ``dependencies``, ``model_download``, ``dataset_transfer``, ``training``,
    #: ``upload``.
    phase: str
    #: Seconds, optimistic.
    seconds_low: float
    #: Seconds, pessimistic.
    seconds_high: float
    #: USD, optimistic.
    usd_low: float
    #: USD, pessimistic.
    usd_high: float

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> CostLine:
        _known(cls, d)
        return cls(
            phase=d["phase"],
            seconds_low=d["seconds_low"],
            seconds_high=d["seconds_high"],
            usd_low=d["usd_low"],
            usd_high=d["usd_high"],
        )


class HeuristicThroughput(TypedDict):
    """Peak TFLOP/s x utilisation."""

    kind: Literal["heuristic"]
    #: Peak dense bf16 TFLOP/s assumed per GPU.
    peak_tflops: float
    #: Utilisation assumed.
    mfu: float


class MeasuredThroughput(TypedDict):
    """The median of what earlier jobs on this GPU type and method measured."""

    kind: Literal["measured"]
    #: How many jobs.
    samples: int


#: Where a training-time estimate came from.
ThroughputSource: TypeAlias = HeuristicThroughput | MeasuredThroughput


@dataclass(frozen=True)
class CostEstimate:
    """What a job is expected to cost, phase by phase, billed per second from pod creation."""

    #: Each phase.
    lines: tuple[CostLine, ...]
    #: Total seconds, optimistic.
    seconds_low: float
    #: Total seconds, pessimistic.
    seconds_high: float
    #: Total USD, optimistic.
    usd_low: float
    #: Total USD, pessimistic.
    usd_high: float
    #: The job's price, USD per hour: every GPU of every node.
    price_per_hour: float
    #: The share of a linear speed-up the training time assumes over the job's GPUs (1 on one GPU;
    #: lower across nodes).
    scaling: float
    #: Training FLOPs estimated (what a measured run's throughput is computed against).
    training_flops: float
    #: Where the training time came from.
    throughput: ThroughputSource
    #: What RunPod billed recent jobs on this GPU type over what their plans estimated (the median
    #: of the last few): every figure above is already scaled by it. ``None`` before any such job
    #: was billed.
    billed_ratio: float | None

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> CostEstimate:
        _known(cls, d)
        return cls(
            lines=tuple(CostLine._from(v) for v in d["lines"]),
            seconds_low=d["seconds_low"],
            seconds_high=d["seconds_high"],
            usd_low=d["usd_low"],
            usd_high=d["usd_high"],
            price_per_hour=d["price_per_hour"],
            scaling=d["scaling"],
            training_flops=d["training_flops"],
            throughput=d["throughput"],
            billed_ratio=d["billed_ratio"],
        )


@dataclass(frozen=True)
class GpuChoice:
    """One GPU placement: a GPU type, and how many of it each pod (each node) has."""

    #: Catalog id.
    gpu_id: str
    #: GPUs per pod: the spec's ``gpu_count``, or more when the model's share needs more GPUs of
    #: this type to fit.
    count: int
    #: Memory per GPU, GB.
    memory_gb: int
    #: The job's price, USD per hour: every GPU of every node.
    price_per_hour: float
    #: Availability, when the catalog said.
    availability: str | None
    #: What the whole job is estimated to cost on it.
    estimate: CostEstimate

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> GpuChoice:
        _known(cls, d)
        return cls(
            gpu_id=d["gpu_id"],
            count=d["count"],
            memory_gb=d["memory_gb"],
            price_per_hour=d["price_per_hour"],
            availability=d["availability"],
            estimate=CostEstimate._from(d["estimate"]),
        )


#: Where a job's checkpoints are kept.
CheckpointStore: TypeAlias = Literal["app", "volume", "pod"]


@dataclass(frozen=True)
class TrainingPlan:
    """How the job trains, beyond its hyperparameters."""

    #: Padding-free batches (each batch's sequences concatenated, kept apart by their position ids)
    #: where the model's architecture and attention support them; the pod reports whether it used
    #: them in its ``started`` event.
    padding_free: bool
    #: Liger's fused kernels, used on the GPU: the pod's requirements install ``liger-kernel`` (an
    #: image that has it gets them too).
    fused_kernels: bool
    #: The precision on the planned GPU: ``bf16`` on Ampere and newer, ``fp16`` before.
    precision: str
    #: Where checkpoints are kept.
    checkpoints: CheckpointStore
    #: A checkpoint every this many steps (0: not by steps).
    checkpoint_steps: int
    #: A checkpoint every this many minutes of training (0: not by the clock).
    checkpoint_minutes: int
    #: Rows evaluated on: held out of the dataset, or the evaluation dataset's (0: no evaluation, or
    #: an evaluation dataset nobody read).
    eval_rows: int
    #: Evaluations without improvement that stop the run (0: never stops early).
    early_stopping_patience: int

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> TrainingPlan:
        _known(cls, d)
        return cls(
            padding_free=d["padding_free"],
            fused_kernels=d["fused_kernels"],
            precision=d["precision"],
            checkpoints=d["checkpoints"],
            checkpoint_steps=d["checkpoint_steps"],
            checkpoint_minutes=d["checkpoint_minutes"],
            eval_rows=d["eval_rows"],
            early_stopping_patience=d["early_stopping_patience"],
        )


@dataclass(frozen=True, repr=False)
class Plan(_present.PlanView):
    """A checked job, ready to deploy."""

    #: The job id.
    job_id: str
    #: What was asked for.
    spec: _present.JobSpec
    #: The hyperparameters it runs with.
    hyperparameters: Hyperparameters
    #: Model size used for the estimates, billions of parameters.
    params_b: float
    #: The dataset.
    dataset: DatasetSummary
    #: The evaluation dataset (``spec.eval_dataset``), as inspected. Absent in older plans.
    eval_dataset: DatasetSummary | None
    #: GPU memory needed per GPU of the chosen placement, with the rule.
    memory: MemoryEstimate
    #: The chosen GPU: the cheapest that fits by estimate, or the first of ``spec.gpus`` that does.
    gpu: GpuChoice
    #: Others to try, in order, when the chosen one has no capacity, each with its own count, price
    #: and estimate.
    fallbacks: tuple[GpuChoice, ...]
    #: The chosen GPU's estimate (the same as ``gpu.estimate``).
    estimate: CostEstimate
    #: The hard deadline after creation, seconds: what the budget buys at the chosen price, every
    #: node's (or ``max_hours``, when shorter).
    deadline_secs: int
    #: The container image.
    image: str
    #: How it trains beyond its hyperparameters: padding-free batches, fused kernels, precision,
    #: where checkpoints are kept, the held-out split. Absent in older plans.
    training: TrainingPlan
    #: What the user should know before deploying.
    warnings: tuple[str, ...]
    #: Unix seconds.
    created_at: int

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> Plan:
        _known(cls, d)
        return cls(
            job_id=d["job_id"],
            spec=_present.JobSpec._from(d["spec"]),
            hyperparameters=d["hyperparameters"],
            params_b=d["params_b"],
            dataset=DatasetSummary._from(d["dataset"]),
            eval_dataset=_opt(d["eval_dataset"], DatasetSummary._from),
            memory=MemoryEstimate._from(d["memory"]),
            gpu=GpuChoice._from(d["gpu"]),
            fallbacks=tuple(GpuChoice._from(v) for v in d["fallbacks"]),
            estimate=CostEstimate._from(d["estimate"]),
            deadline_secs=d["deadline_secs"],
            image=d["image"],
            training=TrainingPlan._from(d["training"]),
            warnings=tuple(d["warnings"]),
            created_at=d["created_at"],
        )


#: Where a job is.
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


@dataclass(frozen=True)
class JobStatus(_present.JobStatusView):
    """A job's status."""

    #: The job id.
    job_id: str
    #: The user the job belongs to (the spec's ``user``): what an app checks before showing,
    #: cancelling or retrying it.
    user: str
    #: The attempt, from 1.
    attempt: int
    #: Where the job is.
    state: JobState
    #: Why it ended, when it did not succeed: a stable code (the failed stage, ``deadline``,
    #: ``pod_vanished``, ``cuda_unsupported``, ``container_restarted``, ...).
    reason: str
    #: What happened, in plain words, with what to do (for a trainer's exception, its type and
    #: message); empty while the job runs as it should.
    cause: str
    #: The stage the pod last reported (``preflight``, ``dependencies``, ``dataset``, ``training``,
    #: ``uploading``); for a failed job, where it failed. Empty before the pod reported.
    stage: str
    #: The pod's exit code, once its final status arrived.
    exit_code: int | None
    #: The end of the pod's log (at most 20 KB) when it failed, kept so that it outlives the pod;
    #: empty otherwise.
    log_tail: str
    #: The pod of this attempt.
    pod_id: str | None
    #: Optimizer steps done.
    step: int | None
    #: Steps in the run.
    total_steps: int | None
    #: ``step / total_steps``, 0 to 1 (1 once succeeded).
    progress: float
    #: The latest training loss.
    loss: float | None
    #: The latest loss on the held-out split (``hyperparameters.eval_fraction``), or the one the run
    #: ended with: the best, when early stopping kept the best checkpoint.
    eval_loss: float | None
    #: Seconds until training ends, from the pace so far; ``None`` before training.
    eta_secs: int | None
    #: What the job has cost so far across its attempts, USD: each pod's price x its time, or
    #: RunPod's billing for a pod that went away; RunPod's bill for the whole job once it was read
    #: (``billed_usd``). It stops growing when the job ends.
    cost_usd: float
    #: The job's budget, USD.
    budget_usd: float
    #: The pod's price, USD per hour.
    price_per_hour: float
    #: The pod's latest sign of life, Unix seconds.
    last_heartbeat: int | None
    #: The hard deadline, Unix seconds.
    deadline_unix: int
    #: The estimate the job was planned with, USD: (low, high).
    estimate_usd: tuple[float, float] | None
    #: What RunPod billed for every pod of the job, USD, beside the estimate: read by the reconciler
    #: some minutes after the job ended (RunPod bills every few); ``None`` before.
    billed_usd: float | None
    #: The RunPod account the job runs on (``""``: the builder's own key).
    account: str

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> JobStatus:
        _known(cls, d)
        return cls(
            job_id=d["job_id"],
            user=d["user"],
            attempt=d["attempt"],
            state=d["state"],
            reason=d["reason"],
            cause=d["cause"],
            stage=d["stage"],
            exit_code=d["exit_code"],
            log_tail=d["log_tail"],
            pod_id=d["pod_id"],
            step=d["step"],
            total_steps=d["total_steps"],
            progress=d["progress"],
            loss=d["loss"],
            eval_loss=d["eval_loss"],
            eta_secs=d["eta_secs"],
            cost_usd=d["cost_usd"],
            budget_usd=d["budget_usd"],
            price_per_hour=d["price_per_hour"],
            last_heartbeat=d["last_heartbeat"],
            deadline_unix=d["deadline_unix"],
            estimate_usd=_opt(d["estimate_usd"], tuple),
            billed_usd=d["billed_usd"],
            account=d["account"],
        )


#: What a key may do with pods.
KeyAccess: TypeAlias = Literal["read_write", "read_only", "no_pods", "refused"]


@dataclass(frozen=True)
class GpuSeen:
    """One GPU type the key's account sees, with its price."""

    #: The GPU type id (``NVIDIA GeForce RTX 4090``).
    gpu_id: str
    #: Its memory, GB.
    memory_gb: int
    #: USD per GPU per hour on the secure cloud, when offered there.
    secure_price: float | None
    #: USD per GPU per hour on the community cloud, when offered there.
    community_price: float | None
    #: Whether any is free to rent now.
    available: bool

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> GpuSeen:
        _known(cls, d)
        return cls(
            gpu_id=d["gpu_id"],
            memory_gb=d["memory_gb"],
            secure_price=d["secure_price"],
            community_price=d["community_price"],
            available=d["available"],
        )


@dataclass(frozen=True)
class KeyCheck:
    """What ``check_runpod_key`` found."""

    #: RunPod accepted the key.
    valid: bool
    #: What it may do with pods.
    access: KeyAccess
    #: It can run trainpod's jobs (create and end pods).
    can_run_jobs: bool
    #: The GPU types its account sees, cheapest available first (empty for a refused key).
    gpus: tuple[GpuSeen, ...]
    #: What is wrong and how to fix it, in plain words; empty when the key can run jobs.
    problem: str

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> KeyCheck:
        _known(cls, d)
        return cls(
            valid=d["valid"],
            access=d["access"],
            can_run_jobs=d["can_run_jobs"],
            gpus=tuple(GpuSeen._from(v) for v in d["gpus"]),
            problem=d["problem"],
        )


#: How the rows are packaged.
Container: TypeAlias = Literal["jsonl", "json_array", "gzip_jsonl"]


@dataclass(frozen=True)
class RowError:
    """One invalid row."""

    #: 1-based line in the file (JSON lines), or 1-based element (JSON arrays).
    line: int
    #: Why the row is refused.
    reason: str

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> RowError:
        _known(cls, d)
        return cls(
            line=d["line"],
            reason=d["reason"],
        )


@dataclass(frozen=True)
class DatasetReport(_present.DatasetReportView):
    """What inspection found."""

    #: How the rows are packaged.
    container: Container
    #: The rows' format (that of the first valid row), if any row was valid.
    format: DatasetFormat | None
    #: Valid rows.
    rows: int
    #: Size of the file as stored (what the pod downloads).
    bytes: int
    #: SHA-256 of the file as stored, lowercase hex.
    sha256: str
    #: The longest row, in bytes of JSON.
    longest_row_bytes: int
    #: The first errors, in file order.
    errors: tuple[RowError, ...]
    #: How many rows were refused in all.
    error_count: int

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> DatasetReport:
        _known(cls, d)
        return cls(
            container=d["container"],
            format=d["format"],
            rows=d["rows"],
            bytes=d["bytes"],
            sha256=d["sha256"],
            longest_row_bytes=d["longest_row_bytes"],
            errors=tuple(RowError._from(v) for v in d["errors"]),
            error_count=d["error_count"],
        )


@dataclass(frozen=True, repr=False)
class RenderedFile(_present.RenderedFileView):
    """One file of the bundle, as the pod unpacks it, credentials replaced by ``REDACTED``."""

    #: Its name in the bundle directory.
    name: str
    #: Unix permission bits.
    mode: int
    #: Its text.
    text: str

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> RenderedFile:
        _known(cls, d)
        return cls(
            name=d["name"],
            mode=d["mode"],
            text=d["text"],
        )


@dataclass(frozen=True, repr=False)
class RenderedScript(_present.RenderedScriptView):
    """What ``generate`` hands the pod, for reading: its start command, the env variables it sets
    (names only: the bundle carries the job's tokens), the encoded bundle's real size and
    sha256, and the files inside it with their credentials replaced."""

    #: The container start command (``args``).
    start_command: str
    #: The env variables the bundle sets, by name.
    env: tuple[str, ...]
    #: Size of the encoded bundle in bytes (the real one, credentials included).
    bytes: int
    #: sha256 of the encoded bundle (the real one).
    sha256: str
    #: The files, in the bundle's order.
    files: tuple[RenderedFile, ...]

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> RenderedScript:
        _known(cls, d)
        return cls(
            start_command=d["start_command"],
            env=tuple(d["env"]),
            bytes=d["bytes"],
            sha256=d["sha256"],
            files=tuple(RenderedFile._from(v) for v in d["files"]),
        )


@dataclass(frozen=True)
class ArtifactFile:
    """One artifact file."""

    #: Path relative to the output directory (``adapter/adapter_model.safetensors``).
    path: str
    #: Bytes.
    size: int
    #: sha256, lowercase hex.
    sha256: str

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> ArtifactFile:
        _known(cls, d)
        return cls(
            path=d["path"],
            size=d["size"],
            sha256=d["sha256"],
        )


#: Which log a line came from.
LogSource: TypeAlias = Literal["container", "system", "unknown"]


@dataclass(frozen=True)
class LogLine:
    """One log line."""

    #: Which log.
    source: LogSource
    #: The line, without its line end.
    line: str
    #: When the line was written (RFC 3339), if RunPod said.
    ts: str | None
    #: The SSE event id: pass it as ``LogQuery::last_event_id`` to resume after this line.
    id: str | None = None

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> LogLine:
        _known(cls, d)
        return cls(
            source=d["source"],
            line=d["line"],
            ts=d["ts"],
            id=d.get("id"),
        )


@dataclass(frozen=True)
class WebhookJob:
    """The job in a webhook event, as the change that made the event left it."""

    #: The job id.
    job_id: str
    #: The user the job belongs to.
    user: str
    #: The RunPod account it runs on (``""``: the builder's own key).
    account: str
    #: The attempt, from 1.
    attempt: int
    #: Where the job is.
    state: JobState
    #: Why it ended, when it did not succeed: a stable code (the failed stage, ``deadline``,
    #: ``cancelled``, ``pod_vanished``, ``stale_heartbeat``, ...); empty otherwise.
    reason: str
    #: What happened, in plain words; empty while the job runs as it should.
    cause: str
    #: The stage the pod last reported; empty before it reported one.
    stage: str
    #: The pod's exit code, once its final status arrived.
    exit_code: int | None
    #: The attempt's pod, once created.
    pod_id: str | None
    #: The GPU type the attempt's pod was placed on; empty before it has one.
    gpu_id: str
    #: What the job had cost across its attempts when this happened, USD (RunPod's billing for a pod
    #: that went away, else price x time).
    cost_usd: float
    #: The job's budget, USD.
    budget_usd: float
    #: Who ended the job, on a final event: ``pod`` (its final status, or its container restarting),
    #: ``request`` (``cancel``) or ``reconciler`` (trainpod's checks: a deadline, the budget,
    #: silence, a pod that never started or that RunPod no longer has); ``None`` before.
    ended_by: str | None

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> WebhookJob:
        _known(cls, d)
        return cls(
            job_id=d["job_id"],
            user=d["user"],
            account=d["account"],
            attempt=d["attempt"],
            state=d["state"],
            reason=d["reason"],
            cause=d["cause"],
            stage=d["stage"],
            exit_code=d["exit_code"],
            pod_id=d["pod_id"],
            gpu_id=d["gpu_id"],
            cost_usd=d["cost_usd"],
            budget_usd=d["budget_usd"],
            ended_by=d["ended_by"],
        )


@dataclass(frozen=True)
class WebhookEvent:
    """A webhook's body: Standard Webhooks' ``{"type", "timestamp", "data"}``."""

    #: What happened: ``job.deployed``, ``job.training_started``, ``job.succeeded``, ``job.failed``,
    #: ``job.cancelled``, ``job.timed_out`` or ``job.over_budget`` (a string, so that a receiver
    #: built for this version reads the events of a later one).
    type: str
    #: When it happened (RFC 3339, UTC); each delivery's own time is in ``webhook-timestamp``.
    timestamp: str
    #: The job as the change left it.
    data: WebhookJob

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> WebhookEvent:
        _known(cls, d)
        return cls(
            type=d["type"],
            timestamp=d["timestamp"],
            data=WebhookJob._from(d["data"]),
        )


#: How one try ended, for the report.
DeliveryOutcome: TypeAlias = Literal["delivered", "retrying", "failed"]


@dataclass(frozen=True)
class WebhookDelivery:
    """One try of one message."""

    #: The message id (``webhook-id``), the same on every try.
    msg_id: str
    #: Its event type.
    event_type: str
    #: The job the event is about.
    job_id: str
    #: Which try of the message this was, from 1.
    try_number: int
    #: How it ended.
    outcome: DeliveryOutcome
    #: The endpoint's HTTP status, when it answered.
    status: int | None
    #: Why it failed, when it did; empty otherwise.
    error: str
    #: When it is tried again (Unix seconds), when it is.
    next_at: int | None

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> WebhookDelivery:
        _known(cls, d)
        return cls(
            msg_id=d["msg_id"],
            event_type=d["event_type"],
            job_id=d["job_id"],
            try_number=d["try_number"],
            outcome=d["outcome"],
            status=d["status"],
            error=d["error"],
            next_at=d["next_at"],
        )


@dataclass(frozen=True)
class WebhookReport:
    """What one delivery pass did."""

    #: Messages the endpoint took (2xx).
    delivered: int
    #: Messages that failed and will be tried again.
    retrying: int
    #: Messages given up on.
    failed: int
    #: Each try, in the order they ended.
    deliveries: tuple[WebhookDelivery, ...]

    @classmethod
    def _from(cls, d: Mapping[str, Any]) -> WebhookReport:
        _known(cls, d)
        return cls(
            delivered=d["delivered"],
            retrying=d["retrying"],
            failed=d["failed"],
            deliveries=tuple(WebhookDelivery._from(v) for v in d["deliveries"]),
        )
