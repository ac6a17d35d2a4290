#!/usr/bin/env bash
# The bindings' own cost per call over core: token verification and metrics ingestion through
# `Trainpod` from Node and from Python, against the same calls in Rust
# (bench/src/bin/sdk_calls.rs), in one run.
# Usage: bash bench/overhead.sh      (release builds; takes a few minutes)
#        RUNS=9 bash bench/overhead.sh   (runs of each, alternated; default 5: bench/report.py
#        reports the median)
set -Eeuo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
cargo build -q --locked --release -p trainpod-bench --bin sdk_calls --target x86_64-unknown-linux-gnu
cargo build -q --locked -p trainpod-emulator
# Node: the release addon with the `bench` feature (core timed in the same process, as below).
(cd bindings-node && npm ci --no-audit --no-fund --ignore-scripts >/dev/null &&
  npm run build:release -- --features bench >/dev/null)
# Python: the binding built in release mode into the bench's own venv.
[ -x bench/.venv/bin/python ] || python3 -m venv bench/.venv
bench/.venv/bin/pip install -q maturin==1.16.0
VIRTUAL_ENV="$PWD/bench/.venv" bench/.venv/bin/maturin develop -q --release --features bench -m bindings-python/Cargo.toml
export TRAINPOD_EMULATOR="$target/debug/trainpod-emulator"
calls="$target/x86_64-unknown-linux-gnu/release/sdk_calls"
for _ in $(seq "${RUNS:-5}"); do
  node --expose-gc bench/node/overhead.mjs "$calls"
  bench/.venv/bin/python bench/python/overhead.py "$calls"
done
