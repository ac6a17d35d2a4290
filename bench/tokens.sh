#!/usr/bin/env bash
# Token verification against the baselines, in one run: Rust (criterion: trainpod vs the
# jsonwebtoken crate), Node (the binding vs jose) and Python (the binding vs PyJWT).
# Usage: bash bench/tokens.sh      (release builds; takes a few minutes)
# One JSON line per language. WARM_UP_S and MEASURE_S set criterion's times (default 2 and 5).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

# criterion prints each benchmark's name, then `time: [low median high]`; keep the medians.
cargo bench -p trainpod-bench --bench token_verify -- --warm-up-time "${WARM_UP_S:-2}" --measurement-time "${MEASURE_S:-5}" 2>/dev/null \
  | grep -A1 -E '^token_verify/(trainpod_v1|jsonwebtoken_hs256)$' | grep -o 'time: *\[[^]]*\]' \
  | awk '{ v = $4; if ($5 == "ns") v /= 1000; m[NR] = v }
         END { printf "{\"benchmark\":\"rust token verify\",\"trainpod_us\":%.2f,\"jsonwebtoken_us\":%.2f,\"ratio\":%.2f,\"target\":\">= 1.5x jsonwebtoken\"}\n", m[1], m[2], m[2] / m[1] }'

(cd bindings-node && npm ci --no-audit --no-fund --ignore-scripts >/dev/null && npm run build:release >/dev/null)
npm ci --prefix bench/node --no-audit --no-fund >/dev/null
node bench/node/verify.mjs

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -q -r bindings-python/requirements-dev.txt
.venv/bin/maturin develop -q --release -m bindings-python/Cargo.toml
.venv/bin/python bench/python/verify.py
