// Small helpers for the JS integration tests (tests/js/*.test.mjs): the standard scenario per describe, client
// builders for it, counter deltas, a recording fetch, TokenError assertions and leak checks (every TokenError asserted
// here goes through the test file's secret scan, tests/support/secrets.mjs).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before } from 'node:test';
import { inspect } from 'node:util';
import { TokenClient, TokenError } from 'tokenfetch';
import { secrets } from '../support/secrets.mjs';

export { secrets };

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Start the standard scenario (tests/support: authorities A and B, APIs 1 and 2) before the tests of the enclosing
 * describe (or file), register its secrets with the file's scan, and close it afterwards. `opts` as startScenario's.
 * Returns a getter for the scenario.
 */
export function useScenario(opts) {
  let s;
  before(async () => {
    const { startScenario } = await import('../support/index.mjs'); // (oidc-provider: loaded only where used)
    s = scanScenario(await startScenario(opts));
  });
  after(async () => { await s?.close(); });
  return () => s;
}

// node:test's mock timers are experimental in Node 20 and say so once per process; expected here, so drop only that.
const emitWarning = process.emitWarning.bind(process);
process.emitWarning = (warning, ...rest) => {
  if (String(warning?.message ?? warning).startsWith('The MockTimers API is an experimental feature')) return;
  emitWarning(warning, ...rest);
};

/**
 * A fake clock for test `t`: `Date` (only `Date`: timers still run in real time) is frozen at the current time until
 * the test ends; returns `to(ms)`, which moves it forward to epoch ms `ms`. The engine reads the time through the
 * host's `Date.now()`, so this ages tokens without waiting; the local authorities and APIs run in this process and
 * read the same clock, so they see the same time as the client.
 */
export function fakeClock(t) {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  return (ms) => {
    assert.ok(ms >= Date.now(), 'the clock only moves forward');
    t.mock.timers.tick(ms - Date.now());
    assert.equal(Date.now(), ms);
  };
}

/** `promise`, or a rejection when it has not settled within `ms` (a hang is a failure, not a stuck suite). */
export function settlesWithin(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What `fn` throws (undefined when it returns). */
export function thrown(fn) {
  try { fn(); } catch (err) { return err; }
  return undefined;
}

/** base64url(SHA-256(text)): the DPoP `ath` of an access token. */
export const sha256url = (text) => createHash('sha256').update(text).digest('base64url');

/** Run `action`; return its result and how much each numeric counter moved meanwhile. */
export async function delta(counters, action) {
  const before = { ...counters };
  const result = await action();
  return { result, diff: Object.fromEntries(Object.keys(before).map((k) => [k, counters[k] - before[k]])) };
}

/** Run `action`; return its result and the entries `log` (an array) gained meanwhile. */
export async function logged(log, action) {
  const start = log.length;
  const result = await action();
  return { result, entries: log.slice(start) };
}

/** Register a scenario's secrets with this file's scan: both client secrets, authority A's key, every token issued. */
export function scanScenario(s) {
  secrets.addClient('authority A client', s.clients.helseid)
    .addClient('authority B basic client', s.clients.duende)
    .addClient('authority B post client', s.clients.duendePost)
    .addSource('a token issued by authority A', () => s.authorityA.issuedTokens)
    .addSource('a token issued by authority B', () => s.authorityB.issuedTokens);
  return s;
}

/** Options for API 1 of a scenario: private_key_jwt + DPoP (ephemeral key), baseUrl = API 1. */
export function helseidOptions(s, extra = {}) {
  const c = s.clients.helseid;
  return {
    tokenEndpoint: c.tokenEndpoint,
    issuer: c.issuer,
    clientId: c.clientId,
    clientAuth: { method: 'private_key_jwt', privateJwk: c.privateJwk },
    dpop: true,
    scope: 'api1.read',
    baseUrl: s.api1.url,
    ...extra,
  };
}

/** A client for API 1 of a scenario (see helseidOptions). */
export const helseidClient = (s, extra) => new TokenClient(helseidOptions(s, extra));

/** Options for API 2 of a scenario: client_secret_basic (`which: 'basic'`) or client_secret_post (`'post'`). */
export function duendeOptions(s, which = 'basic', extra = {}) {
  const c = which === 'basic' ? s.clients.duende : s.clients.duendePost;
  return {
    tokenEndpoint: c.tokenEndpoint,
    issuer: c.issuer,
    clientId: c.clientId,
    clientAuth: { method: `client_secret_${which}`, clientSecret: c.clientSecret },
    scope: 'api2.read',
    baseUrl: s.api2.url,
    ...extra,
  };
}

/** A client for API 2 of a scenario (see duendeOptions). */
export const duendeClient = (s, which, extra) => new TokenClient(duendeOptions(s, which, extra));

/**
 * A fetch that records every call (url, method, headers, body: Promise<string>) and then calls the real fetch
 * captured at creation (not `globalThis.fetch` at call time). Returns { fetch, calls }.
 */
export function recordingFetch(real = globalThis.fetch) {
  const calls = [];
  const fetch = (input, init) => {
    const copy = new Request(input instanceof Request ? input.clone() : input, init && { ...init, duplex: 'half' });
    calls.push({ url: copy.url, method: copy.method, headers: copy.headers, body: copy.text() });
    return real(input, init);
  };
  return { fetch, calls };
}

/** Assert that `fnOrPromise` throws/rejects a TokenError with `code` (and the given fields); returns the error. */
export async function expectTokenError(fnOrPromise, code, fields = {}) {
  let caught;
  try {
    await (typeof fnOrPromise === 'function' ? fnOrPromise() : fnOrPromise);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected a TokenError (${code}), nothing was thrown`);
  assert.ok(caught instanceof TokenError, `expected a TokenError, got ${caught?.name}: ${caught?.message}`);
  assert.ok(caught instanceof Error);
  assert.equal(caught.code, code, `code of: ${caught.message}`);
  for (const [k, v] of Object.entries(fields)) assert.equal(caught[k], v, `${k} of: ${caught.message}`);
  secrets.check(caught, `TokenError ${code}`);
  return caught;
}

/** Synchronous variant for constructors. */
export function expectTokenErrorSync(fn, code) {
  let caught;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected a TokenError (${code}), nothing was thrown`);
  assert.ok(caught instanceof TokenError, `expected a TokenError, got ${caught?.name}: ${caught?.message}`);
  assert.equal(caught.code, code, `code of: ${caught.message}`);
  secrets.check(caught, `TokenError ${code}`);
  return caught;
}

/** Every way an error reaches a log: message, stack, String(), JSON.stringify(), util.inspect(). */
export function renderings(err) {
  return {
    message: String(err.message),
    stack: String(err.stack),
    toString: String(err),
    json: JSON.stringify(err),
    inspect: inspect(err, { depth: 10, showHidden: true }),
  };
}

/**
 * Assert that no rendering of `err` contains any of `values` (non-empty strings); they join the file's secret scan,
 * which then checks `err` for every secret registered so far.
 */
export function assertNoLeak(err, values) {
  for (const [how, text] of Object.entries(renderings(err))) {
    for (const secret of values) {
      assert.ok(secret && secret.length >= 4, 'a meaningful secret to look for');
      assert.ok(!text.includes(secret), `${how} of the error contains a secret (${secret.slice(0, 3)}…)`);
    }
  }
  secrets.add('a secret named by the test', values.filter((v) => v.length >= 8));
  secrets.check(err, 'the error');
}
