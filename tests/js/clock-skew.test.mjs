// Clock skew learned from servers' Date headers: real authorities and a real API whose clocks run 5 minutes ahead
// of, or behind, this machine's (tests/support/skewed.mjs), and small fakes for the Dates that must not be trusted.
// The first request refused for its time is retried once at the server's time; the offset is reported (a
// `clock_skew` event, inspect().clockSkew); a refusal at the right time is the answer; an absurd Date is ignored.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { TokenClient } from 'tokenfetch';
import { generateEs256Jwk } from '../support/authority.mjs';
import { closeServer, listen, readBody } from '../support/http.mjs';
import { startMisbehaving } from '../support/misbehave.mjs';
import { startSkewedServers } from '../support/skewed.mjs';
import { expectTokenError, secrets } from './helpers.mjs';

const FIVE_MINUTES = 5 * 60_000;
/** How close a learned offset is to the true one: a Date names a whole second, and the answer takes a moment. */
const TOLERANCE_MS = 2_500;

const servers = [];
after(async () => { await Promise.all(servers.map((s) => s.close())); });

const skewEvents = (events) => events.filter((e) => e.type === 'clock_skew');
const near = (value, want, what) => assert.ok(Math.abs(value - want) <= TOLERANCE_MS, `${what}: ${value}, not about ${want}`);

describe('servers whose clocks are off', () => {
  const skewed = {};
  before(async () => {
    const [ahead, behind] = await Promise.all([startSkewedServers(FIVE_MINUTES), startSkewedServers(-FIVE_MINUTES)]);
    servers.push(ahead, behind);
    Object.assign(skewed, { ahead, behind });
    for (const s of [ahead, behind]) {
      secrets.addKey('authority A client key', s.authorityA.privateJwk).addKey('Maskinporten key', s.maskinporten.privateJwk);
    }
  });

  for (const which of ['ahead', 'behind']) {
    test(`an authority and an API 5 minutes ${which}: refused once for the time, then right, and reported`, async () => {
      const s = skewed[which];
      const events = [];
      const client = new TokenClient({
        issuer: s.authorityA.issuer, tokenEndpoint: s.authorityA.tokenEndpoint, clientId: s.authorityA.clientId,
        clientAuth: { method: 'private_key_jwt', privateJwk: s.authorityA.privateJwk }, dpop: true, scope: 'api1.read',
        baseUrl: s.api1.url, onEvent: (e) => events.push(e),
      });
      const res = await client.fetch('/data');
      assert.equal(res.status, 200, await res.clone().text());
      const { authorityA, api1 } = await s.stats();
      // The token endpoint: its Date came with the first refusal (a nonce challenge or the assertion refused); the
      // retries carried its time, the last one the nonce too.
      assert.equal(authorityA.at(-1).status, 200);
      assert.ok(authorityA.length >= 2 && authorityA.length <= 3, JSON.stringify(authorityA));
      for (const r of authorityA.slice(0, -1)) assert.ok(['use_dpop_nonce', 'invalid_client'].includes(r.error), r.error);
      // The API refused the proof for its time, then asked for a nonce: one retry of each.
      assert.deepEqual(api1, [
        { status: 401, error: 'invalid_dpop_proof' }, { status: 401, error: 'use_dpop_nonce' }, { status: 200 },
      ]);
      const sign = which === 'ahead' ? 1 : -1;
      const reported = skewEvents(events);
      assert.deepEqual(reported.map((e) => e.origin), [s.authorityA.issuer, s.api1.url]);
      for (const e of reported) near(e.offsetMs, sign * FIVE_MINUTES, e.origin);
      const { clockSkew } = client.inspect();
      assert.deepEqual(clockSkew.map((c) => c.origin), [s.authorityA.issuer, s.api1.url]);
      for (const c of clockSkew) near(c.offsetMs, sign * FIVE_MINUTES, c.origin);
      // From now on every proof has the API's time: one request per call, no more events.
      assert.equal((await client.fetch('/data')).status, 200);
      assert.equal((await s.stats()).api1.length, 4);
      assert.equal(skewEvents(events).length, 2);
      // The cache stays on this machine's clock: the token is good for its 300 s from now, not from the server's now.
      const token = await client.getToken();
      assert.ok(token.expiresAt > Date.now() + 200_000 && token.expiresAt <= Date.now() + 300_000, `${token.expiresAt - Date.now()}`);
      events.forEach((e, i) => secrets.check(e, `event #${i} (${e.type})`));
    });
  }

  test('a Maskinporten-style grant refused for its iat is retried once at the authority\'s time; then a refusal is the answer', async () => {
    const s = skewed.ahead;
    const events = [];
    const options = {
      profile: 'maskinporten', issuer: s.maskinporten.issuer, tokenEndpoint: s.maskinporten.tokenEndpoint,
      clientId: s.maskinporten.clientId, scope: s.maskinporten.scope, onEvent: (e) => events.push(e),
      clientAuth: { method: 'private_key_jwt', privateJwk: s.maskinporten.privateJwk, alg: 'RS256' },
    };
    const client = new TokenClient(options);
    const before = (await s.stats()).maskinporten.length;
    const token = await client.getToken();
    assert.equal(token.tokenType, 'Bearer');
    const stats = await s.stats();
    const posts = stats.maskinporten.slice(before);
    assert.deepEqual(posts.map((p) => [p.status, p.error]), [[400, 'invalid_grant'], [200, undefined]]);
    // The retry's assertion said the authority's time (its iat is checked within 10 s).
    near(posts[1].iat * 1000, Date.now() + FIVE_MINUTES, 'the retried iat');
    near(posts[0].iat * 1000, Date.now(), 'the first iat');
    assert.equal(skewEvents(events).length, 1);
    near(skewEvents(events)[0].offsetMs, FIVE_MINUTES, 'offsetMs');
    // A claim Maskinporten does not know: refused at the right time, so that is the answer (one request).
    await expectTokenError(client.getToken({ claims: { unknown_claim: 1 } }), 'oauth_error', { error: 'invalid_grant' });
    const after = await s.stats();
    assert.equal(after.maskinporten.length, stats.maskinporten.length + 1);
    assert.match(after.maskinportenGrants.at(-1).reason, /unknown claims/);
  });
});

/**
 * A token endpoint that refuses every request with 401 invalid_client and the given `Date` (none: undefined), and
 * records the client assertions it got.
 */
async function refusingEndpoint(date) {
  const assertions = [];
  const server = createServer(async (req, res) => {
    assertions.push(new URLSearchParams(await readBody(req)).get('client_assertion'));
    if (date === undefined) res.sendDate = false;
    else res.setHeader('date', date);
    res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
  });
  const url = `http://127.0.0.1:${await listen(server)}`;
  const handle = { tokenEndpoint: `${url}/token`, origin: url, assertions, close: () => closeServer(server) };
  servers.push(handle);
  return handle;
}

/** A DPoP API that refuses every proof with 401 invalid_dpop_proof and the given `Date`, and records the proofs. */
async function refusingApi(date) {
  const proofs = [];
  const server = createServer((req, res) => {
    proofs.push(decodeJwt(req.headers.dpop));
    res.setHeader('date', date);
    res.writeHead(401, { 'www-authenticate': 'DPoP error="invalid_dpop_proof", error_description="iat"' }).end();
  });
  const url = `http://127.0.0.1:${await listen(server)}`;
  const handle = { url, proofs, close: () => closeServer(server) };
  servers.push(handle);
  return handle;
}

const httpDate = (offsetMs) => new Date(Date.now() + offsetMs).toUTCString();

describe('Dates that are not trusted, and refusals at the right time', () => {
  let key;
  before(async () => {
    key = (await generateEs256Jwk()).privateJwk;
    secrets.addKey('the test client key', key);
  });

  const client = (tokenEndpoint, events) => new TokenClient({
    tokenEndpoint, clientId: 'c', clientAuth: { method: 'private_key_jwt', privateJwk: key }, onEvent: (e) => events.push(e),
  });

  test('a token endpoint 2 minutes behind: retried once at its time, never more', async () => {
    const endpoint = await refusingEndpoint(httpDate(-120_000));
    const events = [];
    const c = client(endpoint.tokenEndpoint, events);
    await expectTokenError(c.getToken(), 'oauth_error', { error: 'invalid_client', status: 401 });
    assert.equal(endpoint.assertions.length, 2);
    const [first, second] = endpoint.assertions.map(decodeJwt);
    near(first.iat * 1000, Date.now(), 'first iat');
    near(second.iat * 1000, Date.now() - 120_000, 'retried iat');
    assert.equal(second.exp - second.iat, first.exp - first.iat);
    assert.deepEqual(skewEvents(events).map((e) => e.origin), [endpoint.origin]);
    near(c.inspect().clockSkew[0].offsetMs, -120_000, 'inspect().clockSkew');
  });

  const untrusted = [
    ['3 hours ahead', httpDate(3 * 3600_000)],
    ['unparseable', 'soon'],
    ['absent', undefined],
    ['right', httpDate(0)],
    ['4 s off (within the threshold)', httpDate(4_000)],
  ];
  for (const [what, date] of untrusted) {
    test(`a refusal with a Date that is ${what}: the answer, nothing learned`, async () => {
      const endpoint = await refusingEndpoint(date);
      const events = [];
      const c = client(endpoint.tokenEndpoint, events);
      await expectTokenError(c.getToken(), 'oauth_error', { error: 'invalid_client' });
      assert.equal(endpoint.assertions.length, 1);
      assert.deepEqual(skewEvents(events), []);
      assert.deepEqual(c.inspect().clockSkew, []);
    });
  }

  test('an API 2 minutes ahead refusing proofs: one retry at its time; an absurd or right Date: none', async () => {
    const tokens = await startMisbehaving('token', { fields: { token_type: 'DPoP' } });
    servers.push(tokens);
    secrets.addSource('a fake token', () => tokens.issued);
    const c = new TokenClient({
      tokenEndpoint: tokens.tokenEndpoint, clientId: 'c', clientAuth: { method: 'client_secret_post', clientSecret: 'secret-4711' },
      dpop: true,
    });
    const ahead = await refusingApi(httpDate(120_000));
    assert.equal((await c.fetch(`${ahead.url}/r`)).status, 401, 'the second refusal is the caller\'s');
    assert.equal(ahead.proofs.length, 2);
    near(ahead.proofs[0].iat * 1000, Date.now(), 'first proof');
    near(ahead.proofs[1].iat * 1000, Date.now() + 120_000, 'retried proof');
    for (const date of [httpDate(3 * 3600_000), httpDate(0)]) {
      const api = await refusingApi(date);
      assert.equal((await c.fetch(`${api.url}/r`)).status, 401);
      assert.equal(api.proofs.length, 1, date);
    }
    assert.deepEqual(c.inspect().clockSkew.map((s) => s.origin), [ahead.url]);
  });
});
