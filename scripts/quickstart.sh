#!/usr/bin/env bash
# The quickstart: one training job through its whole lifecycle on this machine (see
# examples/rust/src/bin/quickstart.rs). Creates the pod-side venv on the first run, then runs the
# quickstart with any arguments given (--summary PATH, --runpod ...).
set -Eeuo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
TRAINPOD_TRAIN_PYTHON=$(bash scripts/train-venv.sh)
export TRAINPOD_TRAIN_PYTHON
exec cargo run -q --locked -p trainpod-examples --bin quickstart -- "$@"
