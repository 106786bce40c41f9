// Recovery from an API's 401 invalid_token (a revoked token), through client.fetch against the standard scenario:
// the token is dropped, a new one fetched and the request replayed with its body, once; concurrent callers share the
// new token; an API that refuses every token gets exactly one retry and its 401 is handed back.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startApi } from '../support/index.mjs';
import { delta, duendeClient, helseidClient, useScenario } from './helpers.mjs';

const scenario = useScenario();

describe('revoked token: 401 invalid_token -> new token, the request replayed with its body', () => {
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

describe('an API that keeps refusing: the invalid_token retry limit', () => {
  let wrongAudience; // an API for authority B tokens that rejects every one of them (audience mismatch)
  before(async () => {
    const s = scenario();
    wrongAudience = await startApi({
      name: 'wrong-aud', issuer: s.authorityB.issuer, jwksUri: s.authorityB.jwksUri, dpop: false, audience: 'https://elsewhere.example',
    });
  });
  after(async () => { await wrongAudience?.close(); });

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
});
