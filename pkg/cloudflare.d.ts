/**
 * `tokenfetch/cloudflare`: cross-isolate single flight on Cloudflare Workers with a Durable
 * Object (one token request per key for the whole fleet), optionally with Workers KV for reads.
 */
import type { TokenStore } from './index.js';

/** The part of a Durable Object namespace binding (`env.TOKEN_STORE`) the adapter uses. */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown;
  get(id: any): { fetch(input: string, init?: RequestInit): Promise<Response> };
}

/** The part of a Workers KV namespace binding (`env.TOKENS`) the adapter uses. */
export interface KvNamespaceLike {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}

/** The part of a Durable Object's state (`ctx`) the class uses. */
export interface DurableObjectStateLike {
  storage: {
    get(key: string): Promise<unknown>;
    put(key: string, value: unknown): Promise<void>;
    delete(key: string): Promise<boolean>;
    list(): Promise<Map<string, unknown>>;
    getAlarm(): Promise<number | null>;
    setAlarm(time: number): Promise<void>;
  };
}

/**
 * The Durable Object class: re-export it from your Worker's main module
 * (`export { TokenDurableObject } from 'tokenfetch/cloudflare'`) and bind it in `wrangler.toml`
 * (`[[durable_objects.bindings]]` + a `new_sqlite_classes` migration). One object per store key
 * holds that key's sealed value and its lock, and deletes both when they expire (an alarm).
 */
export class TokenDurableObject {
  constructor(ctx: DurableObjectStateLike, env: unknown);
  /** The adapter's protocol: POST /tokenfetch/1/{get,set,delete,lock,unlock} with a JSON body. */
  fetch(request: Request): Promise<Response>;
  alarm(): Promise<void>;
}

/**
 * A `store` for `TokenClient` over a `TokenDurableObject` namespace: cold isolates wait for one
 * token request per key (a lock in the key's object) and read its token from the object. With
 * `kv`, tokens are also written to KV and read from KV first (near every isolate); the object is
 * asked on a KV miss and for the lock. Values are sealed before they reach either.
 * Throws a `TypeError` naming the argument when `namespace` or `options.kv` is not a binding.
 */
export function durableObjectStore(namespace: DurableObjectNamespaceLike, options?: { kv?: KvNamespaceLike | undefined }): TokenStore;
