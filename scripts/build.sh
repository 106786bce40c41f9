#!/usr/bin/env bash
# Builds the npm package in pkg/: the wasm module (release, LTO, wasm-opt) and its one ESM glue
# (bundler target); every entry, the CommonJS one too (require(esm)), loads these two files.
#
#   bash scripts/build.sh             # for tests and the bench: with the `hooks` feature (internal
#                                     # exports: signer preference, memory and host-key counts)
#   bash scripts/build.sh --release   # what ships (scripts/release.sh): no hooks
#
# One route, the same on every machine: the toolchain pinned in rust-toolchain.toml (rustup), std
# built from source with panics that abort at once (-Cpanic=immediate-abort: no panic message
# formatting in the module, about 13 KB of 111 KB gzip) and no source locations for panics that are
# never printed (-Zlocation-detail=none: 0.8 KB), std's `optimize_for_size` implementations (0.7 KB).
# A panic traps (`unreachable`) either way, as with panic = "abort". Where that route cannot be
# taken the build stops and says what to install: it never ships a different module.
set -euo pipefail
cd "$(dirname "$0")/.."
features=hooks
if [ "${1:-}" = --release ]; then features=; fi
out=pkg/gen
tmp=target/bindgen
sysroot=$(rustc --print sysroot 2>/dev/null) || {
  echo "build: no rustc; install rustup (https://rustup.rs): rust-toolchain.toml pins the toolchain" >&2
  exit 1
}
if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ] || [ ! -d "$sysroot/lib/rustlib/wasm32-unknown-unknown" ]; then
  echo "build: the pinned toolchain lacks rust-src or the wasm32-unknown-unknown target;" \
    "run: rustup component add rust-src && rustup target add wasm32-unknown-unknown" >&2
  exit 1
fi
RUSTC_BOOTSTRAP=1 RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort -Zlocation-detail=none" \
  cargo build -q --release --locked --features "$features" \
  -Zbuild-std=std,panic_abort -Zbuild-std-features=optimize_for_size \
  --target wasm32-unknown-unknown --target-dir target/min
wasm=target/min/wasm32-unknown-unknown/release/tokenfetch.wasm
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
# -Os: 0.7 KB gzip smaller than -O3 here, with signing and fetch speed within run-to-run noise;
# --converge runs its passes again until the module stops shrinking (0.24 KB gzip more); the
# target_features section is read by no runtime (0.1 KB).
node_modules/.bin/wasm-opt -Os --converge --strip-debug --strip-producers --strip-target-features \
  --enable-bulk-memory --enable-reference-types --enable-multivalue --enable-sign-ext \
  --enable-nontrapping-float-to-int --enable-mutable-globals \
  "$tmp/esm/tokenfetch_bg.wasm" -o "$out/tokenfetch_bg.wasm"
# Short names between the module and its glue (scripts/short-names.mjs): 4.1 KB gzip less.
node scripts/short-names.mjs "$out/tokenfetch_bg.wasm" "$tmp/esm/tokenfetch_bg.js"
# Minified (names of exports kept): the glue ships in every install and bundle. Bundled: the JS
# the module imports itself (js/exchange.js and js/headers.js, wasm-bindgen snippets: `.js`, as the test runner serves it) goes inside it.
node_modules/.bin/esbuild --bundle --minify --format=esm --log-level=warning \
  "$tmp/esm/tokenfetch_bg.js" --outfile="$out/tokenfetch_bg.js"
# The package's own JS (js/), minified: one module beside the glue, and the entries pkg/*.mjs,
# pkg/node.cjs.
node scripts/build-js.mjs
rm -f "$out/tokenfetch_node.cjs"
printf 'build: pkg/gen/tokenfetch_bg.wasm %s bytes (gzip %s)%s\n' \
  "$(wc -c < "$out/tokenfetch_bg.wasm")" "$(gzip -9c "$out/tokenfetch_bg.wasm" | wc -c)" \
  "${features:+ (features: $features)}"
