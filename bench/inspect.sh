#!/usr/bin/env bash
# Dataset inspection throughput and memory against `openssl dgst -sha256` on the same 1 GB JSONL
# file, in one run, interleaved, median of RUNS (default 3). Prints one JSON line.
# Usage: bash bench/inspect.sh [SIZE_MB]   (default 1024)
set -Eeuo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
file="$work/chat.jsonl"

python3 - "$file" "$size_mb" <<'PY'
import json, sys
path, size = sys.argv[1], int(sys.argv[2]) << 20
rows = [json.dumps({"messages": [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": f"Question {i}: what is {i} times {i % 97}? Explain briefly."},
    {"role": "assistant", "content": f"{i} times {i % 97} is {i * (i % 97)}. " + "Multiplication adds a number to itself repeatedly. " * (1 + i % 5)},
]}) for i in range(1000)]
block = ("\n".join(rows) + "\n").encode()
with open(path, "wb") as f:
    written = 0
    while written < size:
        f.write(block)
        written += len(block)
PY
bytes=$(stat -c %s "$file")
cargo build -q --release -p trainpod-bench --bin inspect_file
bin=${CARGO_TARGET_DIR:-target}/release/inspect_file

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_cmd() { # prints seconds for one run
  local start end
  start=$(date +%s.%N); "$@" >/dev/null; end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
cat "$file" >/dev/null # warm the page cache for both
openssl=() inspect=()
for _ in $(seq "${RUNS:-3}"); do # interleaved, so drift on a shared machine hits both alike
  openssl+=("$(time_cmd openssl dgst -sha256 "$file")")
  inspect+=("$(time_cmd "$bin" "$file")")
done
openssl_s=$(printf '%s\n' "${openssl[@]}" | median)
inspect_s=$(printf '%s\n' "${inspect[@]}" | median)
rss_kb=$( { /usr/bin/time -f '%M' "$bin" "$file" >/dev/null; } 2>&1 | tail -1)
report=$("$bin" "$file")
[ "$(openssl dgst -sha256 -r "$file" | cut -d' ' -f1)" = "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["sha256"])' <<<"$report")" ] \
  || { echo "sha256 mismatch" >&2; exit 1; }
python3 - "$bytes" "$openssl_s" "$inspect_s" "$rss_kb" <<'PY'
import json, sys
b, o, i, rss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print(json.dumps({"benchmark": "dataset inspect", "bytes": b,
    "openssl_sha256_MBps": round(b / o / 1e6), "inspect_MBps": round(b / i / 1e6),
    "ratio": round(o / i, 2), "target": ">= 0.7x openssl", "peak_rss_MB": round(rss / 1024, 1),
    "rss_target": "< 64 MB"}))
PY
