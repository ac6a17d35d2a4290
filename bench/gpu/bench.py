"""GPU benchmark: trainpod's trainer.py against a plain TRL SFT script, same model, data,
hyperparameters and precision, on one NVIDIA GPU, offline. See bench/gpu/README.md.

usage: bench.py [--out DIR] [--cases qlora,full] [--steps N] [--warmup N] [--cpu-smoke] ...
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
POD = os.path.join(ROOT, "core", "src", "script", "pod")
CHAT = os.path.join(ROOT, "examples", "data", "chat.jsonl")
MODULES = ["torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets"]
RUNNERS = ("trainpod", "plain")
GB = 1e9
MIB = 2**20

# The plan's memory rule, as `memory_needed` in core/src/sdk/estimate.rs computes it for one GPU
# (`shards` is 1 there for one GPU, whatever the method): bytes per parameter of the weights
# (`weight_bytes`: NF4 with its constants for QLoRA, bf16 otherwise) and of gradients and
# optimizer state (`training_state_bytes`: bf16 gradients + fp32 AdamW moments + fp32 master
# weights for full training, nothing for adapters), then
#   needed_gb = state / n + weights x MARGIN + training / n x MARGIN + CONTEXT_GB
# with state = weights + training, MARGIN = 0.2 and CONTEXT_GB = 2.0.
WEIGHT_BYTES = {"qlora": 0.55, "lora": 2.0, "full": 2.0}
TRAINING_STATE_BYTES = {"qlora": 0.0, "lora": 0.0, "full": 14.0}
MARGIN = 0.2
CONTEXT_GB = 2.0


def memory_needed(params_b, method, shards=1):
    """GB per GPU, by the rule of `memory_needed` in core/src/sdk/estimate.rs."""
    weights = params_b * WEIGHT_BYTES[method]
    training = params_b * TRAINING_STATE_BYTES[method]
    state = weights + training
    return state / shards + weights * MARGIN + training / shards * MARGIN + CONTEXT_GB


CHECK = """
import importlib, json, sys
missing, versions, gpu = [], {}, None
for name in sys.argv[1].split(","):
    try:
        module = importlib.import_module(name)
        versions[name] = getattr(module, "__version__", "?")
    except Exception as err:
        missing.append(f"{name} ({type(err).__name__}: {str(err).splitlines()[0][:160]})")
if "torch" in versions:
    import torch
    if torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
    versions["cuda"] = torch.version.cuda
print(json.dumps({"missing": missing, "versions": versions, "gpu": gpu}))
"""


def check_dependencies(cpu_smoke):
    """The Python stack's versions, or exit 2 saying what is missing. In a subprocess: torch
    must not hold a CUDA context in this process while the runs measure the GPU."""
    modules = [m for m in MODULES if not (cpu_smoke and m == "bitsandbytes")]
    found = subprocess.run(
        [sys.executable, "-c", CHECK, ",".join(modules)],
        capture_output=True,
        text=True,
        check=False,
    )
    if found.returncode != 0:
        sys.exit(f"missing: could not check the Python stack:\n{found.stderr[-2000:]}")
    report = json.loads(found.stdout.strip().splitlines()[-1])
    missing = report["missing"]
    if not cpu_smoke and "torch" in report["versions"] and report["gpu"] is None:
        missing.append("torch with CUDA (torch.cuda.is_available() is False)")
    if missing:
        print(f"missing (with {sys.executable}):", file=sys.stderr)
        for item in missing:
            print(f"  - {item}", file=sys.stderr)
        print("install them, or set PYTHON to a Python that has them", file=sys.stderr)
        sys.exit(2)
    return report


def nvidia_smi(query, index):
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-gpu={query}", "--format=csv,noheader,nounits", "-i", index],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
        return [v.strip() for v in out.stdout.strip().split(",")]
    except (OSError, subprocess.SubprocessError):
        return None


def gpu_index():
    """The first visible GPU, as nvidia-smi numbers it (CUDA_VISIBLE_DEVICES may name it)."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
    return visible or "0"


class SmiPeak:
    """Polls nvidia-smi's memory.used of the GPU (every process on it) during one run."""

    def __init__(self, index, period_s=0.2):
        self.index = index
        self.period_s = period_s
        self.before = None
        self.peak = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _used(self):
        value = nvidia_smi("memory.used", self.index)
        return int(value[0]) if value and value[0].isdigit() else None

    def _run(self):
        while not self._stop.wait(self.period_s):
            used = self._used()
            if used is not None:
                self.peak = used if self.peak is None else max(self.peak, used)

    def __enter__(self):
        self.before = self._used()
        if self.before is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()


def hyperparameters(method, opts):
    """trainpod's defaults (`Hyperparameters::for_method` in core/src/script/config.rs) with
    the benchmark's fixed steps, batch and length, and a log every step for the timing."""
    return {
        "epochs": 1.0,
        "max_steps": opts.steps,
        "batch_size": opts.batch,
        "gradient_accumulation_steps": 1,
        "learning_rate": 2e-5 if method == "full" else 2e-4,
        "max_length": opts.max_length,
        "logging_steps": 1,
        "save_steps": 0,
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.05,
        "lora_target_modules": "all-linear",
        "gradient_checkpointing": True,
        "precision": "bf16",
        "seed": 42,
    }


def pod_config(method, model_dir, dataset, opts):
    """A config.json of the shape `PodScript` in core/src/script/config.rs serialises, with no
    telemetry: the reporter then sends nothing (reporter.py `Sender.send` returns at once without
    a URL) and only writes its `TRAINPOD_EVENT` lines to stdout, which time the run."""
    now = int(time.time())
    return {
        "version": 1,
        "job_id": f"gpu-bench-{method}",
        "attempt": 1,
        "issued_at": now,
        "deadline_unix": now + 86400,
        "telemetry": None,
        "dataset": {
            "kind": "path",
            "path": dataset,
            "bytes": os.path.getsize(dataset),
            "sha256": "0" * 64,
        },
        "training": {
            "mode": "sft",
            "model": model_dir,
            "method": method,
            "hyperparameters": hyperparameters(method, opts),
            "dataset_format": "messages",
        },
        "artifacts": {"kind": "none"},
        "runtime": {
            "api_base": "http://127.0.0.1:9",
            "python": sys.executable,
            "expect_gpu": not opts.cpu_smoke,
            "min_free_disk_gb": 0,
            "heartbeat_s": 30,
            "flush_s": 5,
            "progress_s": 10,
            "upload_reserve_s": 600,
            "pip_timeout_s": 1800,
            "final_budget_s": 6,
            "checkin_budget_s": 120,
            "requirements": [],
            "nodes": 1,
            "gpus_per_node": 1,
        },
    }


def step_logs(log_path, runner):
    """(step, wall time, cumulative tokens) of each training step's log. trainer.py's reporter
    stamps each `log` event when the trainer's `on_log` emits it; plain_trl.py's callback stamps
    its line at the same point."""
    marker = "TRAINPOD_EVENT " if runner == "trainpod" else "BENCH_LOG "
    rows = []
    with open(log_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            # tqdm's bar shares the stream and ends without a newline: the marker may start
            # anywhere in the line.
            at = line.find(marker)
            if at < 0:
                continue
            record = json.loads(line[at + len(marker) :])
            if runner == "trainpod":
                if record.get("type") != "log":
                    continue
                data, ts = record["data"], record["ts"]
            else:
                data, ts = record, record["ts"]
            # The last log, the run's summary, has no loss and no token count.
            if "loss" in data and "num_tokens" in data:
                rows.append((data["step"], ts, data["num_tokens"]))
    return sorted(rows)


def throughput(rows, warmup):
    """Tokens per second from the end of step `warmup` to the end of the last step: the
    warm-up steps (CUDA kernels chosen and compiled, the allocator growing) are left out."""
    start = [r for r in rows if r[0] >= max(warmup, 1)]
    if len(start) < 2:
        return None
    first, last = start[0], start[-1]
    seconds = last[1] - first[1]
    tokens = last[2] - first[2]
    return {
        "from_step": first[0],
        "to_step": last[0],
        "tokens": tokens,
        "seconds": seconds,
        "tokens_per_s": tokens / seconds if seconds > 0 else None,
        "s_per_step": seconds / (last[0] - first[0]),
    }


def run_one(case, runner, take, model_dir, dataset, opts, work):
    """One training run in a fresh process, laid out as the pod's bootstrap lays it out."""
    home = os.path.join(work, f"{case}-{runner}-{take}")
    shutil.rmtree(home, ignore_errors=True)
    bundle, state, job_work = (os.path.join(home, d) for d in ("bundle", "state", "work"))
    for d in (bundle, state, job_work):
        os.makedirs(d)
    for name in ("trainer.py", "reporter.py"):
        shutil.copy(os.path.join(POD, name), bundle)
    with open(os.path.join(bundle, "config.json"), "w", encoding="utf-8") as f:
        json.dump(pod_config(case, model_dir, dataset, opts), f, indent=1)
    script = os.path.join(bundle, "trainer.py")
    if runner == "plain":
        script = os.path.join(HERE, "plain_trl.py")
    env = dict(
        os.environ,
        TRAINPOD_BUNDLE_DIR=bundle,
        TRAINPOD_STATE_DIR=state,
        TRAINPOD_WORK_DIR=job_work,
        TRAINPOD_DATASET=dataset,
        HF_HOME=os.path.join(work, "hf-home"),
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )
    log_path = os.path.join(opts.out, f"{case}-{runner}-{take}.log")
    peak_path = os.path.join(home, "peak.json")
    argv = [sys.executable, "-u", os.path.join(HERE, "probe.py"), peak_path, script]
    print(
        f"== {case} / {runner} (take {take}): training {opts.steps} steps (log: {log_path})",
        flush=True,
    )
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log, SmiPeak(gpu_index()) as smi:
        try:
            rc = subprocess.run(
                argv, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=opts.timeout_s
            ).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    wall = time.monotonic() - started
    peak = {"max_allocated_bytes": None, "max_reserved_bytes": None}
    if os.path.exists(peak_path):
        with open(peak_path, encoding="utf-8") as f:
            peak = json.load(f)
    result = {
        "case": case,
        "runner": runner,
        "take": take,
        "rc": rc,
        "wall_s": wall,
        "throughput": throughput(step_logs(log_path, runner), opts.warmup),
        **peak,
        "nvidia_smi_before_mib": smi.before,
        "nvidia_smi_peak_mib": smi.peak,
    }
    if rc != 0:
        print(f"   failed with exit code {rc}; the log's tail:", flush=True)
        with open(log_path, encoding="utf-8", errors="replace") as f:
            print("".join(f.readlines()[-25:]), flush=True)
    return result


def median_rate(runs):
    rates = sorted(
        r["throughput"]["tokens_per_s"]
        for r in runs
        if r["throughput"] and r["throughput"]["tokens_per_s"]
    )
    return statistics.median(rates) if rates else None


def largest(runs, key):
    values = [r[key] for r in runs if r[key] is not None]
    return max(values) if values else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(value, spec):
    return "n/a" if value is None else format(value, spec)


def gb(value, unit=1):
    return None if value is None else value * unit / GB


def markdown(report):
    lines = [
        f"GPU benchmark, {report['date']}, {report['gpu'] or 'CPU (smoke run)'}; "
        f"{report['params'] / 1e6:.1f}M-parameter Llama, {report['steps']} steps of "
        f"{report['batch']} x {report['max_length']} tokens, tokens/s from step "
        f"{max(report['warmup'], 1)} to the last.",
        "",
        "| case | runner | take | tokens/s | s/step | max allocated | nvidia-smi peak "
        "| plan's rule | rc |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        t = r["throughput"] or {}
        rule = report["rule_gb"][r["case"]]
        lines.append(
            f"| {r['case']} | {r['runner']} | {r['take']} | {fmt(t.get('tokens_per_s'), ',.0f')} | "
            f"{fmt(t.get('s_per_step'), '.3f')} | "
            f"{fmt(gb(r['max_allocated_bytes']), '.2f')} GB | "
            f"{fmt(gb(r['nvidia_smi_peak_mib'], MIB), '.2f')} GB | {rule:.2f} GB | {r['rc']} |"
        )
    lines += [
        "",
        "| case | median tokens/s trainpod/plain | max allocated trainpod/plain | "
        "nvidia-smi peak trainpod/plain | plan's rule / max allocated | "
        "plan's rule / nvidia-smi peak |",
        "|---|---|---|---|---|---|",
    ]
    for case, r in report["ratios"].items():
        lines.append(
            f"| {case} | {fmt(r['tokens_per_s'], '.3f')} | {fmt(r['max_allocated'], '.3f')} | "
            f"{fmt(r['nvidia_smi_peak'], '.3f')} | {fmt(r['rule_over_allocated'], '.2f')} | "
            f"{fmt(r['rule_over_smi_peak'], '.2f')} |"
        )
    lines += [
        "",
        "GB are 10^9 bytes, as the plan counts them. max allocated: torch's peak of the training "
        "process (no CUDA context); nvidia-smi peak: the whole GPU's memory.used, polled every "
        "0.2 s (context and any other process included).",
        "",
        "The plan's rule (core/src/sdk/estimate.rs `memory_needed`, one GPU):",
    ]
    for case, text in report["rule_text"].items():
        lines.append(f"- {case}: {text}")
    return "\n".join(lines) + "\n"


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument(
        "--out", default=os.environ.get("OUT") or os.path.join(ROOT, "bench", ".out", "gpu")
    )
    p.add_argument("--work", help="where the model, dataset and runs go (default: a temp dir)")
    p.add_argument("--cases", default="qlora,full")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=10, help="steps left out of tokens/s")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--max-length", type=int, default=1024)
    p.add_argument("--rows", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=1, help="runs of each pair, order alternating")
    p.add_argument("--timeout-s", type=int, default=600, help="per training run")
    p.add_argument(
        "--cpu-smoke",
        action="store_true",
        help="a tiny model, 3 steps (timed from step 1 to 3), full and LoRA on CPU; QLoRA needs "
        "CUDA and bitsandbytes: skipped",
    )
    opts = p.parse_args()
    if opts.cpu_smoke:
        opts.steps, opts.warmup, opts.batch, opts.max_length, opts.rows = 3, 0, 2, 128, 64
        opts.cases = "full,lora"
    unknown = set(opts.cases.split(",")) - set(WEIGHT_BYTES)
    if unknown:
        p.error(
            f"unknown case {', '.join(sorted(unknown))}: the cases are {', '.join(WEIGHT_BYTES)}"
        )
    return opts


def main():
    opts = parse_args()
    stack = check_dependencies(opts.cpu_smoke)
    os.makedirs(opts.out, exist_ok=True)
    work = opts.work or tempfile.mkdtemp(prefix="trainpod-gpu-bench-")
    os.makedirs(work, exist_ok=True)
    model_dir, dataset = os.path.join(work, "model"), os.path.join(work, "chat.jsonl")
    sys.path.insert(0, HERE)
    import build

    size = build.SMOKE_SIZE if opts.cpu_smoke else build.FULL_SIZE
    # Turns per row: a source conversation is about 10 tokens; every row must pass max_length.
    turns = opts.max_length // 8 + 8
    print(f"building the model and {opts.rows} rows of data under {work}", flush=True)
    params, row_tokens = build.build(
        model_dir, dataset, CHAT, opts.rows, turns, size, opts.max_length, "bfloat16"
    )
    print(f"model: {params:,} parameters; a row is {row_tokens} tokens before truncation")
    cases = [c for c in opts.cases.split(",") if c]
    runs = []
    for take in range(1, opts.repeat + 1):
        for case in cases:
            # Each take swaps the order, so that neither runner always meets a warmer GPU.
            for runner in RUNNERS if take % 2 else RUNNERS[::-1]:
                runs.append(run_one(case, runner, take, model_dir, dataset, opts, work))
    params_b = params / 1e9
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "gpu": stack["gpu"],
        "gpu_smi": nvidia_smi("name,driver_version,memory.total", gpu_index()),
        "versions": stack["versions"],
        "python": sys.version.split()[0],
        "cpu_smoke": opts.cpu_smoke,
        "params": params,
        "model": size,
        "steps": opts.steps,
        "warmup": opts.warmup,
        "batch": opts.batch,
        "max_length": opts.max_length,
        "rows": opts.rows,
        "row_tokens": row_tokens,
        "rule_gb": {c: memory_needed(params_b, c) for c in cases},
        "rule_text": {
            c: f"{params_b:.4g} B x {WEIGHT_BYTES[c] + TRAINING_STATE_BYTES[c]} bytes/param x 1.2 "
            f"+ {CONTEXT_GB} GB = {memory_needed(params_b, c):.2f} GB"
            for c in cases
        },
        "runs": runs,
        "ratios": {},
    }
    for case in cases:
        tp, pl = ([r for r in runs if r["case"] == case and r["runner"] == x] for x in RUNNERS)
        allocated = largest(tp, "max_allocated_bytes")
        report["ratios"][case] = {
            "tokens_per_s": ratio(median_rate(tp), median_rate(pl)),
            "max_allocated": ratio(allocated, largest(pl, "max_allocated_bytes")),
            "nvidia_smi_peak": ratio(
                largest(tp, "nvidia_smi_peak_mib"), largest(pl, "nvidia_smi_peak_mib")
            ),
            # Above 1: the plan asks for more than the run used (trainpod's run, its largest).
            "rule_over_allocated": ratio(report["rule_gb"][case], gb(allocated)),
            "rule_over_smi_peak": ratio(
                report["rule_gb"][case], gb(largest(tp, "nvidia_smi_peak_mib"), MIB)
            ),
        }
    with open(os.path.join(opts.out, "results.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    table = markdown(report)
    with open(os.path.join(opts.out, "results.md"), "w", encoding="utf-8") as f:
        f.write(table)
    print(table)
    print(f"written: {opts.out}/results.json, {opts.out}/results.md")
    if not opts.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["rc"] == 0 and r["throughput"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
