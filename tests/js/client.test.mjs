// The client against real servers: oidc-provider authorities (A: private_key_jwt + DPoP with
// nonces; B: client secrets) and APIs that validate tokens and DPoP proofs with jose. Server-side
// counters are the proof of caching, single-flight, refresh and retries.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { calculateJwkThumbprint, decodeJwt } from 'jose';
import { TokenClient, TokenError } from 'tokenfetch';
import {
  startAuthorityA, startApi, startBlackhole, startFakeTokenEndpoint, startScenario, unusedPort,
} from '../support/index.mjs';

/** Options for the HelseID-style client of scenario `s` (API 1). */
const helseid = (s, extra = {}) => ({
  issuer: s.clients.helseid.issuer,
  tokenEndpoint: s.clients.helseid.tokenEndpoint,
  clientId: s.clients.helseid.clientId,
  clientAuth: { method: 'private_key_jwt', privateJwk: s.clients.helseid.privateJwk },
  dpop: true,
  scope: 'api1.read',
  resource: s.api1.audience,
  baseUrl: s.api1.url,
  ...extra,
});

/** Options for the Duende-style client of scenario `s` (API 2); `which` is duende or duendePost. */
const duende = (s, which = 'duende', extra = {}) => ({
  tokenEndpoint: s.clients[which].tokenEndpoint,
  clientId: s.clients[which].clientId,
  clientAuth: {
    method: which === 'duende' ? 'client_secret_basic' : 'client_secret_post',
    clientSecret: s.clients[which].clientSecret,
  },
  scope: 'api2.read',
  resource: s.api2.audience,
  baseUrl: s.api2.url,
  ...extra,
});

describe('caching and single-flight', () => {
  let s;
  before(async () => { s = await startScenario(); });
  after(async () => { await s?.close(); });

  test('ten calls to API 1 make one token request (after one nonce challenge)', async () => {
    const client = new TokenClient(helseid(s));
    for (let i = 0; i < 10; i++) assert.equal((await client.fetch('/data')).status, 200);
    assert.equal(s.authorityA.counters.tokensIssued, 1);
    assert.equal(s.authorityA.counters.tokenRequests, 2, 'the nonce challenge and the retry');
    assert.equal(s.api1.counters.ok, 10);
  });

  test('client_secret_basic with a special-character secret, then client_secret_post', async () => {
    for (const [which, method] of [['duende', 'client_secret_basic'], ['duendePost', 'client_secret_post']]) {
      const before = s.authorityB.counters.tokensIssued;
      const client = new TokenClient(duende(s, which));
      for (let i = 0; i < 10; i++) assert.equal((await client.fetch('/data')).status, 200);
      assert.equal(s.authorityB.counters.tokensIssued - before, 1);
      assert.equal(s.authorityB.requests.at(-1).authMethod, method);
    }
  });

  test('fifty concurrent cold fetches share one token request', async () => {
    const before = { ...s.authorityA.counters };
    const client = new TokenClient(helseid(s));
    const responses = await Promise.all(Array.from({ length: 50 }, () => client.fetch('/data')));
    assert.ok(responses.every((r) => r.status === 200));
    assert.equal(s.authorityA.counters.tokensIssued - before.tokensIssued, 1);
    assert.equal(s.authorityA.counters.tokenRequests - before.tokenRequests, 2);
  });

  test('fifty concurrent cold getToken calls share one token request', async () => {
    const before = s.authorityB.counters.tokensIssued;
    const client = new TokenClient(duende(s));
    const tokens = await Promise.all(Array.from({ length: 50 }, () => client.getToken()));
    assert.equal(new Set(tokens.map((t) => t.accessToken)).size, 1);
    assert.equal(s.authorityB.counters.tokensIssued - before, 1);
  });

  test('the DPoP token is bound to the client key and proofs carry ath and an htu without query', async () => {
    const client = new TokenClient(helseid(s));
    const res = await client.fetch('/data?x=1#frag');
    assert.equal(res.status, 200);
    const token = await client.getToken();
    assert.equal(token.tokenType, 'DPoP');
    assert.equal(decodeJwt(token.accessToken).cnf.jkt, client.dpopThumbprint());
    const seen = s.api1.requests.at(-1);
    assert.equal(seen.status, 200, 'the API validated ath, htu, htm, iat, jti and cnf.jkt');
  });
});

describe('refresh and recovery', () => {
  let s;
  before(async () => { s = await startScenario({ accessTokenTTL: 4 }); });
  after(async () => { await s?.close(); });

  test('a short-lived token is refreshed before it expires', async () => {
    const client = new TokenClient(duende(s, 'duende', { refreshBeforeExpirySeconds: 1 }));
    const first = await client.getToken();
    await new Promise((r) => setTimeout(r, 1200));
    assert.equal((await client.getToken()).accessToken, first.accessToken, 'still cached');
    await new Promise((r) => setTimeout(r, 2000)); // past the refresh point (4 s - 1 s buffer)
    const requested = Date.now();
    const second = await client.getToken();
    assert.notEqual(second.accessToken, first.accessToken);
    assert.ok(first.expiresAt > requested, 'the old token had not expired yet');
    assert.equal(s.authorityB.counters.tokensIssued, 2);
  });

  test('a token the API rejects is replaced and the POST body arrives intact on the retry', async () => {
    const client = new TokenClient(duende(s, 'duende', { refreshBeforeExpirySeconds: 0 }));
    assert.equal((await client.fetch('/data')).status, 200); // the API has seen the token
    const issued = s.authorityB.counters.tokensIssued;
    s.api2.revokeCurrentTokens();
    const body = JSON.stringify({ records: [1, 2, 3], note: 'æøå' });
    const res = await client.fetch('/echo', { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    assert.equal(res.status, 200);
    assert.equal((await res.json()).body, body);
    assert.equal(s.authorityB.counters.tokensIssued - issued, 1);
    assert.equal(s.api2.counters.invalidToken, 1);
    assert.equal((await client.fetch('/data')).status, 200);
    s.api2.revokeCurrentTokens();
    const request = new Request(`${s.api2.url}/echo`, { method: 'POST', body: 'as a Request' });
    const again = await client.fetch(request);
    assert.equal((await again.json()).body, 'as a Request');
    assert.equal(s.api2.counters.invalidToken, 2);
  });

  test('nonces learned from 2xx replies spare a challenge', async () => {
    const client = new TokenClient(helseid(s));
    assert.equal((await client.fetch('/data')).status, 200);
    const challenges = s.api1.counters.nonceChallenges;
    s.api1.rotateNonce();
    for (let i = 0; i < 3; i++) assert.equal((await client.fetch('/data')).status, 200);
    assert.equal(s.api1.counters.nonceChallenges, challenges, 'the new nonce came with a 200');
    assert.ok(client.inspect().nonces.some((n) => n.origin === s.api1.url && n.nonce === s.api1.nonce));
  });
});

describe('failures', () => {
  let s;
  before(async () => { s = await startScenario(); });
  after(async () => { await s?.close(); });

  test('a wrong secret is an oauth_error invalid_client that leaks nothing', async () => {
    const secret = 'wrong-secret-c0ffee';
    const client = new TokenClient(duende(s, 'duende', { clientAuth: { method: 'client_secret_basic', clientSecret: secret } }));
    const e = await client.getToken().then(() => assert.fail('resolved'), (err) => err);
    assert.ok(e instanceof TokenError && e instanceof Error);
    assert.equal(e.code, 'oauth_error');
    assert.equal(e.error, 'invalid_client');
    assert.equal(e.status, 401);
    for (const text of [e.message, e.stack, String(e), JSON.stringify(e), JSON.stringify(client.inspect())]) {
      assert.ok(!text.includes(secret), text);
    }
  });

  test('a foreign private key is refused and its d never appears', async () => {
    const stranger = await startAuthorityA();
    try {
      const d = stranger.privateJwk.d;
      const client = new TokenClient(helseid(s, { clientAuth: { method: 'private_key_jwt', privateJwk: stranger.privateJwk } }));
      const e = await client.getToken().then(() => assert.fail('resolved'), (err) => err);
      assert.equal(e.error, 'invalid_client');
      for (const text of [e.message, e.stack, String(e)]) assert.ok(!text.includes(d));
    } finally {
      await stranger.close();
    }
  });

  test('an unreachable token endpoint is a network_error', async () => {
    const port = await unusedPort();
    const client = new TokenClient({ ...duende(s), tokenEndpoint: `http://127.0.0.1:${port}/token`, retries: 1 });
    const e = await client.getToken().then(() => assert.fail('resolved'), (err) => err);
    assert.equal(e.code, 'network_error');
  });

  test('a token endpoint that never answers is a timeout within timeoutMs', async () => {
    const hole = await startBlackhole();
    try {
      const client = new TokenClient({ ...duende(s), tokenEndpoint: `${hole.url}/token`, timeoutMs: 300 });
      const started = performance.now();
      const e = await client.getToken().then(() => assert.fail('resolved'), (err) => err);
      const elapsed = performance.now() - started;
      assert.equal(e.code, 'timeout');
      assert.ok(elapsed >= 250 && elapsed < 2000, `${elapsed} ms`);
    } finally {
      await hole.close();
    }
  });

  test('a Bearer token answered to a DPoP request is refused and never used', async () => {
    const fake = await startFakeTokenEndpoint({ tokenType: 'Bearer' });
    try {
      const apiRequests = s.api1.counters.requests;
      const client = new TokenClient(helseid(s, { tokenEndpoint: fake.tokenEndpoint, issuer: undefined }));
      const e = await client.fetch('/data').then(() => assert.fail('resolved'), (err) => err);
      assert.equal(e.code, 'token_type_mismatch');
      assert.equal(fake.counters.requests, 1);
      assert.ok(fake.requests[0].headers.dpop, 'a proof was sent');
      assert.equal(s.api1.counters.requests, apiRequests, 'no API request with the downgraded token');
    } finally {
      await fake.close();
    }
  });

  test('options are validated at construction and errors name the field', () => {
    const base = duende(s);
    const cases = [
      [{ ...base, clientId: undefined }, 'clientId'],
      [{ ...base, clientAuth: { method: 'magic' } }, 'clientAuth.method'],
      [{ ...base, tokenEndpoint: 'http://as.example/token' }, 'tokenEndpoint'],
      [{ ...base, timeoutMs: 'soon' }, 'timeoutMs'],
      [{ ...base, dpop: 'yes' }, 'dpop'],
      [{ ...base, refreshBeforeExpirySecond: 5 }, 'refreshBeforeExpirySecond'],
      [{ ...base, clientAuth: { method: 'private_key_jwt', privateJwk: { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' } } },
        'clientAuth.privateJwk'],
    ];
    for (const [options, field] of cases) {
      assert.throws(() => new TokenClient(options), (e) => e instanceof TokenError && e.code === 'invalid_config'
        && e.message.includes(field), field);
    }
  });
});

describe('packaging', () => {
  let b;
  before(async () => { b = await startScenario(); });
  after(async () => { await b?.close(); });

  test('require() loads the package in CommonJS and gets a token', async () => {
    const code = `
      const { TokenClient, TokenError } = require('tokenfetch');
      const c = new TokenClient(JSON.parse(process.env.OPTIONS));
      c.getToken().then((t) => console.log(JSON.stringify({ type: t.tokenType, isError: typeof TokenError })));`;
    const env = { ...process.env, OPTIONS: JSON.stringify(duende(b)) };
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', code], { env, timeout: 20_000 });
    assert.deepEqual(JSON.parse(stdout), { type: 'Bearer', isError: 'function' });
  });

  test('a caller fetch is used for token and API requests', async () => {
    const urls = [];
    const counting = (input, init) => {
      urls.push(String(input.url ?? input));
      return fetch(input, init);
    };
    const client = new TokenClient(duende(b, 'duende', { fetch: counting }));
    assert.equal((await client.fetch('/data')).status, 200);
    assert.deepEqual(urls, [b.clients.duende.tokenEndpoint, `${b.api2.url}/data`]);
  });

  test('dpopThumbprint is the RFC 7638 thumbprint of the key in the proofs', async () => {
    const client = new TokenClient(helseid(b));
    const proof = await client.createDpopProof('GET', `${b.api1.url}/data`, { accessToken: 'x' });
    const header = JSON.parse(Buffer.from(proof.split('.')[0], 'base64url'));
    assert.equal(await calculateJwkThumbprint(header.jwk), client.dpopThumbprint());
  });
});
