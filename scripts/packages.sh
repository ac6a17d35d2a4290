#!/usr/bin/env bash
# The Linux x86_64 release artifacts, built and then installed the way a user installs them, with
# no Rust on PATH (docs/packaging.md):
#   the wheel (abi3, manylinux; the native module and the local provider in trainpod/bin/),
#   checked with `auditwheel show`, and the sdist;
#   the npm tarballs `trainpod` (JavaScript only, no install script) and `trainpod-linux-x64-gnu`
#   (the native module and the local provider in bin/); on another platform its own wheel and
#   platform tarball (--platform, --build-only).
# Then, with a PATH where `cargo` and `rustc` cannot be found: a fresh venv installs the wheel,
# imports it and plans a job on the local provider the wheel carries; a fresh Next.js app outside
# the repository installs the two tarballs with next and react, builds (`next build`), starts,
# and its one route plans a job on the local provider the platform package carries.
# Sizes and install times go to OUT/packages.json (bench/README.md, "Packages").
#
# Usage: bash scripts/packages.sh [--profile dev|release] [--out DIR] [--platform P] [--build-only]
#   --profile     the cargo profile of the native code (default release; CI passes dev to reuse
#                 the build its tests made; the release workflow builds release)
#   --out         where the artifacts go (default target/packages)
#   --platform    the npm platform built for, one of bindings-node/npm/*/ (default linux-x64-gnu;
#                 the release workflow runs this on each platform's own machine)
#   --build-only  build the artifacts, install nothing (the install check runs on linux-x64-gnu)
set -Eeuo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
profile=release out=$root/target/packages platform=linux-x64-gnu build_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --profile) profile=$2 && shift 2 ;;
    --out) out=$2 && shift 2 ;;
    --platform) platform=$2 && shift 2 ;;
    --build-only) build_only=1 && shift ;;
    *) echo "packages: unknown argument $1 (see the header)" >&2 && exit 2 ;;
  esac
done
[ -f "bindings-node/npm/$platform/package.json" ] || { echo "packages: no platform $platform in bindings-node/npm/" >&2 && exit 2; }
target=${CARGO_TARGET_DIR:-$root/target}
profile_dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
python=${TRAINPOD_DEV_PYTHON:-$root/.venv/bin/python} # has maturin and auditwheel (requirements-dev.txt)
start=$SECONDS
lap() { echo "packages: $* ($((SECONDS - start)) s)"; }
fail() {
  echo "packages: $*" >&2
  exit 1
}
# The program the packages carry: the `trainpod` command line, whose `trainpod local` is the
# local provider (both bindings' testing helpers start it as the emulator, `--no-pods` unless
# asked for pods).
provider_bins=(trainpod)
provider_crates=(trainpod-cli)
case $platform in
  linux-*) addon_built=libtrainpod_node.so ;;
  darwin-*) addon_built=libtrainpod_node.dylib ;;
esac
# A copy without its symbols: they are most of a binary's size and no user reads them.
stripped() {
  cp "$1" "$2"
  if [[ $platform == darwin-* ]]; then strip -x "$2"; else strip "$2"; fi
}

rm -rf "$out" && mkdir -p "$out/stage/bin"
work=$(mktemp -d)
wheel_bin=$root/bindings-python/python/trainpod/bin
trap 'rm -rf "$work" "$wheel_bin"' EXIT

# ---- build
for crate in "${provider_crates[@]}"; do cargo build -q --locked --profile "$profile" -p "$crate"; done
cargo build -q --locked --profile "$profile" -p trainpod-node
for bin in "${provider_bins[@]}"; do stripped "$target/$profile_dir/$bin" "$out/stage/bin/$bin"; done
addon=$out/stage/trainpod.$platform.node
stripped "$target/$profile_dir/$addon_built" "$addon"
lap "native code built ($profile)"

# The wheel carries the local provider as package data (trainpod/bin/, found by trainpod.testing);
# the folder is ignored by git and removed on exit. The sdist leaves it out (pyproject.toml).
mkdir -p "$wheel_bin" && cp "$out/stage/bin/"* "$wheel_bin/"
maturin() { "$python" -m maturin "$@" >"$work/maturin.log" 2>&1 || { cat "$work/maturin.log" && fail "maturin $1 failed"; }; }
# MATURIN_ARGS: more options, the release workflow's `--compatibility manylinux_2_28` say.
read -ra maturin_args <<<"${MATURIN_ARGS:-}"
# (The `+` form: macOS's bash 3.2 calls an empty array unbound.)
maturin build --locked --profile "$profile" --strip -m bindings-python/Cargo.toml -o "$out" ${maturin_args[@]+"${maturin_args[@]}"}
maturin sdist -m bindings-python/Cargo.toml -o "$out"
rm -rf "$wheel_bin"
wheels=("$out"/trainpod-*.whl)
if [ "${#wheels[@]}" != 1 ] || [ ! -f "${wheels[0]}" ]; then fail "expected one wheel in $out, found: ${wheels[*]}"; fi
wheel=${wheels[0]}
sdist=$out/trainpod-$(python3 scripts/versions.py --print).tar.gz
[ -f "$sdist" ] || fail "no sdist at $sdist"
"$python" - "$wheel" "${provider_bins[@]}" <<'EOF_WHEEL' || fail "the wheel lacks its local provider"
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
missing = [f"trainpod/bin/{b}" for b in sys.argv[2:] if f"trainpod/bin/{b}" not in names]
sys.exit(f"{sys.argv[1]} has no {missing}" if missing else 0)
EOF_WHEEL
tag=${wheel##*-} tag=${tag%.whl}
if [[ $platform == linux-* ]]; then
  # The tag in the wheel's name must be one auditwheel finds it consistent with, over every ELF
  # file it holds (the extension and the local provider).
  "$python" -m auditwheel show "$wheel" >"$out/auditwheel.txt"
  tag=$(tr '\n' ' ' <"$out/auditwheel.txt" | tr -s ' ' | grep -Eo 'consistent with the following platform tag: "[^"]+"' | cut -d'"' -f2 || true)
  [[ -n $tag && $wheel == *"-${tag}.whl" ]] || fail "auditwheel finds ${wheel##*/} consistent with ${tag:-no tag}: $(cat "$out/auditwheel.txt")"
fi
lap "wheel ${wheel##*/} ($tag), sdist ${sdist##*/}"

npm_main=$(node bindings-node/pack.js "$out")
bin_args=()
for bin in "${provider_bins[@]}"; do bin_args+=(--bin "$out/stage/bin/$bin"); done
npm_platform=$(node bindings-node/pack.js "$out" --platform "$platform" --addon "$addon" "${bin_args[@]}")
rm -rf "$out/stage"
lap "npm ${npm_main##*/}, ${npm_platform##*/}"
[ "$build_only" = 0 ] || exit 0
[ "$platform" = linux-x64-gnu ] || fail "the install check runs on linux-x64-gnu (this is $platform): pass --build-only"

# ---- install with no Rust on PATH
# Only node, npm, npx and the interpreter, linked into one folder, before /usr/bin and /bin.
tools=$work/tools
mkdir -p "$tools"
for tool in node npm npx; do ln -s "$(readlink -f "$(command -v "$tool")")" "$tools/$tool"; done
interpreter=$(python3 -c 'import sys; print(sys.executable)')
norust=(env -u TRAINPOD_EMULATOR -u CARGO_TARGET_DIR -u RUSTUP_TOOLCHAIN PATH="$tools:/usr/bin:/bin")
for tool in cargo rustc trainpod-emulator; do
  if "${norust[@]}" bash -c "command -v $tool" >/dev/null; then fail "$tool is on the PATH the install is checked with"; fi
done

"${norust[@]}" "$interpreter" -m venv "$work/venv"
t=$SECONDS
"${norust[@]}" "$work/venv/bin/pip" install -q --no-cache-dir --disable-pip-version-check "$wheel"
pip_secs=$((SECONDS - t))
(cd "$work" && "${norust[@]}" "$work/venv/bin/python" "$root/scripts/packages/check_wheel.py" "$work/python")
# The console script runs the command line the wheel carries, or says that it carries none.
if [[ " ${provider_bins[*]} " == *" trainpod "* ]]; then
  "${norust[@]}" "$work/venv/bin/trainpod" --help >/dev/null || fail "the trainpod console script failed"
  # A few commands of the installed command line: a key ring, a dataset inspected.
  "${norust[@]}" "$work/venv/bin/trainpod" keys new --json | grep -q '"signing_keys":"k1:active:' ||
    fail "trainpod keys new (installed) did not print a key ring"
  printf '%s\n' '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}' >"$work/one.jsonl"
  "${norust[@]}" "$work/venv/bin/trainpod" inspect "$work/one.jsonl" --json | grep -q '"rows":1' ||
    fail "trainpod inspect (installed) did not read the dataset"
elif "${norust[@]}" "$work/venv/bin/trainpod" 2>"$work/cli.err" || ! grep -q 'carries no .trainpod. command-line' "$work/cli.err"; then
  fail "the trainpod console script should say the wheel carries no command line: $(cat "$work/cli.err")"
fi
lap "venv: pip install in ${pip_secs} s, import, plan"

app=$work/app
mkdir -p "$app"
cp -r scripts/packages/nextjs-app/. "$app/"
next=$(node -p 'require("./examples/nextjs/package.json").dependencies.next')
react=$(node -p 'require("./examples/nextjs/package.json").dependencies.react')
(
  cd "$app"
  export NEXT_TELEMETRY_DISABLED=1 npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
  "${norust[@]}" npm init -y >/dev/null
  "${norust[@]}" npm pkg set type=module # the app's files are ES modules
  t=$SECONDS
  "${norust[@]}" npm install -s --no-audit --no-fund "next@$next" "react@$react" "react-dom@$react"
  echo "next_install_secs=$((SECONDS - t))" >"$work/times"
  t=$SECONDS
  # Both at once: trainpod's optional dependency is the platform tarball given beside it.
  "${norust[@]}" npm install -s --no-audit --no-fund "$npm_main" "$npm_platform"
  echo "npm_install_secs=$((SECONDS - t))" >>"$work/times"
  [ -f node_modules/trainpod-linux-x64-gnu/trainpod.linux-x64-gnu.node ] || fail "the platform package did not install"
  [ ! -e node_modules/trainpod/trainpod.linux-x64-gnu.node ] || fail "trainpod carries a native module of its own"
  "${norust[@]}" node -e 'const t = require("trainpod"); if (typeof t.Trainpod !== "function") process.exit(1)'
  # The command line through npm's bin, from the platform package.
  "${norust[@]}" ./node_modules/.bin/trainpod keys new --json | grep -q '"signing_keys":"k1:active:' ||
    fail "trainpod keys new (npm bin) did not print a key ring"
  t=$SECONDS
  "${norust[@]}" npx next build >"$work/next-build.log" 2>&1 || { cat "$work/next-build.log"; fail "next build failed"; }
  echo "next_build_secs=$((SECONDS - t))" >>"$work/times"
  "${norust[@]}" APP_WORK="$work/app-work" node serve.mjs >"$work/route.json"
  cat "$work/route.json"
)
secs() { grep "^$1=" "$work/times" | cut -d= -f2; }
next_install_secs=$(secs next_install_secs) npm_install_secs=$(secs npm_install_secs) next_build_secs=$(secs next_build_secs)
lap "Next.js app: npm install of the tarballs in ${npm_install_secs} s, next build in ${next_build_secs} s, one route call"

size() { stat -c %s "$1"; }
installed_kb() { du -sk "$1" | cut -f1; }
site=$("$work/venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cat >"$out/packages.json" <<JSON
{"profile": "$profile", "wheel": "${wheel##*/}", "wheel_tag": "$tag",
 "wheel_bytes": $(size "$wheel"), "sdist_bytes": $(size "$sdist"),
 "npm_main_bytes": $(size "$npm_main"), "npm_platform_bytes": $(size "$npm_platform"),
 "wheel_installed_kb": $(installed_kb "$site/trainpod"),
 "npm_installed_kb": $(($(installed_kb "$app/node_modules/trainpod") + $(installed_kb "$app/node_modules/trainpod-linux-x64-gnu"))),
 "pip_install_secs": $pip_secs, "npm_install_secs": $npm_install_secs,
 "next_install_secs": $next_install_secs, "next_build_secs": $next_build_secs,
 "route": $(cat "$work/route.json"), "total_secs": $((SECONDS - start))}
JSON
cat "$out/packages.json"
lap "done; artifacts in $out"
