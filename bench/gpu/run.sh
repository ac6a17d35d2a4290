#!/usr/bin/env bash
# The GPU benchmark in one command: trainpod's trainer.py against a plain TRL SFT script.
# usage: bash bench/gpu/run.sh [--out DIR] [--cpu-smoke] [bench.py options]
# PYTHON picks the Python with torch (CUDA), transformers, trl, peft, bitsandbytes, accelerate.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "missing: python ($PYTHON is not on PATH; set PYTHON=/path/to/python)" >&2
  exit 2
fi
exec "$PYTHON" "$here/bench.py" "$@"
