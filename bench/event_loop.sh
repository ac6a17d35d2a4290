#!/usr/bin/env bash
# The Next.js server's longest event-loop stall while a large dataset is downloaded through the
# example's dataset route (GET /api/datasets/:id/download) for the first time: a fresh server
# process and a fresh store, so the file's digest is unknown and trainpod hashes the whole file
# before it answers. Then the same for a second (warm) download from the same process, and, as the
# baseline, the same process left idle for as long as the first download took: its stalls are the
# machine's own (timer and scheduling noise), which no route can get under.
# Usage: bash bench/event_loop.sh [SIZE_MB]   (default 1024; RUNS=3 fresh servers; SERVER_NODE_ARGS,
#        for instance "--trace-gc", are given to the server's node; KEEP=DIR keeps the servers' logs;
#        RATE=100M has curl read at most that many bytes a second, as a pod across a network would;
#        LOOP_DELAY_GAPS=8 lists each stall over 8 ms with its time, see bench/node/loop_delay.cjs)
#
# The stall is read inside the server process by bench/node/loop_delay.cjs, preloaded with
# NODE_OPTIONS (perf_hooks.monitorEventLoopDelay at 1 ms resolution; SIGUSR2 writes the histogram
# since the last SIGUSR2 and starts it over): the example runs unchanged. Needs Rust (the release
# addon, see bench/nextjs_app.sh).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}
runs=${RUNS:-3}
work=$(mktemp -d)
server=''
stop_server() {
  if [ -n "$server" ]; then kill -- "-$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  server=''
}
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
source bench/nextjs_app.sh
source bench/live_job.sh
repo=$PWD

addon=$(release_addon)
example_copy "$work/example" "$addon"
app=$work/example
root=$work/datasets
mkdir -p "$root"
head -c "$((size_mb << 20))" /dev/urandom >"$root/ds-big"
head -c 4096 /dev/urandom >"$root/ds-small" # the readiness probe's, so ds-big's digest stays cold
bytes=$(stat -c %s "$root/ds-big")
want=$(openssl dgst -sha256 -r "$root/ds-big" | cut -d' ' -f1) # also warms the page cache

keys="k1:active:$(cd "$app" && node -e 'console.log(require("trainpod").generateSecret())')"

# The histogram of every process that loaded loop_delay.cjs, since the last call (which it
# restarts); prints the JSON of the process with the largest stall.
loop_stats() {
  local ready pid files=()
  for ready in "$work"/run/loop.*.ready; do
    pid=${ready%.ready}
    pid=${pid##*.}
    rm -f "$work/run/loop.$pid.json"
    kill -USR2 "$pid"
    files+=("$work/run/loop.$pid.json")
  done
  for _ in $(seq 100); do
    ls "${files[@]}" >/dev/null 2>&1 && break
    sleep 0.05
  done
  cat "${files[@]}" | python3 -c 'import json, sys; print(json.dumps(max((json.loads(l) for l in sys.stdin), key=lambda s: s["max_ms"] or 0)))'
}

issue() { # a dataset token for the server on port $1, dataset $2
  (cd "$app" && TRAINPOD_SIGNING_KEYS=$keys node -e '
    const { Tokens } = require("trainpod");
    const tokens = new Tokens({ keys: process.env.TRAINPOD_SIGNING_KEYS, audience: process.argv[1] });
    console.log(tokens.issue({ purpose: "dataset.read", user: "bench", job: "bench", dataset: process.argv[2], ttlSecs: 3600 }).token);
  ' "http://127.0.0.1:$1" "$2")
}

download() { # prints: seconds to the first byte, seconds in all, bytes per second
  curl -fsS ${RATE:+--limit-rate "$RATE"} -o "$work/got" -w '%{time_starttransfer} %{time_total} %{speed_download}\n' \
    -H "Authorization: Bearer $big_token" "$url/ds-big/download"
}

check() {
  local got
  got=$(openssl dgst -sha256 -r "$work/got" | cut -d' ' -f1)
  rm -f "$work/got"
  [ "$got" = "$want" ] || { echo "the route served another file: $got" >&2; exit 1; }
}

read -ra node_args <<<"${SERVER_NODE_ARGS:-}"
results=()
for r in $(seq "$runs"); do
  # A fresh store and a fresh server: nothing knows the file's digest.
  rm -rf "$work/run"
  mkdir -p "$work/run"
  live_job_store "$app" "$work/run/jobs.db"
  port=$(free_port)
  url=http://127.0.0.1:$port/api/datasets
  (
    cd "$app"
    TRAINPOD_SIGNING_KEYS=$keys TRAINPOD_APP_URL=http://127.0.0.1:$port TRAINPOD_STORE=sqlite://$work/run/jobs.db \
      TRAINPOD_DATASETS_DIR=$root TRAINPOD_LOCAL_PROVIDER=http://127.0.0.1:9/v2 TRAINPOD_LOCAL_PROVIDER_KEY=unused \
      NEXT_TELEMETRY_DISABLED=1 NODE_OPTIONS="--require $repo/bench/node/loop_delay.cjs" \
      LOOP_DELAY_OUT=$work/run/loop exec setsid node "${node_args[@]}" node_modules/next/dist/bin/next start -H 127.0.0.1 -p "$port" \
      >"$work/run/next.log" 2>&1
  ) &
  server=$!
  big_token=$(issue "$port" ds-big)
  small_token=$(issue "$port" ds-small)
  # Ready once a byte of the small dataset comes back: the route compiled, the addon loaded.
  for _ in $(seq 300); do
    curl -fsS -o /dev/null -r 0-0 -H "Authorization: Bearer $small_token" "$url/ds-small/download" 2>/dev/null && break
    sleep 0.1
  done
  curl -fsS -o /dev/null -r 0-0 -H "Authorization: Bearer $small_token" "$url/ds-small/download" ||
    { cat "$work/run/next.log" >&2; exit 1; }

  loop_stats >/dev/null # start the histogram over
  read -r cold_ttfb cold_s cold_bps < <(download)
  cold=$(loop_stats)
  check
  read -r warm_ttfb warm_s warm_bps < <(download)
  warm=$(loop_stats)
  check
  sleep "$cold_s" # idle, as long as the cold download took
  idle=$(loop_stats)
  stop_server
  if [ -n "${KEEP:-}" ]; then mkdir -p "$KEEP" && cp "$work/run/next.log" "$KEEP/next-$r.log"; fi
  results+=("$(printf '{"cold": %s, "warm": %s, "idle": %s, "cold_ttfb_s": %s, "cold_s": %s, "cold_Bps": %s, "warm_ttfb_s": %s, "warm_s": %s, "warm_Bps": %s}' \
    "$cold" "$warm" "$idle" "$cold_ttfb" "$cold_s" "$cold_bps" "$warm_ttfb" "$warm_s" "$warm_bps")")
  echo "run $r: ${results[-1]}" >&2
done

python3 - "$bytes" "$(printf '%s\n' "${results[@]}")" <<'PY'
import json, statistics, sys
b = int(sys.argv[1])
runs = [json.loads(l) for l in sys.argv[2].splitlines()]
each = lambda k, f: [f(r[k]) for r in runs]
med = lambda xs: round(statistics.median(xs), 2)
cold_max = each("cold", lambda s: s["max_ms"])
print(json.dumps({"benchmark": "event-loop stall of the Next.js server during a dataset download", "bytes": b,
    "runs": len(runs), "cold_max_ms": cold_max, "cold_p99_ms": each("cold", lambda s: s["p99_ms"]),
    "warm_max_ms": each("warm", lambda s: s["max_ms"]), "warm_p99_ms": each("warm", lambda s: s["p99_ms"]),
    "idle_max_ms": each("idle", lambda s: s["max_ms"]), "idle_p99_ms": each("idle", lambda s: s["p99_ms"]),
    "cold_max_ms_median": med(cold_max), "warm_max_ms_median": med(each("warm", lambda s: s["max_ms"])),
    "idle_max_ms_median": med(each("idle", lambda s: s["max_ms"])),
    "cold_ttfb_s": each("cold_ttfb_s", lambda x: round(x, 2)), "cold_MBps": each("cold_Bps", lambda x: round(x / 1e6)),
    "warm_ttfb_s": each("warm_ttfb_s", lambda x: round(x, 3)), "warm_MBps": each("warm_Bps", lambda x: round(x / 1e6)),
    "sha256": "ok", "target": "cold max < 20 ms"}))
PY
