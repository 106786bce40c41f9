#!/usr/bin/env bash
# Sets up and runs every test: format and lint, native Rust tests of the core and engine, a short
# fuzz run of the parsers, the wasm package build, the JS integration tests against real local
# servers, the scenario, a fuzz of the public JS API (tests/fuzz/api-fuzz.mjs), and last the
# release: what users install, packed, size-checked, installed into a clean project and loaded.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }
step setup;                    bash scripts/setup.sh
step "cargo fmt --check";      cargo fmt --check
step "cargo clippy (host)";    cargo clippy --locked --all-targets -- -D warnings
step "cargo clippy (wasm32)";  cargo clippy --locked --target wasm32-unknown-unknown -- -D warnings
step "cargo clippy (wasm32, hooks)"; cargo clippy --locked --target wasm32-unknown-unknown --features hooks -- -D warnings
step "cargo clippy (wasm32, no js: a Rust host)"; cargo clippy --locked --target wasm32-unknown-unknown --no-default-features -- -D warnings
step "cargo fmt + clippy (examples/rust-worker, wasm32)"
(cd examples/rust-worker && cargo fmt --check &&
  cargo clippy --locked --target wasm32-unknown-unknown --target-dir ../../target/rust-worker -- -D warnings)
step "cargo test";             cargo test --locked
step "cargo doc";              RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps --quiet
step "fuzz (12 s per target)"; bash scripts/fuzz.sh 12
step "wasm-bindgen tests (Node, Chromium)"; bash scripts/test-wasm.sh
step "build pkg/";             bash scripts/build.sh
step "scenario";               node examples/scenario.mjs
step "runtime matrix";         node tests/runtimes/matrix.mjs
step "examples (workerd: JS and Rust Workers, Deno, Node service, tsc)"; node examples/run-examples.mjs
step "www harness (Chromium)";  node --test tests/www/
step "JS integration tests";   node --test --test-reporter=spec tests/js/
step "API fuzz (JS, 75 s)";    node tests/fuzz/api-fuzz.mjs   # FUZZ_SECONDS, FUZZ_SEED to repeat or go longer
step "release (npm tarball, crate, size, install and load)"; bash scripts/release.sh
