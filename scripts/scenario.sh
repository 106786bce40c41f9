#!/usr/bin/env bash
# Sets up, builds the package and runs the seed scenario (local authorities and APIs, one worker).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
node examples/scenario.mjs
