#!/usr/bin/env bash
# Installs what building and testing tokenfetch needs, and nothing twice:
#   - the wasm32-unknown-unknown target (rustup; falls back to Debian's rustc-web route),
#   - rust-src (the release module builds std from source; see scripts/build.sh),
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock,
#   - Node packages from package-lock.json (npm ci), with working deno, bun and workerd binaries,
#   - Debian's chromium and chromium-driver for the browser tests, and redis-server for the
#     shared-store tests.
# Idempotent: a second run checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'setup: %s\n' "$*"; }

# --- wasm32 target --------------------------------------------------------------------------
if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
  log "wasm32 target: rustup (present)"
elif timeout 300 rustup target add wasm32-unknown-unknown; then
  log "wasm32 target: rustup (installed)"
else
  log "rustup could not add wasm32; using Debian's rustc-web route"
  if ! [ -x /usr/bin/rustc ] || ! [ -d /usr/lib/rustlib/src/rust/library ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rustc-web cargo-web rust-web-src lld-22
  fi
  mkdir -p target && echo debian > target/.wasm-route
fi

# --- std sources: the release module is built with std from source (scripts/build.sh) --------
if [ "$(cat target/.wasm-route 2>/dev/null)" != debian ]; then
  if [ -d "$(rustc --print sysroot)/lib/rustlib/src/rust/library" ]; then
    log "rust-src (present)"
  elif timeout 300 rustup component add rust-src; then
    log "rust-src (installed)"
  else
    log "rustup could not add rust-src; scripts/build.sh falls back to the plain (larger) build"
  fi
fi

# --- wasm-bindgen-cli pinned to Cargo.lock ---------------------------------------------------
want=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [ "$have" = "$want" ]; then
  log "wasm-bindgen-cli $want (present)"
else
  log "installing wasm-bindgen-cli $want (a few minutes, once per machine)"
  # No --locked: the CLI's own lock names a crate version the registry index lacks.
  cargo install -q wasm-bindgen-cli --version "$want"
fi

# --- Node packages ---------------------------------------------------------------------------
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
  log "node_modules (up to date)"
else
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.package-lock.json
fi

# --- Runtimes the matrix runs (binaries inside npm packages) -----------------------------------
if ! node_modules/.bin/bun --version >/dev/null 2>&1; then
  # npm 11 may skip bun's install script; the platform package's tarball carries the binary.
  ver=$(node -p "require('./node_modules/bun/package.json').version")
  log "bun binary missing; unpacking @oven/bun-linux-x64@$ver"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack -q "@oven/bun-linux-x64@$ver" >/dev/null && tar xzf oven-bun-linux-x64-*.tgz)
  install -m 755 "$tmp/package/bin/bun" node_modules/bun/bin/bun.exe
  rm -rf "$tmp"
fi
for tool in deno bun; do
  node_modules/.bin/$tool --version >/dev/null 2>&1 || { log "$tool does not start"; exit 1; }
done
log "runtimes: deno $(node_modules/.bin/deno --version | head -1 | cut -d' ' -f2), bun $(node_modules/.bin/bun --version)"

# --- Chromium for the browser tests ------------------------------------------------------------
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  log "chromium (present)"
else
  log "installing Debian chromium + chromium-driver"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# --- Redis for the shared-store tests ----------------------------------------------------------
if [ -x /usr/bin/redis-server ]; then
  log "redis-server (present)"
else
  log "installing Debian redis-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
fi
