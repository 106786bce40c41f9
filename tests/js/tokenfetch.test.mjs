// tokenfetch end to end, as the built npm package, against the standard scenario (tests/support): authority A
// (HelseID-like: private_key_jwt, DPoP with required nonces) -> API 1, authority B (Duende-like: client secrets,
// Bearer) -> API 2. The servers' counters and logs are the proof of caching, single-flight, retries and methods.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import {
  EmbeddedJWK, SignJWT, calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair,
  importJWK, jwtVerify,
} from 'jose';
import {
  ClientRegistry, TokenClient, TokenError, createClientAssertion, createDpopProof, generateDpopKey, jwkThumbprint,
} from 'tokenfetch';
import {
  SPECIAL_SECRET, generateEs256Jwk, startApi, startAuthorityB, startBlackhole, startFakeTokenEndpoint, startScenario,
  unusedPort,
} from '../support/index.mjs';
import {
  assertNoLeak, delta, duendeClient, duendeOptions, expectTokenError, expectTokenErrorSync, helseidClient,
  helseidOptions, logged, recordingFetch, scanScenario, secrets, sha256url, sleep,
} from './helpers.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Start a scenario for the enclosing describe and close it afterwards; returns a getter. */
function useScenario(opts) {
  let s;
  before(async () => { s = scanScenario(await startScenario(opts)); });
  after(async () => { await s?.close(); });
  return () => s;
}

describe('cached tokens: sequential calls send one token request per client', () => {
  const scenario = useScenario();

  test('API 1 (private_key_jwt + DPoP, nonces at authority and API): 10 calls, all 200, one token issued', async () => {
    const s = scenario();
    const client = helseidClient(s);
    for (let i = 0; i < 10; i += 1) {
      const res = await client.fetch('/data');
      assert.equal(res.status, 200, `call ${i + 1}`);
      assert.deepEqual(await res.json(), { api: 'api1', client_id: 'worker-a', sub: 'worker-a', scope: 'api1.read' });
    }
    assert.equal(s.authorityA.counters.tokensIssued, 1);
    assert.equal(s.authorityA.counters.tokenRequests, 2, 'the nonce challenge, then the token');
    assert.equal(client.inspect().tokenRequests, 1);
    assert.equal(s.api1.counters.ok, 10);
    assert.equal(s.api1.tokensSeen.size, 1, 'every call carried the same access token');
    assert.ok(s.authorityA.requests.every((r) => r.authMethod === 'private_key_jwt' && r.hadDpop));
  });

  for (const which of ['basic', 'post']) {
    test(`API 2 with client_secret_${which} (secret needing form-urlencoding): 10 calls, one token, method used`, async () => {
      const s = scenario();
      const client = duendeClient(s, which);
      const { diff, result: { entries } } = await delta(s.authorityB.counters, () => logged(s.authorityB.requests, async () => {
        for (let i = 0; i < 10; i += 1) {
          const res = await client.fetch('/data');
          assert.equal(res.status, 200, `call ${i + 1}`);
          assert.equal((await res.json()).client_id, which === 'basic' ? 'worker-b' : 'worker-b-post');
        }
      }));
      assert.deepEqual(diff, { tokenRequests: 1, tokensIssued: 1 });
      assert.deepEqual(entries.map((r) => [r.status, r.clientId, r.authMethod, r.hadDpop]),
        [[200, which === 'basic' ? 'worker-b' : 'worker-b-post', `client_secret_${which}`, false]]);
      assert.ok(s.clients[which === 'basic' ? 'duende' : 'duendePost'].clientSecret.startsWith(SPECIAL_SECRET));
      assert.equal(client.inspect().tokenRequests, 1);
    });
  }

  test('dpopThumbprint() equals the cnf.jkt of the issued access token; inspect() shows no token value', async () => {
    const s = scenario();
    const dpopKey = await generateDpopKey();
    const client = helseidClient(s, { dpop: { privateJwk: dpopKey } });
    const { d, ...publicJwk } = dpopKey;
    assert.equal(client.dpopThumbprint(), jwkThumbprint(publicJwk));
    const token = await client.getToken();
    assert.equal(token.tokenType, 'DPoP');
    assert.equal(token.scope, 'api1.read');
    assert.equal(decodeJwt(token.accessToken).cnf.jkt, client.dpopThumbprint());
    const view = client.inspect();
    assert.equal(view.cache.length, 1);
    assert.equal(view.cache[0].tokenType, 'DPoP');
    assert.equal(view.cache[0].expiresAt, token.expiresAt);
    assert.ok(!JSON.stringify(view).includes(token.accessToken), 'inspect() never shows a token');
    assert.ok(!JSON.stringify(view).includes(d), 'inspect() never shows the DPoP private key');
    assert.equal(helseidClient(s, { dpop: false }).dpopThumbprint(), undefined);
  });
});

describe('single-flight: concurrent cold callers share one token request', () => {
  const scenario = useScenario();
  const N = 50;

  test(`${N} concurrent cold client.fetch to API 1: all 200; authority A: 2 token POSTs (nonce), 1 token`, async () => {
    const s = scenario();
    const client = helseidClient(s);
    const { diff, result: statuses } = await delta(s.authorityA.counters, () =>
      Promise.all(Array.from({ length: N }, () => client.fetch('/data').then((r) => r.status))));
    assert.deepEqual(statuses, Array(N).fill(200));
    assert.deepEqual(diff, { tokenRequests: 2, tokensIssued: 1 });
    assert.equal(client.inspect().tokenRequests, 1);
  });

  test(`${N} concurrent cold getToken on authority A: one token for all, 2 token POSTs, 1 issued`, async () => {
    const s = scenario();
    const client = helseidClient(s);
    const { diff, result: tokens } = await delta(s.authorityA.counters, () =>
      Promise.all(Array.from({ length: N }, () => client.getToken())));
    assert.equal(new Set(tokens.map((t) => t.accessToken)).size, 1);
    assert.deepEqual(diff, { tokenRequests: 2, tokensIssued: 1 });
  });

  test(`${N} concurrent cold client.fetch and, on another client, getToken on authority B: 1 token each`, async () => {
    const s = scenario();
    const fetching = duendeClient(s, 'basic');
    const { diff, result: statuses } = await delta(s.authorityB.counters, () =>
      Promise.all(Array.from({ length: N }, () => fetching.fetch('/data').then((r) => r.status))));
    assert.deepEqual(statuses, Array(N).fill(200));
    assert.deepEqual(diff, { tokenRequests: 1, tokensIssued: 1 });

    const getting = duendeClient(s, 'post');
    const second = await delta(s.authorityB.counters, () => Promise.all(Array.from({ length: N }, () => getting.getToken())));
    assert.equal(new Set(second.result.map((t) => t.accessToken)).size, 1);
    assert.deepEqual(second.diff, { tokenRequests: 1, tokensIssued: 1 });
  });

  test('a failure reaches every concurrent waiter and is not cached', async () => {
    const s = scenario();
    const client = duendeClient(s, 'basic', { clientAuth: { method: 'client_secret_basic', clientSecret: 'wrong-secret' } });
    const { diff, result } = await delta(s.authorityB.counters, () =>
      Promise.allSettled(Array.from({ length: 20 }, () => client.getToken())));
    assert.equal(diff.tokenRequests, 1, 'one shared request for all waiters');
    for (const r of result) {
      assert.equal(r.status, 'rejected');
      assert.ok(r.reason instanceof TokenError);
      assert.equal(r.reason.code, 'oauth_error');
      secrets.check(r.reason, 'a waiting caller');
    }
    const again = await delta(s.authorityB.counters, () => client.getToken().catch((e) => e));
    secrets.check(again.result, 'the second failure');
    assert.equal(again.diff.tokenRequests, 1, 'the failure was not cached');
    assert.equal(again.result.error, 'invalid_client');
  });
});

describe('refresh before expiry (authority B with accessTokenTTL: 4)', () => {
  let authority; let api;
  before(async () => {
    authority = await startAuthorityB({ accessTokenTTL: 4 });
    secrets.addClient('short-TTL authority client', authority.clients.post)
      .addSource('a token issued by the short-TTL authority', () => authority.issuedTokens);
    api = await startApi({ name: 'short', issuer: authority.issuer, jwksUri: authority.jwksUri, dpop: false });
    authority.setAudience(api.audience);
  });
  after(async () => { await Promise.all([authority?.close(), api?.close()]); });
  const client = (extra) => new TokenClient({
    tokenEndpoint: authority.tokenEndpoint,
    clientId: authority.clients.post.clientId,
    clientAuth: { method: 'client_secret_post', clientSecret: authority.clients.post.clientSecret },
    scope: 'api2.read',
    baseUrl: api.url,
    ...extra,
  });

  test('refreshBeforeExpirySeconds: 1 -> cached at 1.2 s, a new token at ~3 s, before the old one expired', async () => {
    const c = client({ refreshBeforeExpirySeconds: 1 });
    const { entries: firstLog, result: first } = await logged(authority.requests, () => c.getToken());
    assert.equal(firstLog.length, 1);
    const issuedAt = firstLog[0].time;
    assert.ok(Math.abs(first.expiresAt - (issuedAt + 4000)) < 1000, 'expiresAt = now + expires_in');
    const [entry] = c.inspect().cache;
    assert.equal(entry.expiresAt, first.expiresAt);
    assert.equal(entry.refreshAt, first.expiresAt - 1000, 'buffer = min(1 s, 4 s / 2)');

    await sleep(1200);
    const cached = await delta(authority.counters, () => c.getToken());
    assert.equal(cached.result.accessToken, first.accessToken, 'still cached at 1.2 s');
    assert.equal(cached.diff.tokenRequests, 0);
    assert.equal((await c.fetch('/data')).status, 200);

    await sleep(Math.max(0, entry.refreshAt - Date.now()) + 200);
    const { entries: secondLog, result: second } = await logged(authority.requests, () => c.getToken());
    assert.equal(secondLog.length, 1, 'one new token request past the refresh point');
    assert.equal(secondLog[0].status, 200);
    assert.notEqual(second.accessToken, first.accessToken);
    assert.ok(secondLog[0].time >= entry.refreshAt, 'not before the refresh point');
    assert.ok(first.expiresAt > secondLog[0].time, 'refreshed before the old token expired');
    assert.ok(second.expiresAt > first.expiresAt);
    assert.equal(c.inspect().tokenRequests, 2);
  });

  test('default 60 s buffer is clamped to half of a 4 s lifetime: reused at first, refreshed at ~2 s', async () => {
    const c = client();
    const { diff, result: [a, b] } = await delta(authority.counters, async () => [await c.getToken(), await c.getToken()]);
    assert.equal(diff.tokenRequests, 1, 'a 4 s token is reused, not re-requested on every call');
    assert.equal(a.accessToken, b.accessToken);
    const [entry] = c.inspect().cache;
    assert.equal(entry.refreshAt, a.expiresAt - 2000, 'buffer = min(60 s, 4 s / 2)');
    await sleep(Math.max(0, entry.refreshAt - Date.now()) + 200);
    const later = await delta(authority.counters, () => c.getToken());
    assert.equal(later.diff.tokenRequests, 1);
    assert.notEqual(later.result.accessToken, a.accessToken);
    assert.ok(a.expiresAt > Date.now(), 'the old token was still valid');
  });
});

describe('DPoP nonces: token endpoint and API challenges, nonces from 2xx replies, proof contents', () => {
  const scenario = useScenario({ nonceRotateEvery: 3 });

  test('token endpoint 400 use_dpop_nonce then 200; API 401 use_dpop_nonce then 200; nonces kept per origin', async () => {
    const s = scenario();
    const client = helseidClient(s);
    const api = await delta(s.api1.counters, async () => {
      const { entries, result: res } = await logged(s.authorityA.requests, () => client.fetch('/data'));
      assert.equal(res.status, 200);
      assert.deepEqual(entries.map((r) => [r.status, r.error ?? null]), [[400, 'use_dpop_nonce'], [200, null]]);
    });
    assert.equal(api.diff.nonceChallenges, 1);
    assert.equal(api.diff.ok, 1);
    const nonces = Object.fromEntries(client.inspect().nonces.map((n) => [n.origin, n.nonce]));
    assert.ok(nonces[new URL(s.authorityA.tokenEndpoint).origin], 'authority nonce remembered');
    assert.equal(nonces[new URL(s.api1.url).origin], s.api1.nonce, 'API nonce remembered');
  });

  test('the nonce retry at the token endpoint re-mints assertion and proof; assertion claims per RFC 7523', async () => {
    const s = scenario();
    for (const [issuer, aud] of [[s.authorityA.issuer, s.authorityA.issuer], [undefined, s.authorityA.tokenEndpoint]]) {
      const rec = recordingFetch();
      const client = helseidClient(s, { issuer, fetch: rec.fetch });
      const { entries } = await logged(s.authorityA.requests, () => client.getToken());
      assert.deepEqual(entries.map((r) => r.status), [400, 200]);
      const posts = rec.calls.filter((c) => c.url === s.authorityA.tokenEndpoint);
      assert.equal(posts.length, 2);
      const forms = await Promise.all(posts.map(async (c) => new URLSearchParams(await c.body)));
      const assertions = forms.map((f) => f.get('client_assertion'));
      const proofs = posts.map((c) => decodeJwt(c.headers.get('dpop')));
      for (const [i, form] of forms.entries()) {
        assert.equal(form.get('grant_type'), 'client_credentials');
        assert.equal(form.get('client_assertion_type'), 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
        const { payload } = await jwtVerify(assertions[i], s.authorityA.keyPair.publicKey, {
          issuer: 'worker-a', subject: 'worker-a', audience: aud, algorithms: ['ES256'],
        });
        assert.equal(payload.aud, aud, `aud is one string: ${issuer ? 'the issuer' : 'the token endpoint'}`);
        assert.ok(payload.exp - payload.iat <= 60);
        assert.equal(decodeProtectedHeader(assertions[i]).kid, s.authorityA.privateJwk.kid);
      }
      assert.notEqual(decodeJwt(assertions[0]).jti, decodeJwt(assertions[1]).jti, 'fresh assertion jti on the retry');
      assert.notEqual(proofs[0].jti, proofs[1].jti, 'fresh proof jti on the retry');
      assert.equal(proofs[0].nonce, undefined);
      assert.ok(proofs[1].nonce, 'the retry carries the server nonce');
      for (const p of [...forms.map((f) => f.toString()), ...assertions]) {
        assert.ok(!p.includes(s.authorityA.privateJwk.d), 'the private key is never sent');
      }
    }
  });

  test('nonceRotateEvery: 3 -> the client takes each new nonce from the 2xx reply and is never challenged again', async () => {
    const s = scenario();
    const client = helseidClient(s);
    assert.equal((await client.fetch('/data')).status, 200); // warm: token + first API nonce
    const firstNonce = s.api1.nonce;
    const { diff } = await delta(s.api1.counters, async () => {
      for (let i = 0; i < 12; i += 1) assert.equal((await client.fetch('/data')).status, 200, `call ${i + 1}`);
    });
    assert.notEqual(s.api1.nonce, firstNonce, 'the API rotated its nonce meanwhile');
    assert.deepEqual(diff, { requests: 12, ok: 12, rejected: 0, nonceChallenges: 0, invalidToken: 0 });
    const apiNonce = client.inspect().nonces.find((n) => n.origin === new URL(s.api1.url).origin);
    assert.equal(apiNonce?.nonce, s.api1.nonce);
  });

  test('api1.rotateNonce(): the new nonce arrives on a 200 and the next calls are not challenged', async () => {
    const s = scenario();
    const client = helseidClient(s);
    assert.equal((await client.fetch('/data')).status, 200);
    const challenges = s.api1.counters.nonceChallenges;
    const old = s.api1.nonce;
    s.api1.rotateNonce();
    for (let i = 0; i < 2; i += 1) assert.equal((await client.fetch('/data')).status, 200);
    assert.notEqual(s.api1.nonce, old);
    assert.equal(s.api1.counters.nonceChallenges, challenges, 'no challenge after the rotation');
  });

  test('API proofs: htu without query/fragment, htm, ath = SHA-256(token), current nonce, unique jti', async () => {
    const s = scenario();
    const rec = recordingFetch();
    const client = helseidClient(s, { fetch: rec.fetch });
    const nonce = s.api1.nonce; // this scenario rotates it after some successes: the one valid for this call
    const res = await client.fetch('/data?x=1#f');
    assert.equal(res.status, 200);
    const token = (await client.getToken()).accessToken;
    const apiCalls = () => rec.calls.filter((c) => c.url.startsWith(s.api1.url));
    const last = apiCalls().at(-1);
    assert.equal(last.headers.get('authorization'), `DPoP ${token}`);
    const { payload, protectedHeader } = await jwtVerify(last.headers.get('dpop'), EmbeddedJWK, { typ: 'dpop+jwt' });
    assert.equal(payload.htu, `${s.api1.url}/data`);
    assert.equal(payload.htm, 'GET');
    assert.equal(payload.ath, sha256url(token));
    assert.equal(payload.nonce, nonce);
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 10);
    assert.equal(protectedHeader.jwk.d, undefined, 'no private key in the proof');
    assert.equal(await calculateJwkThumbprint(protectedHeader.jwk), client.dpopThumbprint());

    // Token endpoint proofs: htu = the endpoint, htm POST, no ath.
    const tokenCalls = rec.calls.filter((c) => c.url === s.authorityA.tokenEndpoint);
    assert.equal(tokenCalls.length, 2);
    for (const c of tokenCalls) {
      const p = decodeJwt(c.headers.get('dpop'));
      assert.equal(p.htm, 'POST');
      assert.equal(p.htu, s.authorityA.tokenEndpoint);
      assert.equal(p.ath, undefined);
    }

    // The API refuses a replayed jti: 20 more calls all succeed, and every proof sent had its own jti.
    const statuses = [];
    for (let i = 0; i < 20; i += 1) statuses.push((await client.fetch(`/data?i=${i}`)).status);
    assert.deepEqual(statuses, Array(20).fill(200));
    const jtis = rec.calls.filter((c) => c.headers.has('dpop')).map((c) => decodeJwt(c.headers.get('dpop')).jti);
    assert.equal(new Set(jtis).size, jtis.length, 'every proof has a unique jti');
    assert.ok(jtis.length >= 23);
  });
});

describe('revoked token: 401 invalid_token -> new token, the request replayed with its body', () => {
  const scenario = useScenario();
  const BODY = JSON.stringify({ id: 42, text: 'blåbærsyltetøy ✓ \u{1F511}', nested: { a: [1, 2, 3] } });

  for (const [apiName, make] of [['api1', helseidClient], ['api2', duendeClient]]) {
    for (const input of ['string body', 'Request object']) {
      test(`${apiName}, POST /echo with a ${input}: 200, same body echoed, one new token, invalidToken +1`, async () => {
        const s = scenario();
        const api = s[apiName];
        const authority = apiName === 'api1' ? s.authorityA : s.authorityB;
        const client = make(s);
        assert.equal((await client.fetch('/data')).status, 200); // cache a token
        const before = await client.getToken();
        api.revokeCurrentTokens();

        const headers = { 'content-type': 'application/json' };
        const call = input === 'string body'
          ? () => client.fetch('/echo', { method: 'POST', body: BODY, headers })
          : () => client.fetch(new Request(`${api.url}/echo`, { method: 'POST', body: BODY, headers }));
        const issued = await delta(authority.counters, () => delta(api.counters, call));
        const { result: res, diff } = issued.result;
        assert.equal(res.status, 200);
        assert.deepEqual(await res.json(), { api: apiName, body: BODY, contentType: 'application/json' });
        assert.equal(diff.invalidToken, 1);
        assert.equal(diff.ok, 1);
        assert.equal(issued.diff.tokensIssued, 1, 'a second token was issued');
        assert.notEqual((await client.getToken()).accessToken, before.accessToken);
      });
    }
  }
});

describe('client.fetch: inputs, headers and the retry limits', () => {
  const scenario = useScenario();
  let wrongAudience; // an API for authority B tokens that rejects every one of them (audience mismatch)
  before(async () => {
    const s = scenario();
    wrongAudience = await startApi({
      name: 'wrong-aud', issuer: s.authorityB.issuer, jwksUri: s.authorityB.jwksUri, dpop: false, audience: 'https://elsewhere.example',
    });
  });
  after(async () => { await wrongAudience?.close(); });

  test('string, URL and Request inputs are all accepted (input: string | URL | Request)', async () => {
    const s = scenario();
    const client = duendeClient(s, 'basic');
    assert.equal((await client.fetch(`${s.api2.url}/data`)).status, 200, 'absolute string');
    assert.equal((await client.fetch('/data')).status, 200, 'relative string + baseUrl');
    assert.equal((await client.fetch(new Request(`${s.api2.url}/data`))).status, 200, 'Request');
    const viaUrl = await settlesWithin(client.fetch(new URL(`${s.api2.url}/data`)), 3000, 'client.fetch(new URL(...))');
    assert.equal(viaUrl.status, 200, 'URL object');
  });

  test('a relative input without baseUrl rejects with TokenError invalid_argument', async () => {
    const s = scenario();
    const client = duendeClient(s, 'basic', { baseUrl: undefined });
    await expectTokenError(settlesWithin(client.fetch('/data'), 3000, 'client.fetch(relative)'), 'invalid_argument');
  });

  test('caller headers are kept, a caller Authorization is replaced, a fresh POST body survives the nonce retries', async () => {
    const s = scenario();
    const client = helseidClient(s); // fresh: the API challenges the first call for a nonce
    const bytes = new TextEncoder().encode('{"bytes":"blåbær"}');
    const { diff, result: res } = await delta(s.api1.counters, () => client.fetch('/echo', {
      method: 'POST', body: bytes, headers: { 'content-type': 'application/json', authorization: 'Bearer stale' },
    }));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { api: 'api1', body: '{"bytes":"blåbær"}', contentType: 'application/json' });
    assert.deepEqual([diff.nonceChallenges, diff.ok, diff.invalidToken], [1, 1, 0]);
  });

  test('an API that rejects every token: one retry with a new token, then its 401 is returned', async () => {
    const s = scenario();
    const client = duendeClient(s, 'basic', { baseUrl: wrongAudience.url });
    const issued = await delta(s.authorityB.counters, () => delta(wrongAudience.counters,
      () => client.fetch('/echo', { method: 'POST', body: 'once more' })));
    const { result: res, diff } = issued.result;
    assert.equal(res.status, 401, 'the final response, not an exception');
    assert.match(res.headers.get('www-authenticate'), /error="invalid_token"/);
    assert.deepEqual([diff.requests, diff.invalidToken], [2, 2], 'exactly one retry');
    assert.equal(issued.diff.tokensIssued, 2);
  });

  for (const [apiName, make] of [['api1', helseidClient], ['api2', duendeClient]]) {
    test(`${apiName}: 10 concurrent calls with a revoked token share one new token`, async () => {
      const s = scenario();
      const api = s[apiName];
      const authority = apiName === 'api1' ? s.authorityA : s.authorityB;
      const client = make(s);
      assert.equal((await client.fetch('/data')).status, 200);
      api.revokeCurrentTokens();
      const issued = await delta(authority.counters, () => delta(api.counters, () =>
        Promise.all(Array.from({ length: 10 }, (_, i) => client.fetch('/echo', { method: 'POST', body: `n=${i}` })
          .then(async (r) => [r.status, (await r.json()).body])))));
      assert.deepEqual(issued.result.result, Array.from({ length: 10 }, (_, i) => [200, `n=${i}`]));
      assert.equal(issued.diff.tokensIssued, 1, 'one new token for all ten');
    });
  }
});

describe('failures: typed TokenErrors that never carry secrets, keys or tokens', () => {
  const scenario = useScenario();

  for (const which of ['basic', 'post']) {
    test(`wrong client_secret_${which}: oauth_error invalid_client 401, the secret appears nowhere`, async () => {
      const s = scenario();
      const secret = `wr0ng-${SPECIAL_SECRET}-s3cret`;
      const client = duendeClient(s, which, { clientAuth: { method: `client_secret_${which}`, clientSecret: secret } });
      const err = await expectTokenError(client.getToken(), 'oauth_error', { error: 'invalid_client', status: 401 });
      const clientId = which === 'basic' ? 'worker-b' : 'worker-b-post';
      assertNoLeak(err, [
        secret, encodeURIComponent(secret), new URLSearchParams({ s: secret }).toString().slice(2),
        Buffer.from(`${clientId}:${new URLSearchParams({ s: secret }).toString().slice(2)}`).toString('base64'),
      ]);
      const viaFetch = await expectTokenError(client.fetch('/data'), 'oauth_error', { error: 'invalid_client', status: 401 });
      assertNoLeak(viaFetch, [secret, encodeURIComponent(secret)]);
    });
  }

  test('foreign private key (registered kid): oauth_error invalid_client 401, no JWK "d" in the error', async () => {
    const s = scenario();
    const foreign = await generateEs256Jwk();
    const dpopKey = await generateDpopKey();
    const privateJwk = { ...foreign.privateJwk, kid: s.clients.helseid.privateJwk.kid };
    const client = helseidClient(s, {
      clientAuth: { method: 'private_key_jwt', privateJwk }, dpop: { privateJwk: dpopKey },
    });
    const { diff, result: err } = await delta(s.authorityA.counters, () =>
      expectTokenError(client.getToken(), 'oauth_error', { error: 'invalid_client', status: 401 }));
    assert.equal(diff.tokensIssued, 0);
    assertNoLeak(err, [privateJwk.d, dpopKey.d]);
    const viaFetch = await expectTokenError(client.fetch('/data'), 'oauth_error', { error: 'invalid_client' });
    assertNoLeak(viaFetch, [privateJwk.d, dpopKey.d]);
  });

  test('unreachable token endpoint (connection refused): network_error, quickly', async () => {
    const port = await unusedPort();
    const client = new TokenClient({
      tokenEndpoint: `http://127.0.0.1:${port}/token`,
      clientId: 'c',
      clientAuth: { method: 'client_secret_post', clientSecret: 'refused-secret' },
    });
    const started = Date.now();
    const err = await expectTokenError(client.getToken(), 'network_error');
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
    assertNoLeak(err, ['refused-secret']);
    await expectTokenError(client.fetch(`http://127.0.0.1:${port}/data`), 'network_error');
  });

  test('silent token endpoint (blackhole) with timeoutMs: 300: timeout, rejected in < 2 s', async () => {
    const hole = await startBlackhole();
    try {
      const client = new TokenClient({
        tokenEndpoint: `${hole.url}/token`,
        clientId: 'c',
        clientAuth: { method: 'client_secret_post', clientSecret: 'timeout-secret' },
        timeoutMs: 300,
      });
      const started = Date.now();
      const err = await expectTokenError(client.getToken(), 'timeout');
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250, `gave up too early (${elapsed} ms)`);
      assert.ok(elapsed < 2000, `took ${elapsed} ms`);
      assert.ok(hole.counters.connections >= 1);
      assertNoLeak(err, ['timeout-secret']);
    } finally {
      await hole.close();
    }
  });

  test('token endpoint answering token_type Bearer to a DPoP client: token_type_mismatch, no API request', async () => {
    const s = scenario();
    const fake = await startFakeTokenEndpoint({ tokenType: 'Bearer' });
    try {
      const client = helseidClient(s, { tokenEndpoint: fake.tokenEndpoint, issuer: fake.url });
      const { diff } = await delta(s.api1.counters, async () => {
        const err = await expectTokenError(client.fetch('/data'), 'token_type_mismatch');
        assert.ok(!String(err.message).includes('x.y.z'), 'the token is not in the message');
        await expectTokenError(client.getToken(), 'token_type_mismatch');
      });
      assert.equal(diff.requests, 0, 'no API request was made');
      assert.ok(fake.requests.every((r) => r.headers.dpop), 'the client did ask for a DPoP token');
      assert.equal(fake.counters.requests, 2, 'the failure was not cached');
      assert.equal(client.inspect().cache.length, 0);
    } finally {
      await fake.close();
    }
  });
});

describe('configuration is validated at construction', () => {
  const SECRET = 'c0nfig-s3cret-value';
  const base = () => ({
    tokenEndpoint: 'https://auth.example/token',
    clientId: 'c',
    clientAuth: { method: 'client_secret_basic', clientSecret: SECRET },
  });
  let publicJwk; let privateJwk;
  before(async () => { ({ publicJwk, privateJwk } = await generateEs256Jwk()); });

  test('a valid config constructs; http is allowed for loopback hosts', () => {
    assert.ok(new TokenClient(base()) instanceof TokenClient);
    for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
      assert.ok(new TokenClient({ ...base(), tokenEndpoint: `http://${host}:8080/token` }));
    }
    assert.ok(new TokenClient({ ...base(), clientAuth: { method: 'private_key_jwt', privateJwk }, dpop: true }));
  });

  const cases = [
    ['missing clientId', (o) => { delete o.clientId; }, 'clientId'],
    ['bad clientAuth.method', (o) => { o.clientAuth = { method: 'magic', clientSecret: SECRET }; }, 'clientAuth.method'],
    ['missing clientAuth.clientSecret', (o) => { o.clientAuth = { method: 'client_secret_post' }; }, 'clientAuth.clientSecret'],
    ['public-only JWK for private_key_jwt', (o) => { o.clientAuth = { method: 'private_key_jwt', privateJwk: publicJwk }; }, 'clientAuth.privateJwk'],
    ['http (non-loopback) tokenEndpoint', (o) => { o.tokenEndpoint = 'http://auth.example/token'; }, 'tokenEndpoint'],
    ['unknown option', (o) => { o.scopes = 'api.read'; }, 'scopes'],
    ['bad dpop value', (o) => { o.dpop = 'yes'; }, 'dpop'],
    ['public-only JWK as the DPoP key', (o) => { o.dpop = { privateJwk: publicJwk }; }, 'dpop.privateJwk'],
    ['timeoutMs of the wrong type', (o) => { o.timeoutMs = 'soon'; }, 'timeoutMs'],
    ['negative refreshBeforeExpirySeconds', (o) => { o.refreshBeforeExpirySeconds = -5; }, 'refreshBeforeExpirySeconds'],
    ['fetch that is not a function', (o) => { o.fetch = 'fetch'; }, 'fetch'],
  ];
  for (const [name, mutate, field] of cases) {
    test(`${name}: invalid_config naming "${field}"`, () => {
      const options = base();
      mutate(options);
      const err = expectTokenErrorSync(() => new TokenClient(options), 'invalid_config');
      assert.ok(err.message.includes(field), `"${err.message}" should name ${field}`);
      assertNoLeak(err, [SECRET, privateJwk.d]);
    });
  }

  test('extraParams cannot send a parameter twice (RFC 6749 §3.2): rejected at construction, or not duplicated', async () => {
    const fake = await startFakeTokenEndpoint({ tokenType: 'Bearer' });
    try {
      const plain = { ...base(), tokenEndpoint: fake.tokenEndpoint, extraParams: { authorization_details: '[{"type":"t"}]' } };
      await new TokenClient(plain).getToken();
      assert.deepEqual(new URLSearchParams(fake.requests.at(-1).body).getAll('authorization_details'), ['[{"type":"t"}]']);

      const options = {
        ...base(), tokenEndpoint: fake.tokenEndpoint, clientAuth: { method: 'client_secret_post', clientSecret: SECRET },
        extraParams: { grant_type: 'password', client_id: 'someone-else', authorization_details: '[]' },
      };
      let client;
      try {
        client = new TokenClient(options);
      } catch (err) {
        assert.ok(err instanceof TokenError && err.code === 'invalid_config', String(err));
        assert.match(err.message, /extraParams\.(grant_type|client_id)/);
        return;
      }
      await client.getToken();
      const form = new URLSearchParams(fake.requests.at(-1).body);
      for (const name of new Set(form.keys())) assert.equal(form.getAll(name).length, 1, `"${name}" sent ${form.getAll(name).length} times: ${form}`);
      assert.equal(form.get('grant_type'), 'client_credentials');
      assert.equal(form.get('authorization_details'), '[]', 'other extra parameters still go out');
    } finally {
      await fake.close();
    }
  });

  test('neither issuer nor tokenEndpoint: invalid_config naming them', () => {
    const options = base();
    delete options.tokenEndpoint;
    const err = expectTokenErrorSync(() => new TokenClient(options), 'invalid_config');
    assert.match(err.message, /tokenEndpoint|issuer/);
  });
});

describe('standalone helpers, checked with jose', () => {
  // RFC 7638 §3.1.
  const RFC7638_JWK = {
    kty: 'RSA',
    n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    e: 'AQAB',
    alg: 'RS256',
    kid: '2011-04-29',
  };

  test('createClientAssertion (ES256): iss = sub = clientId, aud string, exp - iat <= lifetime, unique jti, kid', async () => {
    const { privateJwk, keyPair } = await generateEs256Jwk();
    const o = { clientId: 'my-client', audience: 'https://as.example/', privateJwk, kid: 'k-1', lifetimeSeconds: 30 };
    const [a, b] = [await createClientAssertion(o), await createClientAssertion(o)];
    const { payload, protectedHeader } = await jwtVerify(a, keyPair.publicKey, {
      issuer: 'my-client', subject: 'my-client', audience: 'https://as.example/', algorithms: ['ES256'],
    });
    assert.equal(protectedHeader.kid, 'k-1');
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(typeof payload.aud, 'string', 'aud is one string, never an array');
    assert.ok(payload.exp > payload.iat && payload.exp - payload.iat <= 30);
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 10);
    assert.ok(typeof payload.jti === 'string' && payload.jti.length >= 16);
    assert.notEqual(payload.jti, decodeJwt(b).jti);
    // kid defaults to the JWK's kid; extra claims are carried.
    const c = await createClientAssertion({ ...o, kid: undefined, claims: { assertion_details: [{ type: 't' }] } });
    assert.equal(decodeProtectedHeader(c).kid, privateJwk.kid);
    assert.deepEqual(decodeJwt(c).assertion_details, [{ type: 't' }]);
  });

  test('createClientAssertion (PS256 RSA key): verified by jose', async () => {
    const pair = await generateKeyPair('PS256', { extractable: true });
    const privateJwk = { ...(await exportJWK(pair.privateKey)), kid: 'rsa-1' };
    const jwt = await createClientAssertion({ clientId: 'r', audience: 'https://as.example/token', privateJwk, alg: 'PS256' });
    const { payload, protectedHeader } = await jwtVerify(jwt, pair.publicKey, {
      issuer: 'r', subject: 'r', audience: 'https://as.example/token', algorithms: ['PS256'],
    });
    assert.equal(protectedHeader.kid, 'rsa-1');
    assert.ok(payload.jti);
  });

  test('createDpopProof: typ dpop+jwt, embedded public jwk, htm, htu stripped, ath, nonce; verified by jose', async () => {
    const privateJwk = await generateDpopKey();
    const proof = await createDpopProof({
      privateJwk, method: 'POST', url: 'https://api.example/a/b?c=1#frag', accessToken: 'tok.en.value', nonce: 'n-1',
    });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    assert.equal(protectedHeader.typ, 'dpop+jwt');
    assert.equal(protectedHeader.jwk.d, undefined);
    assert.equal(await calculateJwkThumbprint(protectedHeader.jwk), jwkThumbprint(privateJwk));
    assert.equal(payload.htm, 'POST');
    assert.equal(payload.htu, 'https://api.example/a/b');
    assert.equal(payload.ath, sha256url('tok.en.value'));
    assert.equal(payload.nonce, 'n-1');
    assert.ok(payload.jti);
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 10);
    const bare = decodeJwt(await createDpopProof({ privateJwk, method: 'GET', url: 'https://api.example/x' }));
    assert.equal(bare.ath, undefined);
    assert.equal(bare.nonce, undefined);
    assert.notEqual(bare.jti, payload.jti);
  });

  test('jwkThumbprint: equals jose for EC and RSA keys, ignores private and optional members; RFC 7638 §3.1', async () => {
    assert.equal(jwkThumbprint(RFC7638_JWK), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
    assert.equal(await calculateJwkThumbprint(RFC7638_JWK), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
    const ec = await generateEs256Jwk();
    assert.equal(jwkThumbprint(ec.publicJwk), await calculateJwkThumbprint(ec.publicJwk));
    assert.equal(jwkThumbprint(ec.privateJwk), await calculateJwkThumbprint(ec.publicJwk));
    const rsa = await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey);
    const { d, p, q, dp, dq, qi, ...rsaPublic } = rsa;
    assert.equal(jwkThumbprint(rsa), await calculateJwkThumbprint(rsaPublic));
    assert.equal(jwkThumbprint(rsaPublic), await calculateJwkThumbprint(rsaPublic));
  });

  test('generateDpopKey: a fresh private ES256 JWK that jose imports and signs with', async () => {
    const jwk = await generateDpopKey();
    assert.equal(jwk.kty, 'EC');
    assert.equal(jwk.crv, 'P-256');
    for (const m of ['x', 'y', 'd']) assert.ok(typeof jwk[m] === 'string' && jwk[m].length > 0, m);
    const key = await importJWK(jwk, 'ES256');
    const { d, ...pub } = jwk;
    const jwt = await new SignJWT({ ok: true }).setProtectedHeader({ alg: 'ES256' }).sign(key);
    assert.equal((await jwtVerify(jwt, await importJWK(pub, 'ES256'))).payload.ok, true);
    assert.notEqual((await generateDpopKey()).d, jwk.d);
  });

  test('client.createDpopProof: signed with the client DPoP key, ath and nonce as given', async () => {
    const client = new TokenClient({
      tokenEndpoint: 'https://as.example/token', clientId: 'c', clientAuth: { method: 'none' }, dpop: true,
    });
    const proof = await client.createDpopProof('GET', 'https://api.example/r?q=1', { accessToken: 'abc', nonce: 'n' });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' });
    assert.equal(await calculateJwkThumbprint(protectedHeader.jwk), client.dpopThumbprint());
    assert.deepEqual([payload.htm, payload.htu, payload.ath, payload.nonce], ['GET', 'https://api.example/r', sha256url('abc'), 'n']);
  });
});

describe('ClientRegistry, CommonJS, custom fetch', () => {
  const scenario = useScenario();

  test('ClientRegistry: two named clients with baseUrl; unknown name -> TokenError; bad entry names clients.<name>.', async () => {
    const s = scenario();
    const registry = new ClientRegistry({ api1: helseidOptions(s), api2: duendeOptions(s, 'post') });
    const r1 = await registry.fetch('api1', '/data');
    assert.equal(r1.status, 200);
    assert.equal((await r1.json()).api, 'api1');
    const r2 = await registry.fetch('api2', '/data');
    assert.equal(r2.status, 200);
    assert.equal((await r2.json()).client_id, 'worker-b-post');
    assert.equal(registry.get('api1').inspect().tokenRequests, 1, 'get() returns the client that fetched');
    assert.equal((await registry.get('api2').fetch('/data')).status, 200);
    assert.equal(registry.get('api2').inspect().tokenRequests, 1, 'and its cache');

    const unknown = thrown(() => registry.get('nope'));
    assert.ok(unknown instanceof TokenError, `registry.get(unknown) throws a TokenError, got ${unknown}`);
    assert.ok(unknown.message.includes('nope'), unknown.message);
    const viaFetch = await (async () => {
      let p;
      try { p = registry.fetch('nope', '/data'); } catch (err) { assert.fail(`registry.fetch threw synchronously instead of rejecting: ${err.message}`); }
      return p.then(() => assert.fail('resolved'), (err) => err);
    })();
    assert.ok(viaFetch instanceof TokenError);
    assert.equal(viaFetch.code, unknown.code);

    const bad = { api1: helseidOptions(s), api2: duendeOptions(s, 'basic') };
    delete bad.api2.clientId;
    const err = expectTokenErrorSync(() => new ClientRegistry(bad), 'invalid_config');
    assert.ok(err.message.includes('clients.api2.'), err.message);
    assert.ok(err.message.includes('clients.api2.clientId'), err.message);
    assertNoLeak(err, [s.clients.duende.clientSecret]);
  });

  test('CommonJS: require("tokenfetch") in a child process gets a token from authority B and calls API 2', async () => {
    const s = scenario();
    const script = `
      const tf = require('tokenfetch');
      const { TokenClient, TokenError } = tf;
      (async () => {
        let configError;
        try { new TokenClient({ clientAuth: { method: 'none' } }); } catch (e) {
          configError = { isTokenError: e instanceof TokenError, code: e.code };
        }
        const client = new TokenClient({
          tokenEndpoint: process.env.TF_TOKEN_ENDPOINT, clientId: process.env.TF_CLIENT_ID,
          clientAuth: { method: 'client_secret_basic', clientSecret: process.env.TF_SECRET }, scope: 'api2.read',
        });
        const token = await client.getToken();
        const res = await client.fetch(process.env.TF_API + '/data');
        console.log(JSON.stringify({
          resolved: require.resolve('tokenfetch'), exports: Object.keys(tf).sort(), configError, token,
          status: res.status, body: await res.json(), tokenRequests: client.inspect().tokenRequests,
        }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const { diff, result: { stdout } } = await delta(s.authorityB.counters, () => promisify(execFile)(
      process.execPath, ['-e', script], {
        cwd: ROOT,
        timeout: 20000,
        env: {
          ...process.env,
          TF_TOKEN_ENDPOINT: s.authorityB.tokenEndpoint,
          TF_CLIENT_ID: s.clients.duende.clientId,
          TF_SECRET: s.clients.duende.clientSecret,
          TF_API: s.api2.url,
        },
      }));
    const out = JSON.parse(stdout);
    assert.match(out.resolved, /node\.cjs$/, 'the require condition was used');
    for (const name of ['ClientRegistry', 'TokenClient', 'TokenError', 'createClientAssertion', 'createDpopProof',
      'generateDpopKey', 'jwkThumbprint']) assert.ok(out.exports.includes(name), name);
    assert.deepEqual(out.configError, { isTokenError: true, code: 'invalid_config' });
    assert.equal(out.token.tokenType, 'Bearer');
    assert.equal(decodeJwt(out.token.accessToken).client_id, 'worker-b');
    assert.equal(out.status, 200);
    assert.equal(out.body.client_id, 'worker-b');
    assert.equal(out.tokenRequests, 1);
    assert.deepEqual(diff, { tokenRequests: 1, tokensIssued: 1 });
  });

  test('custom fetch option: used for token and API requests (DPoP and Bearer); globalThis.fetch untouched', async () => {
    const s = scenario();
    const real = globalThis.fetch;
    let globalCalls = 0;
    const watched = [s.authorityA.tokenEndpoint, s.authorityB.tokenEndpoint, s.api1.url, s.api2.url];
    globalThis.fetch = (input, init) => {
      const url = input instanceof Request ? input.url : String(input);
      if (watched.some((w) => url.startsWith(w))) globalCalls += 1;
      return real(input, init);
    };
    try {
      const makers = [
        [(extra) => helseidClient(s, extra), s.authorityA, s.api1],
        [(extra) => duendeClient(s, 'basic', extra), s.authorityB, s.api2],
      ];
      for (const [make, authority, api] of makers) {
        const rec = recordingFetch(real);
        const client = make({ fetch: rec.fetch });
        const a = await delta(authority.counters, () => delta(api.counters, async () => {
          for (let i = 0; i < 3; i += 1) assert.equal((await client.fetch('/data')).status, 200);
        }));
        const tokenCalls = rec.calls.filter((c) => c.url === authority.tokenEndpoint);
        const apiCalls = rec.calls.filter((c) => c.url.startsWith(api.url));
        assert.equal(tokenCalls.length, a.diff.tokenRequests, 'every token POST went through the custom fetch');
        assert.equal(apiCalls.length, a.result.diff.requests, 'every API request went through the custom fetch');
        assert.ok(tokenCalls.length >= 1 && apiCalls.length >= 3);
        assert.equal(rec.calls.length, tokenCalls.length + apiCalls.length);
      }
      assert.equal(globalCalls, 0, 'globalThis.fetch was not used');
    } finally {
      globalThis.fetch = real;
    }
  });
});

/** `promise`, or a rejection when it has not settled within `ms` (a hang is a failure, not a stuck suite). */
function settlesWithin(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What `fn` throws (undefined when it returns). */
function thrown(fn) {
  try { fn(); } catch (err) { return err; }
  return undefined;
}
