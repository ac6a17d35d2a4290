#!/usr/bin/env bash
# A throwaway S3-compatible server for tests: s3s-fs, which verifies SigV4 signatures (header and
# presigned) and presigned expiry, serving a temporary directory on a loopback port.
#   scripts/s3-server.sh install              # builds s3s-fs once into the cache (about 2 min)
#   eval "$(scripts/s3-server.sh start)"      # exports TRAINPOD_TEST_S3_* and TRAINPOD_S3_DIR
#   scripts/s3-server.sh stop                 # stops it and removes its directory
# The binary is cached under ${TRAINPOD_TOOLS_DIR:-~/.cache/trainpod}; install is a no-op when
# it is there. 0.14.1 is pinned: 0.15 and later need a newer rustc than the workspace's.
set -Eeuo pipefail

version=0.14.1
tools=${TRAINPOD_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trainpod}
root=$tools/s3s-fs-$version
bin=$root/bin/s3s-fs

install() {
  [ -x "$bin" ] && return
  echo "s3-server.sh: building s3s-fs $version into $root (once)" >&2
  mkdir -p "$tools"
  # Its own target directory, so the build neither reuses nor pollutes the workspace's. A debug
  # build: it compiles in a fraction of a release build's time, and the tests move megabytes.
  local build
  build=$(mktemp -d "$tools/build.XXXXXX")
  (cd "$tools" && env -u CARGO_TARGET_DIR CARGO_TARGET_DIR="$build" \
    cargo install s3s-fs --version "$version" --features binary --locked --debug --root "$root" -q) \
    || { rm -rf "$build"; exit 1; }
  rm -rf "$build"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
  install >&2 # stdout carries only the exports
  local dir port key secret pid i
  dir=$(mktemp -d /tmp/trainpod-s3.XXXXXX)
  port=$(free_port)
  key=trainpod-test-key
  # A fresh secret per server: nothing in the tests can pass by knowing a constant. It starts
  # with a letter: a URL-safe token may start with '-', which the server's flags parser reads as
  # an option.
  secret=k$(python3 -c 'import secrets; print(secrets.token_urlsafe(30))')
  # Buckets are the root's directories: one for bucket staging, one standing for a network volume.
  mkdir -p "$dir/data/trainpod-test" "$dir/data/volume-test"
  "$bin" --host 127.0.0.1 --port "$port" --access-key "$key" --secret-key "$secret" \
    "$dir/data" >"$dir/server.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/pid"
  for i in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
    if ! kill -0 "$pid" 2>/dev/null || [ "$i" = 100 ]; then
      cat "$dir/server.log" >&2
      echo "s3-server.sh: s3s-fs did not start" >&2
      exit 1
    fi
    sleep 0.1
  done
  echo "export TRAINPOD_S3_DIR=$dir"
  echo "export TRAINPOD_TEST_S3_ENDPOINT=http://127.0.0.1:$port"
  echo "export TRAINPOD_TEST_S3_ACCESS_KEY=$key"
  echo "export TRAINPOD_TEST_S3_SECRET_KEY=$secret"
  echo "export TRAINPOD_TEST_S3_BUCKET=trainpod-test"
  echo "export TRAINPOD_TEST_S3_VOLUME=volume-test"
}

stop() {
  local dir=${TRAINPOD_S3_DIR:?set TRAINPOD_S3_DIR (printed by start)}
  if [ -f "$dir/pid" ]; then
    kill "$(cat "$dir/pid")" 2>/dev/null || true
  fi
  rm -rf "$dir"
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 install|start|stop" >&2; exit 2 ;;
esac
