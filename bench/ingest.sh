#!/usr/bin/env bash
# Sustained ingest_metrics throughput (batches of 50 events) on SQLite and Postgres; the baseline
# is the ledger write alone, in the same run. Postgres: a throwaway server from scripts/postgres.sh.
#   bash bench/ingest.sh [BATCHES]     # default 4000 (200,000 events)
set -Eeuo pipefail
cd "$(dirname "$0")/.."
n=${1:-4000}
cargo build -q --release -p trainpod-bench --bin ingest_batches
db=$(mktemp -d)
pg_env=$(bash scripts/postgres.sh start)
eval "$pg_env"
trap 'bash scripts/postgres.sh stop; rm -rf "$db"' EXIT
target/release/ingest_batches "sqlite://$db/bench.db" "$n"
target/release/ingest_batches "$TRAINPOD_TEST_DATABASE_URL" "$n"
