// The security boundary of "Tenant-safe by construction", items 6, 13 and 14: what comes from outside (a server's
// text, an access token, a DPoP nonce, a host error, a caller's hostile value) is checked, cleaned or withheld before it
// reaches a TokenError, a cache or a header, and nothing a caller passes can make the package throw raw, hang, or
// leave an exception uncaught. Servers are fakes on 127.0.0.1 (tests/support/misbehave.mjs and below): real ones do
// not misbehave like this. Every error is scanned for the secrets used here (tests/support/secrets.mjs).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, describe, test } from 'node:test';
import {
  ClientRegistry,
  TokenClient,
  TokenError,
  createClientAssertion,
  createDpopProof,
  generateDpopKey,
  helseIdAuthorization,
  jwkThumbprint,
} from 'tokenfetch';
import { closeServer, listen, readBody, sendJson } from '../support/http.mjs';
import { misbehavingServers, newAccessToken } from '../support/misbehave.mjs';
import { secrets as scan } from '../support/secrets.mjs';

// Anything uncaught fails the file (and keeps the process alive long enough to say so).
const uncaught = [];
process.on('uncaughtException', (e) => uncaught.push(['uncaughtException', e]));
process.on('unhandledRejection', (e) => uncaught.push(['unhandledRejection', e]));
const assertNothingUncaught = () =>
  assert.deepEqual(uncaught.map(([how, e]) => `${how}: ${e?.name}: ${e?.message}`), [], 'nothing escapes uncaught');

const CLIENT_ID = 'boundary-client';
const SECRET = 'b0undary-s3cret+/ :%&=';
const dpopKey = await generateDpopKey();
scan.addClient('boundary client', { clientId: CLIENT_ID, clientSecret: SECRET }).addKey('DPoP key', dpopKey);

const { serve, track, closeAll } = misbehavingServers(scan);
after(closeAll);

/** A token endpoint that answers every POST with `status` and the JSON `body`. */
async function serveJson(status, body, headers = {}) {
  const http = createServer(async (req, res) => {
    await readBody(req);
    sendJson(res, status, body, headers);
  });
  const url = `http://127.0.0.1:${await listen(http, 0)}`;
  const server = { url, tokenEndpoint: `${url}/token`, close: () => closeServer(http) };
  return track(server);
}

function client(tokenEndpoint, { dpop = false, ...extra } = {}) {
  return new TokenClient({
    tokenEndpoint,
    clientId: CLIENT_ID,
    clientAuth: { method: 'client_secret_basic', clientSecret: SECRET },
    timeoutMs: 5000,
    retries: 0,
    ...(dpop ? { dpop: { privateJwk: dpopKey } } : {}),
    ...extra,
  });
}

/** `promise` settled within `ms`: { value } or { err }; a hang is a failure, not a stalled file. */
async function settled(promise, ms = 3000) {
  let timer;
  const limit = new Promise((resolve) => { timer = setTimeout(() => resolve({ hung: true }), ms); });
  const outcome = await Promise.race([promise.then((value) => ({ value }), (err) => ({ err })), limit]);
  clearTimeout(timer);
  assert.ok(!outcome.hung, `did not settle within ${ms} ms`);
  return outcome;
}

/** Assert `err` is a TokenError of `code`, free of secrets; returns it. */
function tokenError(err, code, where) {
  assert.ok(err instanceof TokenError, `${where}: expected a TokenError, got ${err?.name}: ${err?.message}`);
  assert.equal(err.code, code, `${where}: code of: ${err.message}`);
  scan.check(err, where);
  return err;
}

/** Control characters, line separators and the bidi formatting characters of the issue. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;

describe('6. server text, access tokens and host errors', () => {
  test('error and error_description with controls, bidi overrides and 5,000 characters: fields cleaned and capped', async () => {
    const nasty = '\u0000\u0007\u001b[2J\u0085\u007f\u2028\u200e\u200f\u061c\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069';
    const server = await serveJson(400, {
      error: `invalid_client${nasty}${'e'.repeat(5000)}`,
      error_description: `line one\r\nline two${nasty}${'d'.repeat(5000)}`,
    });
    const { err } = await settled(client(server.tokenEndpoint).getToken());
    tokenError(err, 'oauth_error', 'getToken()');
    assert.equal(err.status, 400);
    for (const [name, text, cap] of [['error', err.error, 101], ['errorDescription', err.errorDescription, 501],
      ['message', err.message, 400]]) {
      assert.equal(typeof text, 'string', name);
      assert.ok(!UNSAFE.test(text), `${name} holds a control or bidi character: ${JSON.stringify(text.slice(0, 80))}`);
      assert.ok([...text].length <= cap, `${name} is ${[...text].length} characters`);
    }
    assert.ok(err.error.startsWith('invalid_client') && err.error.endsWith('…'), err.error);
    assert.ok(err.errorDescription.startsWith('line one  line two') && err.errorDescription.endsWith('d…'));
  });

  test('an access token with a NUL byte, a space or a line break is refused (invalid_token_response)', async () => {
    for (const bad of ['\u0000', ' ', '\r\nX-Injected: 1']) {
      const token = `${newAccessToken()}${bad}tail`;
      scan.add('a malformed access token', token);
      const server = await serve('token', { fields: { access_token: token } });
      const c = client(server.tokenEndpoint);
      const { err } = await settled(c.getToken());
      tokenError(err, 'invalid_token_response', `token ${JSON.stringify(bad)}`);
      assert.equal(err.status, 200);
      assert.match(err.message, /"access_token" must be RFC 6750 b64token characters/);
      assert.equal(c.inspect().cache.length, 0, 'nothing cached');
    }
  });

  /** A fetch that sends token requests on, and rejects API calls with an error quoting the header `quote`. */
  function quotingFetch(tokenServer, quote, { sync = false, inCause = false } = {}) {
    const calls = { api: 0 };
    const fetch = (input, init) => {
      const url = typeof input === 'string' ? input : input.url;
      if (url.startsWith(tokenServer.url)) return globalThis.fetch(input, init);
      calls.api += 1;
      const headers = new Headers(input instanceof Request ? input.headers : init?.headers);
      const text = `invalid header value: ${quote}=${headers.get(quote)}`;
      const error = inCause ? new TypeError('fetch failed', { cause: new Error(text) }) : new TypeError(text);
      if (sync) throw error;
      return Promise.reject(error);
    };
    return { fetch, calls };
  }

  /** Count the fast path's use on `c`. */
  test('a fetch rejecting with an error that quotes the Authorization or DPoP value: TokenError, token withheld (a cached token, a Request, per-call options)', async () => {
    const api = 'http://127.0.0.1:9/api/records?id=7';
    const cases = [
      { quote: 'authorization', dpop: false },
      { quote: 'authorization', dpop: false, sync: true },
      { quote: 'authorization', dpop: false, inCause: true },
      { quote: 'authorization', dpop: true },
      { quote: 'dpop', dpop: true },
    ];
    for (const { quote, dpop, ...how } of cases) {
      const server = await serve('token', { fields: { token_type: dpop ? 'DPoP' : 'Bearer' } });
      const { fetch, calls } = quotingFetch(server, quote, how);
      const c = client(server.tokenEndpoint, { dpop, fetch });
      await c.getToken();
      const where = `${quote} ${JSON.stringify(how)} dpop=${dpop}`;
      const attempts = [
        ['a cached token', () => c.fetch(api)],
        ['a Request', () => c.fetch(new Request(api))],
        ['per-call options', () => c.fetch(api, { method: 'GET' }, {})],
      ];
      for (const [path, call] of attempts) {
        const { err } = await settled(call());
        tokenError(err, 'network_error', `${where}, ${path}`);
        assert.equal(err.message, 'request to http://127.0.0.1:9/api/records failed (the error\'s details quote the request and are withheld)');
        assert.equal(err.cause, undefined, 'the original error is not attached');
      }
      assert.equal(calls.api, 3);
    }
  });

  test('a fetch error that quotes nothing sent is handed back as it was (fast and full path)', async () => {
    const server = await serve('token');
    const thrown = new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    const fetch = (input, init) =>
      (String(input?.url ?? input).startsWith(server.url) ? globalThis.fetch(input, init) : Promise.reject(thrown));
    const c = client(server.tokenEndpoint, { fetch });
    await c.getToken();
    for (const call of [() => c.fetch('http://127.0.0.1:9/x'), () => c.fetch(new Request('http://127.0.0.1:9/x'))]) {
      const { err } = await settled(call());
      assert.equal(err, thrown);
    }
  });
});

/** HTTP-dates in RFC 9110's obsolete forms. */
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n, fill = '0') => String(n).padStart(2, fill);
const hms = (d) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
/** `Sunday, 06-Nov-94 08:49:37 GMT` */
const rfc850 = (d) =>
  `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${pad(d.getUTCFullYear() % 100)} ${hms(d)} GMT`;
/** `Sun Nov  6 08:49:37 1994` */
const asctime = (d) =>
  `${DAYS[d.getUTCDay()].slice(0, 3)} ${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCDate(), ' ')} ${hms(d)} ${d.getUTCFullYear()}`;

describe('13. Retry-After dates and the DPoP nonce store', () => {
  test('the formats themselves are RFC 9110\'s', () => {
    const example = new Date(Date.UTC(1994, 10, 6, 8, 49, 37));
    assert.equal(rfc850(example), 'Sunday, 06-Nov-94 08:49:37 GMT');
    assert.equal(asctime(example), 'Sun Nov  6 08:49:37 1994');
  });

  for (const [name, format] of [['rfc850-date', rfc850], ['asctime-date', asctime]]) {
    test(`503 with Retry-After as an ${name}, then a token: one retry, not before that date`, { timeout: 15_000 }, async () => {
      let askedFor;
      const retryAfter = (now) => {
        askedFor = Math.floor((now + 2000) / 1000) * 1000; // the date has whole seconds
        return format(new Date(now + 2000));
      };
      const server = await serve('throttle', { status: 503, retryAfter });
      const token = await client(server.tokenEndpoint, { retries: 1 }).getToken();
      assert.equal(token.tokenType, 'Bearer');
      assert.equal(server.count, 2, 'the 503, then the retry that got the token');
      assert.equal(server.issued.at(-1), token.accessToken);
      // Not before the date (20 ms for clocks and timers).
      assert.ok(server.times[1] >= askedFor - 20, `retried ${askedFor - server.times[1]} ms before the date`);
    });
  }

  test('after 100 API origins answering with DPoP-Nonce, the store keeps at most 32, the latest among them', async () => {
    const tokenEndpoint = 'http://127.0.0.1:9/token';
    const origin = (i) => `http://127.0.0.1:${20000 + i}`;
    const fetch = async (input) => {
      const url = typeof input === 'string' ? input : input.url;
      if (url === tokenEndpoint) {
        return Response.json({ access_token: newAccessToken(), token_type: 'DPoP', expires_in: 300 });
      }
      const i = Number(new URL(url).port) - 20000;
      return new Response('ok', { headers: { 'dpop-nonce': i === 100 ? 'not "a" nonce' : `nonce-${i}` } });
    };
    const c = client(tokenEndpoint, { dpop: true, fetch });
    for (let i = 0; i <= 100; i++) assert.equal((await c.fetch(`${origin(i)}/r`)).status, 200);
    const { nonces } = c.inspect();
    assert.ok(nonces.length <= 32, `${nonces.length} origins kept`);
    assert.deepEqual(nonces.find((n) => n.origin === origin(99)), { origin: origin(99), nonce: 'nonce-99' });
    assert.equal(nonces.find((n) => n.origin === origin(0)), undefined, 'the least recently used went first');
    assert.equal(nonces.find((n) => n.origin === origin(100)), undefined, 'a nonce with a space and quotes is not kept');
  });
});

describe('14. hostile arguments: a TokenError, never a raw throw, a hang or an uncaught exception', () => {
  const revoked = () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  };
  const trap = () => { throw new Error('trap'); };
  const throwingProxy = () => new Proxy({}, { get: trap, getPrototypeOf: trap, ownKeys: trap, has: trap, getOwnPropertyDescriptor: trap });
  const nullProto = () => Object.create(null);
  const cyclic = () => {
    const o = { scope: 'a' };
    o.self = o;
    return o;
  };

  test('each hostile fetch input, init and per-call option: a rejected Promise with invalid_argument, and the client works after', async () => {
    const server = await serve('token');
    const c = client(server.tokenEndpoint);
    await c.getToken();
    const ok = `${server.url}/api`;
    const cases = [
      ['input', [nullProto()]],
      ['input', [[nullProto()]]],
      ['input', [{ toString() { throw new Error('no string for you'); } }]],
      ['input', [{ [Symbol.toPrimitive]() { throw new Error('no'); } }]],
      ['input', [throwingProxy()]],
      ['input', [revoked()]],
      ['input', [10n]],
      ['input', [Symbol('s')]],
      ['input', [undefined]],
      ['init', [ok, { get method() { throw new Error('getter'); } }]],
      ['init', [ok, { get body() { throw new Error('getter'); } }]],
      ['init', [ok, throwingProxy()]],
      ['init', [ok, revoked()]],
      ['init', [ok, 42]],
      ['init.headers', [ok, { headers: throwingProxy() }]],
      ['init.headers', [ok, { headers: revoked() }]],
      ['init.headers', [ok, { headers: [[nullProto(), 'x']] }]],
      ['init.method', [ok, { method: 5 }]],
      ['req', [ok, undefined, 10n]],
      ['req', [ok, undefined, cyclic()]],
      ['req', [ok, undefined, throwingProxy()]],
      ['req', [ok, undefined, { scope: { toJSON() { throw new Error('json'); } } }]],
    ];
    for (const [field, args] of cases) {
      const where = `fetch(${args.map((a) => typeof a).join(', ')}) -> ${field}`;
      let promise;
      assert.doesNotThrow(() => { promise = c.fetch(...args); }, where);
      assert.ok(promise instanceof Promise, where);
      const { err } = await settled(promise, 2000);
      tokenError(err, 'invalid_argument', where);
      assert.ok(err.message.startsWith(`${field}:`), `${where}: ${err.message}`);
    }
    await new Promise((resolve) => setImmediate(resolve));
    assertNothingUncaught();
    assert.equal((await c.fetch(ok)).status, 200, 'the client still works');
    assert.equal((await c.getToken()).tokenType, 'Bearer');
  });

  test('hostile arguments to the other methods, helpers and constructors: TokenErrors (rejected for Promises)', async () => {
    const server = await serve('token', { fields: { token_type: 'DPoP' } });
    const c = client(server.tokenEndpoint, { dpop: true });
    const rejects = [
      ['getToken(BigInt)', () => c.getToken({ scope: 10n })],
      ['getToken(Proxy)', () => c.getToken(throwingProxy())],
      ['invalidate(revoked Proxy)', () => c.invalidate(revoked())],
      ['createDpopProof(undefined)', () => c.createDpopProof(undefined, 'https://api.example/')],
      ['createDpopProof(object url)', () => c.createDpopProof('GET', nullProto())],
      ['createDpopProof(nonce: 5)', () => c.createDpopProof('GET', 'https://api.example/', { nonce: 5 })],
      ['createClientAssertion(Proxy)', () => createClientAssertion(throwingProxy())],
      ['createDpopProof helper(revoked)', () => createDpopProof(revoked())],
      ['registry.fetch(Proxy name)', () => new ClientRegistry({}).fetch(throwingProxy(), 'https://api.example/')],
    ];
    for (const [where, call] of rejects) {
      let promise;
      assert.doesNotThrow(() => { promise = call(); }, where);
      const { err } = await settled(promise, 2000);
      tokenError(err, 'invalid_argument', where);
    }
    const throwsSync = [
      ['jwkThumbprint(revoked)', () => jwkThumbprint(revoked()), 'invalid_argument'],
      ['jwkThumbprint(BigInt member)', () => jwkThumbprint({ kty: 'EC', x: 1n }), 'invalid_argument'],
      ['helseIdAuthorization(Proxy)', () => helseIdAuthorization(throwingProxy()), 'invalid_argument'],
      ['registry.get(object)', () => new ClientRegistry({}).get(nullProto()), 'invalid_argument'],
      ['new TokenClient(Proxy)', () => new TokenClient(throwingProxy()), 'invalid_config'],
      ['new TokenClient(revoked)', () => new TokenClient(revoked()), 'invalid_config'],
      ['new TokenClient(cyclic claims)', () => new TokenClient({ tokenEndpoint: server.tokenEndpoint, clientId: 'c',
        clientAuth: { method: 'none', claims: cyclic() } }), 'invalid_config'],
      ['new TokenClient(CryptoKey-like Proxy)', () => new TokenClient({ tokenEndpoint: server.tokenEndpoint,
        clientId: 'c', clientAuth: { method: 'private_key_jwt', key: { type: 'private', usages: revoked() } } }),
      'invalid_config'],
      ['new ClientRegistry(Proxy)', () => new ClientRegistry(throwingProxy()), 'invalid_config'],
    ];
    for (const [where, call, code] of throwsSync) {
      let err;
      try {
        call();
      } catch (e) {
        err = e;
      }
      tokenError(err, code, where);
    }
    await new Promise((resolve) => setImmediate(resolve));
    assertNothingUncaught();
    assert.match(await c.createDpopProof('GET', 'https://api.example/'), /^ey/, 'the client still works');
  });

  test('a custom fetch that resolves to something other than a Response: network_error (fast and full path)', async () => {
    const server = await serve('token');
    let junk = null;
    const fetch = (input, init) =>
      (String(input?.url ?? input).startsWith(server.url) ? globalThis.fetch(input, init) : Promise.resolve(junk));
    const c = client(server.tokenEndpoint, { fetch });
    await c.getToken();
    // (A fast-path answer is handed back as the fetch gave it unless it must be read: a 401, or a DPoP-Nonce.)
    for (const value of [null, { status: 401 }, Object.create(Response.prototype)]) {
      junk = value;
      for (const call of [() => c.fetch('http://127.0.0.1:9/x'), () => c.fetch(new Request('http://127.0.0.1:9/x'))]) {
        const { err } = await settled(call());
        tokenError(err, 'network_error', `resolved to ${String(value)}`);
        assert.equal(err.message, 'fetch did not resolve to a Response');
      }
    }
    assertNothingUncaught();
  });
});
