// The one oidc-provider factory of the tests: every local authority (authority.mjs: A and B of the standard
// scenario; authorities.mjs: the HelseID-, Maskinporten-, Entra- and token-exchange-style ones) is an npm
// `oidc-provider` 9 started here, on 127.0.0.1, with what differs between them as options: clients and their
// authentication methods, signing algorithms, DPoP (with required nonces), custom grants, extra token claims, CORS,
// and the shape of the request log and counters the tests read.
//
// oidc-provider has no public API for custom grant helpers: DPoP validation / binding and the token response
// builder are imported from its lib/ files (the package has no `exports` map, so this is allowed and it is the
// same module instance the provider uses).
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair } from 'jose';
import { closeServer, listen, readBody } from './http.mjs';

// oidc-provider prints these on import, on construction, and once per process when it is handed an already-read
// request body (every authority here reads the token request first, to log it as sent). Expected in tests: drop them,
// and only them.
const QUIET = [/Unsupported runtime/, /development-only in-memory adapter/, /already parsed request body detected/];
for (const level of ['warn', 'info']) {
  const original = console[level].bind(console);
  console[level] = (...args) => {
    const text = String(args[0]);
    if (text.includes('oidc-provider') && QUIET.some((re) => re.test(text))) return;
    original(...args);
  };
}
const { default: Provider, errors } = await import('oidc-provider');
const { default: validateDpop } = await import('oidc-provider/lib/helpers/validate_dpop.js');
const { applyDpopBinding } = await import('oidc-provider/lib/helpers/grant_common.js');
const { checkDpopRequired } = await import('oidc-provider/lib/helpers/sender_constraints.js');
const { buildTokenResponse } = await import('oidc-provider/lib/helpers/grant_response.js');

export { errors };

/** Generate an ES256 key pair; returns { privateJwk, publicJwk, keyPair } with `kid` and `alg` set. */
export async function generateEs256Jwk() {
  const keyPair = await generateKeyPair('ES256', { extractable: true });
  const privateJwk = await exportJWK(keyPair.privateKey);
  privateJwk.kid = await calculateJwkThumbprint(privateJwk);
  privateJwk.alg = 'ES256';
  const { d, ...publicJwk } = privateJwk;
  return { privateJwk, publicJwk, keyPair };
}

/** Decode a compact JWS without verifying it: { header, payload }, or undefined when it is not one. */
export function decodeJws(value) {
  if (typeof value !== 'string') return undefined;
  try {
    return { header: decodeProtectedHeader(value), payload: decodeJwt(value) };
  } catch {
    return undefined;
  }
}

/** A form body as an object; repeated names become arrays (e.g. `resource`). */
function formObject(raw) {
  const out = {};
  for (const [k, v] of new URLSearchParams(raw)) {
    if (k in out) out[k] = [].concat(out[k], v);
    else out[k] = v;
  }
  return out;
}

/** How the client authenticated, judged from the request (oidc-provider accepts basic and post interchangeably). */
function authMethodOf(ctx, form) {
  if (/^basic /i.test(ctx.get('authorization'))) return 'client_secret_basic';
  if (form.client_secret) return 'client_secret_post';
  if (form.client_assertion) return 'private_key_jwt';
  return 'none';
}

/**
 * Extra access-token claims for the tenant a token request was for, as HelseID puts organization numbers in its
 * access tokens: `org`, the `value` of the first `helseid_authorization` in the client assertion's
 * `assertion_details` (or its `org` claim), and `tenant`, a `tenant` token request parameter (tokenfetch's
 * `extraParams`). For `extraTokenClaims`.
 */
export function tenantClaims(ctx) {
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

/** The fields of a `log: 'brief'` request entry (authorities A and B). */
const BRIEF = ['time', 'status', 'error', 'hadDpop', 'clientId', 'authMethod'];

/**
 * Start an oidc-provider on 127.0.0.1 (issuer = its own origin, no trailing slash) with client_credentials, resource
 * indicators and ES256 JWT access tokens for exactly one resource server, whose audience (= the default `resource`)
 * may be set later via `setAudience`.
 *
 * opts:
 *   clients, clientAuthMethods   oidc-provider client metadata and the token endpoint auth methods it allows
 *   scopes                       the scopes it knows (all of them granted to the resource server)
 *   enabledJWA?                  oidc-provider's `enabledJWA` (client assertion and DPoP proof algorithms)
 *   dpop? = false                DPoP, with a server nonce required on every token request
 *   audience?                    the resource server's audience, until `setAudience`
 *   accessTokenTTL? = 300        access token lifetime (s)
 *   extraTokenClaims?            (ctx, token) => claims in the access token; default: what a grant handler set
 *   grants? = []                 custom grants: [{ type, params, dupes?, handler(ctx, tools) }] (see `tools` below)
 *   deriveClientId?(form, ctx)   the client_id to add to a token request that names none (Maskinporten's grant)
 *   cors? = false                allow every origin to call the token endpoint (browsers: the www harness, Chromium)
 *   log? = 'full'                request log entries: 'full' (below) or 'brief' ({ time, status, error, hadDpop,
 *                                clientId, authMethod }, the shape the standard scenario's tests read)
 *   discoveryCounter? = false    count metadata reads in `counters.discovery`
 *   port? = 0
 * Returns { url, issuer, tokenEndpoint, jwksUri, provider, counters: { tokenRequests, tokensIssued, discovery? },
 *   requests, issuedTokens: [raw access tokens], requestsFor(grantType, clientId?), setAudience(url), audience,
 *   discoveryRequests: [{ time, path, status }], setDiscoveryMode('openid' | 'oauth'), close() }.
 * Every POST /token is counted (rejected ones too) and logged as received, before oidc-provider rewrites anything
 * ('full' entries: { time, grantType, form, authScheme, authMethod, hadDpop, dpopProof, assertion, clientAssertion,
 * derivedClientId?, status, error, errorDescription, clientId, tokenType, accessToken (its claims, when a JWT) }).
 */
export async function startProvider(opts) {
  const {
    clients, clientAuthMethods, scopes, enabledJWA, dpop = false, accessTokenTTL = 300,
    extraTokenClaims = (ctx, token) => token.extra, grants = [], deriveClientId, cors = false, log = 'full',
    discoveryCounter = false, port = 0,
  } = opts;
  const server = createServer();
  const issuer = `http://127.0.0.1:${await listen(server, port)}`;
  const signing = await generateEs256Jwk();
  const state = { audience: opts.audience };
  const counters = { tokenRequests: 0, tokensIssued: 0, ...(discoveryCounter ? { discovery: 0 } : {}) };
  const requests = [];
  const issuedTokens = []; // every access token issued, for the secret scan
  // 'openid': oidc-provider as is (only /.well-known/openid-configuration). 'oauth': that path is 404 and the same
  // document is served at the RFC 8414 path /.well-known/oauth-authorization-server instead.
  const discovery = { mode: 'openid', requests: [] };

  const resourceInfo = () => ({
    scope: scopes.join(' '), audience: state.audience, accessTokenFormat: 'jwt', accessTokenTTL, jwt: { sign: { alg: 'ES256' } },
  });
  const provider = new Provider(issuer, {
    clients,
    clientAuthMethods,
    scopes,
    ...(enabledJWA ? { enabledJWA } : {}),
    jwks: { keys: [signing.privateJwk] },
    clientDefaults: { id_token_signed_response_alg: 'ES256' },
    ...(cors ? { clientBasedCORS: () => true } : {}),
    // oidc-provider replaces a token's `extra` with what this returns.
    extraTokenClaims,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      dPoP: dpop ? { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true } : { enabled: false },
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

  /** Tools for grant handlers: issue a JWT access token for the resource server, DPoP, errors. */
  const tools = {
    errors,
    issuer,
    get audience() { return state.audience; },
    /** Validate the request's DPoP proof (nonce challenge included) and enforce dpop_bound_access_tokens. */
    async dpop(ctx) {
      const proof = await validateDpop(provider, ctx);
      checkDpopRequired(provider, ctx, proof);
      return proof;
    },
    /**
     * Issue and answer with a token. { accountId? (sub; default: the client), scope?, extra? (claims),
     * dpop? (validated proof), issuedTokenType? }.
     */
    async issue(ctx, { accountId, scope, extra, dpop: proof, issuedTokenType, gty }) {
      const { client } = ctx.oidc;
      const token = accountId
        ? new provider.AccessToken({ accountId, client, gty, scope, extra, expiresIn: accessTokenTTL })
        : new provider.ClientCredentials({ client, scope, extra, expiresIn: accessTokenTTL });
      token.resourceServer = new provider.ResourceServer(state.audience, resourceInfo());
      await applyDpopBinding(provider, ctx, proof, token);
      const value = await token.save();
      ctx.body = buildTokenResponse(provider, {
        accessToken: value, expiresIn: token.expiration, scope, tokenType: token.tokenType, issuedTokenType,
      });
    },
  };
  for (const { type, params, dupes, handler } of grants) {
    provider.registerGrantType(type, (ctx) => handler(ctx, tools), params, dupes);
  }

  // Log every POST /token as received (the original form, before any rewrite), and count discovery reads.
  provider.use(async (ctx, next) => {
    if (ctx.method === 'GET' && ctx.path.startsWith('/.well-known/')) {
      if (discoveryCounter) counters.discovery += 1;
      const entry = { time: Date.now(), path: ctx.path };
      discovery.requests.push(entry);
      if (discovery.mode === 'oauth') {
        if (ctx.path === '/.well-known/openid-configuration') {
          entry.status = 404;
          ctx.status = 404;
          ctx.body = { error: 'not_found' };
          return undefined;
        }
        if (ctx.path === '/.well-known/oauth-authorization-server') ctx.path = '/.well-known/openid-configuration';
      }
      await next();
      entry.status = ctx.status;
      return undefined;
    }
    if (ctx.method !== 'POST' || ctx.path !== '/token') return next();
    counters.tokenRequests += 1;
    const raw = ctx.is('application/x-www-form-urlencoded') ? await readBody(ctx.req) : '';
    const form = formObject(raw);
    const entry = {
      time: Date.now(),
      grantType: form.grant_type,
      form,
      authScheme: ctx.get('authorization').split(' ')[0] || undefined,
      authMethod: authMethodOf(ctx, form),
      hadDpop: ctx.get('dpop') !== '',
      dpopProof: decodeJws(ctx.get('dpop') || undefined),
      assertion: decodeJws(form.assertion),
      clientAssertion: decodeJws(form.client_assertion),
    };
    let body = raw;
    const derived = deriveClientId?.(form, ctx);
    if (derived) {
      const params = new URLSearchParams(raw);
      params.set('client_id', derived);
      body = params.toString();
      entry.derivedClientId = derived;
    }
    // oidc-provider reads ctx.req.body when the stream was already consumed.
    ctx.req.body = body;
    try {
      await next();
    } finally {
      if (ctx.status === 200) counters.tokensIssued += 1;
      Object.assign(entry, {
        status: ctx.status,
        error: ctx.body?.error,
        errorDescription: ctx.body?.error_description,
        clientId: ctx.oidc?.client?.clientId,
        tokenType: ctx.body?.token_type,
        accessToken: decodeJws(ctx.body?.access_token)?.payload, // (claims; undefined for an opaque token)
      });
      if (typeof ctx.body?.access_token === 'string') issuedTokens.push(ctx.body.access_token);
      requests.push(log === 'brief' ? Object.fromEntries(BRIEF.map((k) => [k, entry[k]])) : entry);
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
    /** Token POSTs with this grant_type (and client_id, when given); 'full' log entries only. */
    requestsFor(grantType, clientId) {
      return requests.filter((r) => r.grantType === grantType && (!clientId || r.clientId === clientId));
    },
    /** Set the resource server audience (= default `resource`) once the API's URL is known. */
    setAudience(value) { state.audience = value; },
    get audience() { return state.audience; },
    /** Metadata reads: [{ time, path, status }]. */
    discoveryRequests: discovery.requests,
    /** 'openid' (default) or 'oauth' (metadata only at the RFC 8414 path). */
    setDiscoveryMode(mode) { discovery.mode = mode; },
    close: () => closeServer(server),
  };
}
