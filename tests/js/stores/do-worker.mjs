// A Worker for tests/js/durable-object.test.mjs. Each request to /client builds its own TokenClient,
// as a cold isolate would, on durableObjectStore(env[binding]) (with env.TOKENS as KV when kv=1),
// and calls the API once. SCENARIO: { options, api }; the query gives binding, kv, storeKey, timeoutMs.
import { TokenClient } from 'tokenfetch';
import { TokenDurableObject, durableObjectStore } from 'tokenfetch/cloudflare';

/** The real class, plus a read-only view of its storage for the test (GET /__dump). */
export class InspectableTokenStore extends TokenDurableObject {
  async fetch(request) {
    if (new URL(request.url).pathname === '/__dump') return Response.json([...(await this.ctx.storage.list())]);
    return super.fetch(request);
  }
}

/** An object that fails every call. */
export class ThrowingTokenStore {
  fetch() {
    throw new Error('this object is broken');
  }
}

/** An object that never answers. */
export class HangingTokenStore {
  fetch() {
    return new Promise(() => {});
  }
}

/** Some other Durable Object class bound by mistake. */
export class UnrelatedObject {
  fetch() {
    return new Response('not here', { status: 404 });
  }
}

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const q = url.searchParams;
    if (url.pathname === '/dump') {
      const ns = env.TOKEN_STORE;
      return ns.get(ns.idFromName(q.get('name'))).fetch('https://tokenfetch.internal/__dump');
    }
    const { options, api } = JSON.parse(env.SCENARIO);
    const events = [];
    const keys = new Set();
    const store = durableObjectStore(env[q.get('binding')], q.get('kv') ? { kv: env.TOKENS } : undefined);
    // Pass-through that notes the keys tokenfetch used (to find the object's storage afterwards).
    const noting = Object.fromEntries(Object.entries(store).map(([name, fn]) => [name, (key, ...rest) => {
      keys.add(key);
      return fn(key, ...rest);
    }]));
    const client = new TokenClient({
      ...options,
      ...(q.get('timeoutMs') ? { timeoutMs: Number(q.get('timeoutMs')) } : {}),
      store: noting,
      storeEncryptionKey: q.get('storeKey'),
      onEvent: (e) => events.push({ type: e.type, op: e.op, message: e.message }),
    });
    try {
      const res = await client.fetch(api);
      await res.arrayBuffer();
      return Response.json({ status: res.status, tokenRequests: client.inspect().tokenRequests, events, keys: [...keys] });
    } catch (e) {
      return Response.json({ error: `${e.code}: ${e.message}`, events });
    } finally {
      client.free();
    }
  },
};
