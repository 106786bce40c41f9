// Real OAuth 2.0 authorization servers (npm `oidc-provider`, started by the one factory in provider.mjs) for the
// standard scenario:
//   Authority A (HelseID-like): private_key_jwt, client_credentials, DPoP with required nonces, JWT access tokens.
//   Authority B (Duende-like): client_secret_basic / client_secret_post, client_credentials, Bearer JWT tokens.
// Both put the tenant a token was asked for in its access token (`tenantClaims`), allow browsers to call them
// (CORS: the www harness, the Chromium runtime test) and keep the brief request log the scenario's tests read.
import { generateEs256Jwk, startProvider, tenantClaims } from './provider.mjs';

export { generateEs256Jwk };

/** What authorities A and B share: the standard scenario's options of the factory. */
const scenarioProvider = (opts) => startProvider({
  ...opts, cors: true, log: 'brief', extraTokenClaims: (ctx) => tenantClaims(ctx),
});

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
  const authority = await scenarioProvider({
    port: opts.port,
    audience: opts.api1Audience,
    accessTokenTTL: opts.accessTokenTTL,
    scopes: ['api1.read'],
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
  const authority = await scenarioProvider({
    port: opts.port,
    audience: opts.api2Audience,
    accessTokenTTL: opts.accessTokenTTL,
    scopes: ['api2.read'],
    dpop: false,
    clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
    clients: [client(basic, 'client_secret_basic'), client(post, 'client_secret_post')],
  });
  return Object.assign(authority, { clients: { basic, post } });
}
