#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input (fuzz/fuzz_targets/: jwk, token_response, www_authenticate,
# discovery, config) with cargo-fuzz (libFuzzer), SECONDS per target, and fails on any crash
# (panic, overflow, hang over 10 s, OOM). Prints a table: target, execs, exec/s, corpus, crashes.
#
#   bash scripts/fuzz.sh [SECONDS]    # default 20 s per target
#   FUZZ_TARGETS="jwk discovery" FUZZ_SANITIZER=address bash scripts/fuzz.sh 60
#
# Stable toolchain only: RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z flags cargo-fuzz passes.
# The sanitizer defaults to none: the crate has no unsafe code, the faults that matter are panics
# (an abort in wasm), overflows (debug assertions are on) and hangs, and it runs about 3x faster;
# FUZZ_SANITIZER=address works on stable too. Seeds: fuzz/corpus/<target>/ (committed, read-only
# here); what the fuzzer finds goes to fuzz/generated/<target>/, crashes to fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-20}
sanitizer=${FUZZ_SANITIZER:-none}
cargo_fuzz_version=0.13.2
log() { printf 'fuzz: %s\n' "$*"; }

# --- cargo-fuzz, once per machine (about 80 s to compile) ---------------------------------------
if [ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" = "$cargo_fuzz_version" ]; then
  log "cargo-fuzz $cargo_fuzz_version (present)"
else
  log "installing cargo-fuzz $cargo_fuzz_version (about a minute, once per machine)"
  cargo install -q cargo-fuzz --locked --version "$cargo_fuzz_version"
fi

export RUSTC_BOOTSTRAP=1
targets=${FUZZ_TARGETS:-$(cargo fuzz list)}
build=(--debug-assertions --sanitizer "$sanitizer")
start=$(date +%s)
cargo fuzz build "${build[@]}"
log "built in $(($(date +%s) - start)) s (sanitizer: $sanitizer, debug assertions on)"

mkdir -p fuzz/target/logs
failed=()
rows=()
for t in $targets; do
  mkdir -p "fuzz/generated/$t" "fuzz/artifacts/$t"
  before=$(ls "fuzz/artifacts/$t" | wc -l)
  logf="fuzz/target/logs/$t.log"
  log "$t: ${secs} s"
  # The first corpus dir is where new inputs go; the committed seeds are only read.
  status=0
  cargo fuzz run "${build[@]}" "$t" "fuzz/generated/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"$logf" 2>&1 || status=$?
  stat() { awk -v k="stat::$1:" '$1 == k {print $2}' "$logf" | tail -1; }
  execs=$(stat number_of_executed_units)
  rate=$(stat average_exec_per_sec)
  corpus=$(grep -oE 'corp: [0-9]+/[0-9a-zA-Z]+' "$logf" | tail -1 | cut -d' ' -f2)
  crashes=$(($(ls "fuzz/artifacts/$t" | wc -l) - before))
  if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    failed+=("$t")
    grep -E -m 12 'panicked|ERROR|SUMMARY|Test unit written|Failing input|Reproduce' "$logf" >&2 || tail -20 "$logf" >&2
  fi
  rows+=("$(printf '%-18s %12s %8s %12s %8s' "$t" "${execs:-?}" "${rate:-?}" "${corpus:-?}" "$crashes")")
done

printf '\n%-18s %12s %8s %12s %8s\n' target execs exec/s corpus crashes
printf '%s\n' "${rows[@]}"
printf '%s s per target, %s s in all, commit %s\n' "$secs" "$(($(date +%s) - start))" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
if [ ${#failed[@]} -ne 0 ]; then
  log "CRASH in: ${failed[*]} (inputs in fuzz/artifacts/<target>/; logs in fuzz/target/logs/)"
  log "reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run ${build[*]} <target> fuzz/artifacts/<target>/<file>"
  exit 1
fi
