#!/usr/bin/env bash
# The Next.js example's tests: lint (biome), type check (tsc), `next build`, then `next start` on
# loopback with the local provider (`trainpod-emulator --run-pods`: each pod a local process
# group running trainpod's real pod script and a real TRL training of a tiny Llama on the CPU),
# and `node --test tests/`:
#   routes.test.mjs   forged, missing and misused tokens on every pod-facing route and no cron
#                     secret on the reconcile route get 401/403 with their code and nothing else;
#                     a full job through the routes (the pod downloads its dataset from the
#                     Next.js route, posts its metrics to it, uploads its adapter; it succeeds)
#                     a key saved in Settings is checked first and kept encrypted, and its user's
#                     jobs run on its account, out of other users' sight; the cron route delivers
#                     the jobs' events to the app's webhook route, which verifies each (the
#                     reference `standardwebhooks` package), keeps it once and refuses forged,
#                     tampered and stale ones with 401
#   browser.test.mjs  Chromium (headless, driven by playwright-core) sees the estimate, deploys,
#                     and watches the progress reach 100% and the job succeed; then two users save
#                     their own RunPod keys on the Settings page and run jobs side by side, each
#                     on their own account; screenshots kept
#
# Needs: the Node package built (bindings-node/*.node), the emulator built
# (cargo build -p trainpod-emulator; or TRAINPOD_EMULATOR), the pod side's Python
# (bash scripts/train-venv.sh; or TRAINPOD_TRAIN_PYTHON), Chromium (apt-get install chromium; or
# CHROMIUM). Installs its npm dependencies with `npm ci`. Leaves the run's files (server, emulator
# and pod logs, screenshot) in examples/nextjs/.artifacts/.
set -Eeuo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$here"
export NEXT_TELEMETRY_DISABLED=1
start=$(date +%s)
lap() { echo "nextjs: $* ($(($(date +%s) - start)) s)"; }
fail() {
  echo "nextjs: $*" >&2
  exit 1
}

emulator=${TRAINPOD_EMULATOR:-${CARGO_TARGET_DIR:-$root/target}/debug/trainpod-emulator}
python=${TRAINPOD_TRAIN_PYTHON:-$root/.venv-train/bin/python}
chromium=${CHROMIUM:-$(command -v chromium || true)}
[ -x "$emulator" ] || fail "no emulator at $emulator: cargo build -p trainpod-emulator (or set TRAINPOD_EMULATOR)"
compgen -G "$root/bindings-node/*.node" >/dev/null || fail "the Node package is not built: cd bindings-node && npm ci && npm run build"
[ -x "$python" ] || fail "no pod-side Python at $python: bash scripts/train-venv.sh"
[ -n "$chromium" ] || fail "no Chromium: apt-get install chromium (or set CHROMIUM)"

# A real copy of bindings-node in node_modules (.npmrc: install-links), as Next.js needs.
npm ci --no-audit --no-fund --loglevel=error
lap "npm ci"
npx biome check .
npx next typegen >/dev/null
npx tsc --noEmit
lap "biome and tsc"
TRAINPOD_TYPECHECKED=1 npx next build >.next-build.log 2>&1 || {
  cat .next-build.log
  fail "next build failed"
}
rm -f .next-build.log
lap "next build"

# The tiny Llama the pods train, built offline once (shared with the Python quickstart).
model=$root/target/quickstart/tiny-llama
if [ ! -f "$model/config.json" ]; then
  mkdir -p "$root/target/quickstart"
  HF_HUB_OFFLINE=1 "$python" "$root/tests/e2e/py/tiny_model.py" "$model" "$root/target/quickstart/tokenizer-corpus.jsonl"
fi

run=$here/.artifacts/run
rm -rf "$run"
mkdir -p "$run/datasets" "$run/artifacts" "$run/pods"
cp "$root/examples/data/chat.jsonl" "$run/datasets/chat"
server_pid='' emulator_pid=''
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  if [ -n "$server_pid" ]; then kill -- "-$server_pid" 2>/dev/null || true; fi
  # The emulator stops when its stdin closes (or on SIGTERM) and ends every pod's process group.
  exec 3>&-
  if [ -n "$emulator_pid" ]; then kill "$emulator_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Its stdin is a pipe this script holds open: should the script be killed, the emulator stops too.
mkfifo "$run/emulator.stdin"
offline=(--env HF_HUB_OFFLINE=1 --env TRANSFORMERS_OFFLINE=1 --env HF_DATASETS_OFFLINE=1)
# The app's shared key is the account `default`'s; the users who save a key of their own in
# Settings use these accounts (and runpod-b's Read Only key, which the check refuses to save).
export RUNPOD_KEY_A=rpa_emulator_runpod_a RUNPOD_KEY_B=rpa_emulator_runpod_b RUNPOD_KEY_C=rpa_emulator_runpod_c
export RUNPOD_KEY_READ_ONLY=rpa_emulator_runpod_b_read_only
accounts=(--account "runpod-a:$RUNPOD_KEY_A" --account "runpod-b:$RUNPOD_KEY_B" --account "runpod-c:$RUNPOD_KEY_C"
  --account "runpod-b:$RUNPOD_KEY_READ_ONLY:read_only")
"$emulator" --run-pods --workspace-root "$run/pods" "${offline[@]}" "${accounts[@]}" <"$run/emulator.stdin" \
  >"$run/emulator.out" 2>"$run/emulator.log" &
emulator_pid=$!
exec 3>"$run/emulator.stdin"
for _ in $(seq 100); do grep -q '^http' "$run/emulator.out" 2>/dev/null && break; sleep 0.1; done
emulator_url=$(head -1 "$run/emulator.out")
[[ $emulator_url == http://127.0.0.1:* ]] || fail "the emulator did not start: $(cat "$run/emulator.log")"

port=$(free_port)
export APP_URL=http://127.0.0.1:$port
export EMULATOR_URL=$emulator_url EMULATOR_KEY=rpa_emulator_account_key
TRAINPOD_SIGNING_KEYS="k1:active:$(node -e 'console.log(require("trainpod").generateSecret())')"
CRON_SECRET=$(node -e 'console.log(require("node:crypto").randomBytes(24).toString("hex"))')
SESSION_SECRET=$(node -e 'console.log(require("node:crypto").randomBytes(24).toString("hex"))')
# Encrypts the users' RunPod keys in the app's own table (a JSON file here: lib/secrets.ts).
PROVIDER_SECRETS_KEY=$(node -e 'console.log(require("node:crypto").randomBytes(32).toString("base64"))')
export PROVIDER_SECRETS_KEY PROVIDER_SECRETS_FILE=$run/provider-secrets.json
# Signs the job events trainpod POSTs to the app's webhook route (lib/webhooks.ts), which the
# cron route's reconcile delivers; the tests sign their own repeated and stale deliveries with it.
TRAINPOD_WEBHOOK_SECRET=$(node -e 'console.log(require("trainpod").generateWebhookSecret())')
export TRAINPOD_WEBHOOK_SECRET WEBHOOK_EVENTS_FILE=$run/webhook-events.json
export TRAINPOD_SIGNING_KEYS CRON_SECRET SESSION_SECRET CHROMIUM=$chromium ARTIFACTS=${TRAINPOD_CI_ARTIFACTS:-$here/.artifacts} TRAINPOD_ARTIFACTS_DIR=$run/artifacts
# 30 LoRA steps of the tiny model on the CPU: a few seconds of training.
spec=$(
  cat <<JSON
{"model": "$model", "dataset": "chat", "budgetUsd": 0.5, "extra": {"paramsB": 0.00002,
 "gpus": ["NVIDIA GeForce RTX 4090"], "hyperparameters": {"maxSteps": 30, "batchSize": 4,
 "gradientAccumulationSteps": 1, "learningRate": 0.003, "maxLength": 64, "loggingSteps": 2,
 "loraR": 4, "loraAlpha": 8, "gradientCheckpointing": false}}}
JSON
)
export TRAINPOD_EXAMPLE_SPEC=$spec
TRAINPOD_LOCAL_PROVIDER=$emulator_url TRAINPOD_LOCAL_PROVIDER_KEY=$EMULATOR_KEY TRAINPOD_APP_URL=$APP_URL \
  TRAINPOD_STORE=sqlite://$run/trainpod.db TRAINPOD_DATASETS_DIR=$run/datasets \
  TRAINPOD_POD_PYTHON=$python \
  setsid node node_modules/next/dist/bin/next start -H 127.0.0.1 -p "$port" >"$run/next.log" 2>&1 3>&- &
server_pid=$!
for _ in $(seq 300); do curl -fsS -o /dev/null "$APP_URL/" 2>/dev/null && break; sleep 0.1; done
curl -fsS -o /dev/null "$APP_URL/" || fail "next start did not answer: $(cat "$run/next.log")"
lap "next start on $APP_URL, local provider on $emulator_url"

export NEXT_LOG=$run/next.log
status=0
node --test --test-concurrency=1 tests/ 3>&- || status=$?
if [ "$status" != 0 ]; then
  echo "--- next.log (tail)" && tail -n 40 "$run/next.log"
  for log in "$run"/pods/*/*.log; do [ -f "$log" ] && echo "--- $log (tail)" && tail -n 30 "$log"; done
fi
lap "done"
exit "$status"
