// Real OAuth 2.0 authorization servers (npm `oidc-provider`) for the integration tests.
//   Authority A (HelseID-like): private_key_jwt, client_credentials, DPoP with required nonces, JWT access tokens.
//   Authority B (Duende-like): client_secret_basic / client_secret_post, client_credentials, Bearer JWT tokens.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair } from 'jose';
import { closeServer, listen } from './http.mjs';

// oidc-provider prints these on import / construction; they are expected in tests, so drop them (only them).
const QUIET = [/Unsupported runtime/, /development-only in-memory adapter/];
for (const level of ['warn', 'info']) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    const text = String(args[0]);
    if (text.includes('oidc-provider') && QUIET.some((re) => re.test(text))) return;
    original(...args);
  };
}
const { default: Provider, errors } = await import('oidc-provider');

/** Generate an ES256 key pair; returns { privateJwk, publicJwk, keyPair } with `kid` and `alg` set. */
export async function generateEs256Jwk() {
  const keyPair = await generateKeyPair('ES256', { extractable: true });
  const privateJwk = await exportJWK(keyPair.privateKey);
  privateJwk.kid = await calculateJwkThumbprint(privateJwk);
  privateJwk.alg = 'ES256';
  const { d, ...publicJwk } = privateJwk;
  return { privateJwk, publicJwk, keyPair };
}

/** How the client authenticated, judged from the request (oidc-provider accepts basic and post interchangeably). */
function authMethodOf(ctx) {
  const params = ctx.oidc?.params ?? {};
  if (/^basic /i.test(ctx.get('authorization'))) return 'client_secret_basic';
  if (params.client_secret) return 'client_secret_post';
  if (params.client_assertion) return 'private_key_jwt';
  return 'none';
}

/**
 * The tenant a token request was for, as HelseID puts organization numbers in its access tokens: `org`, the
 * `value` of the first `helseid_authorization` in the client assertion's `assertion_details` (or its `org` claim),
 * and `tenant`, a `tenant` token request parameter (tokenfetch's `extraParams`).
 */
function tenantClaims(ctx) {
  const params = ctx.oidc?.params ?? {};
  const claims = {};
  const tenant = ctx.oidc?.body?.tenant; // (not a parameter oidc-provider knows: read from the form)
  if (typeof tenant === 'string') claims.tenant = tenant;
  if (typeof params.client_assertion === 'string') {
    const assertion = decodeJwt(params.client_assertion);
    const org = assertion.assertion_details?.[0]?.practitioner_role?.organization?.identifier?.value ?? assertion.org;
    if (typeof org === 'string') claims.org = org;
  }
  return claims;
}

/**
 * Start an oidc-provider on 127.0.0.1 (issuer = its own origin) with client_credentials, resource indicators and
 * ES256 JWT access tokens for exactly one resource server whose audience may be set later via `setAudience`.
 */
async function startProvider({ port = 0, clients, clientAuthMethods, dpop, audience, scope, accessTokenTTL = 300 }) {
  const server = createServer();
  const issuer = `http://127.0.0.1:${await listen(server, port)}`;
  const signing = await generateEs256Jwk();
  const state = { audience };
  const counters = { tokenRequests: 0, tokensIssued: 0 };
  const requests = [];
  const issuedTokens = []; // every access token issued, for the secret scan

  const resourceInfo = () => ({
    scope, audience: state.audience, accessTokenFormat: 'jwt', accessTokenTTL, jwt: { sign: { alg: 'ES256' } },
  });
  const provider = new Provider(issuer, {
    clients,
    clientAuthMethods,
    scopes: [scope],
    jwks: { keys: [signing.privateJwk] },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    // Browsers (the www harness, the Chromium runtime test) call the token endpoint cross-origin.
    clientBasedCORS: () => true,
    extraTokenClaims: (ctx) => tenantClaims(ctx),
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      dPoP: dpop
        ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true }
        : { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => state.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (!state.audience || resource !== state.audience) throw new errors.InvalidTarget();
          return resourceInfo();
        },
      },
    },
    ttl: { ClientCredentials: (ctx, token) => token.resourceServer?.accessTokenTTL ?? accessTokenTTL },
  });

  // Count every POST to the token endpoint (rejected ones too) and log its outcome.
  provider.use(async (ctx, next) => {
    if (ctx.method !== 'POST' || ctx.path !== '/token') return next();
    counters.tokenRequests += 1;
    try {
      await next();
    } finally {
      if (ctx.status === 200) counters.tokensIssued += 1;
      if (typeof ctx.body?.access_token === 'string') issuedTokens.push(ctx.body.access_token);
      requests.push({
        time: Date.now(),
        status: ctx.status,
        error: ctx.body?.error,
        hadDpop: ctx.get('dpop') !== '',
        clientId: ctx.oidc?.client?.clientId,
        authMethod: authMethodOf(ctx),
      });
    }
  });
  server.on('request', provider.callback());

  return {
    url: issuer,
    issuer,
    tokenEndpoint: `${issuer}/token`,
    jwksUri: `${issuer}/jwks`,
    provider,
    counters,
    requests,
    issuedTokens,
    /** Set the resource server audience (= default `resource`) once the API's URL is known. */
    setAudience(value) { state.audience = value; },
    get audience() { return state.audience; },
    close: () => closeServer(server),
  };
}

/**
 * Authority A, HelseID-like. Client `worker-a` authenticates with private_key_jwt (ES256, key generated here) and
 * must send DPoP proofs with a server nonce; tokens are DPoP-bound ES256 JWTs for `api1Audience`, scope `api1.read`.
 * opts: { api1Audience?, accessTokenTTL? = 300, port? = 0 }.
 * Returns { url, issuer, tokenEndpoint, jwksUri, clientId, privateJwk, publicJwk, keyPair, counters, requests,
 *           issuedTokens, setAudience(url), audience, provider, close() }; counters = { tokenRequests, tokensIssued };
 * requests = [{ time, status, error?, hadDpop, clientId?, authMethod }] (one per POST /token).
 */
export async function startAuthorityA(opts = {}) {
  const clientId = 'worker-a';
  const key = await generateEs256Jwk();
  const authority = await startProvider({
    port: opts.port,
    audience: opts.api1Audience,
    accessTokenTTL: opts.accessTokenTTL,
    scope: 'api1.read',
    dpop: true,
    clientAuthMethods: ['private_key_jwt'],
    clients: [{
      client_id: clientId,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: 'ES256',
      jwks: { keys: [key.publicJwk] },
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      dpop_bound_access_tokens: true,
      scope: 'api1.read',
    }],
  });
  return Object.assign(authority, { clientId, ...key });
}

/** The secret used by authority B's clients: every character here needs form-urlencoding (RFC 6749 §2.3.1). */
export const SPECIAL_SECRET = 's3cr3t+/:%&= B';

/**
 * Authority B, Duende-like. Clients `worker-b` (client_secret_basic) and `worker-b-post` (client_secret_post), both
 * with secrets full of characters that need form-urlencoding; Bearer ES256 JWTs for `api2Audience`, scope `api2.read`.
 * opts: { api2Audience?, accessTokenTTL? = 300, port? = 0 }.
 * Returns { url, issuer, tokenEndpoint, jwksUri, clients: { basic: {clientId, clientSecret}, post: {...} },
 *           counters, requests, setAudience(url), audience, provider, close() }.
 */
export async function startAuthorityB(opts = {}) {
  const basic = { clientId: 'worker-b', clientSecret: `${SPECIAL_SECRET}1` };
  const post = { clientId: 'worker-b-post', clientSecret: `${SPECIAL_SECRET}2` };
  const client = ({ clientId, clientSecret }, method) => ({
    client_id: clientId,
    client_secret: clientSecret,
    token_endpoint_auth_method: method,
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: 'api2.read',
  });
  const authority = await startProvider({
    port: opts.port,
    audience: opts.api2Audience,
    accessTokenTTL: opts.accessTokenTTL,
    scope: 'api2.read',
    dpop: false,
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    clients: [client(basic, 'client_secret_basic'), client(post, 'client_secret_post')],
  });
  return Object.assign(authority, { clients: { basic, post } });
}
