// Failures through the public API: typed TokenErrors (oauth_error with the server's error and status, network_error,
// timeout, token_type_mismatch) that never carry a secret, a private key or a token, against the standard scenario's
// real authorities and, for what a real server would not do, fakes (tests/support/fakes.mjs).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { TokenClient, generateDpopKey } from 'tokenfetch';
import {
  SPECIAL_SECRET, generateEs256Jwk, startBlackhole, startFakeTokenEndpoint, unusedPort,
} from '../support/index.mjs';
import { assertNoLeak, delta, duendeClient, expectTokenError, helseidClient, useScenario } from './helpers.mjs';

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
