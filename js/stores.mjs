// Store adapters for the `store` option: tokens shared by every isolate or process of a fleet.
// tokenfetch seals each value (AES-GCM, `storeEncryptionKey`) before it reaches these, so the
// backends only ever hold ciphertext under hashed keys.

/**
 * Cloudflare Workers KV. KV is eventually consistent and has no atomic write, so it offers no
 * lock: cold isolates in different locations may each ask once before the first token is visible.
 * KV keeps a value at least 60 s; tokenfetch checks expiry itself on every read.
 */
export function kvStore(namespace) {
  if (!namespace || typeof namespace.get !== 'function' || typeof namespace.put !== 'function') {
    throw new TypeError('kvStore: expected a KV namespace binding (env.MY_KV)');
  }
  return {
    get: (key) => namespace.get(key),
    set: (key, value, ttlSeconds) =>
      namespace.put(key, value, { expirationTtl: Math.max(60, Math.ceil(ttlSeconds)) }),
    delete: (key) => namespace.delete(key),
  };
}

/**
 * Deno KV (`await Deno.openKv()`), with a lock through an atomic check-and-set: one instance
 * asks the authority while the others wait for its token.
 */
export function denoKvStore(kv, { prefix = ['tokenfetch'] } = {}) {
  if (!kv || typeof kv.atomic !== 'function') {
    throw new TypeError('denoKvStore: expected a Deno.Kv (await Deno.openKv())');
  }
  const at = (key) => [...prefix, key];
  return {
    get: async (key) => (await kv.get(at(key))).value ?? null,
    set: async (key, value, ttlSeconds) => {
      await kv.set(at(key), value, { expireIn: Math.ceil(ttlSeconds * 1000) });
    },
    delete: (key) => kv.delete(at(key)),
    // Deno KV drops expired values lazily: the lock carries its own deadline.
    lock: async (key, owner, ttlMs) => {
      const held = await kv.get(at(key));
      if (held.value && held.value.until > Date.now()) return false;
      const until = Date.now() + ttlMs;
      const result = await kv.atomic().check(held).set(at(key), { owner, until }, { expireIn: ttlMs }).commit();
      return result.ok;
    },
    unlock: async (key, owner) => {
      const held = await kv.get(at(key));
      if (held.value?.owner === owner) await kv.atomic().check(held).delete(at(key)).commit();
    },
  };
}

// Delete the lock only if `owner` still holds it (it may have expired and been taken since).
const UNLOCK = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

/**
 * Redis through node-redis (`createClient()`, v4+) or ioredis: `SET EX` for tokens and
 * `SET NX PX` for the lock, released by its owner only.
 */
export function redisStore(client, { prefix = '' } = {}) {
  let send;
  // ioredis has both; its sendCommand takes a Command object, so `call` goes first.
  if (client && typeof client.call === 'function') send = (args) => client.call(...args);
  else if (client && typeof client.sendCommand === 'function') send = (args) => client.sendCommand(args);
  else throw new TypeError('redisStore: expected a node-redis or ioredis client');
  const text = (value) => (value == null ? null : String(value));
  return {
    get: async (key) => text(await send(['GET', prefix + key])),
    set: async (key, value, ttlSeconds) => {
      await send(['SET', prefix + key, value, 'EX', String(Math.max(1, Math.ceil(ttlSeconds)))]);
    },
    delete: async (key) => {
      await send(['DEL', prefix + key]);
    },
    lock: async (key, owner, ttlMs) =>
      text(await send(['SET', prefix + key, owner, 'NX', 'PX', String(Math.ceil(ttlMs))])) === 'OK',
    unlock: async (key, owner) => {
      await send(['EVAL', UNLOCK, '1', prefix + key, owner]);
    },
  };
}
