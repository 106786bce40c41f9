#!/usr/bin/env bash
# Runs the wasm-bindgen-test suites of the JavaScript glue (src/wasm/tests.rs) twice, over one
# build: in Node, then in headless Chromium (chromedriver). The test binary sets no
# `wasm_bindgen_test_configure!`, so wasm-bindgen-test-runner picks Node by default and the
# browser when WASM_BINDGEN_USE_BROWSER is set.
# Fails when either run fails or does not report every test it started as passed: the Node runner
# exits 0 when the event loop empties with tests still pending, so the exit code alone is not
# enough.
# Arguments are passed to the test binary, e.g. `scripts/test-wasm.sh client_fetch` (a filter).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'test-wasm: %s\n' "$*"; }
die() { log "$*" >&2; exit 1; }

want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
have=$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{print $2}' || true)
[ "$have" = "$want" ] ||
  die "wasm-bindgen-test-runner is ${have:-missing}, Cargo.lock has wasm-bindgen $want (scripts/setup.sh installs it)"
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
[ -x "$CHROMEDRIVER" ] || die "no chromedriver at $CHROMEDRIVER (scripts/setup.sh installs it)"

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
# The runner's wait for a browser run (default 20 s); generous for loaded 2-core machines.
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-60}
# Mode switches from the caller's environment would skip or redirect a run.
unset WASM_BINDGEN_USE_BROWSER WASM_BINDGEN_USE_NODE_EXPERIMENTAL WASM_BINDGEN_USE_DENO \
  WASM_BINDGEN_USE_DEDICATED_WORKER WASM_BINDGEN_USE_SHARED_WORKER WASM_BINDGEN_USE_SERVICE_WORKER \
  WASM_BINDGEN_TEST_ONLY_NODE WASM_BINDGEN_TEST_ONLY_WEB NO_HEADLESS

cargo_test=(cargo test --locked --target wasm32-unknown-unknown --lib)

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
summary=()

# run NAME [VAR=value...] -- [test args...]
run() {
  local name=$1 vars=() status=0
  shift
  while [ "$1" != -- ]; do vars+=("$1"); shift; done
  shift
  printf '\n== wasm-bindgen-test: %s\n' "$name"
  # `timeout`: a test that keeps the event loop alive forever must not hang the script.
  timeout -k 10 600 env "${vars[@]}" "${cargo_test[@]}" -- "$@" 2>&1 | tee "$out/$name.log" || status=$?
  local started passed ignored
  started=$(sed -n 's/^running \([0-9][0-9]*\) tests\{0,1\}$/\1/p' "$out/$name.log" | tail -1)
  read -r passed ignored < <(sed -n \
    's/^test result: ok\. \([0-9][0-9]*\) passed; 0 failed; \([0-9][0-9]*\) ignored;.*/\1 \2/p' \
    "$out/$name.log" | tail -1) || true
  if [ "$status" -ne 0 ]; then
    die "$name: failed (exit $status)"
  elif [ -z "${passed:-}" ] || [ "$passed" -eq 0 ]; then
    die "$name: no passing test result reported (tests started: ${started:-none})"
  elif [ "$((passed + ignored))" != "${started:-}" ]; then
    die "$name: $started tests started but only $passed passed and $ignored ignored were reported"
  fi
  summary+=("$name: $passed passed")
}

start=$SECONDS
run node -- "$@"
run chromium WASM_BINDGEN_USE_BROWSER=1 -- "$@"
printf '\n'
for line in "${summary[@]}"; do log "$line"; done
log "done in $((SECONDS - start)) s"
