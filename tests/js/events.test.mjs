// The onEvent hook: typed events for token requests, cache hits, nonce and invalid_token retries
// and errors, with durations, never a secret; a throwing hook does not break the client.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TokenClient } from 'tokenfetch';
import { startScenario } from '../support/index.mjs';
import { scanScenario, secrets } from './helpers.mjs';

let s;
before(async () => { s = scanScenario(await startScenario()); });
after(async () => { await s?.close(); });

test('events follow the flow: nonce retries, token request, cache hit, invalid_token retry', async () => {
  const events = [];
  const client = new TokenClient({
    issuer: s.clients.helseid.issuer, tokenEndpoint: s.clients.helseid.tokenEndpoint, clientId: s.clients.helseid.clientId,
    clientAuth: { method: 'private_key_jwt', privateJwk: s.clients.helseid.privateJwk }, dpop: true,
    scope: 'api1.read', resource: s.api1.audience, baseUrl: s.api1.url,
    onEvent: (e) => { events.push(e); throw new Error('a broken hook must not matter'); },
  });
  assert.equal((await client.fetch('/data')).status, 200);
  assert.equal((await client.fetch('/data')).status, 200);
  s.api1.revokeCurrentTokens();
  assert.equal((await client.fetch('/data')).status, 200);
  const kinds = events.map((e) => (e.at ? `${e.type}@${e.at}` : e.type));
  assert.deepEqual(kinds, [
    'nonce_retry@token_endpoint', 'token_request', 'nonce_retry@resource', 'cache_hit', 'cache_hit',
    'invalid_token_retry', 'token_request', // the rejected token was dropped, so this is a new one, not a refresh
  ]);
  const request = events[1];
  assert.equal(request.attempts, 2);
  assert.ok(request.durationMs >= 0 && typeof request.cacheKey === 'string');
  const text = JSON.stringify(events);
  const token = (await client.getToken()).accessToken;
  for (const secret of [s.clients.helseid.privateJwk.d, token]) assert.ok(!text.includes(secret));
  events.forEach((e, i) => secrets.check(e, `event #${i} (${e.type})`));
});

test('a failed token request is an error event with its code', async () => {
  const events = [];
  const client = new TokenClient({
    tokenEndpoint: s.clients.duende.tokenEndpoint, clientId: s.clients.duende.clientId,
    clientAuth: { method: 'client_secret_basic', clientSecret: 'wrong-secret' }, onEvent: (e) => events.push(e),
  });
  secrets.add('the wrong secret', 'wrong-secret');
  await assert.rejects(client.getToken(), (e) => {
    secrets.check(e, 'the error');
    return e.code === 'oauth_error';
  });
  assert.deepEqual(events.map((e) => [e.type, e.code]), [['error', 'oauth_error']]);
  secrets.check(events[0], 'the error event');
  assert.throws(() => new TokenClient({ ...s.clients.duende, onEvent: 'log' }), { code: 'invalid_config' });
});
