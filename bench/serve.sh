#!/usr/bin/env bash
# Serving a dataset over loopback: the Rust dataset server (trainpod::staging::server) against
# nginx with sendfile, the same file fetched by curl in the same run. Also a `curl -C -` resume
# through the Rust server (sha256 checked) and the server's peak memory.
# Usage: bash bench/serve.sh [SIZE_MB]   (default 1024)
#
# nginx: the one on PATH, else Debian's `nginx` package (1.22 in bookworm; `nginx-light` is only
# a transitional name for it there) unpacked into the work directory with `apt-get download` +
# `dpkg -x`: nothing installed, no daemon left behind. CI images can `apt-get install -y nginx`.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-1024}
runs=${RUNS:-3}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
mkdir -p "$root"
chmod 755 "$work" "$root" # nginx workers started by root run as nobody
head -c "$((size_mb << 20))" /dev/urandom >"$root/ds-bench"
bytes=$(stat -c %s "$root/ds-bench")
want=$(openssl dgst -sha256 -r "$root/ds-bench" | cut -d' ' -f1) # also warms the page cache

source bench/nginx.sh
start_nginx "$work" "$root"

cargo build -q --release --locked -p trainpod-bench --bin serve_datasets
target=${CARGO_TARGET_DIR:-target}
"$target/release/serve_datasets" "$root" ds-bench >"$work/rust.json" &
rust_pid=$!
pids+=("$rust_pid")
for _ in $(seq 100); do [ -s "$work/rust.json" ] && break; sleep 0.1; done
url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["url"])' "$work/rust.json")
token=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' "$work/rust.json")
auth=(-H "Authorization: Bearer $token")
nginx_url="http://127.0.0.1:$nginx_port/datasets/ds-bench"
for _ in $(seq 50); do curl -fsS -o /dev/null -r 0-0 "$nginx_url" 2>/dev/null && break; sleep 0.1; done

speed() { curl -fsS -o /dev/null -w '%{speed_download}\n' "$@"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rust=() nginx=()
for _ in $(seq "$runs"); do # interleaved, so drift on a shared machine hits both alike
  rust+=("$(speed "${auth[@]}" "$url")")
  nginx+=("$(speed "$nginx_url")")
done
rust_bps=$(printf '%s\n' "${rust[@]}" | median)
nginx_bps=$(printf '%s\n' "${nginx[@]}" | median)

# Resume through the Rust server: the first third on disk, the rest fetched with `curl -C -`.
head -c "$((bytes / 3))" "$root/ds-bench" >"$work/resumed"
code=$(curl -fsS -C - "${auth[@]}" -o "$work/resumed" -w '%{http_code}' "$url")
got=$(openssl dgst -sha256 -r "$work/resumed" | cut -d' ' -f1)
if [ "$code" != 206 ] || [ "$got" != "$want" ]; then echo "resume failed: $code $got" >&2; exit 1; fi
rss_kb=$(awk '/VmHWM/ {print $2}' "/proc/$rust_pid/status")

python3 - "$bytes" "$rust_bps" "$nginx_bps" "$rss_kb" <<'PY'
import json, sys
b, r, n, rss = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
print(json.dumps({"benchmark": "serve dataset over loopback", "bytes": b,
    "rust_server_MBps": round(r / 1e6), "nginx_sendfile_MBps": round(n / 1e6),
    "ratio": round(r / n, 2), "target": ">= 0.8x nginx", "resume_sha256": "ok",
    "rust_server_peak_rss_MB": round(rss / 1024, 1)}))
PY
