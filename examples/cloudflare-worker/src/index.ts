// A Cloudflare Worker that calls two protected APIs through tokenfetch:
//   API 1 behind a HelseID-style authority: private_key_jwt client assertion + DPoP (nonces handled),
//   API 2 behind a Duende IdentityServer-style authority: client secret, Bearer token.
// The ClientRegistry is built once per isolate, on the first request (bindings are only reachable
// from a handler), so its token cache serves every later request the isolate handles. With a
// shared store bound (see README.md: KV alone, or KV + Durable Object), isolates share tokens too.
import { ClientRegistry, TokenError, kvStore, type JsonWebKey, type TokenClientOptions, type TokenErrorCode, type TokenStore } from 'tokenfetch';
import { durableObjectStore, type DurableObjectNamespaceLike, type KvNamespaceLike } from 'tokenfetch/cloudflare';

// The Durable Object class bound as TOKEN_STORE in wrangler.toml: a Worker exports the classes it binds.
export { TokenDurableObject } from 'tokenfetch/cloudflare';

/** The Worker's bindings: [vars] from wrangler.toml plus two secrets (`wrangler secret put`). */
export interface Env {
  /** HelseID (API 1's authority): the issuer is the client assertion's `aud`. */
  HELSEID_ISSUER: string;
  /** Optional: without it the token endpoint is discovered from HELSEID_ISSUER. */
  HELSEID_TOKEN_ENDPOINT?: string;
  HELSEID_CLIENT_ID: string;
  /** Secret: the client's private JWK (RSA or EC, with `kid`), as JSON. */
  HELSEID_PRIVATE_JWK: string;
  API1_URL: string;
  API1_SCOPE: string;
  /** Optional RFC 8707 resource indicator for API 1. */
  API1_RESOURCE?: string;
  /** Path called on API 1 per request (default `/`). */
  API1_PATH?: string;

  /** API 2's authority (Duende IdentityServer-style). */
  API2_ISSUER?: string;
  API2_TOKEN_ENDPOINT: string;
  API2_CLIENT_ID: string;
  /** Secret: API 2's client secret. */
  API2_CLIENT_SECRET: string;
  API2_URL: string;
  API2_SCOPE: string;
  API2_RESOURCE?: string;
  API2_PATH?: string;

  /** Optional: a KV namespace; tokens shared by every isolate (eventually consistent, no lock). */
  TOKENS?: KvNamespaceLike;
  /** Optional: the TokenDurableObject namespace; one token request per key for the whole fleet. */
  TOKEN_STORE?: DurableObjectNamespaceLike;
  /** Secret, with TOKENS or TOKEN_STORE: seals stored tokens (32 random bytes, base64url). */
  TOKEN_STORE_KEY?: string;
  /** Secret, with TOKENS or TOKEN_STORE: API 1's DPoP key (a private ES256 JWK as JSON), the same in every isolate. */
  HELSEID_DPOP_JWK?: string;
}

/** The part of the Workers runtime's ExecutionContext this Worker uses (full types: @cloudflare/workers-types). */
interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

type ApiResult =
  | { status: number; body: unknown }
  | {
      status: number;
      error: { code: TokenErrorCode; error?: string | undefined; status?: number | undefined; description?: string | undefined };
    };

/** The shared token store in use (README.md: "KV alone, or KV + Durable Object"). */
type StoreKind = 'kv+durable-object' | 'durable-object' | 'kv' | 'none';

let isolate: { apis: ClientRegistry; store: StoreKind } | undefined;

/**
 * The shared token store the bindings ask for: the Durable Object (one token request per key for
 * the whole fleet; with KV, tokens are read from KV first), KV alone (cheapest; eventually
 * consistent and no lock, so cold isolates may each ask once), or none (a cache per isolate).
 */
function sharedStore(env: Env): { kind: StoreKind; store?: TokenStore } {
  if (env.TOKEN_STORE) {
    if (!env.TOKENS) return { kind: 'durable-object', store: durableObjectStore(env.TOKEN_STORE) };
    return { kind: 'kv+durable-object', store: durableObjectStore(env.TOKEN_STORE, { kv: env.TOKENS }) };
  }
  if (env.TOKENS) return { kind: 'kv', store: kvStore(env.TOKENS) };
  return { kind: 'none' };
}

function required(value: string | undefined, name: string): string {
  if (!value) throw new Error(`${name} is not set (wrangler secret put ${name}); a shared store needs it`);
  return value;
}

/** The isolate's registry, built from the bindings on first use. A bad configuration is not kept. */
function clients(env: Env): { apis: ClientRegistry; store: StoreKind } {
  if (isolate) return isolate;
  const { kind, store } = sharedStore(env);
  // A store needs the key its values are sealed with and, as DPoP tokens are bound to a key, one
  // DPoP key in every isolate; without a store, each isolate makes an ephemeral one.
  const shared = store ? { store, storeEncryptionKey: required(env.TOKEN_STORE_KEY, 'TOKEN_STORE_KEY') } : {};
  const dpop = store ? { privateJwk: parseJwk(required(env.HELSEID_DPOP_JWK, 'HELSEID_DPOP_JWK'), 'HELSEID_DPOP_JWK') } : true;
  const api1: TokenClientOptions = {
    profile: 'helseid', // assertion typ client-authentication+jwt, aud = issuer, 60 s lifetime, DPoP on
    issuer: env.HELSEID_ISSUER,
    ...(env.HELSEID_TOKEN_ENDPOINT ? { tokenEndpoint: env.HELSEID_TOKEN_ENDPOINT } : {}),
    clientId: env.HELSEID_CLIENT_ID,
    clientAuth: { method: 'private_key_jwt', privateJwk: parseJwk(env.HELSEID_PRIVATE_JWK, 'HELSEID_PRIVATE_JWK') },
    dpop, // proofs, `ath` and nonces are handled
    scope: env.API1_SCOPE,
    ...(env.API1_RESOURCE ? { resource: env.API1_RESOURCE } : {}),
    baseUrl: env.API1_URL,
    ...shared,
  };
  const api2: TokenClientOptions = {
    profile: 'duende',
    ...(env.API2_ISSUER ? { issuer: env.API2_ISSUER } : {}),
    tokenEndpoint: env.API2_TOKEN_ENDPOINT,
    clientId: env.API2_CLIENT_ID,
    clientAuth: { method: 'client_secret_basic', clientSecret: env.API2_CLIENT_SECRET },
    scope: env.API2_SCOPE,
    ...(env.API2_RESOURCE ? { resource: env.API2_RESOURCE } : {}),
    baseUrl: env.API2_URL,
    ...shared,
  };
  isolate = { apis: new ClientRegistry({ api1, api2 }), store: kind };
  return isolate;
}

/** JSON.parse's error message quotes the input: never let it echo a private key. */
function parseJwk(json: string, name: string): JsonWebKey {
  try {
    const jwk: unknown = JSON.parse(json);
    if (jwk && typeof jwk === 'object' && !Array.isArray(jwk)) return jwk as JsonWebKey;
  } catch {
    // fall through
  }
  throw new Error(`${name} is not a JSON object (set it with \`wrangler secret put ${name}\`)`);
}

/** One API call: its status and body, or the token error (code, OAuth error) that stopped it. */
async function call(apis: ClientRegistry, name: string, path: string): Promise<ApiResult> {
  try {
    const res = await apis.fetch(name, path, { headers: { accept: 'application/json' } });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body };
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    const error = { code: err.code, error: err.error, status: err.status, description: err.errorDescription };
    return { status: 502, error };
  }
}

export default {
  async fetch(request: Request, env: Env, _ctx: ExecutionContext): Promise<Response> {
    if (request.method !== 'GET') return new Response('method not allowed', { status: 405, headers: { allow: 'GET' } });
    let apis: ClientRegistry;
    let store: StoreKind;
    try {
      ({ apis, store } = clients(env));
    } catch (err) {
      // TokenError `invalid_config` names the field; messages never contain secrets.
      return Response.json({ error: 'configuration', message: err instanceof Error ? err.message : String(err) }, { status: 500 });
    }
    const [api1, api2] = await Promise.all([
      call(apis, 'api1', env.API1_PATH ?? '/'),
      call(apis, 'api2', env.API2_PATH ?? '/'),
    ]);
    const ok = api1.status < 400 && api2.status < 400;
    return Response.json({ api1, api2, store }, { status: ok ? 200 : 502, headers: { 'cache-control': 'no-store' } });
  },
};
