#!/usr/bin/env bash
# Builds the npm package in pkg/: the wasm module (release, LTO, wasm-opt) and its one ESM glue
# (bundler target); every entry, the CommonJS one too (require(esm)), loads these two files.
set -euo pipefail
cd "$(dirname "$0")/.."
out=pkg/gen
tmp=target/bindgen
if [ "$(cat target/.wasm-route 2>/dev/null)" = debian ]; then
  RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build -q --release --locked \
    -Zbuild-std=std,panic_abort --target wasm32-unknown-unknown --target-dir target/debian
  wasm=target/debian/wasm32-unknown-unknown/release/tokenfetch.wasm
else
  cargo build -q --release --locked --target wasm32-unknown-unknown
  wasm=target/wasm32-unknown-unknown/release/tokenfetch.wasm
fi
rm -rf "$tmp" && mkdir -p "$tmp" "$out"
wasm-bindgen --target bundler --out-dir "$tmp/esm" --out-name tokenfetch "$wasm"
node_modules/.bin/wasm-opt -O3 --strip-debug --strip-producers \
  --enable-bulk-memory --enable-reference-types --enable-multivalue --enable-sign-ext \
  --enable-nontrapping-float-to-int --enable-mutable-globals \
  "$tmp/esm/tokenfetch_bg.wasm" -o "$out/tokenfetch_bg.wasm"
# Minified (names of exports kept): the glue ships in every install and bundle.
node_modules/.bin/esbuild --minify --format=esm --log-level=warning \
  "$tmp/esm/tokenfetch_bg.js" --outfile="$out/tokenfetch_bg.js"
rm -f "$out/tokenfetch_node.cjs"
printf 'build: pkg/gen/tokenfetch_bg.wasm %s bytes (gzip %s)\n' \
  "$(wc -c < "$out/tokenfetch_bg.wasm")" "$(gzip -9c "$out/tokenfetch_bg.wasm" | wc -c)"
