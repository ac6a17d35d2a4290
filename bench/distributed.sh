#!/usr/bin/env bash
# One process against two: the same tiny TRL job (30 steps, a global batch of 8 rows) with one
# process, with two processes on one pod (a "2-GPU pod" on CPU: torchrun with gloo) and on two
# nodes of one process each, on the emulator's local provider with the real generated bundle
# (bench/src/bin/distributed.rs says how). Reports the time to the first step and to the final
# status, and each node's bootstrap share before its launcher starts. Needs the training venv.
# Prints a line per run, then one JSON line.
#   bash bench/distributed.sh [ROUNDS]     # default 3
set -Eeuo pipefail
cd "$(dirname "$0")/.."
TRAINPOD_TRAIN_PYTHON=${TRAINPOD_TRAIN_PYTHON:-$(bash scripts/train-venv.sh)}
export TRAINPOD_TRAIN_PYTHON
target=${CARGO_TARGET_DIR:-target}
cargo build -q --release --locked -p trainpod-bench --bin distributed
exec "$target/release/distributed" "$@"
