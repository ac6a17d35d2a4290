#!/usr/bin/env bash
# Fuzz what trainpod parses from the outside (fuzz/fuzz_targets: tokens, key rings, metric
# batches, dataset ids, artifact paths), each target for SECONDS (default 600), with cargo-fuzz
# (installed into ~/.cargo/bin on first use). libFuzzer needs unstable compiler flags: the
# workspace's stable toolchain is allowed them for this build only (RUSTC_BOOTSTRAP), and no
# sanitizer is used (the code under test is safe Rust: the targets look for panics and broken
# invariants). Corpora stay in fuzz/corpus (ignored by git). Prints one JSON line per target.
#   bash bench/fuzz.sh [SECONDS] [TARGET...]
set -Eeuo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(token key_ring metrics_body dataset_id artifact_path)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
export RUSTC_BOOTSTRAP=1
cd fuzz
for t in "${targets[@]}"; do
  log=$(mktemp)
  status=0
  cargo fuzz run --sanitizer none --release "$t" -- -max_total_time="$seconds" -print_final_stats=1 \
    >"$log" 2>&1 || status=$?
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+' || echo 0)
  crashed=$([ "$status" = 0 ] && echo false || echo true)
  [ "$status" = 0 ] || tail -30 "$log" >&2
  printf '{"benchmark":"fuzz","target":"%s","seconds":%s,"runs":%s,"coverage":%s,"crashed":%s}\n' \
    "$t" "$seconds" "$runs" "$cov" "$crashed"
  rm -f "$log"
done
