#!/usr/bin/env bash
# `reconcile` over N jobs (default 100, 300 and 1000) on the RunPod emulator with a SQLite store;
# the baseline is one `list_pods` call over the same pods, in the same run. One JSON line per N.
#   bash bench/reconcile.sh [N...]
set -Eeuo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p trainpod-bench --bin reconcile_jobs
for n in "${@:-100 300 1000}"; do
  for m in $n; do "${CARGO_TARGET_DIR:-target}"/release/reconcile_jobs "$m"; done
done
