#!/usr/bin/env bash
# A throwaway Postgres for tests, from the machine's own binaries, on a loopback port.
#   eval "$(scripts/postgres.sh start)"   # exports TRAINPOD_TEST_DATABASE_URL and TRAINPOD_PG_DIR
#   scripts/postgres.sh restart           # the same server, restarted in place
#   scripts/postgres.sh stop              # stops it and removes its directory
set -Eeuo pipefail

bin_dir() {
  local d
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  done
  command -v pg_ctl >/dev/null && { dirname "$(command -v pg_ctl)"; return; }
  echo "postgres.sh: no Postgres server binaries (initdb, pg_ctl) found; install postgresql" >&2
  exit 1
}

# Postgres refuses to run as root: run its commands as the postgres user then.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  local bin dir port
  bin=$(bin_dir)
  dir=$(mktemp -d /tmp/trainpod-pg.XXXXXX)
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  port=${PGPORT:-$(free_port)}
  as_pg "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
  as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=off" start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
  as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres trainpod_test
  echo "export TRAINPOD_PG_DIR=$dir"
  echo "export TRAINPOD_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$port/trainpod_test"
}

stop() {
  local dir=${TRAINPOD_PG_DIR:?set TRAINPOD_PG_DIR (printed by start)}
  [ -d "$dir/data" ] && as_pg "$(bin_dir)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}

# Restart the server in place (same data, port and options): what a database failover looks like
# to its clients, for the fault tests.
restart() {
  local dir=${TRAINPOD_PG_DIR:?set TRAINPOD_PG_DIR (printed by start)}
  as_pg "$(bin_dir)/pg_ctl" -D "$dir/data" -l "$dir/server.log" -m fast -w -t 30 restart >/dev/null
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart) restart ;;
  *) echo "usage: $0 start|stop|restart" >&2; exit 2 ;;
esac
