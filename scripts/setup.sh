#!/usr/bin/env bash
# Installs what building and testing tokenfetch needs, and nothing twice:
#   - the toolchain pinned in rust-toolchain.toml, with the wasm32-unknown-unknown target and
#     rust-src (the release module builds std from source; see scripts/build.sh),
#   - wasm-bindgen-cli at exactly the wasm-bindgen version in Cargo.lock,
#   - Node packages from package-lock.json (npm ci), with working deno, bun and workerd binaries,
#   - Debian's chromium and chromium-driver for the browser tests, and redis-server for the
#     shared-store tests.
# Idempotent: a second run checks and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'setup: %s\n' "$*"; }

# --- the pinned toolchain (rust-toolchain.toml) with the wasm32 target and rust-src ----------------
# rustup installs the toolchain and the parts the file names on first use; this checks they are
# there and says what to run when they are not (scripts/build.sh takes no other route).
rustc --version >/dev/null 2>&1 || { log "rustc is missing: install rustup (https://rustup.rs)"; exit 1; }
sysroot=$(rustc --print sysroot)
if ! [ -d "$sysroot/lib/rustlib/wasm32-unknown-unknown" ]; then
  timeout 300 rustup target add wasm32-unknown-unknown ||
    { log "could not add the wasm32-unknown-unknown target: rustup target add wasm32-unknown-unknown"; exit 1; }
fi
if ! [ -d "$sysroot/lib/rustlib/src/rust/library" ]; then
  timeout 300 rustup component add rust-src ||
    { log "could not add rust-src: rustup component add rust-src"; exit 1; }
fi
log "toolchain $(rustc --version | cut -d' ' -f2) with wasm32 and rust-src"

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
