"""GPU benchmark: trainpod's trainer.py against a plain TRL SFT script, same model, data,
hyperparameters and precision, on one NVIDIA GPU, offline; `--cpu` runs its mixed-length case on
CPU (bench/throughput.sh). See bench/gpu/README.md.

usage: bench.py [--out DIR] [--cases qlora,full,mixed] [--steps N] [--warmup N] [--cpu] ...
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
# Each case's method; `mixed` trains LoRA on mixed-length rows (the others on rows all truncated
# at max_length), where trainer.py's padding-free batches and TRL's padded ones differ.
METHODS = {"qlora": "qlora", "full": "full", "lora": "lora", "mixed": "lora"}
# The training loss a run ends with: the mean of its last logged steps' losses.
FINAL_LOSS_STEPS = 5
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


def hyperparameters(case, opts):
    """trainpod's defaults (`Hyperparameters::for_method` in core/src/script/config.rs) with
    the benchmark's fixed steps, batch and length, and a log every step for the timing. The
    mixed-length case holds out a slice of its rows and evaluates once, after the last step."""
    method = METHODS[case]
    held_out = {"eval_fraction": opts.eval_fraction, "eval_steps": opts.steps}
    return {
        **(held_out if case == "mixed" and opts.eval_fraction else {}),
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


def pod_config(case, model_dir, dataset, opts):
    """A config.json of the shape `PodScript` in core/src/script/config.rs serialises, with no
    telemetry: the reporter then sends nothing (reporter.py `Sender.send` returns at once without
    a URL) and only writes its `TRAINPOD_EVENT` lines to stdout, which time the run."""
    now = int(time.time())
    return {
        "version": 1,
        "job_id": f"gpu-bench-{case}",
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
            "method": METHODS[case],
            "hyperparameters": hyperparameters(case, opts),
            "dataset_format": "messages",
        },
        "artifacts": {"kind": "none"},
        "runtime": {
            "api_base": "http://127.0.0.1:9",
            "python": sys.executable,
            "expect_gpu": opts.mode == "gpu",
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
    """(step, wall time, cumulative tokens, loss) of each training step's log, the eval losses,
    and the features trainer.py's `started` event names. trainer.py's reporter stamps each `log`
    event when the trainer's `on_log` emits it; plain_trl.py's callback stamps its line at the
    same point."""
    marker = "TRAINPOD_EVENT " if runner == "trainpod" else "BENCH_LOG "
    rows, evals, features = [], [], None
    with open(log_path, encoding="utf-8", errors="replace") as f:
        for line in f:
            # tqdm's bar shares the stream and ends without a newline: the marker may start
            # anywhere in the line.
            at = line.find(marker)
            if at < 0:
                continue
            record = json.loads(line[at + len(marker) :])
            if runner == "trainpod":
                if record.get("type") == "started":
                    features = record["data"].get("features")
                if record.get("type") != "log":
                    continue
                data, ts = record["data"], record["ts"]
            else:
                data, ts = record, record["ts"]
            if "eval_loss" in data:
                evals.append(data["eval_loss"])
            # The last log, the run's summary, has no loss and no token count.
            if "loss" in data and "num_tokens" in data:
                rows.append((data["step"], ts, data["num_tokens"], data["loss"]))
    return sorted(rows), evals, features


def final_loss(rows):
    """The mean training loss of the last FINAL_LOSS_STEPS logged steps (one step's loss is
    one batch's: too noisy to compare alone)."""
    last = [r[3] for r in rows[-FINAL_LOSS_STEPS:]]
    return statistics.mean(last) if last else None


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
        "tokens_per_step": tokens / (last[0] - first[0]),
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
    rows, evals, features = step_logs(log_path, runner)
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
        "throughput": throughput(rows, opts.warmup),
        "final_loss": final_loss(rows),
        "eval_loss": evals[-1] if evals else None,
        "features": features,
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


def median_of(runs, key):
    values = [r[key] for r in runs if r[key] is not None]
    return statistics.median(values) if values else None


def pair_ratios(tp, pl):
    """trainpod/plain tokens per second of each take: the two runs of a take ran one after the
    other, so that a change of the machine's load between takes cancels out of the ratio."""
    rate = {
        r["take"]: r["throughput"]["tokens_per_s"]
        for r in pl
        if r["throughput"] and r["throughput"]["tokens_per_s"]
    }
    return [
        r["throughput"]["tokens_per_s"] / rate[r["take"]]
        for r in tp
        if r["throughput"] and r["throughput"]["tokens_per_s"] and r["take"] in rate
    ]


def markdown(report):
    lines = [
        f"Trainer benchmark, {report['date']}, {report['gpu'] or report['device']}; "
        f"{report['params'] / 1e6:.1f}M-parameter Llama, {report['steps']} steps of batch "
        f"{report['batch']}, max_length {report['max_length']}, tokens/s from step "
        f"{max(report['warmup'], 1)} to the last.",
        "",
        "| case | runner | take | tokens/s | s/step | tokens/step | final loss | eval loss "
        "| max allocated | nvidia-smi peak | plan's rule | rc |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        t = r["throughput"] or {}
        rule = report["rule_gb"][r["case"]]
        lines.append(
            f"| {r['case']} | {r['runner']} | {r['take']} | {fmt(t.get('tokens_per_s'), ',.0f')} | "
            f"{fmt(t.get('s_per_step'), '.3f')} | {fmt(t.get('tokens_per_step'), ',.0f')} | "
            f"{fmt(r['final_loss'], '.4f')} | {fmt(r['eval_loss'], '.4f')} | "
            f"{fmt(gb(r['max_allocated_bytes']), '.2f')} GB | "
            f"{fmt(gb(r['nvidia_smi_peak_mib'], MIB), '.2f')} GB | {rule:.2f} GB | {r['rc']} |"
        )
    lines += [
        "",
        "| case | median tokens/s trainpod/plain | per take | final loss trainpod, plain "
        "| eval loss trainpod, plain | max allocated trainpod/plain | "
        "nvidia-smi peak trainpod/plain | plan's rule / max allocated | "
        "plan's rule / nvidia-smi peak |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for case, r in report["ratios"].items():
        takes = ", ".join(format(x, ".2f") for x in r["per_take"]) or "n/a"
        lines.append(
            f"| {case} | {fmt(r['tokens_per_s'], '.3f')} | {takes} | "
            f"{fmt(r['final_loss'][0], '.4f')}, {fmt(r['final_loss'][1], '.4f')} | "
            f"{fmt(r['eval_loss'][0], '.4f')}, {fmt(r['eval_loss'][1], '.4f')} | "
            f"{fmt(r['max_allocated'], '.3f')} | "
            f"{fmt(r['nvidia_smi_peak'], '.3f')} | {fmt(r['rule_over_allocated'], '.2f')} | "
            f"{fmt(r['rule_over_smi_peak'], '.2f')} |"
        )
    if report.get("mixed_lengths"):
        m = report["mixed_lengths"]
        lines += [
            "",
            f"Mixed-length rows (tokens): min {m['min']}, median {m['median']}, mean "
            f"{m['mean']}, p90 {m['p90']}, max {m['max']}; a random batch of {report['batch']} "
            f"padded to its longest computes {m['padded_per_real_token']} tokens per real one.",
        ]
    features = {r["case"]: r["features"] for r in report["runs"] if r["runner"] == "trainpod"}
    lines += [
        "",
        "trainer.py's features (its `started` event): "
        + "; ".join(f"{c}: {json.dumps(f)}" for c, f in features.items()),
        "",
        "GB are 10^9 bytes, as the plan counts them. max allocated: torch's peak of the training "
        "process (no CUDA context); nvidia-smi peak: the whole GPU's memory.used, polled every "
        "0.2 s (context and any other process included). Final loss: the mean of the last "
        f"{FINAL_LOSS_STEPS} steps' training losses (medians over the takes in the ratio table).",
        "",
        "The plan's rule (core/src/sdk/estimate.rs `memory_needed`, one GPU):",
    ]
    for case, text in report["rule_text"].items():
        lines.append(f"- {case}: {text}")
    return "\n".join(lines) + "\n"


# Each mode's defaults, for the options not given: the GPU benchmark, the CPU run of the
# mixed-length case (bench/throughput.sh), and the CPU smoke run that checks the whole path.
MODES = {
    "gpu": {
        "cases": "qlora,full,mixed",
        "steps": 60,
        "warmup": 10,
        "batch": 8,
        "max_length": 1024,
        "rows": 2000,
        "repeat": 1,
    },
    "cpu": {
        "cases": "mixed",
        "steps": 16,
        "warmup": 3,
        "batch": 8,
        "max_length": 512,
        "rows": 800,
        "repeat": 2,
    },
    "cpu_smoke": {
        "cases": "full,lora,mixed",
        "steps": 3,
        "warmup": 0,
        "batch": 2,
        "max_length": 128,
        "rows": 64,
        "repeat": 1,
    },
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument(
        "--out", default=os.environ.get("OUT") or os.path.join(ROOT, "bench", ".out", "gpu")
    )
    p.add_argument("--work", help="where the model, dataset and runs go (default: a temp dir)")
    p.add_argument("--cases", help="of qlora, full, lora, mixed (default: the mode's)")
    p.add_argument("--steps", type=int)
    p.add_argument("--warmup", type=int, help="steps left out of tokens/s")
    p.add_argument("--batch", type=int)
    p.add_argument("--max-length", type=int)
    p.add_argument("--rows", type=int)
    p.add_argument("--repeat", type=int, help="runs of each pair, order alternating")
    p.add_argument(
        "--eval-fraction",
        type=float,
        default=0.05,
        help="rows the mixed case holds out and evaluates after its last step (0: none)",
    )
    p.add_argument("--timeout-s", type=int, default=600, help="per training run")
    p.add_argument(
        "--cpu",
        action="store_true",
        help="on CPU, a 20M-parameter model, the mixed-length case: 16 steps of batch 8, "
        "max_length 512, two takes (bench/throughput.sh)",
    )
    p.add_argument(
        "--cpu-smoke",
        action="store_true",
        help="a tiny model, 3 steps (timed from step 1 to 3), full, LoRA and mixed on CPU; QLoRA "
        "needs CUDA and bitsandbytes: skipped",
    )
    opts = p.parse_args()
    mode = "cpu_smoke" if opts.cpu_smoke else "cpu" if opts.cpu else "gpu"
    for key, value in MODES[mode].items():
        if getattr(opts, key) is None:
            setattr(opts, key, value)
    opts.mode = mode
    unknown = set(opts.cases.split(",")) - set(METHODS)
    if unknown:
        p.error(f"unknown case {', '.join(sorted(unknown))}: the cases are {', '.join(METHODS)}")
    if mode != "gpu" and "qlora" in opts.cases.split(","):
        p.error("QLoRA needs CUDA and bitsandbytes: not a case of a CPU run")
    return opts


def build_data(opts, work, cases):
    """The model and each case's dataset: {case: path}, and what was built."""
    sys.path.insert(0, HERE)
    import build

    size = {"cpu_smoke": build.SMOKE_SIZE, "cpu": build.CPU_SIZE, "gpu": build.FULL_SIZE}
    # On CPU the trainer trains in float32, and would load bf16 weights as they are.
    dtype = "bfloat16" if opts.mode == "gpu" else "float32"
    model_dir = os.path.join(work, "model")
    print(f"building the model and {opts.rows} rows of data under {work}", flush=True)
    params, fast = build.build_model(model_dir, CHAT, size[opts.mode], opts.max_length, dtype)
    built = {"model_dir": model_dir, "params": params, "model": size[opts.mode]}
    datasets = {}
    if any(c != "mixed" for c in cases):
        fixed = os.path.join(work, "chat.jsonl")
        # Turns per row: a source conversation is about 10 tokens; every row must pass max_length.
        turns = opts.max_length // 8 + 8
        built["row_tokens"] = build.build_fixed(
            fast, CHAT, fixed, opts.rows, turns, opts.max_length
        )
        datasets.update({c: fixed for c in cases if c != "mixed"})
    if "mixed" in cases:
        mixed = os.path.join(work, "mixed.jsonl")
        built["mixed_lengths"] = build.build_mixed(
            fast, CHAT, mixed, opts.rows, opts.max_length, opts.batch
        )
        datasets["mixed"] = mixed
    print(f"model: {params:,} parameters; data: {json.dumps(built.get('mixed_lengths'))}")
    return datasets, built


def json_line(report, case, r):
    """The case's summary as the one JSON line bench/run collects."""
    return json.dumps(
        {
            "benchmark": "trainer throughput",
            "case": case,
            "device": report["gpu"] or report["device"],
            "params": report["params"],
            "steps": report["steps"],
            "batch": report["batch"],
            "max_length": report["max_length"],
            "takes": report["repeat"],
            "trainpod_tokens_per_s": r["rates"][0],
            "plain_tokens_per_s": r["rates"][1],
            "ratio": r["tokens_per_s"],
            "per_take": [round(x, 3) for x in r["per_take"]],
            "trainpod_final_loss": r["final_loss"][0],
            "plain_final_loss": r["final_loss"][1],
            "trainpod_eval_loss": r["eval_loss"][0],
            "plain_eval_loss": r["eval_loss"][1],
            "features": r["features"],
            "lengths": report.get("mixed_lengths") if case == "mixed" else None,
        }
    )


def main():
    opts = parse_args()
    stack = check_dependencies(opts.mode != "gpu")
    os.makedirs(opts.out, exist_ok=True)
    work = opts.work or tempfile.mkdtemp(prefix="trainpod-gpu-bench-")
    os.makedirs(work, exist_ok=True)
    cases = [c for c in opts.cases.split(",") if c]
    datasets, built = build_data(opts, work, cases)
    runs = []
    for take in range(1, opts.repeat + 1):
        for case in cases:
            # Each take swaps the order, so that neither runner always meets a warmer machine.
            for runner in RUNNERS if take % 2 else RUNNERS[::-1]:
                runs.append(
                    run_one(case, runner, take, built["model_dir"], datasets[case], opts, work)
                )
    params = built["params"]
    params_b = params / 1e9
    load = os.getloadavg()
    report = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "gpu": stack["gpu"],
        "device": f"CPU ({os.cpu_count()} cores, load {load[0]:.1f} at the end)",
        "gpu_smi": nvidia_smi("name,driver_version,memory.total", gpu_index()),
        "versions": stack["versions"],
        "python": sys.version.split()[0],
        "mode": opts.mode,
        "cpu_smoke": opts.cpu_smoke,
        "params": params,
        "model": built["model"],
        "steps": opts.steps,
        "warmup": opts.warmup,
        "batch": opts.batch,
        "max_length": opts.max_length,
        "rows": opts.rows,
        "repeat": opts.repeat,
        "row_tokens": built.get("row_tokens"),
        "mixed_lengths": built.get("mixed_lengths"),
        "rule_gb": {c: memory_needed(params_b, METHODS[c]) for c in cases},
        "rule_text": {
            c: f"{params_b:.4g} B x {WEIGHT_BYTES[METHODS[c]] + TRAINING_STATE_BYTES[METHODS[c]]}"
            f" bytes/param x 1.2 + {CONTEXT_GB} GB = {memory_needed(params_b, METHODS[c]):.2f} GB"
            for c in cases
        },
        "runs": runs,
        "ratios": {},
    }
    for case in cases:
        tp, pl = ([r for r in runs if r["case"] == case and r["runner"] == x] for x in RUNNERS)
        allocated = largest(tp, "max_allocated_bytes")
        report["ratios"][case] = {
            "rates": (median_rate(tp), median_rate(pl)),
            "tokens_per_s": ratio(median_rate(tp), median_rate(pl)),
            "per_take": pair_ratios(tp, pl),
            "final_loss": (median_of(tp, "final_loss"), median_of(pl, "final_loss")),
            "eval_loss": (median_of(tp, "eval_loss"), median_of(pl, "eval_loss")),
            "features": next((r["features"] for r in tp if r["features"]), None),
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
    for case, r in report["ratios"].items():
        print(json_line(report, case, r), flush=True)
    if not opts.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["rc"] == 0 and r["throughput"] for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
