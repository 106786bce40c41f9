// The token cache through the public API, against the standard scenario (tests/support): authority A (HelseID-like:
// private_key_jwt, DPoP with required nonces) -> API 1, authority B (Duende-like: client secrets, Bearer) -> API 2.
// The servers' counters and logs are the proof: sequential calls reuse one token, concurrent cold callers share one
// token request (single-flight), and a failure reaches every waiter without being cached.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { TokenError, generateDpopKey, jwkThumbprint } from 'tokenfetch';
import { SPECIAL_SECRET } from '../support/index.mjs';
import { delta, duendeClient, helseidClient, logged, secrets, useScenario } from './helpers.mjs';

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
