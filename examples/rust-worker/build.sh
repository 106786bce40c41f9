#!/usr/bin/env bash
# Builds the Rust Worker into build/: the crate for wasm32-unknown-unknown (release), then its
# bindings (wasm-bindgen --target web), which worker.mjs loads. `wrangler dev`/`deploy` run this as
# the [build] command (wrangler.toml). Cargo's output goes to <repo>/target/rust-worker (or
# $CARGO_TARGET_DIR), beside the main crate's, so rebuilds are incremental.
# Needs: the toolchain of rust-toolchain.toml (with the wasm32 target) and wasm-bindgen-cli at the
# version Cargo.lock pins (scripts/setup.sh installs both).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cd "$here" # rustup picks the toolchain from the working directory (the repository's rust-toolchain.toml)
target_dir=${CARGO_TARGET_DIR:-$here/../../target/rust-worker}
want=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
have=$(wasm-bindgen --version 2>/dev/null | cut -d' ' -f2 || true)
if [ "$have" != "$want" ]; then
  echo "build: wasm-bindgen $want is needed (Cargo.lock), found '${have:-none}':" \
    "cargo install wasm-bindgen-cli --version $want" >&2
  exit 1
fi
cargo build --quiet --release --locked --target wasm32-unknown-unknown --target-dir "$target_dir"
rm -rf build
wasm-bindgen --target web --no-typescript --out-dir build \
  "$target_dir/wasm32-unknown-unknown/release/tokenfetch_rust_worker.wasm"
printf 'build: examples/rust-worker/build/tokenfetch_rust_worker_bg.wasm %s bytes (gzip %s)\n' \
  "$(wc -c < build/tokenfetch_rust_worker_bg.wasm)" "$(gzip -9c build/tokenfetch_rust_worker_bg.wasm | wc -c)"
