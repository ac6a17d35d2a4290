# shellcheck shell=bash
# Sourced by bench/nextjs_metrics.sh and bench/event_loop.sh: the Next.js example, built for a
# measurement in a private copy with the RELEASE build of the Node addon.
#
#   free_port                a free loopback port
#   release_addon            prints the path of the release addon: $TRAINPOD_NODE_ADDON when set,
#                            else cargo's release build of trainpod-node (built now when stale)
#   example_copy DEST ADDON  copies examples/nextjs (its sources and node_modules) to DEST, puts a
#                            copy of bindings-node holding ADDON in DEST/node_modules/trainpod,
#                            and runs `next build` there
#
# Why a copy: the example's own node_modules/trainpod and .next, and bindings-node's .node file,
# are the dev builds the test suite runs against (and other work in this tree rebuilds them); the
# copy measures the release addon without touching any of them. `cargo build --release` writes
# target/release/libtrainpod_node.so, the file `npm run build:release` would copy to bindings-node.
# The copy is the example's code as it is in the tree, with nothing changed.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

release_addon() {
  if [ -n "${TRAINPOD_NODE_ADDON:-}" ]; then
    echo "$TRAINPOD_NODE_ADDON"
    return
  fi
  cargo build --quiet --release --locked -p trainpod-node >&2
  echo "${CARGO_TARGET_DIR:-$PWD/target}/release/libtrainpod_node.so"
}

example_copy() {
  local dest=$1 addon=$2 src=$PWD/examples/nextjs f
  if [ ! -d "$src/node_modules/next" ]; then
    (cd "$src" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  mkdir -p "$dest"
  tar -C "$src" --exclude=./node_modules --exclude=./.next --exclude=./.artifacts --exclude=./tests \
    --exclude='./*.tsbuildinfo' -cf - . | tar -C "$dest" -xf -
  cp -a "$src/node_modules" "$dest/node_modules"
  # The package as npm installs it (.npmrc: install-links): the files package.json lists.
  rm -rf "$dest/node_modules/trainpod"
  mkdir "$dest/node_modules/trainpod"
  for f in $(node -p 'require("./bindings-node/package.json").files.filter((f) => !f.includes("*")).join(" ")') \
    package.json README.md; do
    cp "bindings-node/$f" "$dest/node_modules/trainpod/"
  done
  cp "$addon" "$dest/node_modules/trainpod/trainpod.linux-x64-gnu.node"
  # test.sh type-checks before it builds; a measurement needs only the build.
  (cd "$dest" && TRAINPOD_TYPECHECKED=1 NEXT_TELEMETRY_DISABLED=1 npx next build >"$dest/.next-build.log" 2>&1) ||
    { cat "$dest/.next-build.log" >&2; echo "next build failed in the copy of the example" >&2; return 1; }
}
