/**
 * tokenfetch: a managed OAuth 2.0 machine-to-machine client over `fetch`.
 * JWT client assertions (RFC 7523), DPoP proofs (RFC 9449), token requests and a token cache
 * that refreshes before expiry and sends one token request per cache key at a time.
 */

/** A private or public JSON Web Key (RFC 7517). */
export interface JsonWebKey {
  kty?: string;
  crv?: string;
  x?: string;
  y?: string;
  d?: string;
  n?: string;
  e?: string;
  p?: string;
  q?: string;
  dp?: string;
  dq?: string;
  qi?: string;
  kid?: string;
  alg?: string;
  use?: string;
  key_ops?: string[];
  ext?: boolean;
}

/** Client authentication with a shared secret (RFC 6749 §2.3.1). */
export interface ClientSecretAuth {
  method: 'client_secret_basic' | 'client_secret_post';
  clientSecret: string;
}

/** The key of `private_key_jwt`: a private JWK, or a caller's (non-extractable) CryptoKey. */
export type PrivateKeySource =
  | {
      /**
       * Private JWK: EC P-256/P-384/P-521 or RSA (>= 2048 bits). ES256 signs inside wasm; others via WebCrypto
       * (node:crypto in Node and Bun). Its public members must belong to its private part: checked when the client
       * is built in Node and Bun (`invalid_config`), before the first signature elsewhere (`invalid_key`).
       */
      privateJwk: JsonWebKey;
      key?: never;
    }
  | {
      /** A private CryptoKey with the "sign" usage; it never leaves WebCrypto. */
      key: CryptoKey;
      privateJwk?: never;
    };

/** `private_key_jwt`: a signed JWT client assertion per token request (RFC 7523 §2.2). */
export type PrivateKeyJwtAuth = PrivateKeySource & {
  method: 'private_key_jwt';
  /** `kid` header; defaults to the JWK's `kid`. */
  kid?: string;
  /** JWS algorithm (ES256/384/512, RS256/384/512, PS256/384/512); defaults to the JWK's `alg`, else from the key. */
  alg?: string;
  /** Assertion `aud`; defaults to `issuer` when set, else `tokenEndpoint` (RFC 7523 §3). */
  audience?: string;
  /** `exp - iat` in seconds, 1..3600; default 60. */
  lifetimeSeconds?: number;
  /** Extra claims (e.g. HelseID `assertion_details`); registered claims cannot be overridden. */
  claims?: Record<string, unknown>;
  /**
   * Certificate chain for the `x5c` header (RFC 7515 §4.1.6): base64 (not base64url) DER, leaf
   * first, e.g. Maskinporten's business certificate. Checked at construction: the leaf must hold
   * `privateJwk`'s key (`invalid_config` naming `clientAuth.x5c` otherwise). Needs `privateJwk`.
   */
  x5c?: string[];
};

/** A public client: `client_id` only. */
export interface NoneAuth {
  method: 'none';
}

export type ClientAuth = ClientSecretAuth | PrivateKeyJwtAuth | NoneAuth;

/** RFC 8693 token exchange parameters (grant `token_exchange`). */
export interface TokenExchangeOptions {
  /** Default `subject_token_type` (default `urn:ietf:params:oauth:token-type:access_token`). */
  subjectTokenType?: string;
  requestedTokenType?: string;
  audience?: string;
  actorToken?: string;
  actorTokenType?: string;
}

/** The grant, and the options only it takes. */
export type GrantOptions =
  | { /** client_credentials (RFC 6749 §4.4), the default. */ grant?: 'client_credentials'; tokenExchange?: never }
  | {
      /**
       * RFC 7523 §2.1. Without a per-call `subjectToken`, the grant assertion is signed with the
       * private_key_jwt key and carries iss, aud, scope, iat, exp, jti (Maskinporten); no client authentication.
       */
      grant: 'jwt_bearer';
      tokenExchange?: never;
    }
  | { /** Entra On-Behalf-Of: per-call `subjectToken` (the user's token). */ grant: 'on_behalf_of'; tokenExchange?: never }
  | { /** RFC 8693: per-call `subjectToken`. */ grant: 'token_exchange'; tokenExchange?: TokenExchangeOptions };

export type TokenClientOptions = BaseClientOptions & GrantOptions;

export interface BaseClientOptions {
  /**
   * Authority defaults and rules: 'helseid' (private_key_jwt only, typ client-authentication+jwt,
   * aud = issuer, 60 s, DPoP on), 'maskinporten' (jwt_bearer grant, RS256/384/512, <= 120 s),
   * 'entra' (assertion aud = token endpoint), 'duende', 'generic' (default). Explicit options win.
   */
  profile?: 'helseid' | 'maskinporten' | 'entra' | 'duende' | 'generic';
  /** The authority; the default client-assertion audience. */
  issuer?: string;
  /** The token endpoint URL (https; plain http only for loopback hosts). Without it, discovered from `issuer`. */
  tokenEndpoint?: string;
  clientId: string;
  clientAuth: ClientAuth;
  /** Default `scope` (a space-separated string or an array). */
  scope?: string | string[];
  /** Default RFC 8707 `resource` indicators; each is sent as its own parameter. */
  resource?: string | string[];
  /** Extra token request parameters, e.g. HelseID `authorization_details`. */
  extraParams?: Record<string, string>;
  /**
   * DPoP (RFC 9449): `true` generates an ephemeral ES256 key; or bring a private JWK, or a
   * CryptoKeyPair (the private key may be non-extractable; `dpopThumbprint()` is known after the
   * first token request).
   */
  dpop?: boolean | { privateJwk: JsonWebKey; keyPair?: never } | { keyPair: CryptoKeyPair; privateJwk?: never };
  /** Refresh this many seconds before `expires_in` runs out (clamped to half the lifetime). Default 60. */
  refreshBeforeExpirySeconds?: number;
  /** The fetch to use; default `globalThis.fetch`, looked up per call. */
  fetch?: typeof fetch;
  /**
   * Resolves relative inputs of `client.fetch`, and limits where it sends the token: its origin
   * and `allowedOrigins` only.
   */
  baseUrl?: string;
  /** With `baseUrl`: the other origins (`https://api2.example`) `client.fetch` may send a token to. */
  allowedOrigins?: string[];
  /** Bound on getting a token (retries included, bodies included), in ms. Default 30000. */
  timeoutMs?: number;
  /** Retries of a token request after a network failure or 5xx (backoff with jitter) or a 429/503 with Retry-After. Default 2. */
  retries?: number;
  /** The most cache keys kept (per scope/resource/subject); least recently used leave first. Default 1000. */
  cacheSize?: number;
  /**
   * Called synchronously with each event; a throwing hook is ignored. Events never carry secrets.
   * As OpenTelemetry spans and metrics: `openTelemetry({ client })` from `tokenfetch/otel`.
   */
  onEvent?: (event: TokenEvent) => void;
  /**
   * After a failed refresh, keep serving the cached token (while it has not expired) for up to
   * this many seconds past its refresh time. Default 0: the failure is the answer.
   */
  staleIfErrorSeconds?: number;
  /**
   * A cache shared by every instance (isolates, processes): read before asking the authority,
   * written after. Adapters: `kvStore`, `denoKvStore`, `redisStore`, and `durableObjectStore`
   * from `tokenfetch/cloudflare` (Workers, with a lock). Needs `storeEncryptionKey`,
   * and with DPoP a configured key (`privateJwk` or `keyPair`) that every instance shares.
   * A failing store is reported (`store_error` events) and bypassed.
   */
  store?: TokenStore;
  /**
   * Seals every stored value (AES-GCM via WebCrypto, bound to its key): 16 or 32 random bytes as
   * base64url, or an AES-GCM CryptoKey with encrypt and decrypt usages. Required with `store`.
   */
  storeEncryptionKey?: string | CryptoKey;
}

/**
 * A shared key/value store. Values are sealed before `set`; keys are `tokenfetch/v2/<keyed hash>`.
 * `lock`/`unlock` (both or neither) make cold instances wait for one token request instead of each
 * asking: `lock` takes `key` for `owner` for `ttlMs` unless held and says whether it did.
 * Each call is bounded by a quarter of `timeoutMs` (at most 2 s).
 */
export interface TokenStore {
  get(key: string): Promise<string | null | undefined>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  delete?(key: string): Promise<void>;
  lock?(key: string, owner: string, ttlMs: number): Promise<boolean>;
  unlock?(key: string, owner: string): Promise<void>;
}

/** Cloudflare Workers KV (no lock: KV has no atomic write). */
export function kvStore(namespace: {
  get(key: string): Promise<string | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
}): TokenStore;
/** Deno KV (`await Deno.openKv()`), with a lock by atomic check-and-set. */
export function denoKvStore(kv: unknown, options?: { prefix?: unknown[] }): TokenStore;
/** Redis through a node-redis (v4+) or ioredis client, with a `SET NX PX` lock. */
export function redisStore(client: unknown, options?: { prefix?: string }): TokenStore;

/** What `onEvent` receives. `cacheKey` holds scope, resource, hashes and thumbprints only. */
export type TokenEvent =
  | { type: 'cache_hit'; time: number; cacheKey: string }
  | { type: 'token_request' | 'refresh'; time: number; cacheKey: string; durationMs: number; attempts: number }
  | { type: 'error'; time: number; cacheKey: string; durationMs: number; attempts: number; code: TokenErrorCode }
  | { type: 'nonce_retry'; time: number; at: 'token_endpoint' | 'resource'; url: string }
  | { type: 'invalid_token_retry'; time: number; url: string }
  /** A fresh token from the shared store; `waitedMs` > 0 when another instance was asking for it. */
  | { type: 'store_hit'; time: number; cacheKey: string; waitedMs: number }
  /** The store failed (`op`: get, set, delete, lock, unlock) and was bypassed. */
  | { type: 'store_error'; time: number; cacheKey: string; op: string; message: string }
  /** A refresh failed with `code`; the cached token (valid `expiresInMs` more) was served. */
  | { type: 'stale_if_error'; time: number; cacheKey: string; code: TokenErrorCode; expiresInMs: number }
  /**
   * A server's `Date` showed its clock is `offsetMs` ahead of this host's (negative: behind; 0: the clocks agree
   * again): JWTs for `origin` carry its time from now on.
   */
  | { type: 'clock_skew'; time: number; origin: string; offsetMs: number };

/** Per-call overrides of the client's defaults. */
export interface TokenRequestOptions {
  scope?: string | string[];
  resource?: string | string[];
  /** The token to act for (on_behalf_of, token_exchange, jwt_bearer); cached under its SHA-256 hash. */
  subjectToken?: string;
  /** Its RFC 8693 token type (token_exchange). */
  subjectTokenType?: string;
  /** Ask the authority even if a fresh token is cached. */
  forceRefresh?: boolean;
  /**
   * Claims for this call's client assertion (or Maskinporten grant assertion), over
   * `clientAuth.claims` by name: a tenant's organization numbers, e.g.
   * `{ assertion_details: [helseIdAuthorization({ childOrganization })] }`. Needs `private_key_jwt`.
   * Tokens are cached (and stored) per distinct claims.
   */
  claims?: Record<string, unknown>;
  /** Token request parameters over the client's `extraParams`, by name. Tokens are cached per distinct parameters. */
  extraParams?: Record<string, string>;
}

export interface Token {
  /** The token issued; with `tokenType: 'N_A'` not an access token (see `issuedTokenType`). */
  accessToken: string;
  /**
   * `N_A`: a token exchange issued what is not an access token (RFC 8693 §2.2.1), e.g. an ID token; `fetch` never
   * sends it (`token_type_mismatch`).
   */
  tokenType: 'Bearer' | 'DPoP' | 'N_A';
  /** Epoch milliseconds. */
  expiresAt: number;
  scope?: string;
  /** What a token exchange issued (RFC 8693 `issued_token_type`), when the authority said. */
  issuedTokenType?: string;
}

/** What `inspect()` shows: counts, cache entries, nonces and clock skew, never token values. */
export interface Inspection {
  /** Tokens requested so far (a retry after a DPoP nonce challenge counts once). */
  tokenRequests: number;
  /** `key`: an opaque keyed hash of everything that shapes the token request; `scope`: as granted. */
  cache: { key: string; tokenType: 'Bearer' | 'DPoP' | 'N_A'; expiresAt: number; refreshAt: number; scope?: string }[];
  nonces: { origin: string; nonce: string }[];
  /** Origins whose `Date` showed their clock is off by more than 5 s, and by how much (ms; negative: behind). */
  clockSkew: { origin: string; offsetMs: number }[];
}

export class TokenClient {
  /** Validates `options`; throws `TokenError` with code `invalid_config` naming the field. */
  constructor(options: TokenClientOptions);
  /** A token, from the cache when fresh; concurrent callers share one token request. */
  getToken(req?: TokenRequestOptions): Promise<Token>;
  /**
   * `fetch` with `Authorization` (and a fresh `DPoP` proof) set. Retries once on a DPoP nonce
   * challenge, once at the API's time when it refuses a proof while its clock is off (`Date`), and
   * once with a new token on `invalid_token`, replaying the body.
   */
  fetch(input: string | URL | Request, init?: RequestInit, req?: TokenRequestOptions): Promise<Response>;
  /** A DPoP proof with this client's key (`ath` when `accessToken` is given). */
  createDpopProof(method: string, url: string, opts?: { accessToken?: string; nonce?: string }): Promise<string>;
  /** RFC 7638 thumbprint (`jkt`) of the DPoP public key, or undefined without DPoP. */
  dpopThumbprint(): string | undefined;
  /** Drop the cached token for `req`. */
  invalidate(req?: TokenRequestOptions): Promise<void>;
  /** Counts, cache entries and DPoP nonces, for dashboards and debugging. */
  inspect(): Inspection;
  /** Release the wasm memory of this handle (optional; clients are usually long-lived). */
  free(): void;
}

export class ClientRegistry {
  /** Builds every client; errors name `clients.<name>.<field>`. */
  constructor(clients: Record<string, TokenClientOptions>);
  /** The client named `name`; throws `TokenError` for an unknown name. */
  get(name: string): TokenClient;
  /** `registry.get(name).fetch(input, init)`. */
  fetch(name: string, input: string | URL | Request, init?: RequestInit): Promise<Response>;
  free(): void;
}

export type TokenErrorCode =
  | 'invalid_config'
  | 'invalid_argument'
  | 'invalid_key'
  | 'oauth_error'
  | 'invalid_token_response'
  | 'token_type_mismatch'
  | 'redirect'
  | 'http_error'
  | 'timeout'
  | 'network_error'
  /** `client.fetch` refused to send the token there (plain http to a non-loopback host, or an origin not allowed). */
  | 'url_not_allowed';

/** Every failure. Messages never contain secrets, private keys, assertions or tokens. */
export class TokenError extends Error {
  code: TokenErrorCode;
  /** HTTP status, when a server answered. */
  status?: number;
  /** OAuth `error` from the server, e.g. `invalid_client`. */
  error?: string;
  /** OAuth `error_description` from the server. */
  errorDescription?: string;
}

/** A new private ES256 JWK. */
export function generateDpopKey(): Promise<JsonWebKey>;

/** A signed `private_key_jwt` client assertion (RFC 7523): iss = sub = clientId, aud, jti, iat, nbf, exp. */
export function createClientAssertion(o: {
  clientId: string;
  audience: string;
  privateJwk: JsonWebKey;
  kid?: string;
  alg?: string;
  lifetimeSeconds?: number;
  claims?: Record<string, unknown>;
}): Promise<string>;

/** A signed DPoP proof (RFC 9449 §4): htm, htu (no query or fragment), iat, jti, ath, nonce. */
export function createDpopProof(o: {
  privateJwk: JsonWebKey;
  method: string;
  url: string;
  accessToken?: string;
  nonce?: string;
}): Promise<string>;

/** RFC 7638 thumbprint (SHA-256, base64url) of a JWK. */
export function jwkThumbprint(jwk: JsonWebKey): string;

/** HelseID's organization numbers (a multi-tenant client gives the parent, optionally the child). */
export interface HelseIdAuthorization {
  type: 'helseid_authorization';
  practitioner_role: { organization: { identifier: { system: string; type: 'ENH'; value: string } } };
}

/**
 * The `helseid_authorization` object. Send it as `clientAuth.claims: { assertion_details: [obj] }`
 * or as `extraParams: { authorization_details: JSON.stringify([obj]) }`.
 */
export function helseIdAuthorization(o: { parentOrganization?: string; childOrganization?: string }): HelseIdAuthorization;
