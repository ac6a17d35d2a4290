# shellcheck shell=bash
# Sourced by bench/nextjs.sh and bench/event_loop.sh.
#
#   live_job_store APP DB   creates the SQLite store DB (migrated by the trainpod package that the
#                           app at APP uses) holding one job, "bench", in `training`: the dataset
#                           route serves a token only while its job is live. The job is written
#                           directly: a deploy would need a plan, and a random file is no dataset a
#                           plan accepts.
live_job_store() {
  local app=$1 db=$2
  (cd "$app" && node -e 'require("trainpod").Store.open(process.argv[1]).then(() => process.exit(0))' "sqlite://$db")
  python3 - "$db" <<'PY'
import sqlite3, sys, time
now = int(time.time())
with sqlite3.connect(sys.argv[1]) as db:
    db.execute(
        "insert into trainpod_jobs (job_id, user_id, attempt, state, created_at, updated_at,"
        " deadline_unix, budget_usd, price_per_hour) values ('bench', 'bench', 1, 'training', ?, ?, ?, 1, 0)",
        (now, now, now + 86400),
    )
PY
}
