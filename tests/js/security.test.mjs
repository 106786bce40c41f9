// Trust, by construction: each test pins a hole tokenfetch once had (tenants sharing a store got each other's
// tokens; a token sent anywhere fetch was pointed; look-alike loopback hosts; URLs used as typed; typos accepted;
// stale tokens served after a refusal; a followed redirect at the token endpoint; `htm: "get"`) and fails on the
// code that had it. Real servers throughout: the oidc-provider authorities (which, as HelseID does, put the tenant
// of a token request in the access token), the jose-validating APIs and redis-server.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import {
  TokenClient, createDpopProof, generateDpopKey, helseIdAuthorization, redisStore,
} from 'tokenfetch';
import { startApi, startAuthorityB, startScenario } from '../support/index.mjs';
import { startMisbehaving } from '../support/misbehave.mjs';
import { startRedis } from '../support/redis.mjs';
import {
  delta, duendeOptions, expectTokenError, expectTokenErrorSync, helseidOptions, recordingFetch, scanScenario,
} from './helpers.mjs';

let s;
let redis;
let dpopKey;
const STORE_KEY = randomBytes(32).toString('base64url');

before(async () => {
  s = scanScenario(await startScenario());
  redis = await startRedis();
  dpopKey = await generateDpopKey();
});
after(async () => {
  await redis?.close();
  await s?.close();
});

const ORG_A = '111111111';
const ORG_B = '222222222';
const details = (child) => ({ assertion_details: [helseIdAuthorization({ parentOrganization: '994598759', childOrganization: child })] });
const orgValue = (child) => `NO:ORGNR:994598759:${child}`;

/** A client of API 1 (private_key_jwt + DPoP with a shared key) on the shared Redis store. */
function helseidTenant(claims, extra = {}) {
  return new TokenClient(helseidOptions(s, {
    clientAuth: { method: 'private_key_jwt', privateJwk: s.clients.helseid.privateJwk, claims },
    dpop: { privateJwk: dpopKey },
    store: redisStore(redis.client),
    storeEncryptionKey: STORE_KEY,
    ...extra,
  }));
}

describe('tenants that share a client id and a store never share a token', () => {
  test('clientAuth.claims (HelseID child organizations): each tenant gets a token for its own organization', async () => {
    await redis.client.flushAll();
    const a = helseidTenant(details(ORG_A));
    const b = helseidTenant(details(ORG_B));
    const { diff, result } = await delta(s.authorityA.counters, async () => {
      const first = await (await a.fetch('/data')).json();
      const second = await (await b.fetch('/data')).json();
      return [first, second];
    });
    assert.equal(diff.tokensIssued, 2, 'tenant B asked for its own token');
    assert.deepEqual(result.map((r) => r.org), [orgValue(ORG_A), orgValue(ORG_B)]);
    // A second instance of tenant A takes A's token from the store.
    const a2 = helseidTenant(details(ORG_A));
    const { diff: again, result: seen } = await delta(s.authorityA.counters, async () => (await a2.fetch('/data')).json());
    assert.equal(again.tokensIssued, 0);
    assert.equal(seen.org, orgValue(ORG_A));
  });

  test('extraParams (a tenant parameter): each tenant gets its own token', async () => {
    await redis.client.flushAll();
    const tenant = (name) => new TokenClient(duendeOptions(s, 'basic', {
      extraParams: { tenant: name }, store: redisStore(redis.client), storeEncryptionKey: STORE_KEY,
    }));
    const { diff, result } = await delta(s.authorityB.counters, async () => [
      await (await tenant('north').fetch('/data')).json(),
      await (await tenant('south').fetch('/data')).json(),
      await (await tenant('north').fetch('/data')).json(),
    ]);
    assert.equal(diff.tokensIssued, 2);
    assert.deepEqual(result.map((r) => r.tenant), ['north', 'south', 'north']);
  });

  test('one client, per-call claims: a token per organization, one request per organization, shared through the store', async () => {
    await redis.client.flushAll();
    const worker = helseidTenant(undefined);
    const forOrg = (org) => ({ claims: details(org) });
    const { diff, result } = await delta(s.authorityA.counters, () => Promise.all(
      [ORG_A, ORG_B, ORG_A, ORG_B, ORG_A].map(async (org) => (await worker.fetch('/data', undefined, forOrg(org))).json()),
    ));
    assert.equal(diff.tokensIssued, 2, 'concurrent calls of one organization share one token request');
    assert.deepEqual(result.map((r) => r.org), [ORG_A, ORG_B, ORG_A, ORG_B, ORG_A].map(orgValue));
    const tokenA = await worker.getToken(forOrg(ORG_A));
    const tokenB = await worker.getToken(forOrg(ORG_B));
    assert.notEqual(tokenA.accessToken, tokenB.accessToken);
    assert.equal(decodeJwt(tokenB.accessToken).org, orgValue(ORG_B));
    // Another instance (another process, in production) finds each organization's token in the store.
    const other = helseidTenant(undefined);
    const { diff: shared } = await delta(s.authorityA.counters, async () => {
      assert.equal((await other.getToken(forOrg(ORG_B))).accessToken, tokenB.accessToken);
      assert.equal((await other.getToken(forOrg(ORG_A))).accessToken, tokenA.accessToken);
    });
    assert.equal(shared.tokensIssued, 0);
    // The call's claims land in the assertion the authority saw, over the client's; the store holds no org number.
    for (const key of await redis.client.keys('*')) assert.ok(!key.includes(ORG_A) && !key.includes(ORG_B), key);
  });

  test('per-call extraParams are keyed too', async () => {
    const client = new TokenClient(duendeOptions(s));
    const t1 = await client.getToken({ extraParams: { tenant: 'east' } });
    const t2 = await client.getToken({ extraParams: { tenant: 'west' } });
    const t3 = await client.getToken({ extraParams: { tenant: 'east' } });
    assert.equal(decodeJwt(t1.accessToken).tenant, 'east');
    assert.equal(decodeJwt(t2.accessToken).tenant, 'west');
    assert.equal(t3.accessToken, t1.accessToken);
    assert.equal(client.inspect().tokenRequests, 2);
  });

  test('store keys are keyed by storeEncryptionKey: the same request is another key name under another key', async () => {
    await redis.client.flushAll();
    await helseidTenant(details(ORG_A)).getToken();
    await helseidTenant(details(ORG_A), { storeEncryptionKey: randomBytes(32).toString('base64url') }).getToken();
    const keys = await redis.client.keys('tokenfetch/*');
    assert.equal(keys.length, 2, 'one entry per storeEncryptionKey: nobody without it can name (or test) a key');
  });

  test('per-call claims need an assertion; unknown per-call options are refused', async () => {
    const client = new TokenClient(duendeOptions(s));
    await expectTokenError(client.getToken({ claims: { org: '1' } }), 'invalid_argument');
    const e = await expectTokenError(client.getToken({ scopes: 'api2.read' }), 'invalid_argument');
    assert.match(e.message, /^req: unknown option "scopes"/);
    await expectTokenError(client.getToken({ extraParams: { scope: 'x' } }), 'invalid_argument');
  });
});

describe('a token travels only where it belongs', () => {
  test('client.fetch refuses plain http to a host that is not loopback, before anything is sent', async () => {
    const recording = recordingFetch();
    const client = new TokenClient(duendeOptions(s, 'basic', { baseUrl: undefined, fetch: recording.fetch }));
    for (const input of ['http://api.example/data', 'http://127.attacker.example/data', new URL('http://10.0.0.1/x')]) {
      const e = await expectTokenError(client.fetch(input), 'url_not_allowed');
      assert.match(e.message, /https/);
    }
    assert.equal(recording.calls.length, 0, 'not even the token request went out');
    // Loopback over http is fine (the scenario's APIs).
    assert.equal((await client.fetch(`${s.api2.url}/data`)).status, 200);
  });

  test('with baseUrl, other origins are refused unless in allowedOrigins', async () => {
    const other = await startApi({ name: 'other', issuer: s.authorityB.issuer, jwksUri: s.authorityB.jwksUri, dpop: false });
    try {
      const recording = recordingFetch();
      const client = new TokenClient(duendeOptions(s, 'basic', { fetch: recording.fetch }));
      await client.getToken();
      const before = recording.calls.length;
      await expectTokenError(client.fetch(`${other.url}/data`), 'url_not_allowed');
      await expectTokenError(client.fetch(new Request(`${other.url}/data`)), 'url_not_allowed');
      assert.equal(recording.calls.length, before);
      assert.equal(other.counters.requests, 0);
      const allowed = new TokenClient(duendeOptions(s, 'basic', { allowedOrigins: [other.url] }));
      await allowed.fetch(`${other.url}/data`); // (a 401: the token is API 2's; what matters is that it may go)
      assert.ok(other.counters.requests > 0);
      assert.equal((await allowed.fetch('/data')).status, 200, 'the baseUrl origin stays allowed');
      expectTokenErrorSync(() => new TokenClient(duendeOptions(s, 'basic', { allowedOrigins: ['https://x.example/v1'] })), 'invalid_config');
    } finally {
      await other.close();
    }
  });

  test('a redirect within the API origin is followed with a fresh proof; the token never rides one elsewhere', async () => {
    const client = new TokenClient(helseidOptions(s));
    for (const round of [1, 2]) { // the full path, then the fast path with the cached token
      const res = await client.fetch('/moved');
      assert.equal(res.status, 200, `round ${round}`);
      assert.equal((await res.json()).api, 'api1');
    }
    const seeOther = await client.fetch('/see-other', { method: 'POST', body: 'x', headers: { 'content-type': 'text/plain' } });
    assert.equal(seeOther.status, 200, '303 turns the POST into a GET of /data');
    const moved = s.api1.requests.filter((r) => r.path === '/moved' || r.path === '/see-other');
    assert.ok(moved.length >= 3);
    // The caller's own redirect mode stands.
    assert.equal((await client.fetch('/moved', { redirect: 'manual' })).status, 308);
  });

  test('a look-alike loopback host is not loopback: no token endpoint over http there', async () => {
    for (const tokenEndpoint of ['http://127.attacker.example/token', 'http://127.0.0.1.nip.io/token', 'http://localhost.example/token']) {
      const e = expectTokenErrorSync(() => new TokenClient({ ...duendeOptions(s), issuer: undefined, tokenEndpoint }), 'invalid_config');
      assert.match(e.message, /^tokenEndpoint: .*loopback/);
    }
    // Nor through discovery: metadata pointing the token endpoint at one is refused.
    const metadata = await startMisbehaving('metadata', {
      document: (issuer) => ({ issuer, token_endpoint: 'http://127.evil.example/token' }),
    });
    try {
      const client = new TokenClient({ ...duendeOptions(s), issuer: metadata.url, tokenEndpoint: undefined });
      const e = await expectTokenError(client.getToken(), 'invalid_config');
      assert.match(e.message, /token_endpoint.*loopback/);
    } finally {
      await metadata.close();
    }
  });

  test('configured URLs are used in the form fetch sends: requests, htu and nonce origins agree', async () => {
    const port = new URL(s.authorityA.tokenEndpoint).port;
    const client = new TokenClient(helseidOptions(s, { tokenEndpoint: `HTTP://LOCALHOST:${port}/./token` }));
    const token = await client.getToken(); // authority A checks the proof's htu against its own URL
    assert.equal(token.tokenType, 'DPoP');
    assert.deepEqual(client.inspect().nonces.map((n) => n.origin), [`http://localhost:${port}`]);
  });
});

describe('options and proofs', () => {
  test('a typo inside a nested option is refused, naming it', () => {
    const exchange = { ...duendeOptions(s), grant: 'token_exchange' };
    const e = expectTokenErrorSync(() => new TokenClient({ ...exchange, tokenExchange: { audiance: 'api' } }), 'invalid_config');
    assert.equal(e.message, 'tokenExchange: unknown option "audiance"');
    expectTokenErrorSync(() => new TokenClient({ ...duendeOptions(s), dpop: { privateJwk: dpopKey, keypair: {} } }), 'invalid_config');
  });

  test('staleIfErrorSeconds covers an outage, never a refusal (invalid_client: a revoked client)', async () => {
    const server = await startMisbehaving('sequence', { answers: ['token', 'invalid_client', 'storm', 'invalid_grant'] });
    try {
      const client = new TokenClient({
        tokenEndpoint: server.tokenEndpoint, clientId: 'c', retries: 0, staleIfErrorSeconds: 600,
        clientAuth: { method: 'client_secret_post', clientSecret: 'a-secret-for-the-stale-test' },
      });
      const { accessToken } = await client.getToken();
      await expectTokenError(client.getToken({ forceRefresh: true }), 'oauth_error', { error: 'invalid_client' });
      assert.equal((await client.getToken({ forceRefresh: true })).accessToken, accessToken, 'a 5xx is an outage');
      await expectTokenError(client.getToken({ forceRefresh: true }), 'oauth_error', { error: 'invalid_grant' });
    } finally {
      await server.close();
    }
  });

  test('a custom fetch that follows redirects: the token response it got elsewhere is refused', async () => {
    const authority = await startAuthorityB();
    const hop = await startMisbehaving('redirect', { status: 307, location: authority.tokenEndpoint });
    try {
      const following = (url, init) => fetch(url, { ...init, redirect: 'follow' });
      const client = new TokenClient({
        tokenEndpoint: hop.tokenEndpoint, clientId: authority.clients.post.clientId, fetch: following,
        clientAuth: { method: 'client_secret_post', clientSecret: authority.clients.post.clientSecret },
      });
      await expectTokenError(client.getToken(), 'redirect');
      assert.equal(authority.counters.tokensIssued, 1, 'the authority answered the redirected request');
    } finally {
      await hop.close();
      await authority.close();
    }
  });

  test('createDpopProof("get") signs htm "GET", as fetch sends it', async () => {
    const client = new TokenClient(helseidOptions(s));
    const proof = await client.createDpopProof('get', 'https://api.example/x?y=1');
    assert.equal(decodeJwt(proof).htm, 'GET');
    assert.equal(decodeJwt(proof).htu, 'https://api.example/x');
    assert.equal(decodeProtectedHeader(proof).typ, 'dpop+jwt');
    const standalone = await createDpopProof({ privateJwk: dpopKey, method: 'post', url: 'https://api.example/x' });
    assert.equal(decodeJwt(standalone).htm, 'POST');
    assert.equal(decodeJwt(await client.createDpopProof('patch', 'https://api.example/x')).htm, 'patch');
  });
});
