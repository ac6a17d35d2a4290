#!/usr/bin/env bash
# The smoke run: the quickstart's job, then the three things a person paying for it wants to know,
# asserted from its summary (scripts/check-quickstart.py): the job succeeded, the pod is gone, and
# what the provider billed for the pod is within the plan's estimate.
#
#   bash scripts/smoke.sh [--summary PATH]
#     on the local provider (what CI runs: the quickstart, the same checks, and on this machine
#     also the loss, the adapter's sha256 and no process left).
#   bash scripts/smoke.sh --runpod [--summary PATH]
#     on real RunPod, with RUNPOD_API_KEY: the plan picks the cheapest GPU that fits the small
#     model, a job of a few minutes costing cents. Its pod reaches this machine's embedded app
#     through TRAINPOD_SMOKE_APP_URL (a public https URL forwarding to 127.0.0.1:$TRAINPOD_SMOKE_PORT,
#     default 8080) or, when that is unset, a Cloudflare quick tunnel (`cloudflared` on PATH).
#     Then it waits for RunPod's bill of the pod (RunPod bills every few minutes).
#     .github/workflows/release.yml runs it on a schedule when the RUNPOD_API_KEY secret is set.
set -Eeuo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
runpod=0 summary=${TMPDIR:-/tmp}/trainpod-smoke.json
while [ $# -gt 0 ]; do
  case $1 in
    --runpod) runpod=1 && shift ;;
    --summary) summary=$2 && shift 2 ;;
    *) echo "smoke: unknown argument $1 (see the header)" >&2 && exit 2 ;;
  esac
done

if [ "$runpod" = 0 ]; then
  bash scripts/quickstart.sh --summary "$summary"
  exec python3 scripts/check-quickstart.py "$summary"
fi

[ -n "${RUNPOD_API_KEY:-}" ] || { echo "smoke: --runpod needs RUNPOD_API_KEY" >&2 && exit 2; }
port=${TRAINPOD_SMOKE_PORT:-8080}
app_url=${TRAINPOD_SMOKE_APP_URL:-}
tunnel_pid=''
# shellcheck disable=SC2317 # called by the EXIT trap
stop_tunnel() { if [ -n "$tunnel_pid" ]; then kill "$tunnel_pid" 2>/dev/null || true; fi; }
trap stop_tunnel EXIT
if [ -z "$app_url" ]; then
  command -v cloudflared >/dev/null || { echo "smoke: set TRAINPOD_SMOKE_APP_URL or install cloudflared" >&2 && exit 2; }
  log=$(mktemp)
  cloudflared tunnel --no-autoupdate --url "http://127.0.0.1:$port" >"$log" 2>&1 &
  tunnel_pid=$!
  for _ in $(seq 60); do
    app_url=$(grep -Eo 'https://[a-z0-9-]+\.trycloudflare\.com' "$log" | head -1 || true)
    [ -n "$app_url" ] && break
    sleep 1
  done
  [ -n "$app_url" ] || { cat "$log" >&2 && echo "smoke: the tunnel gave no URL" >&2 && exit 1; }
fi
echo "smoke: pods reach the app at $app_url"
rm -f "$summary"
status=0
cargo run -q --locked -p trainpod-examples --bin quickstart -- \
  --runpod --app-url "$app_url" --listen "127.0.0.1:$port" --summary "$summary" || status=$?
# The check names what went wrong; a run that wrote no summary failed before its job ended.
[ -f "$summary" ] || exit "$((status == 0 ? 1 : status))"
python3 scripts/check-quickstart.py "$summary" --runpod
exit "$status"
