#!/usr/bin/env bash
# Training throughput on CPU: trainpod's trainer.py (padding-free batches) against a plain TRL
# SFTTrainer with its defaults (batches padded to their longest row), same 20M-parameter Llama
# built offline, same mixed-length chat rows, same LoRA hyperparameters, two takes of each
# in alternating order. Real (non-pad) tokens per second and the final training and held-out
# losses; bench/gpu/bench.py does the work (`--cpu`), and on a GPU `bash bench/gpu/run.sh` runs
# the same case beside its others. Prints one JSON line per case.
#   bash bench/throughput.sh [bench.py options, e.g. --repeat 3 --steps 40]
set -Eeuo pipefail
cd "$(dirname "$0")/.."
TRAINPOD_TRAIN_PYTHON=${TRAINPOD_TRAIN_PYTHON:-$(bash scripts/train-venv.sh)}
PYTHON=$TRAINPOD_TRAIN_PYTHON exec bash bench/gpu/run.sh --cpu --out bench/.out/throughput "$@"
