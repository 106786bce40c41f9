// Refresh before expiry, against authority B with 4 s tokens: a token is served until
// refreshBeforeExpirySeconds before it expires (clamped to half of its lifetime), then replaced by one new token
// request before the old one expired.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TokenClient } from 'tokenfetch';
import { startApi, startAuthorityB } from '../support/index.mjs';
import { delta, logged, secrets, sleep } from './helpers.mjs';

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
