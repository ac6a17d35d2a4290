#!/usr/bin/env bash
# Every test of trainpod: Rust, Python and Node, against a real Postgres and a real
# S3-compatible server (s3s-fs, built once into ~/.cache/trainpod) started here.
# Usage: bash scripts/test.sh
set -Eeuo pipefail
cd "$(dirname "$0")/.."
root=$PWD

passed=()
stage() {
  printf '\n==== %s ====\n' "$1"
  stage_start=$SECONDS
}
done_stage() {
  passed+=("$1 ($((SECONDS - stage_start)) s)")
  printf -- '---- %s: ok in %d s\n' "$1" "$((SECONDS - stage_start))"
}

stage "services: Postgres, S3 server"
eval "$(scripts/postgres.sh start)"
trap 'scripts/postgres.sh stop' EXIT
export TRAINPOD_REQUIRE_POSTGRES=1 # the Postgres tests fail instead of skipping
scripts/s3-server.sh install # a no-op once the binary is cached
s3_env=$(scripts/s3-server.sh start) # an assignment, so that a failed start stops the run
eval "$s3_env"
trap 'scripts/s3-server.sh stop; scripts/postgres.sh stop' EXIT
export TRAINPOD_REQUIRE_S3=1 # the S3 staging tests fail instead of skipping
done_stage "services"

stage "rust: format and lint"
cargo fmt --all --check
# `schema` builds core's JSON Schema derives and the bindings' code generator (an example).
cargo clippy --workspace --all-targets --locked --features trainpod/schema -- -D warnings
# The bindings convert types and map errors: each stays a small share of core.
python3 scripts/binding-ratio.py --max 15
done_stage "rust lint"

stage "pod scripts: lint, training venv"
shellcheck core/src/script/pod/bootstrap.sh scripts/s3-server.sh bench/gpu/run.sh scripts/packages.sh scripts/smoke.sh
# A Python with the pinned training stack, for the real TRL runs of the generated scripts.
# It is large (torch with its CUDA libraries, about 6 GB installed), so it is kept between local runs.
TRAINPOD_TRAIN_PYTHON=$(bash scripts/train-venv.sh)
export TRAINPOD_TRAIN_PYTHON TRAINPOD_REQUIRE_TRAINING=1
done_stage "pod scripts"

stage "rust: tests"
# The Node binding's Rust code is tested through Node: a napi test executable cannot link
# without a Node process to provide the napi symbols.
log=$(mktemp)
cargo test --workspace --exclude trainpod-node --locked 2>&1 | tee "$log"
ran=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$log" | awk '{s+=$4} END {print s+0}')
rm -f "$log"
[ "$ran" -gt 0 ] || { echo "cargo test ran no test" >&2; exit 1; }
done_stage "rust tests ($ran)"

# The Python and Node suites start the RunPod emulator themselves.
cargo build -q --locked -p trainpod-emulator -p trainpod-cli
export TRAINPOD_EMULATOR="$root/target/debug/trainpod-emulator"

stage "python: build, lint, tests"
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -r bindings-python/requirements-dev.txt
.venv/bin/maturin develop -q -m bindings-python/Cargo.toml
# `pip install ./bindings-python` from a clean clone builds and installs the package, with its
# stubs and py.typed (the dev profile here, reusing this run's build; a user gets release).
clean=$(mktemp -d)
git clone -q "$root" "$clean/clone"
python3 -m venv "$clean/venv"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}" MATURIN_PEP517_ARGS="--profile dev" \
  "$clean/venv/bin/pip" install -q "$clean/clone/bindings-python"
"$clean/venv/bin/python" -c 'import importlib.resources as r, trainpod
assert trainpod.Trainpod and r.files("trainpod").joinpath("py.typed").is_file()
assert r.files("trainpod").joinpath("_native.pyi").is_file()'
rm -rf "$clean"
# The type stubs are generated from the pyo3 signatures: a stale committed copy fails the build.
.venv/bin/python bindings-python/stubgen.py
git -C "$root" diff --exit-code -- bindings-python/python/trainpod/_native.pyi
# The error classes and the result types of both bindings are generated from core's types
# (core/examples/bindings_codegen/): a stale committed copy fails the build.
cargo run -q --locked -p trainpod --example bindings_codegen --features schema
git -C "$root" diff --exit-code -- bindings-python/python/trainpod/exceptions.py \
  bindings-python/python/trainpod/_types.py bindings-python/python/trainpod/_inputs.py
.venv/bin/ruff check bindings-python bench/python bench/pod bench/gpu core/src/script/pod tests/e2e/py scripts examples/python
.venv/bin/ruff format --check bindings-python bench/python bench/pod bench/gpu core/src/script/pod tests/e2e/py scripts examples/python
.venv/bin/mypy --config-file bindings-python/pyproject.toml
set +e
.venv/bin/pytest bindings-python/tests -q
code=$?
set -e
[ "$code" = 5 ] && { echo "pytest collected no test" >&2; exit 1; }
[ "$code" = 0 ] || exit "$code"
done_stage "python"

stage "node: build, lint, tests"
(
  cd bindings-node
  # Its own install script would build a release module first; `npm run build` makes it here.
  npm ci --no-audit --no-fund --ignore-scripts
  npm run build
  # The declarations are generated: a stale committed copy fails the build.
  git -C "$root" diff --exit-code -- bindings-node/binding.d.ts bindings-node/binding.js
  # So are the error classes and the plain-object types (written in the Python stage above).
  git -C "$root" diff --exit-code -- bindings-node/errors.js bindings-node/errors.d.ts bindings-node/types.d.ts
  npm run lint
  npm run typecheck
  npm test 2>&1 | tee /tmp/trainpod-node-test.log
  grep -Eq '^# pass [1-9]' /tmp/trainpod-node-test.log || { echo "node --test ran no test" >&2; exit 1; }
)
# `npm install ./bindings-node` from a clean clone builds the native module (the dev profile
# here, reusing this run's build; a user gets the release one) and the package loads.
clean=$(mktemp -d)
git clone -q "$root" "$clean/clone"
(
  mkdir "$clean/app" && cd "$clean/app" && npm init -y >/dev/null
  CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$root/target}" TRAINPOD_BUILD_PROFILE=dev \
    npm install --no-audit --no-fund "$clean/clone/bindings-node"
  node -e 'const t = require("trainpod"); if (typeof t.Trainpod !== "function") process.exit(1)'
)
rm -rf "$clean"
done_stage "node"

stage "packages: build, install with no Rust, release workflow"
# The Linux x86_64 wheel, sdist and npm tarballs, installed into a fresh venv and a fresh Next.js
# app outside the repository with no cargo or rustc on PATH (docs/packaging.md). The dev profile
# reuses this run's build; the release workflow builds release.
python3 scripts/versions.py
bash scripts/packages.sh --profile dev --out "$root/target/packages"
.venv/bin/python scripts/check-workflow.py
done_stage "packages"

stage "nextjs example: build, lint, routes, a job, the browser"
bash examples/nextjs/test.sh
done_stage "nextjs"

stage "quickstart"
# The smoke run of the release workflow, on the local provider: the quickstart, then its summary
# checked (succeeded, pod gone, the bill within the estimate; the loss, the adapter, no process).
bash scripts/smoke.sh --summary /tmp/trainpod-quickstart.json
cargo run -q --locked -p trainpod-examples --bin tokens >/dev/null
# The same lifecycle from Python: the example script, then the notebook built on it, executed by
# nbclient; any error in a cell fails the run.
"$root/.venv/bin/python" examples/python/quickstart.py
(cd examples/python && "$root/.venv/bin/jupyter" execute --output /tmp/trainpod-notebook quickstart.ipynb)
# What a person sees: the plan's cost table (HTML) and the loss curve (a PNG) were drawn.
python3 - /tmp/trainpod-notebook.ipynb <<'EOF_NB'
import json, sys
cells = json.load(open(sys.argv[1]))["cells"]
outputs = [out for c in cells for out in c.get("outputs", [])]
shown = {kind for out in outputs for kind in out.get("data", {})}
missing = {"text/html", "image/png"} - shown
traced = [out for out in outputs if "Traceback" in "".join(out.get("text", ""))]
if missing:
    sys.exit(f"the executed notebook shows no {sorted(missing)}")
if traced:
    sys.exit(f"the executed notebook printed a traceback: {''.join(traced[0]['text'])}")
EOF_NB
done_stage "quickstart"

printf '\n'
for s in "${passed[@]}"; do printf 'passed: %s\n' "$s"; done
echo "${#passed[@]} passed, 0 failed"
