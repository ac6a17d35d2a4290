#!/usr/bin/env bash
# Time from a failure in the pod to its terminate request, over the failure matrix of
# tests/e2e/tests/pod_script.rs run ROUNDS times (default 5), and the bootstrap overhead before the
# trainer starts. The baseline is the script this replaces: `sleep 3600` after a failed run.
# Prints a summary, then one JSON line.
#   bash bench/pod_failures.sh [ROUNDS]
set -Eeuo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cargo build -q --release -p trainpod-e2e --tests
for _ in $(seq "$rounds"); do
  cargo test -q --release -p trainpod-e2e --test pod_script -- --nocapture --test-threads 2 2>/dev/null |
    grep -oE 'POD_(FAILURE_LATENCY|BOOTSTRAP_OVERHEAD) \{[^}]*\}' >>"$out"
done
python3 - "$out" "$rounds" <<'PY'
import json, statistics, sys
lat, boot = {}, []
for line in open(sys.argv[1]):
    kind, _, body = line.partition(" ")
    rec = json.loads(body)
    if kind == "POD_FAILURE_LATENCY":
        lat.setdefault(rec["case"], []).append(rec["seconds"])
    else:
        boot.append(rec["seconds"])
every = sorted(s for v in lat.values() for s in v)
p95 = every[min(len(every) - 1, int(0.95 * len(every)))]
print(f"failure -> terminate request, {sys.argv[2]} rounds, {len(every)} samples")
for case, v in sorted(lat.items()):
    print(f"  {case:18s} median {statistics.median(v):6.2f} s  max {max(v):6.2f} s")
print(f"  all cases          p50 {statistics.median(every):.2f} s  p95 {p95:.2f} s  "
      f"(baseline: 3600 s, so {3600 / p95:.0f}x sooner)")
print(f"bootstrap overhead before the trainer (command mode): median {statistics.median(boot):.2f} s, "
      f"max {max(boot):.2f} s")
print(json.dumps({"benchmark": "pod failure to terminate", "rounds": int(sys.argv[2]),
    "samples": len(every), "p50_s": round(statistics.median(every), 2), "p95_s": round(p95, 2),
    "baseline_s": 3600, "target": "p95 <= 10 s",
    "cases": {c: {"median_s": round(statistics.median(v), 2), "max_s": round(max(v), 2)}
              for c, v in sorted(lat.items())},
    "bootstrap_median_s": round(statistics.median(boot), 2), "bootstrap_max_s": round(max(boot), 2)}))
PY
