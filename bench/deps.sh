#!/usr/bin/env bash
# The pod's dependency stage, installing the pinned stack (trainpod::script::PINNED_STACK) over an
# image's torch from the registry (PyPI), in the same run:
#   stage_uv        the bootstrap's dependency stage, run for real (the bundle, unpacked and run
#                   as the pod runs it), with the uv binary the bundle names;
#   stage_uv_fetch  the same stage when the image has no uv: it fetches uv with pip first;
#   bare_uv         `uv pip install` of the same set under the same constraints, nothing else;
#   pip             the pip command of the stage before uv (and of its fallback today).
# Each run installs into a fresh environment that already holds torch (a hard-linked copy of a
# torch-only venv; see below), with empty uv and pip caches, as a new pod has.
#
#   bash bench/deps.sh [RUNS]     (default 3; needs TRAINPOD_TRAIN_PYTHON or .venv-train, and PyPI)
#   ARMS="stage_uv bare_uv" bash bench/deps.sh 5     (some arms only)
#
# The torch-only venv is made once under $BENCH_DIR (default /tmp/trainpod-bench-deps): a copy of
# the training venv with every package uninstalled but torch, what torch requires, and pip.
set -Eeuo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
dir=${BENCH_DIR:-/tmp/trainpod-bench-deps}
train=${TRAINPOD_TRAIN_PYTHON:-$root/.venv-train/bin/python}
uv_version=$(sed -n 's/^pub const UV_VERSION: &str = "\(.*\)";/\1/p' "$root/core/src/script/config.rs")
mkdir -p "$dir"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}

# ---- once: the torch-only venv and a uv ----
base=$dir/torch-only
if [[ ! -x $base/bin/python ]]; then
  venv=$(cd "$(dirname "$train")/.." && pwd)
  echo "making the torch-only venv from $venv (once)" >&2
  rm -rf "$base.tmp"
  cp -a "$venv" "$base.tmp"
  keep=$("$base.tmp/bin/python" - <<'EOF'
import re
from importlib import metadata
seen, todo = set(), ["torch", "pip"]
while todo:
    name = re.split(r"[ ;<>=!~\[(]", todo.pop())[0].lower().replace("_", "-")
    if name in seen:
        continue
    seen.add(name)
    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        continue
    todo += [r for r in dist.requires or [] if "extra ==" not in r]
# torch's CUDA libraries come through extras (cuda-toolkit[cudart,...]): keep them all.
seen |= {
    d.metadata["Name"].lower().replace("_", "-")
    for d in metadata.distributions()
    if d.metadata["Name"].lower().startswith(("nvidia-", "cuda-"))
}
print(" ".join(sorted(seen)))
EOF
  )
  # shellcheck disable=SC2086 # a word list
  drop=$("$base.tmp/bin/python" -c '
import sys
from importlib import metadata
keep = set(sys.argv[1:])
names = {d.metadata["Name"].lower().replace("_", "-") for d in metadata.distributions()}
print(" ".join(sorted(names - keep)))' $keep)
  # shellcheck disable=SC2086 # word lists
  "$base.tmp/bin/python" -m pip uninstall -q -y $drop >&2
  mv "$base.tmp" "$base"
fi
uv=$dir/uv/bin/uv
if [[ ! -x $uv ]]; then
  python3 -m pip install -q --disable-pip-version-check --target "$dir/uv" "uv==$uv_version" >&2
fi
torch_of() { "$1" -c 'import torch; print(torch.__version__)'; }
torch_before=$(torch_of "$base/bin/python")

cargo build -q -p trainpod-bench --bin pod_bundle --bin model_cache
bundle_bin=$CARGO_TARGET_DIR/debug/pod_bundle
printf '%s\n' '{"text":"hello"}' >"$dir/data.jsonl"
path_without_uv=$(tr ':' '\n' <<<"$PATH" | while read -r d; do [[ -e $d/uv ]] || printf '%s:' "$d"; done)

fresh_env() { # fresh_env NAME: a new environment holding the image's torch
  rm -rf "${dir:?}/$1"
  cp -al "$base" "$dir/$1"
}

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# stage ENV [UV]: runs the bundle as the pod does and prints the stage's own figure from its log.
stage() {
  local env=$dir/$1 home=$dir/$1.home b pid
  rm -rf "$home" && mkdir -p "$home/bundle"
  b=$("$bundle_bin" --python "$env/bin/python" --dataset "$dir/data.jsonl" ${2:+--uv "$2"})
  printf %s "$b" | base64 -d | tar -xzf - -C "$home/bundle"
  TRAINPOD_HOME=$home PATH=$path_without_uv setsid bash "$home/bundle/bootstrap.sh" \
    >"$home/out.log" 2>&1 &
  pid=$!
  until grep -qs 'trainpod: final:' "$home/out.log"; do sleep 0.5; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  grep -q 'final: succeeded' "$home/out.log" || { cat "$home/out.log" >&2; exit 1; }
  # uv's own account of its time (resolve, download and build, install), for the log.
  grep -E '^(Resolved|Prepared|Installed) ' "$home/out.log" | sed "s/^/$1: /" >&2 || true
  sed -n 's/.*dependencies installed with \(uv\|pip\) in \([0-9.]*\) s.*/\1 \2/p' "$home/out.log"
}

reqs=$dir/requirements.txt
sed -n '/^pub const PINNED_STACK/,/^];/s/^ *"\(.*\)",$/\1/p' "$root/core/src/script/config.rs" >"$reqs"

for run in $(seq "$runs"); do
  for arm in ${ARMS:-stage_uv stage_uv_fetch bare_uv pip}; do
    s=
    fresh_env "$arm"
    env=$dir/$arm
    "$env/bin/python" "$root/core/src/script/pod/deps.py" constraints >"$dir/constraints.txt"
    case $arm in
      stage_uv) read -r installer s < <(stage "$arm" "$uv") ;;
      stage_uv_fetch) read -r installer s < <(stage "$arm") ;;
      bare_uv)
        installer=uv t0=$(now)
        UV_CACHE_DIR=$(mktemp -d) UV_LINK_MODE=copy UV_NO_PROGRESS=1 "$uv" pip install \
          --python "$env/bin/python" -c "$dir/constraints.txt" -r "$reqs" 2>&1 |
          grep -E '^(Resolved|Prepared|Installed) ' | sed 's/^/bare_uv: /' >&2
        s=$(since "$t0")
        ;;
      pip)
        installer=pip t0=$(now)
        PIP_CACHE_DIR=$(mktemp -d) "$env/bin/python" -m pip install -q --disable-pip-version-check \
          --no-input -c "$dir/constraints.txt" -r "$reqs" >&2
        s=$(since "$t0")
        ;;
    esac
    [[ -n ${s:-} ]] || { echo "$arm gave no figure" >&2; exit 1; }
    torch_after=$(torch_of "$env/bin/python")
    [[ $torch_after == "$torch_before" ]] || { echo "$arm replaced torch ($torch_after)" >&2; exit 1; }
    "$env/bin/python" "$root/core/src/script/pod/deps.py" check "$reqs" >/dev/null ||
      { echo "$arm did not install the stack" >&2; exit 1; }
    printf '{"benchmark":"deps","run":%s,"arm":"%s","installer":"%s","seconds":%s,"torch":"%s"}\n' \
      "$run" "$arm" "$installer" "$s" "$torch_after"
    rm -rf "${dir:?}/$arm" "$dir/$arm.home"
  done
done
