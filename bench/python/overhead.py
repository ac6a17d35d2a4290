"""The Python binding's own cost per call over core: the same SDK calls that
bench/src/bin/sdk_calls.rs makes in Rust (run here, in the same run), token verification and
metrics ingestion (batches of 1 and of 50 events) on the RunPod emulator with a memory store and
a fixed clock; each the best of 7 rounds, as sdk_calls.rs takes it. Prints one JSON line.

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

import trainpod
from trainpod.testing import ACCOUNT_KEY, Emulator

# The constants of sdk_calls.rs.
T0 = 1_900_000_000
JOBS = 100
BATCHES = 20
ROUNDS = 7
VERIFY_CALLS = 20_000
# Events per batch, one measurement each (see sdk_calls.rs).
EVENTS = (1, 50)
CHAT = '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}'


def body(job: str, rnd: int, batch: int, size: int) -> bytes:
    """The batch sdk_calls.rs builds, with keys in the order serde_json writes them."""
    events = [
        {
            "data": {"loss": 1.25, "max_steps": 1000, "step": i},
            "n": i,
            "source": "trainer",
            "ts": T0 + 1,
            "type": "log",
        }
        for i in range(size)
    ]
    batch_no = rnd * BATCHES + batch + 1
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
        verify = []
        for _ in range(ROUNDS):
            start = time.perf_counter_ns()
            for _ in range(VERIFY_CALLS):
                tokens.verify(token, "dataset.read", job="job-1", dataset="ds-42")
            verify.append((time.perf_counter_ns() - start) / VERIFY_CALLS)

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
        # Rounds are numbered on across both sizes, so that batch numbers never repeat.
        ingest_ns = []
        for size, events in enumerate(EVENTS):
            ingest = []
            for r in range(ROUNDS):
                rnd = size * ROUNDS + r
                tp.set_now(T0 + 10 * (rnd + 1))
                calls = [
                    (job, auth, body(job, rnd, b, events))
                    for b in range(BATCHES)
                    for job, auth in jobs
                ]
                gc.collect()
                start = time.perf_counter_ns()
                for job, auth, data in calls:
                    if tp.ingest_metrics(job, auth, data).replay:
                        raise SystemExit("a batch was taken for a replay")
                ingest.append((time.perf_counter_ns() - start) / len(calls))
            ingest_ns.append(min(ingest))

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
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])
