// staleIfErrorSeconds against a real authority: when a refresh fails, a token that has not expired
// is served within the window (with a stale_if_error event), and the failure is the answer without it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TokenClient } from 'tokenfetch';
import { startScenario } from '../support/index.mjs';
import { duendeOptions, sleep } from './helpers.mjs';

let s;
before(async () => { s = await startScenario({ accessTokenTTL: 4 }); });
after(async () => { await s?.close(); });

/** fetch that fails like a network outage for token requests once `down` is set. */
function flakyNetwork() {
  const state = { down: false };
  state.fetch = (input, init) => {
    const url = typeof input === 'string' ? input : input.url;
    if (state.down && url.startsWith(s.authorityB.tokenEndpoint)) return Promise.reject(new TypeError('fetch failed'));
    return fetch(input, init);
  };
  return state;
}

test('a failed refresh serves the unexpired token within staleIfErrorSeconds', async () => {
  const net = flakyNetwork();
  const events = [];
  const options = { ...duendeOptions(s), fetch: net.fetch, retries: 0, onEvent: (e) => events.push(e) };
  const stale = new TokenClient({ ...options, staleIfErrorSeconds: 30 });
  const strict = new TokenClient(options);
  const first = (await stale.getToken()).accessToken;
  await strict.getToken();
  await sleep(2100); // past the refresh point (half of the 4 s lifetime), before expiry
  net.down = true;
  assert.equal((await stale.getToken()).accessToken, first);
  assert.equal((await stale.fetch('/data')).status, 200, 'the stale token is still accepted by the API');
  const served = events.find((e) => e.type === 'stale_if_error');
  assert.equal(served.code, 'network_error');
  assert.ok(served.expiresInMs > 0 && served.expiresInMs <= 2000, `${served.expiresInMs}`);
  await assert.rejects(strict.getToken(), { code: 'network_error' });
  await sleep(2000); // expired: nothing stale is served
  await assert.rejects(stale.getToken(), { code: 'network_error' });
  net.down = false;
  assert.notEqual((await stale.getToken()).accessToken, first);
});
