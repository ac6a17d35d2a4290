"""What the generated shapes of :mod:`trainpod._types` are built on, written by hand: how a value
shows itself (``describe``, ``_repr_html_``, a short ``repr``), as the base of its class, and
:class:`JobSpec`, the one input type, with its own defaults.

A base reads its instance's fields through ``_fields``: they are declared once, in the generated
class. Every rule behind the values lives in the core.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from trainpod._inputs import Cloud, DatasetRef, Method, _from_dataset_ref
from trainpod._parse import _known


def _fields(view: object) -> Any:
    """A view as the generated class it is the base of, whose fields it reads. They are typed in
    :mod:`trainpod._types`, which imports this module: importing it here would make a cycle, so
    the presentation reads them untyped (its tests cover it)."""
    return view


#: A hyperparameter value: every name, its type, default and range are in
#: ``docs/hyperparameters.md``; ``Plan.hyperparameters`` shows the values a job runs with. A list
#: of names is ``lora_target_modules`` (``"all-linear"`` or ``["q_proj", "v_proj"]``).
Hyperparameter: TypeAlias = float | int | bool | str | list[str]


@dataclass(frozen=True)
class JobSpec:
    """One training job, as asked for. Fields left ``None`` take the core's defaults (LoRA,
    one GPU, the secure cloud, the method's hyperparameters); ``Plan.spec`` shows them filled.

    ``dataset`` is an app dataset id (a ``str``), :class:`AppDataset`, :class:`BucketDataset`,
    :class:`VolumeDataset` or :class:`UrlDataset`; ``eval_dataset``, of the same kinds, is a
    second dataset to evaluate on. ``hyperparameters`` overrides some of the
    method's defaults (``{"max_steps": 100}``). ``gpus`` lists GPU type ids in order of
    preference (empty: the cheapest that fits).
    """

    user: str
    model: str
    dataset: str | DatasetRef
    budget_usd: float
    job_id: str | None = None
    account: str | None = None
    eval_dataset: str | DatasetRef | None = None
    params_b: float | None = None
    method: Method | None = None
    hyperparameters: Mapping[str, Hyperparameter] | None = None
    gpus: Sequence[str] | None = None
    gpu_count: int | None = None
    nodes: int | None = None
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
            if f.name in ("dataset", "eval_dataset"):
                value = {"kind": "app", "id": value} if isinstance(value, str) else value
                value = value if isinstance(value, dict) else dataclasses.asdict(value)
            elif f.name in ("gpus", "data_centers"):
                value = list(value)
            elif f.name == "hyperparameters":
                value = dict(value)
            given[f.name] = value
        return json.dumps(_finite(given), allow_nan=False)

    @classmethod
    def _from(cls, data: Mapping[str, Any]) -> JobSpec:
        _known(cls, data)
        return cls(
            user=data["user"],
            model=data["model"],
            dataset=_from_dataset_ref(data["dataset"]),
            budget_usd=data["budget_usd"],
            job_id=data["job_id"],
            account=data.get("account"),
            eval_dataset=(
                None
                if data.get("eval_dataset") is None
                else _from_dataset_ref(data["eval_dataset"])
            ),
            params_b=data["params_b"],
            method=data["method"],
            hyperparameters=data["hyperparameters"],
            gpus=tuple(data["gpus"]),
            gpu_count=data["gpu_count"],
            nodes=data.get("nodes", 1),
            cloud=data["cloud"],
            data_centers=tuple(data["data_centers"]),
            max_hours=data["max_hours"],
            image=data["image"],
            image_vouched=data["image_vouched"],
        )


def _gpus(p: Any) -> str:
    """The GPUs a plan rents: per pod, and how many pods when it spans several nodes."""
    nodes = getattr(p.spec, "nodes", 1) or 1
    per_pod = f"{p.gpu.gpu_id} x{p.gpu.count}"
    return f"{per_pod} on each of {nodes} nodes" if nodes > 1 else per_pod


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


def _training(p: Any) -> str:
    """How the plan trains beyond its hyperparameters, in one line."""
    t = p.training
    speed = [t.precision]
    if t.padding_free:
        speed.append("padding-free batches")
    if t.fused_kernels:
        speed.append("fused kernels")
    every = [f"{t.checkpoint_steps} steps"] if t.checkpoint_steps else []
    every += [f"{t.checkpoint_minutes} min"] if t.checkpoint_minutes else []
    kept = f"checkpoints every {' or '.join(every)} kept {t.checkpoints}" if every else ""
    held = f"{t.eval_rows} rows held out" if t.eval_rows else ""
    if held and t.early_stopping_patience:
        held += f", early stopping after {t.early_stopping_patience}"
    return "; ".join(x for x in (", ".join(speed), kept, held) if x)


def _losses(s: Any) -> str:
    loss = "" if s.loss is None else f"loss {s.loss:.4f}"
    held = "" if s.eval_loss is None else f"held-out loss {s.eval_loss:.4f}"
    return ", ".join(x for x in (loss, held) if x)


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


@dataclass(frozen=True)
class PlanView:
    """A plan shows the chosen GPU (and fallbacks), the cost ``estimate`` phase by phase, the
    hard deadline the budget buys and what the user should know (``warnings``); in a notebook it
    renders as a cost table. ``deploy`` deploys exactly the core's JSON it was built from."""

    #: The core's JSON of this plan: ``deploy`` deploys exactly this.
    _raw: str = field(default="", compare=False, repr=False, kw_only=True)

    def __repr__(self) -> str:
        p = _fields(self)
        e = p.estimate
        return (
            f"Plan(job_id={p.job_id!r}, gpu={_gpus(p)!r} "
            f"at ${p.gpu.price_per_hour:.2f}/h, estimate={_money(e.usd_low, e.usd_high)}, "
            f"deadline={_span(p.deadline_secs)}, warnings={len(p.warnings)})"
        )

    def describe(self) -> str:
        """The plan as text: the GPU, the deadline, the cost table and the warnings."""
        p = _fields(self)
        e = p.estimate
        out = [
            f"job {p.job_id}: {p.spec.model} on {_gpus(p)} at ${p.gpu.price_per_hour:.2f}/h",
            f"memory {p.memory.needed_gb:.1f} GB of {p.gpu.memory_gb} GB; deadline "
            f"{_span(p.deadline_secs)} (what the ${p.spec.budget_usd:.2f} budget buys)",
            f"training: {_training(p)}",
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
        out.extend(f"warning: {w}" for w in p.warnings)
        return "\n".join(out)

    def _repr_html_(self) -> str:
        p = _fields(self)
        e, esc = p.estimate, html.escape
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
        warnings = "".join(f"<li>{esc(w)}</li>" for w in p.warnings)
        return (
            f"<div><b>Plan {esc(p.job_id)}</b>: {esc(p.spec.model)} on "
            f"{esc(_gpus(p))} at ${p.gpu.price_per_hour:.2f}/h; "
            f"deadline {_span(p.deadline_secs)}<br>training: {esc(_training(p))}"
            f"<table><thead><tr><th>phase</th><th>time</th><th>cost</th></tr></thead>"
            f"<tbody>{rows}{total}</tbody></table>"
            + (f"<ul>{warnings}</ul>" if warnings else "")
            + "</div>"
        )


class JobStatusView:
    """A status shows where the job is, its progress and cost, and for a job that did not
    succeed, why: show ``cause`` to a person, test on ``reason``."""

    def describe(self) -> str:
        """The status as text: where the job is, its progress and cost, and for a job that did
        not succeed, why (its stage, exit code and cause) and the end of its pod's log."""
        s = _fields(self)
        out = [f"job {s.job_id} (attempt {s.attempt}): {s.state}"]
        if s.total_steps:
            out.append(f"step {s.step or 0} of {s.total_steps}")
        if losses := _losses(s):
            out.append(losses)
        if s.eta_secs is not None:
            out.append(f"{_span(s.eta_secs)} to go")
        out.append(f"cost ${s.cost_usd:.4f} of ${s.budget_usd:.2f}")
        lines = [", ".join(out)]
        if bill := _bill(s):
            lines.append(bill)
        if s.reason:
            code = "" if s.exit_code is None else f", exit code {s.exit_code}"
            where = f" at stage {s.stage}" if s.stage else ""
            lines.append(f"{s.reason}{where}{code}: {s.cause}")
        if s.log_tail:
            lines.append("the end of the pod's log:")
            lines.extend(s.log_tail.splitlines()[-20:])
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        # Every string here came from the user or the pod (a cause is the pod's own words, a log
        # tail its output): escaped, so that a notebook shows `<script>` as text and runs nothing.
        s, esc = _fields(self), html.escape
        progress = f"step {s.step or 0} of {s.total_steps}, " if s.total_steps else ""
        if losses := _losses(s):
            progress += f"{losses}, "
        head = (
            f"<div><b>Job {esc(s.job_id)}</b> of {esc(s.user)} (attempt {s.attempt}): "
            f"{esc(s.state)}; {progress}cost ${s.cost_usd:.4f} of ${s.budget_usd:.2f}"
        )
        bill = _bill(s)
        if bill:
            head += f"<br>{esc(bill)}"
        why = ""
        if s.reason:
            code = "" if s.exit_code is None else f", exit code {s.exit_code}"
            where = f" at stage {esc(s.stage)}" if s.stage else ""
            why = f"<p><b>{esc(s.reason)}</b>{where}{code}: {esc(s.cause)}</p>"
        tail = ""
        if s.log_tail:
            shown = "\n".join(s.log_tail.splitlines()[-20:])
            tail = f"<pre>{esc(shown)}</pre>"
        return f"{head}{why}{tail}</div>"


def _bill(s: Any) -> str:
    """RunPod's final bill beside the plan's estimate, once the reconciler read it."""
    if s.billed_usd is None:
        return ""
    estimate = ""
    if s.estimate_usd is not None:
        low, high = s.estimate_usd
        estimate = f" (estimated ${low:.4f} to ${high:.4f})"
    return f"billed by RunPod ${s.billed_usd:.4f}{estimate}"


class DatasetReportView:
    @property
    def is_valid(self) -> bool:
        """Whether the dataset can be trained on: some rows, none refused."""
        r = _fields(self)
        return bool(r.error_count == 0 and r.rows > 0)


class RenderedFileView:
    def __repr__(self) -> str:
        f = _fields(self)
        return f"RenderedFile(name={f.name!r}, mode=0o{f.mode:o}, {len(f.text)} chars)"


class RenderedScriptView:
    def file(self, name: str) -> str:
        """The text of the bundle file ``name`` (``bootstrap.sh``, ``config.json``...)."""
        s = _fields(self)
        for f in s.files:
            if f.name == name:
                return str(f.text)
        names = ", ".join(f.name for f in s.files)
        raise KeyError(f"no file {name!r} in the bundle; it holds {names}")

    def __repr__(self) -> str:
        s = _fields(self)
        names = ", ".join(f.name for f in s.files)
        return f"RenderedScript({s.bytes} bytes, sha256={s.sha256[:12]}..., files: {names})"
