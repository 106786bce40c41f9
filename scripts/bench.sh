#!/usr/bin/env bash
# The bench command: tokenfetch vs npm dpop / jose / oauth4webapi vs the node:crypto and raw-fetch
# floors, interleaved, the API server in its own process. `--quick` for a short run; `--write`
# regenerates BENCHMARKS.md and bench/chart.svg.
# Cold start and package size are measured on the release build (what users install), copied to
# target/bench/pkg; the other tables use the dev build's hooks (signer choice, wasm memory).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
bash scripts/build.sh --release >/dev/null
rm -rf target/bench/pkg && mkdir -p target/bench && cp -r pkg target/bench/pkg
bash scripts/build.sh >/dev/null
TOKENFETCH_RELEASE_PKG="$PWD/target/bench/pkg/" exec node --expose-gc bench/bench.mjs "$@"
