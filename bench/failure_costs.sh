#!/usr/bin/env bash
# What each of RunPod's failure modes costs: one job per fault profile of the emulator, on the
# local provider with the real generated script and a real (tiny) training run, against a
# successful job measured in the same run (bench/src/bin/failure_costs.rs says how). Needs the
# training venv and the tiny model, which `bash scripts/quickstart.sh` makes once. Prints a line
# per job, then one JSON line per profile.
#   bash bench/failure_costs.sh [PROFILE,...]
set -Eeuo pipefail
cd "$(dirname "$0")/.."
TRAINPOD_TRAIN_PYTHON=$(bash scripts/train-venv.sh)
export TRAINPOD_TRAIN_PYTHON
[ -f target/quickstart/tiny-llama/config.json ] || bash scripts/quickstart.sh >/dev/null
cargo build -q --release --locked -p trainpod-bench --bin failure_costs
exec target/release/failure_costs "$@"
