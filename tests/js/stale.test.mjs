// staleIfErrorSeconds against a real authority, on a fake clock (helpers.mjs `fakeClock`: the client, the authority
// and the API read the same frozen `Date`, moved forward without waiting): when a refresh fails like an outage, the
// cached token is served, with a stale_if_error event, while it has not expired and for at most staleIfErrorSeconds
// past its refresh point; past either bound, and without the option, the failure is the answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenClient } from 'tokenfetch';
import { duendeOptions, fakeClock, useScenario } from './helpers.mjs';

// Authority B's tokens live 300 s: with the default 60 s buffer, refreshed from 240 s on.
const scenario = useScenario();

/** fetch that fails like a network outage for token requests once `down` is set. */
function flakyNetwork() {
  const state = { down: false };
  state.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    if (state.down && url.startsWith(scenario().authorityB.tokenEndpoint)) return Promise.reject(new TypeError('fetch failed'));
    return fetch(input, init);
  };
  return state;
}

/** A client of authority B over `net`, with `extra` options; its events go to `events`. */
function client(net, extra = {}) {
  const events = [];
  const c = new TokenClient({
    ...duendeOptions(scenario()), fetch: net.fetch, retries: 0, onEvent: (e) => events.push(e), ...extra,
  });
  return Object.assign(c, { events });
}

const staleServed = (c) => c.events.filter((e) => e.type === 'stale_if_error');

test('a failed refresh serves the unexpired token for staleIfErrorSeconds past its refresh point, then fails', async (t) => {
  const to = fakeClock(t);
  const net = flakyNetwork();
  const stale = client(net, { staleIfErrorSeconds: 30 });
  const strict = client(net);
  const first = await stale.getToken();
  await strict.getToken();
  const [entry] = stale.inspect().cache;
  assert.equal(entry.refreshAt, first.expiresAt - 60_000);

  to(entry.refreshAt);
  net.down = true;
  assert.equal((await stale.getToken()).accessToken, first.accessToken);
  assert.equal((await stale.fetch('/data')).status, 200, 'the stale token is still accepted by the API');
  const served = staleServed(stale);
  assert.ok(served.length >= 1);
  assert.equal(served[0].code, 'network_error');
  assert.equal(served[0].expiresInMs, 60_000, 'served at the refresh point, 60 s before expiry');
  await assert.rejects(strict.getToken(), { code: 'network_error' }, 'without staleIfErrorSeconds the failure is the answer');

  to(entry.refreshAt + 30_000);
  assert.equal((await stale.getToken()).accessToken, first.accessToken, 'still served at the end of the window');
  assert.equal(staleServed(stale).at(-1).expiresInMs, 30_000);

  to(entry.refreshAt + 30_001);
  const count = staleServed(stale).length;
  await assert.rejects(stale.getToken(), { code: 'network_error' }, 'past the window, though the token has 29.999 s left');
  assert.equal(staleServed(stale).length, count);

  net.down = false;
  assert.notEqual((await stale.getToken()).accessToken, first.accessToken, 'the next refresh that works replaces it');
});

test('a stale token is never served once it has expired, however long staleIfErrorSeconds is', async (t) => {
  const to = fakeClock(t);
  const net = flakyNetwork();
  const stale = client(net, { staleIfErrorSeconds: 3600 });
  const first = await stale.getToken();

  to(first.expiresAt - 1);
  net.down = true;
  assert.equal((await stale.getToken()).accessToken, first.accessToken, 'served 1 ms before expiry');
  assert.equal(staleServed(stale).at(-1).expiresInMs, 1);

  to(first.expiresAt);
  await assert.rejects(stale.getToken(), { code: 'network_error' }, 'expired: nothing stale is served');
  net.down = false;
  assert.notEqual((await stale.getToken()).accessToken, first.accessToken);
});
