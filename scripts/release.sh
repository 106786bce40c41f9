#!/usr/bin/env bash
# Packs what users install, and proves it installs:
#   1. the release module (scripts/build.sh --release: no test hooks), and the main entry's size
#      (every .wasm/.js/.mjs/.cjs file it loads, gzip -9) held to 100 KB;
#   2. the npm tarball (`npm pack` of pkg/) and the crate (`cargo package`), into target/release-pack/;
#   3. the tarball installed into a clean temporary project and loaded there, as ESM and as
#      CommonJS, each getting a token from a local token endpoint.
# CI runs it last (scripts/test.sh). Needs what scripts/setup.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf 'release: %s\n' "$*"; }
outdir=target/release-pack
rm -rf "$outdir" && mkdir -p "$outdir"

bash scripts/build.sh --release
main=(node.mjs node.cjs deno.mjs workerd.mjs browser.mjs gen/tokenfetch_bg.js gen/runtime.mjs gen/tokenfetch_bg.wasm)
bytes=0
for f in "${main[@]}"; do bytes=$((bytes + $(gzip -9c "pkg/$f" | wc -c))); done
log "main entry: ${#main[@]} files, $bytes bytes gzip -9 ($(awk "BEGIN { printf \"%.1f\", $bytes / 1024 }") KB; limit 100 KB)"
[ "$bytes" -le 102400 ] || { log "the main entry is over 100 KB gzip"; exit 1; }

tarball=$(cd "$outdir" && npm pack ../../pkg --silent)
log "npm: $outdir/$tarball ($(wc -c < "$outdir/$tarball") bytes)"
cargo package --locked --allow-dirty --no-verify --quiet --target-dir "$outdir/cargo" 2>/dev/null ||
  cargo package --locked --allow-dirty --no-verify --target-dir "$outdir/cargo"
crate=$(ls "$outdir"/cargo/package/tokenfetch-*.crate)
# examples/rust-worker is a package of its own (cargo leaves nested packages out): keep it out.
if tar tzf "$crate" | grep '/examples/rust-worker/' >/dev/null; then log "the crate includes examples/rust-worker"; exit 1; fi
log "crate: $crate ($(wc -c < "$crate") bytes)"

# A clean project that depends on the tarball only (npm installs it as users do).
project=$(mktemp -d)
trap 'rm -rf "$project"' EXIT
cp "$outdir/$tarball" "$project/"
(cd "$project" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "./$tarball" >/dev/null)
cat > "$project/serve.mjs" <<'EOF'
// A token endpoint on 127.0.0.1 for the smoke test: one Bearer token for every POST.
import { createServer } from 'node:http';
export function serve() {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: 'release-smoke-token', token_type: 'Bearer', expires_in: 60 }));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}
EOF
cat > "$project/esm.mjs" <<'EOF'
import { TokenClient, TokenError } from 'tokenfetch';
import { serve } from './serve.mjs';
const server = await serve();
const client = new TokenClient({ tokenEndpoint: `http://127.0.0.1:${server.address().port}/token`, clientId: 'c',
  clientAuth: { method: 'client_secret_post', clientSecret: 'release-smoke-secret' } });
const token = await client.getToken();
server.close();
if (token.accessToken !== 'release-smoke-token' || typeof TokenError !== 'function') throw new Error('ESM: wrong token');
console.log('esm ok');
EOF
cat > "$project/cjs.cjs" <<'EOF'
const { TokenClient } = require('tokenfetch');
import('./serve.mjs').then(async ({ serve }) => {
  const server = await serve();
  const client = new TokenClient({ tokenEndpoint: `http://127.0.0.1:${server.address().port}/token`, clientId: 'c',
    clientAuth: { method: 'client_secret_post', clientSecret: 'release-smoke-secret' } });
  const token = await client.getToken();
  server.close();
  if (token.accessToken !== 'release-smoke-token') throw new Error('CJS: wrong token');
  console.log('cjs ok');
});
EOF
(cd "$project" && node esm.mjs && node cjs.cjs) | sed 's/^/release: installed tarball, /'
log "done"
