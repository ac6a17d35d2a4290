#!/usr/bin/env bash
# The model stage on the emulator's local provider, from its Hugging Face Hub mirror: a job on an
# empty network volume (cold: it downloads the model) against a second job on the same volume
# (a cache hit). The model is a Llama of about 40M parameters (bench/pod/hub_model.py: 153 MB of
# safetensors) served over loopback, so the cold figure is a floor for a real download; each job
# then trains two LoRA steps on CPU (bench/src/bin/model_cache.rs says how). Needs the training
# venv. Prints one JSON line per job.
#   bash bench/model_cache.sh [ROUNDS]     # default 3
set -Eeuo pipefail
cd "$(dirname "$0")/.."
TRAINPOD_TRAIN_PYTHON=${TRAINPOD_TRAIN_PYTHON:-$(bash scripts/train-venv.sh)}
export TRAINPOD_TRAIN_PYTHON
target=${CARGO_TARGET_DIR:-target}
dir=${BENCH_DIR:-/tmp/trainpod-bench-model}
model=trainpod-bench/llama-40m
mkdir -p "$dir"
if [[ ! -s $dir/hub/$model/model.safetensors ]]; then
  HF_HUB_OFFLINE=1 "$TRAINPOD_TRAIN_PYTHON" bench/pod/hub_model.py "$dir/hub/$model" "$dir/data.jsonl" >&2
fi
cargo build -q --release --locked -p trainpod-bench --bin model_cache
rm -rf "$dir/run"
exec "$target/release/model_cache" "$dir/hub" "$model" "$dir/data.jsonl" "$dir/run" "$@"
