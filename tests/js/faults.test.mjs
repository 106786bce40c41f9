// Faults: tokenfetch against misbehaving servers (tests/support/misbehave.mjs). Every fault at the token endpoint
// ends in a typed TokenError with its documented code within timeoutMs (plus a small margin), after the bounded number
// of requests the server counted; Retry-After is honoured; redirects are never followed; an API that rejects forever
// is retried a bounded number of times. Every error, every onEvent payload and inspect() is scanned for the secrets
// used here (client secret and its Basic form, the DPoP private key, every token the servers issued).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { TokenClient, TokenError, generateDpopKey } from 'tokenfetch';
import { unusedPort } from '../support/fakes.mjs';
import { misbehavingServers } from '../support/misbehave.mjs';
import { secrets as scan } from '../support/secrets.mjs';

const TIMEOUT_MS = 1500;
/** How late past timeoutMs a fault may settle (timer and event loop slack on a shared machine). */
const MARGIN_MS = 750;
/** A hang of the client fails the test this long after timeoutMs rather than stalling the suite. */
const HARD_LIMIT_MS = TIMEOUT_MS + 5000;

const CLIENT_ID = 'fault-client';
const SECRET = 'f4ult-s3cret+/ :%&=';
const dpopKey = await generateDpopKey();
scan.addClient('fault client', { clientId: CLIENT_ID, clientSecret: SECRET }).addKey('DPoP key', dpopKey);

const { serve, closeAll } = misbehavingServers(scan);
after(closeAll);

/** A client_secret_basic client of `tokenEndpoint` (DPoP with `dpopKey` when `dpop: true`), events to the scan. */
function client(tokenEndpoint, { dpop = false, ...extra } = {}) {
  return new TokenClient({
    tokenEndpoint,
    clientId: CLIENT_ID,
    clientAuth: { method: 'client_secret_basic', clientSecret: SECRET },
    timeoutMs: TIMEOUT_MS,
    onEvent: scan.hook(),
    ...(dpop ? { dpop: { privateJwk: dpopKey } } : {}),
    ...extra,
  });
}

/** `promise`, or a rejection once `ms` passed: a client that hangs fails its test instead of stalling the file. */
function hardLimit(promise, ms = HARD_LIMIT_MS) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * Run `action` (returns a promise) and assert it rejects with a TokenError of `code` and the given `fields`
 * (`message` may be a RegExp) within `timeoutMs` + MARGIN_MS; the error and the events it caused are scanned for
 * secrets, and the failure was reported as an `error` event with the same code.
 * Returns { err, elapsed, events }.
 */
async function fault(action, code, fields = {}, { timeoutMs = TIMEOUT_MS } = {}) {
  scan.checkEvents();
  const started = Date.now();
  const outcome = await hardLimit(action()).then(
    (value) => ({ value }),
    (err) => ({ err }),
  );
  const elapsed = Date.now() - started;
  const { err } = outcome;
  assert.ok('err' in outcome, `expected a TokenError (${code}), got a result: ${JSON.stringify(outcome.value)}`);
  assert.notEqual(err?.message, `did not settle within ${HARD_LIMIT_MS} ms`, 'the call hung');
  assert.ok(err instanceof TokenError, `expected a TokenError, got ${err?.name}: ${err?.message}`);
  assert.equal(err.name, 'TokenError');
  assert.equal(err.code, code, `code of: ${err.message}`);
  for (const [k, want] of Object.entries(fields)) {
    if (want instanceof RegExp) assert.match(String(err[k]), want, k);
    else assert.equal(err[k], want, `${k} of: ${err.message}`);
  }
  assert.ok(elapsed <= timeoutMs + MARGIN_MS, `settled after ${elapsed} ms, timeoutMs is ${timeoutMs}`);
  scan.check(err, `the ${code} error`);
  const events = scan.checkEvents();
  const errors = events.filter((e) => e.type === 'error');
  assert.ok(errors.length >= 1 && errors.every((e) => e.code === code), `error events: ${JSON.stringify(errors)}`);
  return { err, elapsed, events };
}

/** Wait (up to `ms`) until `predicate()` holds; returns whether it did. */
async function eventually(predicate, ms = 1000) {
  const until = Date.now() + ms;
  while (!predicate() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
  return predicate();
}

/** The `attempts` of the last token_request / refresh / error event of `events`. */
const attemptsIn = (events) => events.filter((e) => 'attempts' in e).at(-1)?.attempts;

describe('the token endpoint misbehaves: a typed TokenError within timeoutMs, bounded requests', () => {
  test('hang: timeout for every waiting caller, one request, the connection let go', { timeout: 15_000 }, async () => {
    const server = await serve('hang');
    const c = client(server.tokenEndpoint);
    await fault(async () => {
      const settled = await Promise.allSettled(Array.from({ length: 5 }, () => c.getToken()));
      for (const { reason } of settled) {
        assert.ok(reason instanceof TokenError && reason.code === 'timeout', `each caller: ${reason}`);
        scan.check(reason, 'a waiting caller');
      }
      throw settled[0].reason;
    }, 'timeout', { message: /did not complete within timeoutMs \(1500 ms\)/ });
    assert.equal(server.count, 1, 'single flight, and a timeout is not retried');
    assert.ok(await eventually(() => server.requests[0].closedAt), 'the client closed the hung connection');
  });

  test('slow discovery, then a hanging token endpoint: one deadline for both', { timeout: 15_000 }, async () => {
    const hang = await serve('hang');
    const { createServer } = await import('node:http');
    const metadata = createServer((req, res) => setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer, token_endpoint: hang.tokenEndpoint, token_endpoint_auth_methods_supported: ['client_secret_basic'] }));
    }, 900));
    await new Promise((resolve) => metadata.listen(0, '127.0.0.1', resolve));
    const issuer = `http://127.0.0.1:${metadata.address().port}`;
    try {
      const c = client(undefined, { issuer });
      await fault(() => c.getToken(), 'timeout');
      assert.equal(hang.count, 1, 'the token request got what was left of timeoutMs');
    } finally {
      metadata.closeAllConnections();
      metadata.close();
    }
  });

  test('slow drip: headers, then a byte every 100 ms: timeout, the body abandoned', { timeout: 15_000 }, async () => {
    const server = await serve('drip', { everyMs: 100 });
    await fault(() => client(server.tokenEndpoint).getToken(), 'timeout');
    assert.equal(server.count, 1);
    assert.ok(server.bytesSent > 0, 'the body had started');
    assert.ok(await eventually(() => server.requests[0].closedAt), 'the client closed the dripping connection');
  });

  test('huge body (16 MiB streamed, with and without Content-Length): refused past 256 KiB', { timeout: 15_000 }, async () => {
    const bytes = 16 * 1024 * 1024;
    for (const declareLength of [false, true]) {
      const server = await serve('huge', { bytes, declareLength });
      await fault(() => client(server.tokenEndpoint).getToken(), 'invalid_token_response',
        { status: 200, message: /larger than 256 KiB/ });
      assert.equal(server.count, 1, 'a refused body is not retried');
      assert.ok(await eventually(() => server.requests[0].closedAt), 'the client hung up');
      assert.ok(server.bytesSent < bytes, `the body was not read to the end (${server.bytesSent} bytes sent)`);
    }
  });

  test('garbage, HTML, malformed JSON: invalid_token_response naming the problem, no body content', async () => {
    const cases = [
      ['garbage', /body must be a JSON object/],
      ['html', /"content-type" must be application\/json, got "text\/html; charset=utf-8"/],
      ['malformed', /body must be a JSON object/],
    ];
    for (const [behaviour, message] of cases) {
      const server = await serve(behaviour);
      const { err } = await fault(() => client(server.tokenEndpoint).getToken(), 'invalid_token_response',
        { status: 200, message });
      assert.equal(server.count, 1, behaviour);
      assert.ok(!err.message.includes('<'), `no HTML quoted: ${err.message}`);
    }
  });

  test('absurd expires_in (negative, over a year, "NaN", "soon", "1.5", true, {}): invalid_token_response', async () => {
    const cases = [
      [-1, /"expires_in" must be a non-negative number/],
      [1e12, /"expires_in" is absurd \(more than a year\)/],
      [366 * 24 * 3600, /"expires_in" is absurd/],
      ['NaN', /"expires_in" must be a non-negative number/],
      ['soon', /"expires_in" must be a non-negative number/],
      ['1.5', /"expires_in"/], // (a number is floored: tests/js/token-exchange.test.mjs)
      [true, /"expires_in"/],
      [{}, /"expires_in"/],
    ];
    for (const [expiresIn, message] of cases) {
      const server = await serve('absurd-expiry', { expiresIn });
      await fault(() => client(server.tokenEndpoint).getToken(), 'invalid_token_response', { status: 200, message });
      assert.equal(server.count, 1, JSON.stringify(expiresIn));
    }
  });

  test('missing expires_in is not a fault: the token is kept the documented 300 s', async () => {
    const server = await serve('no-expiry');
    const c = client(server.tokenEndpoint);
    const before = Date.now();
    const token = await hardLimit(c.getToken());
    assert.ok(token.expiresAt >= before + 300_000 && token.expiresAt <= Date.now() + 300_000, `${token.expiresAt - before}`);
    assert.equal((await c.getToken()).accessToken, token.accessToken, 'cached');
    assert.equal(server.count, 1);
    scan.check(c.inspect(), 'inspect()');
    scan.checkEvents();
  });

  test('5xx storm (500, 502, 503, 504): http_error with the status after 1 + retries requests', async () => {
    for (const status of [500, 502, 503, 504]) {
      const server = await serve('storm', { status });
      const { err, events } = await fault(() => client(server.tokenEndpoint).getToken(), 'http_error',
        { status, message: `token endpoint returned HTTP ${status} (${server.tokenEndpoint})` });
      assert.equal(server.count, 3, `${status}: the first request and the default 2 retries`);
      assert.equal(attemptsIn(events), 3);
      assert.ok(!err.message.includes('upstream'), 'the error page is not quoted');
    }
    // Backoff ceilings 200, 400, 800 ms: three retries always fit in 5 s.
    for (const retries of [0, 3]) {
      const server = await serve('storm');
      await fault(() => client(server.tokenEndpoint, { retries, timeoutMs: 5000 }).getToken(), 'http_error', {},
        { timeoutMs: 5000 });
      assert.equal(server.count, 1 + retries, `retries: ${retries}`);
    }
  });

  test('5xx storm of slow answers with retries: 10: bounded by timeoutMs, not by the count', { timeout: 15_000 }, async () => {
    const server = await serve('storm', { status: 503, delayMs: 400 });
    scan.checkEvents();
    const started = Date.now();
    const err = await hardLimit(client(server.tokenEndpoint, { retries: 10 }).getToken()).catch((e) => e);
    const elapsed = Date.now() - started;
    assert.ok(err instanceof TokenError, String(err));
    // Whether the deadline fell during an answer or during a backoff decides which of the two it is.
    assert.ok(['http_error', 'timeout'].includes(err.code), err.code);
    assert.ok(elapsed <= TIMEOUT_MS + MARGIN_MS, `settled after ${elapsed} ms`);
    // Each answer takes 400 ms, so at most ceil(1500 / 400) = 4 requests can start before the deadline.
    assert.ok(server.count >= 2 && server.count <= 4, `${server.count} requests`);
    scan.check(err, 'the slow storm error');
    scan.checkEvents();
  });

  test('two 503s then a token: the retries recover (3 requests, one token)', async () => {
    const server = await serve('flaky', { failures: 2 });
    const c = client(server.tokenEndpoint);
    scan.checkEvents();
    const token = await hardLimit(c.getToken());
    assert.equal(token.accessToken, server.issued[0]);
    assert.equal(server.count, 3);
    const events = scan.checkEvents();
    assert.deepEqual(events.map((e) => [e.type, e.attempts]), [['token_request', 3]]);
    assert.equal(c.inspect().tokenRequests, 1);
    scan.check(c.inspect(), 'inspect()');
  });

  test('429 with Retry-After: 1 (seconds), then a token: the retry waits the second', { timeout: 15_000 }, async () => {
    const server = await serve('throttle', { status: 429, retryAfter: () => '1' });
    const token = await hardLimit(client(server.tokenEndpoint, { timeoutMs: 3000 }).getToken());
    assert.equal(token.accessToken, server.issued[0]);
    assert.equal(server.count, 2);
    const [first, second] = server.times;
    assert.ok(second - first >= 1000 - 20, `retried after ${second - first} ms`);
    scan.checkEvents();
  });

  test('503 with Retry-After as an HTTP-date, then a token: the retry waits until that date', { timeout: 15_000 }, async () => {
    const server = await serve('throttle', { status: 503, retryAfter: (now) => new Date(now + 2000).toUTCString() });
    const token = await hardLimit(client(server.tokenEndpoint, { timeoutMs: 4000 }).getToken());
    assert.equal(token.accessToken, server.issued[0]);
    assert.equal(server.count, 2);
    const askedFor = Date.parse(server.requests[0].retryAfter); // whole seconds: 1 to 2 s after the answer
    assert.ok(askedFor - server.times[0] >= 1000);
    assert.ok(server.times[1] >= askedFor - 20, `retried ${askedFor - server.times[1]} ms before the date`);
    scan.checkEvents();
  });

  test('429 without Retry-After, or asking for longer than timeoutMs: http_error 429 at once, one request', async () => {
    for (const retryAfter of [() => undefined, () => '60', (now) => new Date(now + 3_600_000).toUTCString()]) {
      const server = await serve('throttle', { status: 429, retryAfter });
      const { elapsed } = await fault(() => client(server.tokenEndpoint).getToken(), 'http_error', { status: 429 });
      assert.equal(server.count, 1, String(server.requests[0].retryAfter));
      assert.ok(elapsed < TIMEOUT_MS, 'did not sit out a wait that cannot end before the deadline');
    }
  });

  test('connection reset and connection refused: network_error after 1 + retries attempts', async () => {
    const reset = await serve('reset');
    const { events } = await fault(() => client(reset.tokenEndpoint).getToken(), 'network_error',
      { message: /failed: ECONNRESET/ });
    assert.equal(reset.count, 3);
    assert.equal(attemptsIn(events), 3);

    const refused = `http://127.0.0.1:${await unusedPort()}/token`;
    const second = await fault(() => client(refused, { retries: 1 }).getToken(), 'network_error',
      { message: /failed: ECONNREFUSED/ });
    assert.equal(attemptsIn(second.events), 2);
  });

  test('endless DPoP nonce challenges: one nonce retry, then oauth_error use_dpop_nonce', async () => {
    const server = await serve('nonce-loop');
    const { events } = await fault(() => client(server.tokenEndpoint, { dpop: true }).getToken(), 'oauth_error',
      { status: 400, error: 'use_dpop_nonce' });
    assert.equal(server.count, 2, 'the challenge is answered once, not forever');
    const proof = (i) => JSON.parse(Buffer.from(server.requests[i].headers.dpop.split('.')[1], 'base64url'));
    assert.equal(proof(0).nonce, undefined);
    assert.equal(proof(1).nonce, server.nonces[0], 'the retry carried the nonce it was given');
    assert.deepEqual(events.map((e) => e.type), ['nonce_retry', 'error']);
  });

  test('redirects (302, 307 to another origin; a 302 loop): redirect error, never followed', async () => {
    const thief = await serve('token');
    for (const status of [302, 307]) {
      const server = await serve('redirect', { status, location: `${thief.url}/steal` });
      await fault(() => client(server.tokenEndpoint).getToken(), 'redirect', { status, message: /never follow redirects/ });
      assert.equal(server.count, 1);
    }
    const loop = await serve('redirect', { status: 302 });
    await fault(() => client(loop.tokenEndpoint).getToken(), 'redirect', { status: 302 });
    assert.equal(loop.count, 1);
    assert.equal(thief.count, 0, 'the credentials never reached the other origin');
  });

  test('a fetch whose errors quote the request: network_error without the quoted credentials', async () => {
    const server = await serve('token');
    const quoting = {
      // A Basic credential (a prefix of it would fit the message) and a client_secret_post form value.
      client_secret_basic: (request) => new TypeError(request.headers.get('authorization')),
      client_secret_post: (request) => new TypeError(new URLSearchParams(request.body).get('client_secret')),
    };
    for (const [method, error] of Object.entries(quoting)) {
      let sent;
      const fetch = async (input, init) => {
        sent = new Request(input, init);
        const form = await sent.clone().text();
        throw error({ headers: sent.headers, body: form });
      };
      const c = client(server.tokenEndpoint, { clientAuth: { method, clientSecret: SECRET }, fetch, retries: 0 });
      const { err } = await fault(() => c.getToken(), 'network_error', { message: /details quote the request and are withheld/ });
      const authorization = sent.headers.get('authorization');
      if (authorization) assert.ok(!err.message.includes(authorization.slice(6, 6 + 16)), err.message);
    }
    assert.equal(server.count, 0);
  });
});

describe('a protected API misbehaves: bounded retries, credentials stay at their origin', () => {
  test('401 use_dpop_nonce forever: one nonce retry, then the 401 is handed back', async () => {
    const authority = await serve('token', { fields: { token_type: 'DPoP' } });
    const api = await serve('resource-401', { scheme: 'DPoP', error: 'use_dpop_nonce' });
    scan.checkEvents();
    const res = await hardLimit(client(authority.tokenEndpoint, { dpop: true }).fetch(`${api.url}/data`));
    assert.equal(res.status, 401);
    assert.equal(api.count, 2);
    assert.equal(authority.count, 1, 'a nonce challenge does not cost a token');
    const proof = JSON.parse(Buffer.from(api.requests[1].headers.dpop.split('.')[1], 'base64url'));
    assert.equal(proof.nonce, api.nonces[0]);
    const events = scan.checkEvents();
    assert.deepEqual(events.map((e) => (e.at ? `${e.type}@${e.at}` : e.type)), ['token_request', 'nonce_retry@resource']);
  });

  test('401 invalid_token forever: one new token and one retry, then the 401 is handed back', async () => {
    const authority = await serve('token');
    const api = await serve('resource-401', { scheme: 'Bearer', error: 'invalid_token' });
    scan.checkEvents();
    const res = await hardLimit(client(authority.tokenEndpoint).fetch(`${api.url}/data`, { method: 'POST', body: 'x' }));
    assert.equal(res.status, 401);
    assert.equal(api.count, 2);
    assert.equal(authority.count, 2, 'the rejected token was replaced once');
    assert.deepEqual(api.requests.map((r) => r.headers.authorization), authority.issued.map((t) => `Bearer ${t}`));
    assert.deepEqual(api.requests.map((r) => r.body), ['x', 'x'], 'the body was replayed');
    const events = scan.checkEvents();
    assert.deepEqual(events.map((e) => e.type), ['token_request', 'invalid_token_retry', 'token_request']);
  });

  test('an API redirecting to another origin: the redirect is handed back; nothing travels there', async () => {
    const thief = await serve('resource-401', { scheme: 'Bearer', error: 'invalid_request' });
    const api = await serve('redirect', { status: 307, location: `${thief.url}/steal` });
    for (const dpop of [false, true]) {
      const authority = await serve('token', { fields: { token_type: dpop ? 'DPoP' : 'Bearer' } });
      const c = client(authority.tokenEndpoint, { dpop });
      for (const attempt of [1, 2]) { // the full path, then the fast path with the cached token
        const res = await hardLimit(c.fetch(`${api.url}/data`));
        assert.equal(res.status, 307, `attempt ${attempt}: the caller sees the redirect`);
        assert.equal(res.headers.get('location'), `${thief.url}/steal`);
      }
      assert.equal(thief.requests.length, 0, 'no request, no token and no proof reached the other origin');
    }
    scan.checkEvents();
  });
});

test('after every fault the wasm instance still works, and the scan looked at everything', async () => {
  const server = await serve('token');
  const c = client(server.tokenEndpoint, { dpop: false });
  const token = await hardLimit(c.getToken());
  assert.equal(token.accessToken, server.issued[0]);
  scan.check(c.inspect(), 'inspect()');
  scan.checkEvents();
  assert.ok(scan.checked > 40, `${scan.checked} values scanned`);
  // The scan finds what it is looking for (a scan that cannot fail proves nothing).
  const found = scan.leaks(new TokenError(`oops ${SECRET}`, 'timeout'));
  for (const how of ['message', 'stack', 'String()', 'util.inspect()']) {
    assert.ok(found.includes(`fault client client secret in ${how}`), `${how}: ${found}`);
  }
  assert.deepEqual(scan.leaks({ detail: encodeURIComponent(SECRET) }),
    ['fault client client secret (encoded) in JSON.stringify()', 'fault client client secret (encoded) in util.inspect()']);
  assert.ok(scan.leaks({ type: 'error', detail: server.issued[0] }).length > 0);
  assert.ok(scan.leaks(new Error('wrapped', { cause: new Error(dpopKey.d) })).some((l) => l.startsWith('DPoP key')));
});
