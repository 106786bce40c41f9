// Real servers with a clock that is off: a child process (preloaded with skewed-clock.mjs) runs authority A
// (HelseID-like: private_key_jwt, DPoP with nonces) with API 1 (DPoP, nonces), and a Maskinporten-style authority,
// all `shiftMs` ahead of this machine's clock (negative: behind). Their token checks, proof checks and `Date` headers
// all use the skewed time.
//
//   const s = await startSkewedServers(5 * 60_000);
//   ... new TokenClient({ tokenEndpoint: s.authorityA.tokenEndpoint, ... }) ...
//   const { authorityA, api1, maskinporten } = await s.stats();   // what each server received
//   await s.close();
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Start the servers in a child process whose clock runs `shiftMs` ahead. Returns { shiftMs, authorityA: { issuer,
 * tokenEndpoint, clientId, privateJwk }, api1: { url }, maskinporten: { issuer, tokenEndpoint, clientId, privateJwk
 * (RS256), scope }, stats(), close() }; stats() resolves to { authorityA: [{ status, error }], api1: [{ status, error
 * }], maskinporten: [{ status, error, iat? (of the grant assertion) }], maskinportenGrants: [{ ok, reason? }] }, an
 * entry per token POST, API request or grant checked.
 */
export async function startSkewedServers(shiftMs) {
  const child = fork(fileURLToPath(import.meta.url), ['serve'], {
    execArgv: ['--import', fileURLToPath(new URL('./skewed-clock.mjs', import.meta.url))],
    env: { ...process.env, TOKENFETCH_CLOCK_SHIFT_MS: String(shiftMs) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const replies = new Map();
  let next = 0;
  const info = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`skewed servers exited (${code}) before they were ready`)));
    child.on('message', (m) => {
      if (m.type === 'ready') resolve(m.info);
      else replies.get(m.id)?.(m.stats);
    });
  });
  const ask = (cmd) => new Promise((resolve) => {
    const id = next++;
    replies.set(id, resolve);
    child.send({ id, cmd });
  });
  return {
    shiftMs,
    ...info,
    stats: () => ask('stats'),
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ cmd: 'close' });
      await exited;
    },
  };
}

/** The child: start the servers, report their addresses, answer `stats` and `close`. */
async function serve() {
  const { startAuthorityA } = await import('./authority.mjs');
  const { startMaskinportenAuthority } = await import('./authorities.mjs');
  const { startApi } = await import('./resource.mjs');
  const [authorityA, maskinporten] = await Promise.all([startAuthorityA(), startMaskinportenAuthority()]);
  const api1 = await startApi({
    name: 'api1', issuer: authorityA.issuer, jwksUri: authorityA.jwksUri, dpop: true, requireNonce: true,
  });
  authorityA.setAudience(api1.audience);
  maskinporten.setAudience('https://mp-api.example/');
  const stats = () => ({
    authorityA: authorityA.requests.map(({ status, error }) => ({ status, error })),
    api1: api1.requests.filter((r) => r.path === '/data').map(({ status, error }) => ({ status, error })),
    maskinporten: maskinporten.requests.map(({ status, error, assertion }) => ({ status, error, iat: assertion?.payload?.iat })),
    maskinportenGrants: maskinporten.grantLog.map(({ ok, reason }) => ({ ok, reason })),
  });
  process.on('message', async (m) => {
    if (m.cmd === 'stats') process.send({ id: m.id, stats: stats() });
    if (m.cmd === 'close') {
      await Promise.all([authorityA.close(), maskinporten.close(), api1.close()]);
      process.disconnect();
      process.exit(0);
    }
  });
  process.send({
    type: 'ready',
    info: {
      authorityA: {
        issuer: authorityA.issuer, tokenEndpoint: authorityA.tokenEndpoint, clientId: authorityA.clientId,
        privateJwk: authorityA.privateJwk,
      },
      api1: { url: api1.url },
      maskinporten: {
        issuer: maskinporten.issuer, tokenEndpoint: maskinporten.tokenEndpoint, clientId: maskinporten.clientId,
        privateJwk: maskinporten.keys.rs256.privateJwk, scope: 'mp:read',
      },
    },
  });
}

if (process.argv[2] === 'serve' && process.argv[1] === fileURLToPath(import.meta.url)) await serve();
