// A fuzz of the public JavaScript API, over the wasm glue's input path: random values for every option of
// `new TokenClient(options)`, every per-call option, every `fetch` input and init, and the standalone helpers, against
// a token endpoint and an API (node:http on 127.0.0.1) that answer with random statuses, headers (Content-Type,
// DPoP-Nonce, Retry-After, Location, WWW-Authenticate) and bodies (token responses, OAuth errors, truncated or huge
// JSON, binary). Values are plausible, slightly wrong or hostile: null-prototype objects, throwing getters and
// toString, Proxies (revoked too), BigInt, cycles, symbols, huge strings, arrays holding those.
//
// Every call must settle within its bound: a constructor or synchronous helper returns or throws a TokenError; a
// Promise-returning call never throws and resolves (a Response, a token, a proof) or rejects with a TokenError, or
// with an error the platform's or the caller's fetch itself produced (handed back as it was, e.g. an AbortError).
// Nothing may be uncaught, no error or event may hold a secret (client secrets, private keys, tokens issued, subject
// tokens: tests/support/secrets.mjs), and the module must still serve a real authority afterwards.
//
//   node tests/fuzz/api-fuzz.mjs                       # 75 s, random seed (printed)
//   FUZZ_SECONDS=600 FUZZ_SEED=12345 node tests/fuzz/api-fuzz.mjs
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
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
import { startScenario } from '../support/index.mjs';
import { closeServer, listen, readBody } from '../support/http.mjs';
import { SecretScan } from '../support/secrets.mjs';

const SECONDS = Number(process.env.FUZZ_SECONDS ?? 75);
const SEED = Number(process.env.FUZZ_SEED ?? randomBytes(4).readUInt32LE());
const CODES = new Set(['invalid_config', 'invalid_argument', 'invalid_key', 'oauth_error', 'invalid_token_response',
  'token_type_mismatch', 'redirect', 'http_error', 'timeout', 'network_error', 'url_not_allowed']);
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
console.log(`api-fuzz: seed ${SEED}, ${SECONDS} s (FUZZ_SEED=${SEED} FUZZ_SECONDS=${SECONDS} to repeat)`);

// --- randomness (mulberry32: one stream, drawn only by the main flow, so a seed repeats a run) -------------------
let state = SEED >>> 0;
function random() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
const chance = (p) => random() < p;
const pick = (list) => list[Math.floor(random() * list.length)];
const some = (fn, max = 3) => Array.from({ length: int(0, max) }, fn);
const word = (n = int(8, 24)) => Array.from({ length: n }, () => pick('abcdefghijklmnopqrstuvwxyz0123456789-_')).join('');

// --- what must never leak, and what went wrong ------------------------------------------------------------------
// One scan per iteration: the keys, that iteration's client secret and subject token, and the tokens the fake servers
// issued during it (a client never sees another iteration's).
let scan;
let issued = [];
let scans = 0;
function newScan() {
  if (scan) scans += scan.checked;
  issued = [];
  scan = new SecretScan().addKey('ES256 key', es256).addKey('RSA key', rsa).addKey('P-384 key', p384)
    .add('storeEncryptionKey', STORE_KEY).addSource('an access token issued by the fuzz server', () => issued);
  return scan;
}
const stats = { iterations: 0, calls: 0, resolved: 0, tokenErrors: 0, passedThrough: 0, constructed: 0, refused: 0,
  serverRequests: 0, codes: {} };
const uncaught = [];
process.on('uncaughtException', (e) => uncaught.push(`uncaughtException: ${e?.stack ?? e}`));
process.on('unhandledRejection', (e) => uncaught.push(`unhandledRejection: ${e?.stack ?? e}`));

/** Errors made by a fetch function (the platform's or the fuzz's custom ones): handed back as they are, allowed. */
const fetchErrors = new WeakSet();
const realFetch = globalThis.fetch;
const noteError = (e) => {
  if (e !== null && (typeof e === 'object' || typeof e === 'function')) fetchErrors.add(e);
  return e;
};
globalThis.fetch = function fetch(input, init) {
  try {
    return realFetch(input, init).catch((e) => { throw noteError(e); });
  } catch (e) {
    throw noteError(e);
  }
};

// --- keys -------------------------------------------------------------------------------------------------------
const es256 = await generateDpopKey();
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ format: 'jwk' });
const STORE_KEY = randomBytes(32).toString('base64url');
const publicOnly = ({ d, ...pub }) => pub;

// --- hostile and odd values ---------------------------------------------------------------------------------------
function revoked() {
  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  return proxy;
}
const trap = () => { throw new Error('fuzz trap'); };
const HOSTILE = [
  () => Object.create(null),
  () => [Object.create(null)],
  () => ({ toString: trap }),
  () => ({ [Symbol.toPrimitive]: trap }),
  () => new Proxy({}, { get: trap, ownKeys: trap, getPrototypeOf: trap, has: trap, getOwnPropertyDescriptor: trap }),
  () => new Proxy([], { get: trap }),
  revoked,
  () => 10n ** BigInt(int(0, 30)),
  () => [1n],
  () => { const o = { a: 1 }; o.self = o; return o; },
  () => Symbol('fuzz'),
  () => [Symbol('fuzz')],
  () => 'x'.repeat(int(50_000, 1_500_000)),
  () => ({ get method() { return trap(); }, get headers() { return trap(); }, get body() { return trap(); } }),
  () => ({ toJSON: trap }),
  () => NaN,
  () => -Infinity,
  () => -1,
  () => 1e308,
  () => '',
  () => ' \u0000\u202e\u2066 ',
  () => () => 'a function',
  () => new Date(NaN),
  () => new Map([[1, 2]]),
  () => undefined,
  () => null,
  () => true,
];
const hostile = () => pick(HOSTILE)();
/** How hostile this iteration is: the chance of a hostile value wherever one may go (many iterations use none, so
 * that most clients get built and reach the servers). */
let hostility = 0;
/** `good()`, or a hostile value at `scale` times this iteration's rate. */
const maybe = (good, scale = 1) => (chance(hostility * scale) ? hostile() : good());

// --- the fake servers ---------------------------------------------------------------------------------------------
/** Responses the server gives, queued per path kind by the iteration before its calls (so a seed repeats a run). */
const script = { token: [], api: [], discovery: [] };
let base; // http://127.0.0.1:<port>
const other = 'http://127.0.0.1:9'; // nothing listens: a redirect target

function tokenBody(kind) {
  const at = `fz-${randomBytes(12).toString('base64url')}`;
  const token = (fields) => {
    if (typeof fields.access_token === 'string') issued.push(fields.access_token);
    return JSON.stringify({ access_token: at, token_type: pick(['Bearer', 'DPoP', 'bearer', 'dpop']), ...fields });
  };
  switch (kind) {
    case 'token': return token({ expires_in: pick([300, 3600, 1, 0, '60', undefined, 3600.0]) });
    case 'bad-token': return token({ access_token: pick([`${at}\u0000x`, `${at} x`, '', 7, `${at}\r\nX: 1`]) });
    case 'odd-token': return token({ expires_in: pick([-1, 1e300, 'soon', 31536001, null, {}]), token_type: pick(['mac', 7, '']) });
    case 'oauth-error': return JSON.stringify({
      error: pick(['invalid_client', 'use_dpop_nonce', 'invalid_dpop_proof', '', 5, `x\u0000\u202e${'e'.repeat(int(0, 3000))}`]),
      error_description: pick([undefined, 'bad', `\u001b[31m\u2066${'d'.repeat(int(0, 6000))}\r\n`, 7]),
    });
    case 'truncated': return token({ expires_in: 300 }).slice(0, int(1, 40));
    case 'huge': return `{"access_token":"${'A'.repeat(int(200_000, 400_000))}","token_type":"Bearer"}`;
    case 'binary': return randomBytes(int(0, 512));
    case 'json': return JSON.stringify(pick([[], null, 'x', { a: [1, { b: 2 }] }, {}]));
    default: return '';
  }
}

function randomAnswer(path) {
  const status = pick([200, 200, 200, 201, 204, 301, 302, 307, 400, 401, 403, 404, 429, 500, 502, 503, 504]);
  const headers = {};
  if (chance(0.8)) headers['content-type'] = pick(['application/json', 'application/json; charset=utf-8', 'text/html', 'application/x+json', 'json', '']);
  if (chance(0.35)) headers['dpop-nonce'] = pick([word(), word(300), 'has space', 'q"uote', '', `${word()}\\x`]);
  if (chance(0.3)) {
    const when = new Date(Date.now() + int(-2000, 3000));
    headers['retry-after'] = pick([String(int(0, 3)), '0', '99999999999999999999', 'soon', when.toUTCString(),
      `${['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'][when.getUTCDay()]}, ${String(when.getUTCDate()).padStart(2, '0')}-${when.toUTCString().slice(8, 11)}-${String(when.getUTCFullYear() % 100).padStart(2, '0')} ${when.toUTCString().slice(17, 25)} GMT`,
      `${when.toUTCString().slice(0, 3)} ${when.toUTCString().slice(8, 11)} ${String(when.getUTCDate()).padStart(2, ' ')} ${when.toUTCString().slice(17, 25)} ${when.getUTCFullYear()}`]);
  }
  if (status >= 300 && status < 400 || chance(0.05)) headers.location = pick([`${other}/elsewhere`, `${base}${path}`, '/relative', '::bad::']);
  if (status === 401 || chance(0.1)) {
    headers['www-authenticate'] = pick(['DPoP error="use_dpop_nonce"', 'Bearer error="invalid_token"',
      'DPoP error="invalid_token", Bearer realm="x"', 'Bearer', '', 'DPoP error=', `Bearer error="${'x'.repeat(5000)}"`]);
  }
  const kind = pick(['token', 'token', 'token', 'bad-token', 'odd-token', 'oauth-error', 'truncated', 'huge', 'binary', 'json', 'empty']);
  const body = tokenBody(kind);
  return { status, headers, body, delayMs: chance(0.2) ? int(1, 40) : 0, reset: chance(0.03) };
}

function discoveryAnswer() {
  const doc = pick([
    { issuer: base, token_endpoint: `${base}/token` },
    { issuer: `${base}/`, token_endpoint: `${base}/token` },
    { issuer: 'https://evil.example', token_endpoint: 'https://evil.example/token' },
    { issuer: base, token_endpoint: 'http://example.com/token', dpop_signing_alg_values_supported: ['PS256'] },
    { issuer: base, token_endpoint: `${base}/token`, token_endpoint_auth_methods_supported: 7 },
  ]);
  return { status: pick([200, 200, 404, 500]), headers: { 'content-type': 'application/json' }, body: JSON.stringify(doc), delayMs: 0 };
}

const server = createServer(async (req, res) => {
  await readBody(req).catch(() => '');
  stats.serverRequests += 1;
  const path = req.url ?? '/';
  const kind = path.startsWith('/token') ? 'token' : path.startsWith('/.well-known') ? 'discovery' : 'api';
  const answer = script[kind].shift() ?? (kind === 'discovery' ? discoveryAnswer() : randomAnswer(path));
  if (answer.delayMs) await new Promise((r) => setTimeout(r, answer.delayMs));
  if (answer.reset) return req.socket.destroy();
  if (res.destroyed) return;
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) {
    try {
      res.setHeader(name, value);
    } catch {
      // a value node:http refuses to send
    }
  }
  res.end(answer.body);
});
server.on('clientError', (e, socket) => socket.destroy());
base = `http://127.0.0.1:${await listen(server, 0)}`;

// --- random options -----------------------------------------------------------------------------------------------
/** Mostly `good()`; with chance `p` one of the plausible-but-wrong `wrong` values. */
const odd = (p, good, wrong) => (chance(p) ? pick(wrong) : good());

function clientAuth(secret) {
  const method = odd(0.04, () => pick(['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'private_key_jwt', 'none']),
    ['tls', undefined, 7]);
  const auth = { method };
  if (method?.startsWith?.('client_secret') || chance(0.03)) auth.clientSecret = maybe(() => odd(0.03, () => secret, ['', 7]));
  if (method === 'private_key_jwt' || chance(0.03)) {
    auth.privateJwk = maybe(() => odd(0.1, () => pick([es256, es256, rsa, p384]),
      [publicOnly(es256), { ...es256, crv: 'P-999' }, { kty: 'oct', k: 'AAAA' }, 'jwk']));
    if (chance(0.2)) auth.alg = maybe(() => odd(0.3, () => (auth.privateJwk === rsa ? pick(['RS256', 'PS256']) : 'ES256'), ['ES384', 'HS256', 'none']));
    if (chance(0.3)) auth.kid = maybe(() => word());
    if (chance(0.2)) auth.audience = maybe(() => odd(0.1, () => pick([base, `${base}/token`]), ['', 7]));
    if (chance(0.2)) auth.lifetimeSeconds = maybe(() => odd(0.2, () => pick([30, 60, 120]), [0, 3601, 1.5]));
    if (chance(0.2)) auth.claims = maybe(() => ({ org: word(), nested: { n: int(0, 9) } }));
    if (chance(0.03)) auth.x5c = maybe(() => [randomBytes(30).toString('base64')]);
    if (chance(0.03)) auth.key = hostile();
  }
  if (chance(0.02)) auth[word(5)] = 'unknown';
  return maybe(() => auth, 0.3);
}

function options(secret) {
  const o = {};
  const set = (name, p, value) => { if (chance(p)) o[name] = maybe(value); };
  set('tokenEndpoint', 0.9, () => odd(0.08, () => `${base}/token`,
    [`${base}/token?x=1`, 'https://as.example/token', 'http://example.com/token', 'not a url', '']));
  set('issuer', 0.2, () => odd(0.2, () => base, [`${base}/`, 'https://evil.example']));
  set('clientId', 0.99, () => odd(0.03, () => word(), ['a b', 'é', '']));
  o.clientAuth = clientAuth(secret);
  set('profile', 0.08, () => pick(['helseid', 'maskinporten', 'entra', 'duende', 'generic', 'nope']));
  set('grant', 0.15, () => odd(0.05, () => pick(['client_credentials', 'client_credentials', 'jwt_bearer', 'token_exchange', 'on_behalf_of']), ['implicit']));
  if (o.grant === 'token_exchange' || chance(0.01)) o.tokenExchange = maybe(() => ({ subjectTokenType: 'urn:ietf:params:oauth:token-type:access_token' }));
  set('scope', 0.5, () => odd(0.05, () => pick([word(), [word(), word()]]), ['a b', [], [7]]));
  set('resource', 0.15, () => odd(0.1, () => pick([`${base}/api`, [`${base}/a`, `${base}/b`]]), ['not a uri']));
  set('extraParams', 0.1, () => odd(0.2, () => ({ a: word() }), [{ a: 7 }, { grant_type: 'x' }]));
  set('dpop', 0.35, () => odd(0.1, () => pick([true, true, { privateJwk: es256 }, { privateJwk: rsa }, false]), [{ privateJwk: publicOnly(es256) }, 'yes']));
  set('refreshBeforeExpirySeconds', 0.1, () => odd(0.2, () => pick([0, 30, 60]), [1e9, -5]));
  set('timeoutMs', 0.97, () => odd(0.03, () => pick([50, 100, 200, 400, 800]), [0, -1, 1.5]));
  set('retries', 0.5, () => odd(0.05, () => pick([0, 1, 2]), [10, -1]));
  set('cacheSize', 0.1, () => odd(0.1, () => pick([1, 2, 1000]), [0]));
  set('staleIfErrorSeconds', 0.1, () => odd(0.1, () => pick([0, 30]), [1e12]));
  set('baseUrl', 0.3, () => odd(0.1, () => pick([base, `${base}/api/`]), ['https://api.example', 'nope']));
  set('allowedOrigins', 0.02, () => pick([[other], [base]]));
  if (chance(0.3)) o.fetch = customFetch();
  if (chance(0.3)) o.onEvent = odd(0.1, () => (e) => events.push(e), [trap, 'not a function']);
  if (chance(0.08)) {
    o.store = maybe(memoryStore);
    o.storeEncryptionKey = maybe(() => odd(0.1, () => STORE_KEY, ['short', 7]));
    if (o.dpop === true) o.dpop = { privateJwk: es256 };
  }
  if (chance(0.02)) o[word(6)] = 1;
  return maybe(() => o, 0.2);
}

/** A store that works, fails, answers junk or is slow (bounded by the client). */
function memoryStore() {
  const map = new Map();
  const mode = pick(['ok', 'ok', 'throw', 'reject', 'junk', 'slow', 'hostile']);
  const act = (value) => {
    switch (mode) {
      case 'throw': throw new Error('store down');
      case 'reject': return Promise.reject(new Error('store down'));
      case 'junk': return Promise.resolve(pick([7, {}, 'v1.garbage', hostile()]));
      case 'slow': return new Promise((r) => setTimeout(() => r(value), int(1, 300)));
      case 'hostile': return { then: trap };
      default: return Promise.resolve(value);
    }
  };
  return {
    get: (k) => act(map.get(k) ?? null),
    set: (k, v) => { map.set(k, v); return act(undefined); },
    delete: (k) => { map.delete(k); return act(undefined); },
  };
}

/** The caller's fetch: passes through, or throws, rejects (sometimes quoting the request), resolves junk. */
function customFetch() {
  const mode = pick(['pass', 'pass', 'pass', 'throw', 'reject', 'quote', 'junk', 'thenable', 'sync-response']);
  return function fetch(input, init) {
    const headers = () => new Headers(input instanceof Request ? input.headers : init?.headers);
    switch (mode) {
      case 'throw': throw noteError(new TypeError('custom fetch threw'));
      case 'reject': return Promise.reject(noteError(new Error('custom fetch failed', { cause: { code: 'EFUZZ' } })));
      case 'quote': return Promise.reject(noteError(new TypeError(`bad header ${headers().get('authorization')} ${headers().get('dpop')}`)));
      case 'junk': return Promise.resolve(pick([null, 7, { status: 401 }, Object.create(Response.prototype)]));
      case 'thenable': return { then() { throw noteError(new Error('custom fetch: a thenable whose then throws')); } };
      case 'sync-response': return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
      default: return globalThis.fetch(input, init);
    }
  };
}

function requestOptions(subject) {
  if (chance(0.5)) return pick([undefined, null]);
  const r = {};
  const set = (name, p, value) => { if (chance(p)) r[name] = maybe(value); };
  set('scope', 0.4, () => pick([word(), [word(), word()], []]));
  set('resource', 0.2, () => pick([`${base}/api`, ['urn:x'], 'not a uri']));
  set('subjectToken', 0.3, () => subject);
  set('subjectTokenType', 0.1, () => pick(['urn:ietf:params:oauth:token-type:jwt', '']));
  set('forceRefresh', 0.2, () => pick([true, false, 'yes']));
  set('claims', 0.15, () => pick([{ org: word() }, { n: [1, 2] }]));
  set('extraParams', 0.15, () => pick([{ a: word() }, { a: 1 }]));
  if (chance(0.03)) r[word(5)] = 1;
  return maybe(() => r, 0.5);
}

function fetchInput() {
  return maybe(() => pick([
    () => `${base}/api/${word()}?q=${word(4)}`,
    () => `/api/${word()}`,
    () => new URL(`${base}/api/x`),
    () => new Request(`${base}/api/r`),
    () => new Request(`${base}/api/r`, { method: 'POST', body: word() }),
    () => `${other}/x`,
    () => 'http://[::1',
    () => 'https://api.example/x',
    () => `${base}/${'p'.repeat(int(1000, 100_000))}`,
  ])(), 1.5);
}

function fetchInit() {
  if (chance(0.4)) return undefined;
  return maybe(() => {
    const init = {};
    if (chance(0.5)) init.method = maybe(() => pick(['GET', 'post', 'PUT', 'PATCH', 'HEAD', 'bad method', '']));
    if (chance(0.5)) {
      init.headers = maybe(() => pick([
        () => ({ 'x-a': word(), authorization: 'Bearer caller-own' }),
        () => new Headers({ 'x-b': word() }),
        () => [['x-c', word()]],
        () => ({ 'bad header': 'x' }),
        () => ({ 'x-d': 'line\nbreak' }),
      ])());
    }
    if (chance(0.3)) init.body = maybe(() => pick([word(), new Blob([word()]).stream(), new URLSearchParams({ a: word() })]));
    try {
      if (typeof init.body?.getReader === 'function') init.duplex = 'half';
    } catch {
      // a hostile body: sent as it is
    }
    if (chance(0.1)) init.redirect = pick(['follow', 'manual', 'error', 'nope']);
    if (chance(0.1)) init.signal = AbortSignal.timeout(int(1, 200));
    return init;
  }, 1.5);
}

// --- judging a call -------------------------------------------------------------------------------------------------
let events = [];
function judgeError(err, where) {
  if (err instanceof TokenError) {
    stats.tokenErrors += 1;
    stats.codes[err.code] = (stats.codes[err.code] ?? 0) + 1;
    assert.ok(CODES.has(err.code), `${where}: unknown code ${err.code}`);
    // The server's text is capped (the message may quote the caller's own URL, which is not).
    for (const [name, text, cap] of [['message', err.message, Infinity], ['error', err.error, 101],
      ['errorDescription', err.errorDescription, 501]]) {
      if (text === undefined) continue;
      assert.equal(typeof text, 'string', `${where}: ${name}`);
      assert.ok(!UNSAFE.test(text), `${where}: ${name} has a control or bidi character: ${JSON.stringify(text.slice(0, 120))}`);
      assert.ok([...text].length <= cap, `${where}: ${name} of ${text.length} characters`);
    }
  } else {
    assert.ok(fetchErrors.has(err), `${where}: rejected with ${err?.name}: ${String(err?.message).slice(0, 200)} (not a TokenError, not from a fetch)`);
    stats.passedThrough += 1;
  }
  scan.check(err, where);
}

/** Run a Promise-returning `call`; it must not throw, and must settle within `ms` as `ok` allows or with an error. */
async function promiseCall(where, call, ms, ok) {
  stats.calls += 1;
  let promise;
  try {
    promise = call();
  } catch (e) {
    assert.fail(`${where}: threw synchronously ${e?.name}: ${e?.message}`);
  }
  assert.ok(promise instanceof Promise, `${where}: returned ${typeof promise}, not a Promise`);
  let timer;
  const limit = new Promise((resolve) => { timer = setTimeout(() => resolve({ hung: true }), ms); });
  const outcome = await Promise.race([promise.then((value) => ({ value }), (err) => ({ err })), limit]);
  clearTimeout(timer);
  assert.ok(!outcome.hung, `${where}: did not settle within ${ms} ms`);
  if ('err' in outcome) return judgeError(outcome.err, where);
  stats.resolved += 1;
  ok(outcome.value);
}

/** Run a synchronous `call`: it returns, or throws a TokenError. */
function syncCall(where, call) {
  stats.calls += 1;
  try {
    const value = call();
    stats.resolved += 1;
    return value;
  } catch (e) {
    assert.ok(e instanceof TokenError, `${where}: threw ${e?.name}: ${e?.message}, not a TokenError`);
    judgeError(e, where);
    return undefined;
  }
}

const isResponse = (v) => v instanceof Response || v === null || typeof v !== 'object' || 'status' in v;
const isToken = (t) => typeof t?.accessToken === 'string' && /^[A-Za-z0-9\-._~+/]+=*$/.test(t.accessToken)
  && ['Bearer', 'DPoP'].includes(t.tokenType) && Number.isFinite(t.expiresAt);

async function iteration(n) {
  const secret = `fz-secret-${randomBytes(12).toString('base64url')}`;
  const subject = `fz-subject-${randomBytes(12).toString('base64url')}`;
  newScan().add('client secret', secret).add('subject token', subject);
  for (const kind of ['token', 'api', 'discovery']) script[kind] = some(() => (kind === 'discovery' ? discoveryAnswer() : randomAnswer('/')), 4);
  events = [];
  hostility = pick([0, 0, 0, 0.02, 0.1]);
  const opts = options(secret);
  const where = `#${n}`;
  const client = syncCall(`${where} new TokenClient`, () => new TokenClient(opts));
  if (!(client instanceof TokenClient)) {
    stats.refused += 1;
    return;
  }
  stats.constructed += 1;
  // Getting a token takes at most timeoutMs; a fetch may get two (a revoked token is replaced once).
  const timeoutMs = Number.isFinite(opts?.timeoutMs) && opts.timeoutMs > 0 ? opts.timeoutMs : 30_000;
  const bound = 2 * timeoutMs + 5000;
  const calls = Array.from({ length: int(1, 4) }, () => pick(['getToken', 'fetch', 'fetch', 'fetch', 'invalidate', 'createDpopProof', 'sync']));
  await Promise.all(calls.map(async (kind, i) => {
    const at = `${where}.${i} ${kind}`;
    switch (kind) {
      case 'getToken':
        return promiseCall(at, () => client.getToken(requestOptions(subject)), bound, (t) => assert.ok(isToken(t), `${at}: ${JSON.stringify(t)}`));
      case 'fetch': {
        const args = [fetchInput(), fetchInit(), requestOptions(subject)].slice(0, int(1, 3));
        return promiseCall(at, () => client.fetch(...args), bound, (r) => assert.ok(isResponse(r), `${at}: resolved ${typeof r}`));
      }
      case 'invalidate':
        return promiseCall(at, () => client.invalidate(requestOptions(subject)), bound, (v) => assert.equal(v, undefined));
      case 'createDpopProof':
        return promiseCall(at, () => client.createDpopProof(maybe(() => 'GET'), maybe(() => `${base}/api`), maybe(() => ({ nonce: word() }))),
          bound, (p) => assert.match(p, /^[\w-]+\.[\w-]+\.[\w-]+$/));
      default:
        syncCall(`${at} inspect`, () => JSON.stringify(client.inspect()));
        syncCall(`${at} dpopThumbprint`, () => client.dpopThumbprint());
        return undefined;
    }
  }));
  for (const [i, e] of events.entries()) scan.check(e, `${where} event #${i} (${e?.type})`);
}

async function helpers(n) {
  const where = `#${n} helper`;
  const secret = `fz-secret-${randomBytes(12).toString('base64url')}`;
  newScan().add('client secret', secret);
  events = [];
  hostility = pick([0, 0.05, 0.2]);
  const jwk = maybe(() => pick([es256, rsa, p384, publicOnly(es256), { kty: 'EC' }]), 0.3);
  await promiseCall(`${where} createClientAssertion`, () => createClientAssertion(maybe(() => ({
    clientId: maybe(() => word()), audience: maybe(() => base), privateJwk: jwk, kid: maybe(() => word()),
    alg: maybe(() => pick(['ES256', 'RS256', 'PS384', 'nope'])), lifetimeSeconds: maybe(() => pick([60, 0, 4000])),
    claims: maybe(() => ({ a: word() })),
  }))), 5000, (a) => assert.equal(typeof a, 'string'));
  await promiseCall(`${where} createDpopProof`, () => createDpopProof(maybe(() => ({
    privateJwk: jwk, method: maybe(() => 'POST'), url: maybe(() => `${base}/x`), accessToken: maybe(() => word()), nonce: maybe(() => word()),
  }))), 5000, (p) => assert.equal(typeof p, 'string'));
  syncCall(`${where} jwkThumbprint`, () => jwkThumbprint(jwk));
  syncCall(`${where} helseIdAuthorization`, () => helseIdAuthorization(maybe(() => ({ parentOrganization: maybe(() => pick(['994598759', '1', ''])), childOrganization: maybe(() => '123456789') }))));
  const name = word(4);
  const registry = syncCall(`${where} new ClientRegistry`, () => new ClientRegistry(maybe(() => ({ [name]: options(secret) }))));
  if (registry instanceof ClientRegistry) {
    const pickName = () => maybe(() => (chance(0.7) ? name : word(4)));
    await promiseCall(`${where} registry.fetch`, () => registry.fetch(pickName(), fetchInput(), fetchInit()), 65_000,
      (r) => assert.ok(isResponse(r)));
    syncCall(`${where} registry.get`, () => registry.get(pickName()));
  }
  for (const [i, e] of events.entries()) scan.check(e, `${where} event #${i} (${e?.type})`);
}

// --- the run --------------------------------------------------------------------------------------------------------
const started = Date.now();
let failure;
try {
  for (let n = 0; Date.now() - started < SECONDS * 1000; n++) {
    stats.iterations = n + 1;
    await (n % 5 === 4 ? helpers(n) : iteration(n));
    assert.deepEqual(uncaught, [], `#${n}: something escaped uncaught`);
  }
  await new Promise((resolve) => setTimeout(resolve, 300)); // late rejections surface
  assert.deepEqual(uncaught, [], 'something escaped uncaught');

  // The module still serves a real authority, with a normal getToken and fetch.
  const s = await startScenario();
  try {
    const b = s.clients.duende;
    const client = new TokenClient({
      tokenEndpoint: b.tokenEndpoint, issuer: b.issuer, clientId: b.clientId,
      clientAuth: { method: 'client_secret_basic', clientSecret: b.clientSecret }, scope: 'api2.read', baseUrl: s.api2.url,
    });
    const token = await client.getToken();
    assert.equal(token.tokenType, 'Bearer');
    assert.equal((await client.fetch('/data')).status, 200);
    const a = s.clients.helseid;
    const dpop = new TokenClient({
      tokenEndpoint: a.tokenEndpoint, issuer: a.issuer, clientId: a.clientId,
      clientAuth: { method: 'private_key_jwt', privateJwk: a.privateJwk }, dpop: true, scope: 'api1.read', baseUrl: s.api1.url,
    });
    assert.equal((await dpop.fetch('/data')).status, 200);
  } finally {
    await s.close();
  }
} catch (e) {
  failure = e;
} finally {
  await closeServer(server);
  globalThis.fetch = realFetch;
}

const secs = ((Date.now() - started) / 1000).toFixed(1);
console.log(`api-fuzz: ${stats.iterations} iterations, ${stats.calls} calls in ${secs} s (${(stats.calls / secs).toFixed(0)}/s); `
  + `clients built ${stats.constructed}, refused ${stats.refused}; settled: resolved ${stats.resolved}, `
  + `TokenError ${stats.tokenErrors}, fetch's own error ${stats.passedThrough}; server requests ${stats.serverRequests}; `
  + `secret scans ${scans + (scan?.checked ?? 0)}`);
console.log(`api-fuzz: codes ${JSON.stringify(stats.codes)}`);
if (failure) {
  console.error(`api-fuzz: FAILED (seed ${SEED}): ${failure.stack ?? failure}`);
  process.exit(1);
}
console.log('api-fuzz: ok; then a real authority served a token and two API calls');
process.exit(0);
