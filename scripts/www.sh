#!/usr/bin/env bash
# Serves the browser harness page (www/): sets up, builds pkg/, starts the local demo authorities
# and APIs, and prints the URL to open. Runs until Ctrl-C. Options: --port N.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
exec node scripts/www.mjs "$@"
