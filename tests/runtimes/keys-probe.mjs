// Host key probes, runtime-neutral (WebCrypto only), for tests/js/security-keys.test.mjs: run in
// Node, Deno, Bun, workerd and Chromium with that runtime's package entry. Each returns plain JSON.
//   forgedProbe:  a JWK made of a victim's public members and an attacker's private members, used
//                 after the victim's key, must be refused (never sign with the victim's key).
//   releaseProbe: keys of clients that are dropped leave the host maps once the GC collects them.
//   boundProbe:   more live keys than the host maps keep: the maps stay bounded, and an evicted key
//                 is imported again from its JWK when its client signs again.
// `glue` is the package's wasm-bindgen glue (pkg/gen/tokenfetch_bg.js): `__hostKeyCounts()` is an
// internal export for these tests.

const subtle = () => globalThis.crypto.subtle;

/** A fresh key pair's private JWK: 'RSA' (RS256, 2048 bits) or 'P-384'. */
export async function privateJwk(kind) {
  const params = kind === 'RSA'
    ? { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }
    : { name: 'ECDSA', namedCurve: kind };
  const pair = await subtle().generateKey(params, true, ['sign', 'verify']);
  const { key_ops, ext, ...jwk } = await subtle().exportKey('jwk', pair.privateKey);
  return jwk;
}

/** The victim's public members with the attacker's private members. */
export function forge(victim, attacker) {
  return victim.kty === 'RSA' ? { ...attacker, n: victim.n, e: victim.e } : { ...attacker, x: victim.x, y: victim.y };
}

/** What a promise settled to: { value } or { error: { name, code, message } }. */
async function outcome(promise) {
  try {
    return { value: await promise };
  } catch (e) {
    return { error: { name: e?.name, code: e?.code, message: String(e?.message ?? e), isTokenError: e instanceof Error } };
  }
}

/**
 * For RSA and P-384: the victim's assertion (signed with the victim's key, imported first), then the
 * forged JWK's assertion (createClientAssertion) and the forged JWK as a TokenClient's
 * clientAuth.privateJwk (construction, then createDpopProof with it as dpop.privateJwk). Returns
 * per kind { victimJwk (public), victim: assertion, helper: outcome, client: outcome, dpop: outcome }.
 */
export async function forgedProbe({ TokenClient, createClientAssertion }) {
  const results = {};
  for (const kind of ['RSA', 'P-384']) {
    const [victim, attacker] = await Promise.all([privateJwk(kind), privateJwk(kind)]);
    const forged = forge(victim, attacker);
    const assertion = (privateJwk) =>
      createClientAssertion({ clientId: 'probe', audience: 'https://as.example', privateJwk });
    const victimAssertion = await assertion(victim);
    const options = (extra) => ({ tokenEndpoint: 'http://127.0.0.1:9/token', clientId: 'probe', ...extra });
    // The victim's key is imported by a client too, as a tenant's would be.
    const victimClient = new TokenClient(options({ clientAuth: { method: 'none' }, dpop: { privateJwk: victim } }));
    await victimClient.createDpopProof('GET', 'https://api.example/');
    const helper = await outcome(assertion(forged));
    const client = await outcome((async () => {
      const c = new TokenClient(options({ clientAuth: { method: 'private_key_jwt', privateJwk: forged } }));
      return c.getToken(); // reaches the signer first (WebCrypto runtimes), then the (unreachable) endpoint
    })());
    const dpop = await outcome((async () => {
      const c = new TokenClient(options({ clientAuth: { method: 'none' }, dpop: { privateJwk: forged } }));
      return c.createDpopProof('GET', 'https://api.example/');
    })());
    const { d, p, q, dp, dq, qi, ...victimPublic } = victim;
    results[kind] = { victimJwk: victimPublic, victim: victimAssertion, helper, client, dpop };
  }
  return results;
}

/** `n` clients, each with its own P-384 DPoP key used once: the host map counts while all are held. */
async function useClients(TokenClient, glue, n) {
  const clients = [];
  for (let i = 0; i < n; i++) {
    const client = new TokenClient({
      tokenEndpoint: 'https://as.example/token',
      clientId: 'probe',
      clientAuth: { method: 'none' },
      dpop: { privateJwk: await privateJwk('P-384') },
    });
    await client.createDpopProof('GET', 'https://api.example/');
    clients.push(client);
  }
  return glue.__hostKeyCounts();
}

/**
 * The host map counts after `collect()` (a GC and a few turns of the event loop), while `n` new
 * clients' keys are held, and once nothing refers to those clients and `collect()` ran again.
 */
export async function releaseProbe({ TokenClient }, glue, collect, n = 20) {
  await collect();
  const before = glue.__hostKeyCounts();
  const held = await useClients(TokenClient, glue, n);
  // Collection and finalization are up to the runtime: a few more rounds on a loaded machine.
  const released = () => ['imported', 'checked', 'native'].every((k) => glue.__hostKeyCounts()[k] <= before[k]);
  for (let round = 0; round < 5 && (round === 0 || !released()); round++) await collect();
  return { before, held, after: glue.__hostKeyCounts() };
}

/**
 * `cap + extra` clients, each with its own P-384 DPoP key used once, all held: the host map counts,
 * then the first client's proof again (its key was evicted) and that client's DPoP thumbprint.
 */
export async function boundProbe({ TokenClient }, glue, extra = 20) {
  const { cap } = glue.__hostKeyCounts();
  const clients = [];
  for (let i = 0; i < cap + extra; i++) {
    const client = new TokenClient({
      tokenEndpoint: 'https://as.example/token',
      clientId: 'probe',
      clientAuth: { method: 'none' },
      dpop: { privateJwk: await privateJwk('P-384') },
    });
    await client.createDpopProof('GET', 'https://api.example/');
    clients.push(client);
  }
  const full = glue.__hostKeyCounts();
  const again = await clients[0].createDpopProof('GET', 'https://api.example/again');
  return { full, again, jkt: clients[0].dpopThumbprint(), clients: clients.length };
}

/** `await fn()`, or `{ probeError }` when it throws: one failing probe does not hide the others. */
export async function settled(fn) {
  try {
    return await fn();
  } catch (e) {
    return { probeError: String(e?.stack ?? e) };
  }
}

/** `gc()` (however the runtime exposes it) and event-loop turns, `rounds` times. */
export async function collectWith(gc, rounds = 10) {
  for (let i = 0; i < rounds; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
