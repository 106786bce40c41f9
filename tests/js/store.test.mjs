// The shared store against real backends: Redis (redis-server from Debian, through node-redis and
// ioredis), Deno KV (Deno.openKv on a local file) and Workers KV (miniflare). Tokens come from the
// oidc-provider authorities and are used against the jose-validating APIs; what the backend holds
// is checked to be ciphertext under hashed keys.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { Redis } from 'ioredis';
import { TokenClient, generateDpopKey, redisStore } from 'tokenfetch';
import { startScenario } from '../support/index.mjs';
import { startRedis } from '../support/redis.mjs';
import { startWorker } from '../runtimes/hosts.mjs';
import { delta, duendeOptions, helseidOptions } from './helpers.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const STORE_KEY = randomBytes(32).toString('base64url');

let s;
let redisServer;
let redisUrl;
let redis;

before(async () => {
  s = await startScenario();
  ({ child: redisServer, url: redisUrl, client: redis } = await startRedis());
});
after(async () => {
  await redis?.quit();
  redisServer?.kill();
  await s?.close();
});

/** A client on the shared Redis store, recording its events. */
function instance(options, extra = {}) {
  const events = [];
  const client = new TokenClient({
    ...options, store: redisStore(redis), storeEncryptionKey: STORE_KEY, onEvent: (e) => events.push(e), ...extra,
  });
  return { client, events, kinds: () => events.map((e) => e.type) };
}

async function storedEntries() {
  const keys = await redis.keys('tokenfetch/v2/*');
  return Promise.all(keys.map(async (key) => ({ key, value: await redis.get(key), ttl: await redis.ttl(key) })));
}

test('redis: a second instance takes the first one\'s token; Redis holds only ciphertext under a hash', async () => {
  await redis.flushAll();
  const a = instance(duendeOptions(s));
  const b = instance(duendeOptions(s));
  const { diff } = await delta(s.authorityB.counters, async () => {
    assert.equal((await a.client.fetch('/data')).status, 200);
    assert.equal((await b.client.fetch('/data')).status, 200);
  });
  assert.equal(diff.tokenRequests, 1);
  assert.deepEqual(b.kinds(), ['store_hit']);
  assert.equal(b.client.inspect().tokenRequests, 0);
  const token = (await b.client.getToken()).accessToken;
  const [entry, ...more] = await storedEntries();
  assert.equal(more.length, 0);
  assert.match(entry.key, /^tokenfetch\/v2\/[A-Za-z0-9_-]{43}$/);
  assert.ok(!entry.key.includes('api2') && !entry.key.includes(s.clients.duende.clientId));
  assert.match(entry.value, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
  for (const part of token.split('.')) assert.ok(!entry.value.includes(part.slice(0, 16)), 'no token material in clear');
  assert.ok(entry.ttl > 200 && entry.ttl <= 300, `expires with the token (ttl ${entry.ttl})`);
  // invalidate() drops it from the store too.
  await a.client.invalidate();
  assert.deepEqual(await storedEntries(), []);
});

test('redis: DPoP-bound tokens are shared with a shared key; a generated key is refused', async () => {
  await redis.flushAll();
  const privateJwk = await generateDpopKey();
  const a = instance(helseidOptions(s, { dpop: { privateJwk } }));
  const b = instance(helseidOptions(s, { dpop: { privateJwk } }));
  const { diff } = await delta(s.authorityA.counters, async () => {
    assert.equal((await a.client.fetch('/data')).status, 200);
    // B presents A's token with proofs from the same key: the API checks cnf.jkt and ath.
    assert.equal((await b.client.fetch('/data')).status, 200);
  });
  assert.equal(diff.tokensIssued, 1); // (A's request met a DPoP nonce challenge: two POSTs, one token)
  assert.deepEqual([a.client.inspect().tokenRequests, b.client.inspect().tokenRequests], [1, 0]);
  assert.ok(b.kinds().includes('store_hit'));
  assert.equal(a.client.dpopThumbprint(), b.client.dpopThumbprint());
  assert.throws(() => instance(helseidOptions(s, { dpop: true })),
    (e) => e.code === 'invalid_config' && /^dpop: .*shared by every instance/.test(e.message));
});

test('redis: another storeEncryptionKey is another namespace; an altered value reads as a reported miss, never a wrong token', async () => {
  await redis.flushAll();
  const a = instance(duendeOptions(s));
  await a.client.getToken();
  const [first] = await storedEntries();
  const otherKey = randomBytes(32).toString('base64url');
  const other = instance(duendeOptions(s), { storeEncryptionKey: otherKey });
  const { diff } = await delta(s.authorityB.counters, () => other.client.getToken());
  assert.equal(diff.tokenRequests, 1);
  assert.deepEqual(other.events.filter((e) => e.type === 'store_error'), [], 'a plain miss: its keys are its own');
  // Keys are hashed under a secret derived from the encryption key: the same request, another key name.
  const entries = await storedEntries();
  assert.equal(entries.length, 2);
  const entry = entries.find((e) => e.key !== first.key);
  // Alter one character of `other`'s entry and read it with that key.
  const flip = entry.value.at(-3) === 'A' ? 'B' : 'A';
  await redis.set(entry.key, entry.value.slice(0, -3) + flip + entry.value.slice(-2));
  const reader = instance(duendeOptions(s), { storeEncryptionKey: otherKey });
  const { diff: again } = await delta(s.authorityB.counters, () => reader.client.getToken());
  assert.equal(again.tokenRequests, 1);
  // Read once, and again under the lock: both times a miss, reported.
  const errors = reader.events.filter((e) => e.type === 'store_error');
  assert.deepEqual(errors.map((e) => e.op), ['get', 'get']);
  assert.match(errors[0].message, /did not open/);
});

test('store options are checked at construction, naming the field and never echoing the key', () => {
  const base = { ...duendeOptions(s), store: redisStore(redis) };
  const bad = [
    [{ ...base }, /^storeEncryptionKey: is required/],
    [{ ...base, storeEncryptionKey: 'c2hvcnQ' }, /^storeEncryptionKey: must be 16 or 32 bytes/],
    [{ ...base, storeEncryptionKey: '***not base64***' }, /^storeEncryptionKey: must be base64url/],
    [{ ...base, storeEncryptionKey: 42 }, /^storeEncryptionKey: must be a base64url string or an AES-GCM CryptoKey/],
    [{ ...duendeOptions(s), storeEncryptionKey: STORE_KEY }, /^storeEncryptionKey: is only used with "store"/],
    [{ ...duendeOptions(s), store: 'redis', storeEncryptionKey: STORE_KEY }, /^store: must be an object/],
    [{ ...duendeOptions(s), store: { get() {} }, storeEncryptionKey: STORE_KEY }, /^store\.set: must be a function/],
    [{ ...duendeOptions(s), store: { get() {}, set() {}, lock() {} }, storeEncryptionKey: STORE_KEY }, /^store\.lock: and store\.unlock/],
    [{ ...base, storeEncryptionKey: STORE_KEY, staleIfErrorSeconds: -1 }, /^staleIfErrorSeconds/],
  ];
  for (const [options, message] of bad) {
    assert.throws(() => new TokenClient(options), (e) => {
      assert.equal(e.code, 'invalid_config');
      assert.match(e.message, message);
      assert.ok(!e.message.includes(STORE_KEY) && !String(e.stack).includes(STORE_KEY));
      return true;
    });
  }
});

test('an AES-GCM CryptoKey works as storeEncryptionKey', async () => {
  await redis.flushAll();
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const a = instance(duendeOptions(s), { storeEncryptionKey: key });
  const b = instance(duendeOptions(s), { storeEncryptionKey: key });
  const token = (await a.client.getToken()).accessToken;
  assert.equal((await b.client.getToken()).accessToken, token);
  assert.deepEqual(b.kinds(), ['store_hit']);
  const signing = await crypto.subtle.generateKey({ name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  assert.throws(() => instance(duendeOptions(s), { storeEncryptionKey: signing }), { code: 'invalid_config' });
});

test('a store that hangs or throws is bounded by timeoutMs, reported, and bypassed', async () => {
  const hanging = { get: () => new Promise(() => {}), set: () => new Promise(() => {}) };
  const throwing = { get: async () => { throw new Error('ECONNREFUSED 127.0.0.1:6379'); }, set() { throw new Error('down'); } };
  for (const [store, ops] of [[hanging, ['get', 'set']], [throwing, ['get', 'set']]]) {
    const events = [];
    const client = new TokenClient({
      ...duendeOptions(s), store, storeEncryptionKey: STORE_KEY, timeoutMs: 400, onEvent: (e) => events.push(e),
    });
    const started = performance.now();
    assert.ok((await client.getToken()).accessToken);
    assert.ok(performance.now() - started < 400 + 300, 'within timeoutMs (and some slack)');
    const errors = events.filter((e) => e.type === 'store_error');
    assert.deepEqual(errors.map((e) => e.op), ops);
    if (store === hanging) assert.match(errors[0].message, /^store\.get did not answer within 100 ms/); // timeoutMs / 4
    else assert.match(errors[0].message, /^store\.get failed: ECONNREFUSED/);
  }
});

test('redis: 20 processes on a cold shared cache make at most 2 token requests', async () => {
  await redis.flushAll();
  const options = { ...duendeOptions(s) };
  delete options.baseUrl;
  const goAt = Date.now() + 4000; // after every process has loaded and connected
  const run = (i) => new Promise((resolve, reject) => {
    execFile(process.execPath, [join(root, 'tests/js/stores/redis-instance.mjs')], {
      cwd: root, timeout: 60_000,
      env: { ...process.env, OPTIONS: JSON.stringify(options), REDIS_URL: redisUrl, STORE_KEY,
        GO_AT: String(goAt), CLIENT: i % 2 ? 'ioredis' : 'redis' },
    }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))));
  });
  const { result, diff } = await delta(s.authorityB.counters, () => Promise.all(Array.from({ length: 20 }, (_, i) => run(i))));
  assert.ok(diff.tokenRequests >= 1 && diff.tokenRequests <= 2, `${diff.tokenRequests} token requests`);
  assert.equal(result.reduce((n, r) => n + r.tokenRequests, 0), diff.tokenRequests);
  assert.ok(new Set(result.map((r) => r.token)).size <= diff.tokenRequests);
  assert.ok(result.filter((r) => r.events.includes('store_hit')).length >= 18);
});

test('Deno KV: concurrent clients and a second process share one token through Deno.openKv', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tokenfetch-kv-'));
  try {
    const options = { ...duendeOptions(s) };
    delete options.baseUrl;
    const run = (count) => new Promise((resolve, reject) => {
      execFile(join(root, 'node_modules/.bin/deno'), ['run', '--quiet', '--unstable-kv', '--allow-net=127.0.0.1',
        '--allow-env', `--allow-read=${dir}`, `--allow-write=${dir}`, 'tests/js/stores/deno-kv.mjs'], {
        cwd: root, timeout: 60_000,
        env: { ...process.env, OPTIONS: JSON.stringify(options), KV_PATH: join(dir, 'kv.sqlite3'), STORE_KEY, COUNT: String(count) },
      }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(JSON.parse(stdout))));
    });
    const { result: [first, second], diff } = await delta(s.authorityB.counters, async () => [await run(5), await run(2)]);
    assert.equal(diff.tokenRequests, 1);
    assert.equal(first.tokenRequests + second.tokenRequests, 1);
    assert.equal(new Set([...first.tokens, ...second.tokens]).size, 1);
    assert.equal(first.events.filter((e) => e === 'store_hit').length, 4, 'four waited for the lock holder');
    assert.deepEqual(second.events, ['store_hit', 'store_hit']);
    for (const value of second.stored) assert.ok(typeof value === 'string' && value.startsWith('v1.') && !value.includes(first.tokens[0].slice(0, 24)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('Workers KV (miniflare): each new client, as in a cold isolate, reads the token the first one stored', async () => {
  const options = { ...duendeOptions(s) };
  delete options.baseUrl;
  const mf = await startWorker({
    entry: join(root, 'tests/js/stores/kv-worker.mjs'), outDir: join(root, 'test-output/kv-worker'),
    compatibilityDate: '2026-04-01', kvNamespaces: ['TOKENS'],
    bindings: { SCENARIO: JSON.stringify({ options, storeKey: STORE_KEY, api: `${s.api2.url}/data` }) },
  });
  try {
    const { result, diff } = await delta(s.authorityB.counters, async () => {
      const bodies = [];
      for (let i = 0; i < 3; i++) bodies.push(await (await mf.dispatchFetch('http://worker.local/')).json());
      return bodies;
    });
    assert.deepEqual(result.map((b) => b.error ?? b.status), [200, 200, 200]);
    assert.equal(diff.tokenRequests, 1);
    assert.deepEqual(result.map((b) => b.events), [['token_request'], ['store_hit'], ['store_hit']]);
    const kv = await mf.getKVNamespace('TOKENS');
    const { keys } = await kv.list();
    assert.equal(keys.length, 1);
    assert.match(keys[0].name, /^tokenfetch\/v2\//);
    assert.match(await kv.get(keys[0].name), /^v1\./);
  } finally {
    await mf.dispose();
  }
});
