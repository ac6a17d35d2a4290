#!/usr/bin/env bash
# The pod side's Python for local runs: a venv with the pinned training stack (torch, TRL, PEFT),
# created once in .venv-train and kept (torch with its CUDA libraries takes about 6 GB). Prints the
# interpreter's path. No pip cache: the venv itself is what is kept, and a second copy of the
# wheels would double the disk this needs.
set -Eeuo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ -x .venv-train/bin/python ] || python3 -m venv .venv-train >&2
if ! .venv-train/bin/python core/src/script/pod/deps.py check scripts/train-requirements.txt >/dev/null; then
  echo "installing the pinned training stack into .venv-train (once; about 2 minutes)" >&2
  .venv-train/bin/pip install -q --disable-pip-version-check --no-cache-dir -r scripts/train-requirements.txt >&2
fi
echo "$root/.venv-train/bin/python"
