#!/usr/bin/env bash
# Time from `deploy` to the first training step, phase by phase, on the local provider (the
# emulator runs the pod's real generated script as a local process group), against running the
# same trainer.py directly on the same model, data and config; the plan's estimate of the same
# phases beside them. The model (20M parameters) and the mixed-length data are bench/throughput.sh's,
# built offline by bench/gpu/build.py. Prints one JSON line per round, then one of medians.
#   bash bench/first_step.sh [ROUNDS]      (default 3)
set -Eeuo pipefail
cd "$(dirname "$0")/.."
TRAINPOD_TRAIN_PYTHON=${TRAINPOD_TRAIN_PYTHON:-$(bash scripts/train-venv.sh)}
export TRAINPOD_TRAIN_PYTHON
data=bench/.out/first-step-data
[ -f "$data/mixed.jsonl" ] || "$TRAINPOD_TRAIN_PYTHON" bench/gpu/build.py "$data" >&2
target=${CARGO_TARGET_DIR:-target}
cargo build -q --release --locked -p trainpod-bench --bin first_step
exec "$target/release/first_step" "${1:-3}" "$(pwd)/$data"
