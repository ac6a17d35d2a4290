"""The Python binding's own cost per call over core: the same SDK calls that
bench/src/bin/sdk_calls.rs makes in Rust (run here, in the same run), token verification and
metrics ingestion (batches of 1 and of 50 events) on the RunPod emulator with a memory store and
a fixed clock; each the best of 60 short rounds, as sdk_calls.rs takes it. Prints one JSON line.

With a module built with the `bench` feature (bench/overhead.sh builds it so), core's own time is
also measured in this process (`_native.core_verify_ns`, `core_ingest_ns`: the same calls in a
Rust loop on the same SDK, rounds alternated with the binding's), which the `*_here` keys give:
the other process's figure moves by microseconds from one process to the next.

usage: python bench/python/overhead.py PATH/TO/sdk_calls   (see bench/overhead.sh)
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import trainpod
from trainpod import _native
from trainpod.testing import ACCOUNT_KEY, Emulator

# The constants of sdk_calls.rs.
T0 = 1_900_000_000
JOBS = 100
BATCHES = 2
ROUNDS = 60
VERIFY_CALLS = 2_000
# Events per batch, one measurement each (see sdk_calls.rs).
EVENTS = (1, 50)
CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}'


def body(job: str, rnd: int, batch: int, size: int) -> bytes:
    """The batch sdk_calls.rs builds, with keys in the order serde_json writes them. Each batch
    moves the job's step on, as a trainer's does, so that every batch writes the job's row."""
    batch_no = rnd * BATCHES + batch + 1
    events = [
        {
            "data": {"loss": 1.25, "max_steps": 1000, "step": batch_no * size + i},
            "n": i,
            "source": "trainer",
            "ts": T0 + 1,
            "type": "log",
        }
        for i in range(size)
    ]
    doc = {"attempt": 1, "batch": batch_no, "events": events, "job": job}
    return json.dumps(doc, separators=(",", ":")).encode()


def main(binary: str) -> None:
    keys = f"k1:active:{trainpod.generate_secret()}"
    with Emulator() as emu, tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "chat").write_text(f"{CHAT}\n" * 50)
        tp = trainpod.Trainpod(
            local_provider=(emu.base_url, ACCOUNT_KEY),
            app_url="http://127.0.0.1:9",
            signing_keys=keys,
            store="memory:",
            datasets_dir=tmp,
            ignore_env=True,
            now=T0,
        )
        tokens = tp.tokens
        token = tokens.issue("dataset.read", "user-1", "job-1", dataset="ds-42").token
        # Present only in a module built with the `bench` feature.
        core_verify: Any = getattr(_native, "core_verify_ns", None)
        core_ingest: Any = getattr(_native, "core_ingest_ns", None)
        core_batches: Any = getattr(_native, "core_batches", None)
        here = core_verify is not None
        verify, verify_here = [], []
        for _ in range(ROUNDS):
            start = time.perf_counter_ns()
            for _ in range(VERIFY_CALLS):
                tokens.verify(token, "dataset.read", job="job-1", dataset="ds-42")
            verify.append((time.perf_counter_ns() - start) / VERIFY_CALLS)
            if here:
                ns = core_verify(tokens, token, "job-1", "ds-42", VERIFY_CALLS)
                verify_here.append(ns)

        jobs = []
        for j in range(JOBS):
            job = f"bench-{j}"
            spec = trainpod.JobSpec(
                user="user-1",
                model="Qwen/Qwen2.5-0.5B",
                dataset="chat",
                budget_usd=2.0,
                job_id=job,
            )
            tp.deploy(tp.plan(spec))
            issued = tokens.issue(
                "metrics.write", "user-1", job, epoch=1, ttl_secs=3600
            )
            jobs.append((job, f"Bearer {issued.token}"))
        # Rounds are numbered on across both sizes, so that batch numbers never repeat; with the
        # in-process baseline, every other round is core's (the clock moves on between rounds,
        # refilling the per-job rate limit).
        ingest_ns: list[float] = []
        ingest_here_ns: list[float] = []
        per_size = 2 * ROUNDS if here else ROUNDS
        for size, events in enumerate(EVENTS):
            ingest, ingest_here = [], []
            for r in range(per_size):
                rnd = size * per_size + r
                tp.set_now(T0 + 10 * (rnd + 1))
                calls = [
                    (job, auth, body(job, rnd, b, events))
                    for b in range(BATCHES)
                    for job, auth in jobs
                ]
                core_calls = core_batches(calls) if here and r % 2 else None
                gc.collect()
                if core_calls is not None:
                    ingest_here.append(core_ingest(tp, core_calls))
                    continue
                start = time.perf_counter_ns()
                for job, auth, data in calls:
                    if tp.ingest_metrics(job, auth, data).replay:
                        raise SystemExit("a batch was taken for a replay")
                ingest.append((time.perf_counter_ns() - start) / len(calls))
            ingest_ns.append(min(ingest))
            if here:
                ingest_here_ns.append(min(ingest_here))

    core = json.loads(subprocess.check_output([binary, keys], text=True))
    py_verify = min(verify)
    py_ingest1, py_ingest = ingest_ns

    def us(ns: float) -> float:
        return round(ns / 1000, 2)

    print(
        json.dumps(
            {
                "benchmark": "python binding overhead per call",
                "verify_core_us": us(core["verify_ns"]),
                "verify_python_us": us(py_verify),
                "verify_overhead_us": us(py_verify - core["verify_ns"]),
                "ingest1_core_us": us(core["ingest1_ns"]),
                "ingest1_python_us": us(py_ingest1),
                "ingest1_overhead_us": us(py_ingest1 - core["ingest1_ns"]),
                "ingest_core_us": us(core["ingest_ns"]),
                "ingest_python_us": us(py_ingest),
                "ingest_overhead_us": us(py_ingest - core["ingest_ns"]),
                "target": "<= 2 us over core",
                **(
                    {
                        "verify_core_here_us": us(min(verify_here)),
                        "verify_overhead_here_us": us(py_verify - min(verify_here)),
                        "ingest1_core_here_us": us(ingest_here_ns[0]),
                        "ingest1_overhead_here_us": us(py_ingest1 - ingest_here_ns[0]),
                        "ingest_core_here_us": us(ingest_here_ns[1]),
                        "ingest_overhead_here_us": us(py_ingest - ingest_here_ns[1]),
                    }
                    if here
                    else {}
                ),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
