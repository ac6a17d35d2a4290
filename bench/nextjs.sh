#!/usr/bin/env bash
# Serving a dataset from the Next.js example's route (GET /api/datasets/:id/download: the token
# checked by trainpod, the body streamed from the file it opened) against nginx with sendfile, the
# same file fetched by curl over loopback in the same run, interleaved. Also the sha256 of one
# download through the route and the Next.js server's peak memory (the file is never buffered).
# Usage: bash bench/nextjs.sh [SIZE_MB]   (default 1024; RUNS=5 for more runs)
#
# Needs the Node package built (bindings-node/*.node); builds the example (npm ci, next build)
# when it has no build yet. nginx as in bench/serve.sh: the one on PATH, else Debian's package
# unpacked into the work directory.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}
runs=${RUNS:-3}
app=$PWD/examples/nextjs
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
mkdir -p "$root"
chmod 755 "$work" "$root" # nginx workers started by root run as nobody
head -c "$((size_mb << 20))" /dev/urandom >"$root/ds-bench"
bytes=$(stat -c %s "$root/ds-bench")
want=$(openssl dgst -sha256 -r "$root/ds-bench" | cut -d' ' -f1) # also warms the page cache

if [ ! -f "$app/.next/BUILD_ID" ] || [ ! -d "$app/node_modules/trainpod" ]; then
  (cd "$app" && npm ci --no-audit --no-fund --loglevel=error && NEXT_TELEMETRY_DISABLED=1 npx next build >/dev/null)
fi

source bench/nginx.sh
source bench/live_job.sh
start_nginx "$work" "$root"

# The example's server as it runs in production (`next start`), serving datasets from $root.
# The local provider's URL is only there to make the app accept a loopback app URL: nothing
# deploys here, so nothing calls it. The store holds one live job (bench/live_job.sh).
next_port=$(port)
app_url=http://127.0.0.1:$next_port
keys="k1:active:$(cd "$app" && node -e 'console.log(require("trainpod").generateSecret())')"
store=sqlite://$work/jobs.db
live_job_store "$app" "$work/jobs.db"
(
  cd "$app"
  TRAINPOD_SIGNING_KEYS=$keys TRAINPOD_APP_URL=$app_url TRAINPOD_STORE=$store TRAINPOD_DATASETS_DIR=$root \
    TRAINPOD_LOCAL_PROVIDER=http://127.0.0.1:9/v2 TRAINPOD_LOCAL_PROVIDER_KEY=unused NEXT_TELEMETRY_DISABLED=1 \
    exec setsid node node_modules/next/dist/bin/next start -H 127.0.0.1 -p "$next_port" >"$work/next.log" 2>&1
) &
next_pid=$!
pids+=("$next_pid")
token=$(cd "$app" && TRAINPOD_SIGNING_KEYS=$keys node -e '
  const { Tokens } = require("trainpod");
  const tokens = new Tokens({ keys: process.env.TRAINPOD_SIGNING_KEYS, audience: process.argv[1] });
  console.log(tokens.issue({ purpose: "dataset.read", user: "bench", job: "bench", dataset: "ds-bench", ttlSecs: 3600 }).token);
' "$app_url")
auth=(-H "Authorization: Bearer $token")
url="$app_url/api/datasets/ds-bench/download"
nginx_url="http://127.0.0.1:$nginx_port/datasets/ds-bench"
for _ in $(seq 300); do curl -fsS -o /dev/null -r 0-0 "${auth[@]}" "$url" 2>/dev/null && break; sleep 0.1; done
for _ in $(seq 50); do curl -fsS -o /dev/null -r 0-0 "$nginx_url" 2>/dev/null && break; sleep 0.1; done

# The server's resident memory: `next start` and any process it started (its process group).
rss() {
  local field=$1 max=0 kb
  for p in $(pgrep -g "$next_pid"); do
    kb=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null || echo 0)
    max=$((kb > max ? kb : max))
  done
  echo "$max"
}
rss_before_kb=$(rss VmRSS) # after a first request: the route compiled, the addon loaded

speed() { curl -fsS -o /dev/null -w '%{speed_download}\n' "$@"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
next=() nginx=()
for _ in $(seq "$runs"); do # interleaved, so drift on a shared machine hits both alike
  next+=("$(speed "${auth[@]}" "$url")")
  nginx+=("$(speed "$nginx_url")")
done
next_bps=$(printf '%s\n' "${next[@]}" | median)
nginx_bps=$(printf '%s\n' "${nginx[@]}" | median)

got=$(curl -fsS "${auth[@]}" "$url" | openssl dgst -sha256 -r | cut -d' ' -f1)
[ "$got" = "$want" ] || { echo "the route served another file: $got" >&2; exit 1; }
rss_kb=$(rss VmHWM)

python3 - "$bytes" "$next_bps" "$nginx_bps" "$rss_kb" "$runs" "$rss_before_kb" "${next[*]}" "${nginx[*]}" <<'PY'
import json, sys
b, r, n, rss, runs, before = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
each = lambda s: [round(float(x) / 1e6) for x in s.split()]
print(json.dumps({"benchmark": "dataset download through the Next.js route over loopback", "bytes": b,
    "runs": runs, "nextjs_route_MBps": round(r / 1e6), "nginx_sendfile_MBps": round(n / 1e6),
    "ratio": round(r / n, 2), "nextjs_runs_MBps": each(sys.argv[7]), "nginx_runs_MBps": each(sys.argv[8]), "target": ">= 0.5x nginx", "sha256": "ok",
    "nextjs_server_rss_before_MB": round(before / 1024, 1), "nextjs_server_peak_rss_MB": round(rss / 1024, 1)}))
PY
