// tokenfetch/cloudflare under workerd (miniflare): TokenDurableObject and durableObjectStore give a
// fleet of cold isolates one token request per key. Tokens come from the oidc-provider authority B
// and are used against its jose-validating API; what the object (and KV) hold is inspected.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { durableObjectStore } from 'tokenfetch/cloudflare';
import { startScenario } from '../support/index.mjs';
import { startWorker } from '../runtimes/hosts.mjs';
import { delta, duendeOptions, scanScenario, secrets, sleep } from './helpers.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const PROTOCOL = 'https://tokenfetch.internal/tokenfetch/1/';

let s;
let mf;

before(async () => {
  s = scanScenario(await startScenario());
  const options = duendeOptions(s);
  delete options.baseUrl;
  mf = await startWorker({
    entry: join(root, 'tests/js/stores/do-worker.mjs'), outDir: join(root, 'test-output/do-worker'),
    compatibilityDate: '2026-04-01', kvNamespaces: ['TOKENS'],
    durableObjects: {
      TOKEN_STORE: { className: 'InspectableTokenStore', useSQLite: true },
      BROKEN_STORE: 'ThrowingTokenStore',
      SLOW_STORE: 'HangingTokenStore',
      OTHER_STORE: 'UnrelatedObject',
    },
    bindings: { SCENARIO: JSON.stringify({ options, api: `${s.api2.url}/data` }) },
  });
});
after(async () => {
  await mf?.dispose();
  await s?.close();
});

/** One request to the Worker: a fresh client (a cold isolate) on the given store binding. */
async function coldClient(query) {
  const res = await mf.dispatchFetch(`http://worker.local/client?${new URLSearchParams(query)}`);
  return res.json();
}

/** The object's stored records for a store key: [[name, record], ...]. */
async function objectStorage(storeKey) {
  const res = await mf.dispatchFetch(`http://worker.local/dump?${new URLSearchParams({ name: storeKey })}`);
  return res.json();
}

/** Sealed: `v1.<iv>.<ciphertext>`, with no token, client id or secret in it. */
function assertSealed(value, where) {
  assert.match(value, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/, where);
  assert.ok(!value.includes(s.clients.duende.clientId), `${where}: the client id in clear`);
  for (const token of s.authorityB.issuedTokens) {
    for (const part of token.split('.')) assert.ok(!value.includes(part.slice(0, 16)), `${where}: token material in clear`);
  }
  secrets.check(value, where);
}

for (const kv of [false, true]) {
  const mode = kv ? 'KV + Durable Object' : 'Durable Object';
  test(`${mode}: 20 cold clients at once make 1 token request; the object holds only the sealed token`, async () => {
    const storeKey = randomBytes(32).toString('base64url'); // a namespace of its own
    const query = { binding: 'TOKEN_STORE', storeKey, ...(kv ? { kv: '1' } : {}) };
    const { result, diff } = await delta(s.authorityB.counters, () =>
      Promise.all(Array.from({ length: 20 }, () => coldClient(query))));
    assert.deepEqual(result.map((r) => r.error ?? r.status), Array(20).fill(200));
    assert.equal(diff.tokenRequests, 1, `${diff.tokenRequests} token requests at the authority`);
    assert.equal(result.reduce((n, r) => n + r.tokenRequests, 0), 1);
    const kinds = result.map((r) => r.events.map((e) => e.type).join(','));
    assert.equal(kinds.filter((k) => k === 'token_request').length, 1);
    assert.equal(kinds.filter((k) => k === 'store_hit').length, 19, kinds.join(' | '));
    // One store key (and its lock) for all of them, in one object.
    const keys = [...new Set(result.flatMap((r) => r.keys))].sort();
    assert.equal(keys.length, 2, keys.join(' '));
    const [storeKeyName, lockKey] = keys;
    assert.match(storeKeyName, /^tokenfetch\/v2\/[A-Za-z0-9_-]{43}$/);
    assert.equal(lockKey, `${storeKeyName}/lock`);
    const records = await objectStorage(storeKeyName);
    assert.equal(records.length, 1, `the lock was released: ${JSON.stringify(records.map(([k]) => k))}`);
    const [[name, record]] = records;
    assert.equal(name, storeKeyName);
    assert.deepEqual(Object.keys(record).sort(), ['until', 'value']);
    assertSealed(record.value, 'the object\'s record');
    const ttl = record.until - Date.now();
    assert.ok(ttl > 200_000 && ttl <= 300_000, `kept as long as the token lives (${ttl} ms)`);
    const stored = await (await mf.getKVNamespace('TOKENS')).get(storeKeyName);
    if (kv) assert.equal(stored, record.value, 'the same sealed value in KV');
    else assert.equal(stored, null, 'KV untouched without the kv option');

    // A later cold client reads it (from KV first with kv): no token request.
    const { result: later, diff: none } = await delta(s.authorityB.counters, () => coldClient(query));
    assert.equal(none.tokenRequests, 0);
    assert.deepEqual(later.events.map((e) => e.type), ['store_hit']);
  });
}

test('an object that throws, or is of another class, is bypassed like any failing store', async () => {
  for (const binding of ['BROKEN_STORE', 'OTHER_STORE']) {
    const { result, diff } = await delta(s.authorityB.counters, () =>
      Promise.all(Array.from({ length: 3 }, () => coldClient({ binding, storeKey: randomBytes(32).toString('base64url') }))));
    assert.deepEqual(result.map((r) => r.error ?? r.status), [200, 200, 200], binding);
    assert.equal(diff.tokensIssued, 3, `${binding}: each asked the authority`);
    for (const r of result) {
      const errors = r.events.filter((e) => e.type === 'store_error');
      assert.deepEqual(errors.map((e) => e.op), ['get', 'lock', 'set'], binding);
      if (binding === 'OTHER_STORE') assert.match(errors[0].message, /^store.get failed: Durable Object answered HTTP 404$/);
      r.events.forEach((e, i) => secrets.check(e, `${binding} event #${i}`));
    }
  }
});

test('an object that never answers is bypassed within the client\'s timeout', async () => {
  const timeoutMs = 4000; // each store call bounded by a quarter: 1 s
  const started = performance.now();
  const { result, diff } = await delta(s.authorityB.counters, () =>
    Promise.all(Array.from({ length: 3 }, () => coldClient({ binding: 'SLOW_STORE', storeKey: randomBytes(32).toString('base64url'), timeoutMs }))));
  const elapsed = performance.now() - started;
  assert.deepEqual(result.map((r) => r.error ?? r.status), [200, 200, 200]);
  assert.equal(diff.tokensIssued, 3);
  for (const r of result) {
    const errors = r.events.filter((e) => e.type === 'store_error');
    assert.deepEqual(errors.map((e) => e.op), ['get', 'lock', 'set']);
    assert.match(errors[0].message, /did not answer within 1000 ms/);
  }
  assert.ok(elapsed < timeoutMs, `${Math.round(elapsed)} ms`);
});

test('the object: lock by owner with a deadline, values expire and are deleted by its alarm, bad requests refused', async () => {
  const ns = await mf.getDurableObjectNamespace('TOKEN_STORE');
  const name = `tokenfetch/v2/protocol-${randomBytes(6).toString('hex')}`;
  const stub = ns.get(ns.idFromName(name));
  const call = async (op, body) => {
    const res = await stub.fetch(`${PROTOCOL}${op}`, { method: 'POST', body: JSON.stringify(body) });
    return { status: res.status, body: await res.json() };
  };
  const lock = `${name}/lock`;
  assert.deepEqual((await call('lock', { key: lock, owner: 'a', ttlMs: 400 })).body, { taken: true });
  assert.deepEqual((await call('lock', { key: lock, owner: 'b', ttlMs: 400 })).body, { taken: false });
  await call('unlock', { key: lock, owner: 'b' }); // not b's to release
  assert.deepEqual((await call('lock', { key: lock, owner: 'c', ttlMs: 400 })).body, { taken: false });
  await call('unlock', { key: lock, owner: 'a' });
  assert.deepEqual((await call('lock', { key: lock, owner: 'c', ttlMs: 400 })).body, { taken: true });
  await sleep(500); // c never unlocks: its lock runs out
  assert.deepEqual((await call('lock', { key: lock, owner: 'd', ttlMs: 300 })).body, { taken: true });

  assert.deepEqual((await call('set', { key: name, value: 'v1.sealed', ttlMs: 300 })).body, { ok: true });
  assert.deepEqual((await call('get', { key: name })).body, { value: 'v1.sealed' });
  await sleep(1200);
  assert.deepEqual((await call('get', { key: name })).body, { value: null });
  const dump = await (await stub.fetch('https://tokenfetch.internal/__dump')).json();
  assert.deepEqual(dump, [], 'the alarm deleted the expired value and lock');

  for (const [op, body] of [['set', { key: name, value: 7, ttlMs: 1000 }], ['set', { key: name, value: 'x', ttlMs: -1 }],
    ['get', { key: '' }], ['lock', { key: lock, ttlMs: 1000 }], ['set', { key: name, value: 'x'.repeat(200_000), ttlMs: 1000 }]]) {
    const r = await call(op, body);
    assert.equal(r.status, 400, `${op} ${JSON.stringify(body).slice(0, 60)}`);
    assert.match(r.body.error, /^"(key|value|ttlMs|owner)"/);
  }
  assert.equal((await stub.fetch(`${PROTOCOL}list`, { method: 'POST', body: '{}' })).status, 404);
  assert.equal((await stub.fetch(`${PROTOCOL}get`, { method: 'POST', body: 'not json' })).status, 400);
});

test('durableObjectStore: bad bindings are a TypeError naming the argument', () => {
  const named = (fn, what) => assert.throws(fn, (e) => e instanceof TypeError && e.message.includes(what), what);
  named(() => durableObjectStore(undefined), '"namespace"');
  named(() => durableObjectStore({ get() {} }), '"namespace"');
  const ns = { idFromName() {}, get() {} };
  named(() => durableObjectStore(ns, null), '"options"');
  named(() => durableObjectStore(ns, { kv: {} }), '"options.kv"');
  named(() => durableObjectStore(ns, { kv: null }), '"options.kv"');
  const store = durableObjectStore(ns);
  assert.deepEqual(Object.keys(store).sort(), ['delete', 'get', 'lock', 'set', 'unlock']);
});
