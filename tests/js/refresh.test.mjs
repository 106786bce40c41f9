// Refresh before expiry, on a fake clock: the engine reads the time through the host's `Date.now()`, so node:test's
// mock timers (`Date` only) move it, without waiting. The authorities and APIs run in this process and read the same
// clock, so the whole world ages together: a token the client keeps past its refresh point is still valid at the
// authority and the API that check it (jose), as it would be in real time. The clock is frozen between ticks, so the
// refresh point can be hit to the millisecond.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { TokenClient } from 'tokenfetch';
import { startApi, startAuthorityB } from '../support/index.mjs';
import { delta, fakeClock, logged, secrets } from './helpers.mjs';

/** Authority B whose tokens live `ttl` seconds, with an API that accepts them; closed after the describe. */
function useAuthority(ttl) {
  const it = {};
  before(async () => {
    it.authority = await startAuthorityB({ accessTokenTTL: ttl });
    secrets.addClient(`${ttl} s authority client`, it.authority.clients.post)
      .addSource(`a token issued by the ${ttl} s authority`, () => it.authority.issuedTokens);
    it.api = await startApi({ name: `ttl-${ttl}`, issuer: it.authority.issuer, jwksUri: it.authority.jwksUri, dpop: false });
    it.authority.setAudience(it.api.audience);
  });
  after(async () => { await Promise.all([it.authority?.close(), it.api?.close()]); });
  /** A client_secret_post client of the authority, baseUrl = its API; `onEvent` records into `events`. */
  it.client = (extra = {}) => {
    const events = [];
    const client = new TokenClient({
      tokenEndpoint: it.authority.tokenEndpoint,
      clientId: it.authority.clients.post.clientId,
      clientAuth: { method: 'client_secret_post', clientSecret: it.authority.clients.post.clientSecret },
      scope: 'api2.read',
      baseUrl: it.api.url,
      onEvent: (e) => events.push(e),
      ...extra,
    });
    return { client, events };
  };
  return it;
}

describe('refresh before expiry (authority B, 300 s tokens)', () => {
  const five = useAuthority(300);

  test('refreshBeforeExpirySeconds: 45 -> served until 45 s before expiry, then one new token, the old one still valid', async (t) => {
    const to = fakeClock(t);
    const { client, events } = five.client({ refreshBeforeExpirySeconds: 45 });
    const { entries: firstLog, result: first } = await logged(five.authority.requests, () => client.getToken());
    assert.equal(firstLog.length, 1);
    const issuedAt = firstLog[0].time;
    assert.equal(first.expiresAt, issuedAt + 300_000, 'expiresAt = when it was received + expires_in');
    const [entry] = client.inspect().cache;
    assert.equal(entry.expiresAt, first.expiresAt);
    assert.equal(entry.refreshAt, first.expiresAt - 45_000, 'buffer = min(45 s, 300 s / 2)');

    to(entry.refreshAt - 1);
    const cached = await delta(five.authority.counters, () => client.getToken());
    assert.equal(cached.result.accessToken, first.accessToken, 'still cached 1 ms before the refresh point');
    assert.equal(cached.diff.tokenRequests, 0);
    assert.equal((await client.fetch('/data')).status, 200, 'and still accepted by the API');

    to(entry.refreshAt);
    const { entries: secondLog, result: second } = await logged(five.authority.requests, () => client.getToken());
    assert.equal(secondLog.length, 1, 'one new token request at the refresh point');
    assert.equal(secondLog[0].status, 200);
    assert.equal(secondLog[0].time, entry.refreshAt, 'not before the refresh point');
    assert.ok(first.expiresAt > secondLog[0].time, 'refreshed before the old token expired');
    assert.notEqual(second.accessToken, first.accessToken);
    assert.equal(second.expiresAt, entry.refreshAt + 300_000);
    assert.equal(client.inspect().tokenRequests, 2);
    assert.deepEqual(events.filter((e) => e.type === 'token_request' || e.type === 'refresh').map((e) => e.type),
      ['token_request', 'refresh'], 'the second request replaced a cached token');
    assert.equal((await client.fetch('/data')).status, 200);
    assert.ok(five.api.tokensSeen.has(decodeJwt(second.accessToken).jti), 'the API was sent the new token');
  });

  test('the default refreshBeforeExpirySeconds is 60: a 300 s token is refreshed at 240 s, not before', async (t) => {
    const to = fakeClock(t);
    const { client } = five.client();
    const first = await client.getToken();
    const [entry] = client.inspect().cache;
    assert.equal(entry.refreshAt, first.expiresAt - 60_000);
    to(entry.refreshAt - 1);
    assert.equal((await delta(five.authority.counters, () => client.getToken())).diff.tokenRequests, 0);
    to(entry.refreshAt);
    const later = await delta(five.authority.counters, () => client.getToken());
    assert.equal(later.diff.tokenRequests, 1);
    assert.notEqual(later.result.accessToken, first.accessToken);
  });
});

describe('refresh before expiry (authority B, 4 s tokens)', () => {
  const four = useAuthority(4);

  test('default 60 s buffer is clamped to half of a 4 s lifetime: reused at first, refreshed at 2 s', async (t) => {
    const to = fakeClock(t);
    const { client } = four.client();
    const { diff, result: [a, b] } = await delta(four.authority.counters, async () => [await client.getToken(), await client.getToken()]);
    assert.equal(diff.tokenRequests, 1, 'a 4 s token is reused, not re-requested on every call');
    assert.equal(a.accessToken, b.accessToken);
    const [entry] = client.inspect().cache;
    assert.equal(entry.refreshAt, a.expiresAt - 2000, 'buffer = min(60 s, 4 s / 2)');
    to(entry.refreshAt - 1);
    const cached = await delta(four.authority.counters, () => client.getToken());
    assert.equal(cached.diff.tokenRequests, 0, 'still cached 1 ms before the refresh point');
    assert.equal((await client.fetch('/data')).status, 200);
    to(entry.refreshAt);
    const later = await delta(four.authority.counters, () => client.getToken());
    assert.equal(later.diff.tokenRequests, 1);
    assert.notEqual(later.result.accessToken, a.accessToken);
    assert.ok(a.expiresAt > Date.now(), 'the old token was still valid');
    assert.equal((await client.fetch('/data')).status, 200, 'the new token is accepted');
  });
});
