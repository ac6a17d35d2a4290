#!/usr/bin/env bash
# Sustained ingest_metrics throughput (batches of 50 events) on SQLite and Postgres; the baseline
# is the ledger write alone, in the same run. Postgres: a throwaway server from scripts/postgres.sh.
# One JSON line per store and job count.
#   bash bench/ingest.sh [BATCHES] [JOBS...]    # default 4000 batches (200,000 events), 8 jobs
set -Eeuo pipefail
cd "$(dirname "$0")/.."
n=${1:-4000}
shift || true
jobs=("${@:-8}")
cargo build -q --release -p trainpod-bench --bin ingest_batches
bin=${CARGO_TARGET_DIR:-target}/release/ingest_batches
db=$(mktemp -d)
pg_env=$(bash scripts/postgres.sh start)
eval "$pg_env"
trap 'bash scripts/postgres.sh stop; rm -rf "$db"' EXIT
for j in "${jobs[@]}"; do
  "$bin" "sqlite://$db/bench-$j.db" "$n" "$j"
  "$bin" "$TRAINPOD_TEST_DATABASE_URL" "$n" "$j"
done
