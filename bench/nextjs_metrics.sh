#!/usr/bin/env bash
# The Next.js example's metrics route (POST /api/training/jobs/:id/metrics: the pod's token, the
# batch and the job's row, all in trainpod) on Postgres under concurrent pods, against a plain
# Next.js route doing the same with jose and pg (bench/nextjs-baseline). Both apps run with
# `next start` on this machine against one Postgres (a database each, the same tables), and the
# same pods (bench/node/metrics_load.mjs) post to each in turn: trainpod, baseline, baseline,
# trainpod, ... (each pair in the other order than the one before, so that a steady drift of the
# machine's load favours neither).
# Each run also posts to the baseline app's /api/noop (Next.js alone: the ceiling of both) and
# reads the CPU each request cost the server (its JavaScript thread, its other threads) and
# Postgres. Prints each run's JSON, then one line with the medians and the ratio.
# Usage: bash bench/nextjs_metrics.sh   (RUNS=3 pairs of runs after WARMUP=2 unmeasured ones, PODS=50,
#        BATCHES=20 per pod, EVENTS=4 per batch; SERVER_NODE_ARGS, for instance "--cpu-prof --cpu-prof-dir=/tmp/prof", are given
#        to both servers' node)
#
# BATCHES is 20 by default because trainpod rate-limits each job's metrics route (a burst
# of 20, then 5 a second: core/src/sdk/builder.rs), as a pod sends a batch a second or less; a
# pod posting faster is answered 429, which counts as an error here. So every run (and the warm-up
# before them) posts for jobs of its own, each of which starts with its full burst.
#
# Needs Postgres's server binaries (scripts/postgres.sh), psql, Rust (the release addon, see
# bench/nextjs_app.sh) and npm (installs bench/nextjs-baseline's packages when missing).
set -Eeuo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
warmup=${WARMUP:-2}
rounds=$((warmup + runs))
pods=${PODS:-50}
batches=${BATCHES:-20}
events=${EVENTS:-4}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  wait "${pids[@]}" 2>/dev/null || true # the servers exit (and write any --cpu-prof profile)
  if [ -n "${TRAINPOD_PG_DIR:-}" ]; then scripts/postgres.sh stop; fi
  rm -rf "$work"
}
trap cleanup EXIT
source bench/nextjs_app.sh

addon=$(release_addon)
example_copy "$work/example" "$addon"
baseline=$PWD/bench/nextjs-baseline
if [ ! -d "$baseline/node_modules/next" ]; then
  (cd "$baseline" && npm ci --no-audit --no-fund --loglevel=error)
fi
(cd "$baseline" && NEXT_TELEMETRY_DISABLED=1 npx next build >"$work/baseline-build.log" 2>&1) ||
  { cat "$work/baseline-build.log" >&2; exit 1; }

# One Postgres, a database for each app. Both get trainpod's tables (its migrations, run by opening
# the store) and the same jobs: round r's pod i posts for job r<r>-<i> (the first rounds warm up).
eval "$(scripts/postgres.sh start)"
tp_db=$TRAINPOD_TEST_DATABASE_URL
base_db=${tp_db%/*}/baseline
psql -q "$tp_db" -c 'create database baseline'
jobs_sql="insert into trainpod_jobs (job_id, user_id, attempt, state, created_at, updated_at, deadline_unix,
  budget_usd, price_per_hour)
  select 'r' || r || '-' || i, 'bench', 1, 'training', t, t, t + 86400, 1, 0
  from generate_series(1, $rounds) r, generate_series(1, $pods) i, (select extract(epoch from now())::bigint t) now"
for db in "$tp_db" "$base_db"; do
  (cd "$work/example" && node -e 'require("trainpod").Store.open(process.argv[1]).then(() => process.exit(0))' "$db")
  psql -q "$db" -c "$jobs_sql"
done

tp_port=$(free_port)
base_port=$(free_port)
tp_url=http://127.0.0.1:$tp_port
base_url=http://127.0.0.1:$base_port
keys="k1:active:$(cd "$work/example" && node -e 'console.log(require("trainpod").generateSecret())')"
base_secret=$(node -e 'console.log(require("node:crypto").randomBytes(32).toString("base64url"))')

# Each pod's token: trainpod's metrics token as `deploy` issues it (metrics.write, the job, its
# attempt), and for the baseline an HS256 JWT with the same claims, signed with jose.
# shellcheck disable=SC2016 # JavaScript in single quotes
(cd "$work/example" && node -e '
  const fs = require("node:fs");
  const { Tokens } = require("trainpod");
  const [keys, audience, rounds, pods, dir] = process.argv.slice(1);
  const tokens = new Tokens({ keys, audience });
  for (let r = 1; r <= Number(rounds); r++) {
    const list = [];
    for (let i = 1; i <= Number(pods); i++) {
      const job = `r${r}-${i}`;
      list.push({ job, token: tokens.issue({ purpose: "metrics.write", user: "bench", job, epoch: 1, ttlSecs: 3600 }).token });
    }
    fs.writeFileSync(`${dir}/trainpod-${r}.json`, JSON.stringify(list));
  }' "$keys" "$tp_url" "$rounds" "$pods" "$work")
# shellcheck disable=SC2016
(cd "$baseline" && node --input-type=module -e '
  import { randomUUID } from "node:crypto";
  import { writeFileSync } from "node:fs";
  import { SignJWT } from "jose";
  const [secret, audience, rounds, pods, dir] = process.argv.slice(1);
  const key = Buffer.from(secret, "base64url");
  const now = Math.floor(Date.now() / 1000);
  for (let r = 1; r <= Number(rounds); r++) {
    const list = [];
    for (let i = 1; i <= Number(pods); i++) {
      const job = `r${r}-${i}`;
      const token = await new SignJWT({ pur: "metrics.write", job, ep: 1, jti: randomUUID() })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuer("trainpod").setAudience(audience).setSubject("bench")
        .setIssuedAt(now).setNotBefore(now).setExpirationTime(now + 3600)
        .sign(key);
      list.push({ job, token });
    }
    writeFileSync(`${dir}/baseline-${r}.json`, JSON.stringify(list));
  }' "$base_secret" "$base_url" "$rounds" "$pods" "$work")

read -ra node_args <<<"${SERVER_NODE_ARGS:-}"
# Both servers as they run in production (`next start`), each in its own process group. The local
# provider's URL only makes the example accept a loopback app URL: nothing deploys, nothing calls it.
(
  cd "$work/example"
  TRAINPOD_SIGNING_KEYS=$keys TRAINPOD_APP_URL=$tp_url TRAINPOD_STORE=$tp_db TRAINPOD_DATASETS_DIR=$work \
    TRAINPOD_LOCAL_PROVIDER=http://127.0.0.1:9/v2 TRAINPOD_LOCAL_PROVIDER_KEY=unused NEXT_TELEMETRY_DISABLED=1 \
    exec setsid node "${node_args[@]}" node_modules/next/dist/bin/next start -H 127.0.0.1 -p "$tp_port" >"$work/trainpod.log" 2>&1
) &
pids+=($!)
(
  cd "$baseline"
  BASELINE_JWT_SECRET=$base_secret BASELINE_APP_URL=$base_url BASELINE_DATABASE_URL=$base_db NEXT_TELEMETRY_DISABLED=1 \
    exec setsid node "${node_args[@]}" node_modules/next/dist/bin/next start -H 127.0.0.1 -p "$base_port" >"$work/baseline.log" 2>&1
) &
pids+=($!)
tp_route="$tp_url/api/training/jobs/{job}/metrics"
base_route="$base_url/api/jobs/{job}/metrics"
# Ready once the route answers a batch without a token (401): the route compiled, the store open.
for route in "$tp_route" "$base_route"; do
  url=${route/\{job\}/r1-1}
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url")" = 401 ] && break
    sleep 0.1
  done
  [ "$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url")" = 401 ] ||
    { echo "no answer from $url" >&2; tail -n 20 "$work"/*.log >&2; exit 1; }
done

load() { node bench/node/metrics_load.mjs "$1" "$2" "$batches" "$events"; }

# CPU time so far (ms) of a server process (its main thread, where JavaScript runs, and its other
# threads: trainpod's tokio workers, V8's and libuv's) and of the Postgres backends serving a
# database (this script's Postgres only: the children of its postmaster).
cpu() {
  python3 - "$1" "$2" "$(head -1 "$TRAINPOD_PG_DIR/data/postmaster.pid")" <<'PY'
import glob, json, os, sys
pid, db, postmaster = sys.argv[1:4]
tck = os.sysconf("SC_CLK_TCK")
def ms(stat):
    f = open(stat).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) * 1000 / tck, f[1]  # utime + stime, and the parent
main, _ = ms(f"/proc/{pid}/task/{pid}/stat")
total, _ = ms(f"/proc/{pid}/stat")
pg = 0
for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
    try:
        if open(cmdline, "rb").read().startswith(f"postgres: postgres {db} ".encode()):
            used, parent = ms(cmdline[: -len("cmdline")] + "stat")
            pg += used if parent == postmaster else 0
    except OSError:
        pass
print(json.dumps({"main": main, "other": total - main, "pg": pg}))
PY
}

# One run: the load's JSON with the CPU each request cost the server and Postgres added.
measure() { # ROUTE TOKENS SERVER_PID DATABASE
  local before after out
  before=$(cpu "$3" "$4")
  out=$(load "$1" "$2")
  after=$(cpu "$3" "$4")
  python3 -c '
import json, sys
run, a, b = (json.loads(x) for x in sys.argv[1:4])
per = lambda k: round((b[k] - a[k]) / run["requests"], 2)
run.update(server_js_thread_cpu_ms_per_req=per("main"), server_other_threads_cpu_ms_per_req=per("other"),
           postgres_cpu_ms_per_req=per("pg"))
print(json.dumps(run))' "$out" "$before" "$after"
}

# The warm-up rounds: JIT, connection pools, the routes' first calls.
for r in $(seq "$warmup"); do
  load "$tp_route" "$work/trainpod-$r.json" >/dev/null
  load "$base_route" "$work/baseline-$r.json" >/dev/null
  load "$base_url/api/noop" "$work/baseline-$r.json" >/dev/null
done
# Each run also times the baseline app's /api/noop (the body read, {"ok":true} answered, nothing
# else): what `next start` costs alone, the ceiling of both routes here.
tp_runs=() base_runs=() noop_runs=()
run_trainpod() {
  tp_runs+=("$(measure "$tp_route" "$work/trainpod-$1.json" "${pids[0]}" "${tp_db##*/}")")
  echo "trainpod $1: ${tp_runs[-1]}" >&2
}
run_baseline() {
  base_runs+=("$(measure "$base_route" "$work/baseline-$1.json" "${pids[1]}" "${base_db##*/}")")
  echo "baseline $1: ${base_runs[-1]}" >&2
}
for r in $(seq $((warmup + 1)) "$rounds"); do # interleaved, so drift on a shared machine hits all alike
  if (((r - warmup) % 2)); then
    run_trainpod "$r" && run_baseline "$r"
  else
    run_baseline "$r" && run_trainpod "$r"
  fi
  noop_runs+=("$(measure "$base_url/api/noop" "$work/baseline-$r.json" "${pids[1]}" "${base_db##*/}")")
  echo "noop $r: ${noop_runs[-1]}" >&2
done

# Both apps wrote every batch once, its events, and each job's last step.
count="select (select count(*) from trainpod_metric_batches) || ' ' || (select count(*) from trainpod_job_events)
  || ' ' || (select count(*) from trainpod_jobs where step = $((2 * batches * events)))"
tp_rows=$(psql -qtA "$tp_db" -c "$count")
base_rows=$(psql -qtA "$base_db" -c "$count")

python3 - "$tp_rows" "$base_rows" "$((pods * batches * rounds)) $((pods * batches * rounds)) $((pods * rounds))" \
  "$(printf '%s\n' "${tp_runs[@]}")" "$(printf '%s\n' "${base_runs[@]}")" "$(printf '%s\n' "${noop_runs[@]}")" <<'PY'
import json, statistics, sys
tp_rows, base_rows, want = sys.argv[1:4]
tp, base, noop = ([json.loads(l) for l in arg.splitlines()] for arg in sys.argv[4:7])
errors = sum(r["errors"] for r in tp + base + noop)
med = lambda runs, k: statistics.median(r[k] for r in runs)
out = {"benchmark": "metrics route of the Next.js example on Postgres, concurrent pods",
    "pods": tp[0]["pods"], "batches_per_pod": tp[0]["batches_per_pod"], "events_per_batch": tp[0]["events_per_batch"],
    "runs": len(tp), "trainpod_rps": med(tp, "rps"), "baseline_rps": med(base, "rps"),
    "ratio": round(med(tp, "rps") / med(base, "rps"), 2),
    "ratios_per_pair": [round(a["rps"] / b["rps"], 2) for a, b in zip(tp, base)],
    "trainpod_p50_ms": med(tp, "p50_ms"), "trainpod_p99_ms": med(tp, "p99_ms"),
    "baseline_p50_ms": med(base, "p50_ms"), "baseline_p99_ms": med(base, "p99_ms"),
    "trainpod_runs_rps": [r["rps"] for r in tp], "baseline_runs_rps": [r["rps"] for r in base],
    "nextjs_noop_rps": med(noop, "rps"), "nextjs_noop_p50_ms": med(noop, "p50_ms"), "noop_runs_rps": [r["rps"] for r in noop],
    "cpu_ms_per_request": {name: {k: med(runs, k + "_cpu_ms_per_req") for k in ("server_js_thread", "server_other_threads", "postgres")}
        for name, runs in (("trainpod", tp), ("baseline", base), ("noop", noop))},
    "errors": errors, "rows_ok": tp_rows == want and base_rows == want, "target": ">= 1x the baseline's rps"}
print(json.dumps(out))
if errors or not out["rows_ok"]:
    sys.exit(f"errors: {errors}; rows (batches, events, jobs at their last step): trainpod {tp_rows}, "
             f"baseline {base_rows}, expected {want}")
PY
