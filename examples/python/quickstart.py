"""trainpod's quickstart in Python: plan a fine-tuning job, deploy it, follow it with a progress
bar, print its loss curve and download the adapter.

By default everything runs on this machine: the RunPod emulator as a local provider runs the
pod as a local process (the real generated script, real TRL training of a tiny Llama built
offline, on the CPU), and a few lines of ``http.server`` below are the app the pod calls back:
the dataset download, metrics and artifacts routes, each one ``Trainpod`` call.

    bash scripts/train-venv.sh               # the pod side's Python (once, about 3 GB)
    cargo build -p trainpod-emulator         # and set TRAINPOD_EMULATOR to the binary
    python examples/python/quickstart.py

On RunPod (real money): ``--runpod --app-url https://<tunnel> --listen 127.0.0.1:8080`` with
RUNPOD_API_KEY set; the tunnel must forward to ``--listen``.
"""

from __future__ import annotations

import argparse
import http.server
import os
import pathlib
import shutil
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any

import trainpod
from trainpod.testing import ACCOUNT_KEY, Emulator

ROOT = pathlib.Path(__file__).resolve().parents[2]
GPU = "NVIDIA GeForce RTX 4090"
#: 30 steps of LoRA on the CPU: a few seconds.
TINY = {
    "max_steps": 30,
    "batch_size": 4,
    "gradient_accumulation_steps": 1,
    "learning_rate": 3e-3,
    "max_length": 64,
    "logging_steps": 2,
    "lora_r": 4,
    "lora_alpha": 8,
    "gradient_checkpointing": False,
}
OFFLINE = ["HF_HUB_OFFLINE=1", "TRANSFORMERS_OFFLINE=1", "HF_DATASETS_OFFLINE=1"]


def make_app(tp: trainpod.Trainpod) -> type[http.server.BaseHTTPRequestHandler]:
    """The app's three pod-facing routes (trainpod's default paths), one SDK call each."""

    class App(http.server.BaseHTTPRequestHandler):
        def answer(self, status: int, body: str = "") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def refuse(self, err: trainpod.TrainpodError) -> None:
            self.answer(trainpod.http_status(err.code), f'{{"error":"{err.code}"}}')

        def body(self) -> Iterator[bytes]:
            left = int(self.headers.get("Content-Length") or 0)
            while left > 0:
                chunk = self.rfile.read(min(left, 1 << 20))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk

        def do_GET(self) -> None:  # /trainpod/datasets/<id>
            url = urllib.parse.urlsplit(self.path)
            token = urllib.parse.parse_qs(url.query).get("token", [None])[0]
            dataset = url.path.removeprefix("/trainpod/datasets/")
            try:
                grant = tp.authorize_dataset_download(
                    self.headers.get("Authorization"),
                    token,
                    dataset,
                    self.headers.get("Range"),
                )
            except trainpod.TrainpodError as err:
                # Also once the token's job is gone (404), another user's (403) or ended (409).
                return self.refuse(err)
            with grant:
                self.send_response(grant.status)
                for name, value in grant.headers:
                    self.send_header(name, value)
                self.end_headers()
                for chunk in grant:
                    self.wfile.write(chunk)

        def do_POST(self) -> None:  # /trainpod/jobs/<job>/metrics and .../artifacts
            parts = self.path.strip("/").split("/")
            auth, body = self.headers.get("Authorization"), b"".join(self.body())
            try:
                if parts[-1] == "metrics":
                    out = tp.ingest_metrics(parts[2], auth, body)
                    return self.answer(out.status, out.body)
                answer = tp.artifact_manifest(parts[2], auth, body)
                return self.answer(answer.status, answer.body)
            except trainpod.TrainpodError as err:
                return self.refuse(err)

        def do_PUT(self) -> None:  # /trainpod/jobs/<job>/artifacts/files/<path>
            job, _, path = self.path.removeprefix("/trainpod/jobs/").partition(
                "/artifacts/files/"
            )
            try:
                tp.put_artifact(
                    job, self.headers.get("Authorization"), path, self.body()
                )
            except trainpod.TrainpodError as err:
                return self.refuse(err)
            self.answer(200, "{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    return App


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The final status terminates the pod in the same call: it may be gone before the answer.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(tp: trainpod.Trainpod, server: http.server.ThreadingHTTPServer) -> None:
    server.RequestHandlerClass = make_app(tp)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def train_python() -> str:
    python = os.environ.get("TRAINPOD_TRAIN_PYTHON") or str(
        ROOT / ".venv-train/bin/python"
    )
    if not os.access(python, os.X_OK):
        sys.exit(
            f"no pod-side Python at {python}: run `bash scripts/train-venv.sh` first"
        )
    return python


def tiny_model(python: str, cache: pathlib.Path) -> pathlib.Path:
    model = cache / "tiny-llama"
    if not (model / "config.json").exists():
        print("==> building a tiny Llama and its tokenizer offline (once)")
        cache.mkdir(parents=True, exist_ok=True)
        script = ROOT / "tests/e2e/py/tiny_model.py"
        corpus = cache / "tokenizer-corpus.jsonl"
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        subprocess.run(
            [python, str(script), str(model), str(corpus)], check=True, env=env
        )
    return model


def loss_curve(losses: list[float], width: int = 40) -> str:
    """The losses as a text chart, one row per reported step."""
    if not losses:
        return "    (no loss was reported)"
    low, high = min(losses), max(losses)
    span = (high - low) or 1.0
    rows = []
    for i, loss in enumerate(losses):
        bar = "#" * (1 + round((loss - low) / span * (width - 1)))
        rows.append(f"    {i + 1:>3} {loss:8.4f} {bar}")
    return "\n".join(rows)


def run_job(tp: trainpod.Trainpod, spec: trainpod.JobSpec, out: pathlib.Path) -> int:
    print("==> planning: every check before money is spent")
    plan = tp.plan(spec)
    print(plan.describe())
    print("==> deploying")
    job = tp.deploy(plan)
    print(f"    job {job.job_id}, pod {job.pod_id}")
    losses: list[float] = []
    last = job
    for update in tp.follow(job.job_id, progress=True):
        if update.loss is not None:
            losses.append(update.loss)
        if update.status is not None:
            last = update.status
    reason = f" ({last.reason})" if last.reason else ""
    print(
        f"==> {last.state}{reason} after {last.step} steps; cost ${last.cost_usd:.5f}"
    )
    if last.cause:  # what happened, in plain words, with what to do
        print(f"    {last.cause}")
    print("==> loss curve")
    print(loss_curve(losses))
    if last.state != "succeeded":
        return 1
    files = tp.download_artifacts(job.job_id, out)
    print(f"==> adapter in {out} (sha256 checked):")
    for f in files:
        print(f"    {f.path}  {f.size} bytes")
    return 0


def local(work: pathlib.Path, nodes: int = 1) -> int:
    """The job on the local provider; ``nodes`` > 1 runs it as an Instant Cluster of local
    processes, one per node, training together (torch's gloo on CPU)."""
    python = train_python()
    model = tiny_model(python, ROOT / "target/quickstart")
    (work / "datasets").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "examples/data/chat.jsonl", work / "datasets/chat")
    server = Server(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    app_url = f"http://127.0.0.1:{server.server_address[1]}"
    args = ["--run-pods", "--workspace-root", str(work / "pods")]
    for env in OFFLINE:
        args += ["--env", env]
    print(
        "==> starting the local provider (RunPod's API on loopback; pods are local processes)"
    )
    with Emulator(args=args) as emu:
        tp = trainpod.Trainpod(
            local_provider=(emu.base_url, ACCOUNT_KEY),
            app_url=app_url,
            signing_keys=f"k1:active:{trainpod.generate_secret()}",
            store=f"sqlite://{work / 'trainpod.db'}",
            datasets_dir=work / "datasets",
            artifacts_dir=work / "artifacts",
            pod_python=python,
            expect_gpu=False,
            pod_runtime={
                "min_free_disk_gb": 1,
                "heartbeat_s": 2,
                "flush_s": 1,
                "progress_s": 1,
                "upload_reserve_s": 120,
            },
            ignore_env=True,
        )
        serve(tp, server)
        print(f"==> the app serves the pod's routes at {app_url}")
        spec = trainpod.JobSpec(
            user="quickstart",
            model=str(model),
            dataset="chat",
            budget_usd=0.50,
            params_b=0.00002,
            gpus=[GPU],
            hyperparameters=TINY,
            nodes=nodes,
        )
        try:
            return run_job(tp, spec, work / "adapter")
        finally:
            server.shutdown()


def on_runpod(work: pathlib.Path, app_url: str, listen: str) -> int:
    (work / "datasets").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "examples/data/chat.jsonl", work / "datasets/chat")
    host, _, port = listen.rpartition(":")
    server = Server((host, int(port)), http.server.BaseHTTPRequestHandler)
    tp = trainpod.Trainpod(
        app_url=app_url,
        signing_keys=os.environ.get("TRAINPOD_SIGNING_KEYS")
        or f"k1:active:{trainpod.generate_secret()}",
        store=f"sqlite://{work / 'trainpod.db'}",
        datasets_dir=work / "datasets",
        artifacts_dir=work / "artifacts",
    )
    serve(tp, server)
    spec = trainpod.JobSpec(
        user="quickstart",
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        dataset="chat",
        budget_usd=1.0,
    )
    try:
        return run_job(tp, spec, work / "adapter")
    finally:
        server.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runpod", action="store_true", help="deploy on RunPod (costs money)"
    )
    parser.add_argument(
        "--app-url", help="where RunPod pods reach this machine (https tunnel)"
    )
    parser.add_argument("--listen", default="127.0.0.1:8080", help="the app's address")
    parser.add_argument(
        "--nodes",
        type=int,
        default=1,
        help="train on an Instant Cluster of this many nodes",
    )
    args = parser.parse_args()
    work = ROOT / "target/quickstart" / f"py-run-{os.getpid()}"
    try:
        if args.runpod:
            if not args.app_url:
                parser.error(
                    "--runpod needs --app-url: a public https URL forwarding to --listen"
                )
            return on_runpod(work, args.app_url, args.listen)
        return local(work, args.nodes)
    except trainpod.TrainpodError as err:
        print(f"quickstart failed: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
