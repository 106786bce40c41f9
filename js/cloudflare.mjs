// `tokenfetch/cloudflare`: one token request per key for a whole Workers fleet. Workers KV has no
// atomic write, so cold isolates cannot agree on who asks the authority; a Durable Object can:
// each store key gets its own object (`idFromName(key)`), which holds that key's sealed value and
// its lock in transactional storage. Its own package entry (pkg/cloudflare.mjs), so other runtimes
// pay nothing for it.
//
// The protocol between the adapter and the object is plain `fetch` (POST /tokenfetch/1/<op> with
// a JSON body), which Durable Objects accept at every compatibility date (RPC needs 2024-04-03+).
// tokenfetch seals values (AES-GCM, `storeEncryptionKey`) before `set`: the object only ever holds
// ciphertext under keyed hashes, and forgets it when it expires.

const ORIGIN = 'https://tokenfetch.internal';
const PROTOCOL = '/tokenfetch/1/';
/** tokenfetch's lock for store key K is `K/lock`: it lives in K's object. */
const LOCK_SUFFIX = '/lock';
const MAX_KEY_LENGTH = 512;
/** Durable Object storage takes values up to 128 KiB; a sealed token record is a few KB. */
const MAX_VALUE_LENGTH = 128 * 1024;
const MAX_TTL_MS = 366 * 24 * 3600 * 1000;
const MAX_LOCK_MS = 3600 * 1000;

const answer = (status, body) => Response.json(body, { status, headers: { 'cache-control': 'no-store' } });
const positive = (n, max) => typeof n === 'number' && Number.isFinite(n) && n > 0 && n <= max;

/**
 * The Durable Object class. Export it from your Worker's main module and bind it
 * (`[[durable_objects.bindings]]`); `durableObjectStore(env.BINDING)` talks to it.
 * Stored records: `{ value, until }` (a sealed token) and `{ owner, until }` (a lock); an alarm
 * deletes them once `until` has passed.
 */
export class TokenDurableObject {
  constructor(ctx, env) {
    this.ctx = ctx;
    this.env = env;
  }

  async fetch(request) {
    const path = new URL(request.url).pathname;
    const op = path.startsWith(PROTOCOL) ? path.slice(PROTOCOL.length) : '';
    if (request.method !== 'POST' || !Object.hasOwn(OPERATIONS, op)) return answer(404, { error: 'unknown operation' });
    let body;
    try {
      body = await request.json();
    } catch {
      return answer(400, { error: 'body is not JSON' });
    }
    const { key } = body ?? {};
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH) {
      return answer(400, { error: `"key" must be a string of 1 to ${MAX_KEY_LENGTH} characters` });
    }
    // Between a storage read and the write that follows it no other request is delivered (the
    // object's input gate), so `lock` is a check-and-set.
    return OPERATIONS[op](this, key, body, Date.now());
  }

  /** Delete what has expired; wake again for what remains. */
  async alarm() {
    const storage = this.ctx.storage;
    const now = Date.now();
    let next = Infinity;
    for (const [key, record] of await storage.list()) {
      if (!(record?.until > now)) await storage.delete(key);
      else next = Math.min(next, record.until);
    }
    if (next !== Infinity) await storage.setAlarm(next);
  }

  /** Make sure the alarm fires by `until`. */
  async expireAt(until) {
    const storage = this.ctx.storage;
    const current = await storage.getAlarm();
    if (current === null || current > until) await storage.setAlarm(until);
  }
}

/** The object's operations: (object, key, body, now) -> Response. */
const OPERATIONS = {
  async get(object, key, _, now) {
    const record = await object.ctx.storage.get(key);
    const fresh = record && typeof record.value === 'string' && record.until > now;
    return answer(200, { value: fresh ? record.value : null });
  },
  async set(object, key, { value, ttlMs }, now) {
    if (typeof value !== 'string' || value.length > MAX_VALUE_LENGTH) {
      return answer(400, { error: `"value" must be a string of at most ${MAX_VALUE_LENGTH} characters` });
    }
    if (!positive(ttlMs, MAX_TTL_MS)) return answer(400, { error: '"ttlMs" must be a positive number of milliseconds' });
    const until = now + ttlMs;
    await object.ctx.storage.put(key, { value, until });
    await object.expireAt(until);
    return answer(200, { ok: true });
  },
  async delete(object, key) {
    await object.ctx.storage.delete(key);
    return answer(200, { ok: true });
  },
  async lock(object, key, { owner, ttlMs }, now) {
    if (typeof owner !== 'string' || owner.length === 0 || owner.length > MAX_KEY_LENGTH) {
      return answer(400, { error: '"owner" must be a non-empty string' });
    }
    if (!positive(ttlMs, MAX_LOCK_MS)) return answer(400, { error: '"ttlMs" must be a positive number of milliseconds' });
    const held = await object.ctx.storage.get(key);
    if (held && held.until > now) return answer(200, { taken: false });
    const until = now + ttlMs;
    await object.ctx.storage.put(key, { owner, until });
    await object.expireAt(until);
    return answer(200, { taken: true });
  },
  async unlock(object, key, { owner }) {
    const held = await object.ctx.storage.get(key);
    if (held && held.owner === owner) await object.ctx.storage.delete(key);
    return answer(200, { ok: true });
  },
};

/**
 * A `store` for `TokenClient` on a Durable Object namespace bound to `TokenDurableObject`: every
 * isolate of the fleet agrees, per key, on one token request (a lock in the key's object) and
 * reads the token from that object. With `kv` (a Workers KV namespace), tokens are also written to
 * KV and read from it first: reads are served near each isolate, and the object is asked only on a
 * KV miss (and for the lock). A KV failure on read falls back to the object.
 */
export function durableObjectStore(namespace, options = {}) {
  if (!namespace || typeof namespace.idFromName !== 'function' || typeof namespace.get !== 'function') {
    throw new TypeError('durableObjectStore: "namespace" must be a Durable Object namespace binding (env.TOKEN_STORE) of the class TokenDurableObject');
  }
  if (options === null || typeof options !== 'object') throw new TypeError('durableObjectStore: "options" must be an object ({ kv? })');
  const { kv } = options;
  if (kv !== undefined && (!kv || typeof kv.get !== 'function' || typeof kv.put !== 'function' || typeof kv.delete !== 'function')) {
    throw new TypeError('durableObjectStore: "options.kv" must be a KV namespace binding (env.TOKENS)');
  }
  const call = async (op, key, body = {}) => {
    const name = key.endsWith(LOCK_SUFFIX) ? key.slice(0, -LOCK_SUFFIX.length) : key;
    const stub = namespace.get(namespace.idFromName(name));
    const res = await stub.fetch(`${ORIGIN}${PROTOCOL}${op}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ key, ...body }),
    });
    if (!res.ok) {
      await res.body?.cancel();
      // Short: store_error events keep 40 characters of it. A 404 is an object of another class.
      throw new Error(`Durable Object answered HTTP ${res.status}`);
    }
    return res.json();
  };
  /** Both writes run; the first failure is thrown once both are done. */
  const both = async (...writes) => {
    const failed = (await Promise.allSettled(writes)).find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  };
  return {
    async get(key) {
      if (kv) {
        // KV is an accelerator here: on a failure the object answers.
        const near = await Promise.resolve().then(() => kv.get(key)).catch(() => null);
        if (near != null) return near;
      }
      return (await call('get', key)).value ?? null;
    },
    set: (key, value, ttlSeconds) =>
      both(
        call('set', key, { value, ttlMs: Math.ceil(ttlSeconds * 1000) }),
        // KV keeps a value at least 60 s; tokenfetch checks expiry itself on every read.
        kv?.put(key, value, { expirationTtl: Math.max(60, Math.ceil(ttlSeconds)) }),
      ),
    delete: (key) => both(call('delete', key), kv?.delete(key)),
    lock: async (key, owner, ttlMs) => (await call('lock', key, { owner, ttlMs: Math.ceil(ttlMs) })).taken === true,
    unlock: async (key, owner) => {
      await call('unlock', key, { owner });
    },
  };
}
