#!/usr/bin/env bash
# Builds the npm package in pkg/: the wasm module (release, LTO, wasm-opt) and its one ESM glue
# (bundler target); every entry, the CommonJS one too (require(esm)), loads these two files.
set -euo pipefail
cd "$(dirname "$0")/.."
out=pkg/gen
tmp=target/bindgen
# The module is built with std from source and panics that abort at once (-Cpanic=immediate-abort):
# no panic message formatting in the module (about 13 KB of 111 KB gzip), and no source locations
# for panics that are never printed (-Zlocation-detail=none: 0.8 KB). A panic traps
# (`unreachable`) either way, as with panic = "abort". It needs the std sources (rustup's rust-src,
# Debian's rust-web-src) and unstable flags (RUSTC_BOOTSTRAP=1, as the Debian route already
# uses); when that build is not possible, the plain build is used and the module is larger.
# With rustup's std sources, std's `optimize_for_size` feature picks its smaller implementations
# (0.7 KB gzip).
min_flags="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none"
if [ "$(cat target/.wasm-route 2>/dev/null)" = debian ]; then
  debian() { RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build -q --release --locked \
    -Zbuild-std=std,panic_abort --target wasm32-unknown-unknown "$@"; }
  if RUSTFLAGS="$min_flags" debian --target-dir target/debian-min; then
    wasm=target/debian-min/wasm32-unknown-unknown/release/tokenfetch.wasm
  else
    echo "build: immediate-abort build failed; plain build (larger module)" >&2
    debian --target-dir target/debian
    wasm=target/debian/wasm32-unknown-unknown/release/tokenfetch.wasm
  fi
elif [ -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library" ] &&
  RUSTC_BOOTSTRAP=1 RUSTFLAGS="$min_flags" cargo build -q --release --locked \
    -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size \
    --target wasm32-unknown-unknown --target-dir target/min; then
  wasm=target/min/wasm32-unknown-unknown/release/tokenfetch.wasm
else
  echo "build: no rust-src or no immediate-abort build; plain build (larger module)" >&2
  cargo build -q --release --locked --target wasm32-unknown-unknown
  wasm=target/wasm32-unknown-unknown/release/tokenfetch.wasm
fi
rm -rf "$tmp" && mkdir -p "$tmp" "$out"
wasm-bindgen --target bundler --out-dir "$tmp/esm" --out-name tokenfetch "$wasm"
# A TokenClient the GC collects must free its wasm side, which releases its keys in
# the host signers. wasm-bindgen 0.2.130 has no `--weak-refs` flag any more: it always registers
# exported objects with a FinalizationRegistry (a no-op where there is none, e.g. workerd before
# compatibility date 2025-05-05). Fail if a future version stops doing so.
grep -q 'new FinalizationRegistry(ptr => wasm\.__wbg_tokenclient_free' "$tmp/esm/tokenfetch_bg.js" || {
  echo "build: the glue does not free TokenClient objects on GC (FinalizationRegistry)" >&2
  exit 1
}
# -Os: 0.7 KB gzip smaller than -O3 here, with signing and fetch speed within run-to-run noise.
node_modules/.bin/wasm-opt -Os --strip-debug --strip-producers \
  --enable-bulk-memory --enable-reference-types --enable-multivalue --enable-sign-ext \
  --enable-nontrapping-float-to-int --enable-mutable-globals \
  "$tmp/esm/tokenfetch_bg.wasm" -o "$out/tokenfetch_bg.wasm"
# Short names between the module and its glue (scripts/short-names.mjs): 4.1 KB gzip less.
node scripts/short-names.mjs "$out/tokenfetch_bg.wasm" "$tmp/esm/tokenfetch_bg.js"
# Minified (names of exports kept): the glue ships in every install and bundle.
node_modules/.bin/esbuild --minify --format=esm --log-level=warning \
  "$tmp/esm/tokenfetch_bg.js" --outfile="$out/tokenfetch_bg.js"
# The package's own JS (js/), minified: one module beside the glue, and the entries pkg/*.mjs,
# pkg/node.cjs.
node scripts/build-js.mjs
rm -f "$out/tokenfetch_node.cjs"
printf 'build: pkg/gen/tokenfetch_bg.wasm %s bytes (gzip %s)\n' \
  "$(wc -c < "$out/tokenfetch_bg.wasm")" "$(gzip -9c "$out/tokenfetch_bg.wasm" | wc -c)"
