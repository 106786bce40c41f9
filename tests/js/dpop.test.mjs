// DPoP (RFC 9449) through the public API, against the standard scenario with an API that rotates its nonce every
// 3 successes: nonce challenges at the token endpoint and the API answered once each, nonces taken from 2xx replies
// and kept per origin, and the contents of every proof and client assertion sent (checked with jose).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EmbeddedJWK, calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { delta, helseidClient, logged, recordingFetch, sha256url, useScenario } from './helpers.mjs';

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
