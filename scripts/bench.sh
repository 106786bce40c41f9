#!/usr/bin/env bash
# The bench command: tokenfetch vs npm dpop / jose / oauth4webapi vs the node:crypto and raw-fetch
# floors, in one process, interleaved. `--quick` for a short run; `--write` regenerates BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
bash scripts/build.sh >/dev/null
exec node --expose-gc bench/bench.mjs "$@"
