// More real authorization servers (npm `oidc-provider` 9) for tests/js/authorities.test.mjs, each modelled on an
// authority tokenfetch targets, plus a DPoP API that accepts any asymmetric proof algorithm.
//   HelseID-style:     private_key_jwt with RSA (PS256, RS256), EC P-384 / P-521 keys and a non-extractable CryptoKey;
//                      client_credentials; DPoP required, with nonces; JWT access tokens.
//   Maskinporten-style: custom grant urn:ietf:params:oauth:grant-type:jwt-bearer whose self-signed assertion is the
//                      only credential (no client authentication); RS256 only; Bearer JWT access tokens.
//   Entra-style OBO:   custom jwt-bearer grant with requested_token_use=on_behalf_of, the user's token as assertion
//                      and client authentication (secret or private_key_jwt); tokens carry the user's sub.
//   Token exchange:    custom urn:ietf:params:oauth:grant-type:token-exchange grant (RFC 8693), client_secret_basic
//                      or private_key_jwt + DPoP (with nonces).
// Every token POST is logged with what the authority received (original form, auth scheme, decoded assertions).
// Each is an oidc-provider started by the one factory (provider.mjs), with its own clients, algorithms and grants.
import { X509Certificate, createHash, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import {
  EmbeddedJWK, SignJWT, calculateJwkThumbprint, createLocalJWKSet, createRemoteJWKSet, exportJWK, generateKeyPair,
  importX509, jwtVerify,
} from 'jose';
import { closeServer, listen, readBody, sendJson } from './http.mjs';
import { decodeJws, errors, generateEs256Jwk, startProvider } from './provider.mjs';

export { decodeJws };

export const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
export const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPES = {
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
};
/** Claims a Maskinporten grant assertion may carry (anything else is rejected). */
export const MASKINPORTEN_CLAIMS = new Set(['iss', 'aud', 'scope', 'iat', 'exp', 'jti', 'resource', 'consumer_org']);

/**
 * A key pair for `alg` (RS*, PS*, ES256/384/512). Returns { alg, kid, privateJwk (with kid + alg; undefined when
 * not extractable), publicJwk (kid + alg), keyPair }. opts: { extractable? = true, jwkAlg? = true (put alg in JWKs) }.
 */
export async function generateKey(alg, { extractable = true, jwkAlg = true } = {}) {
  const keyPair = await generateKeyPair(alg, { extractable, modulusLength: 2048 });
  const publicJwk = await exportJWK(keyPair.publicKey);
  const kid = `${alg.toLowerCase()}-${(await calculateJwkThumbprint(publicJwk)).slice(0, 12)}`;
  Object.assign(publicJwk, { kid, ...(jwkAlg ? { alg } : {}), use: 'sig' });
  const privateJwk = extractable
    ? { ...(await exportJWK(keyPair.privateKey)), kid, ...(jwkAlg ? { alg } : {}) }
    : undefined;
  return { alg, kid, privateJwk, publicJwk, keyPair };
}

/** A jose verification error as a short reason: its code, plus the claim it is about. */
const joseReason = (err) => `${err.code ?? err.message}${err.claim ? ` (${err.claim})` : ''}`;

/**
 * The "user token issuer" a test owns (no server): signs ES256 user access tokens that the Entra-style and
 * token-exchange authorities trust. Returns { issuer, publicJwk, mint({ sub, aud, ttl? = 300, claims? }), minted: [tokens] }.
 */
export async function createUserTokenIssuer(issuer = 'https://login.user-issuer.example/tenant') {
  const key = await generateEs256Jwk();
  const minted = [];
  return {
    issuer,
    publicJwk: key.publicJwk,
    minted,
    async mint({ sub, aud, ttl = 300, claims = {} }) {
      const token = await new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'ES256', kid: key.privateJwk.kid, typ: 'at+jwt' })
        .setIssuer(issuer).setSubject(sub).setAudience(aud).setIssuedAt().setExpirationTime(`${ttl}s`)
        .setJti(randomUUID())
        .sign(key.keyPair.privateKey);
      minted.push(token);
      return token;
    },
  };
}

const base = { response_types: [], redirect_uris: [] };

/** The factory with what these authorities share: the full request log and a count of metadata reads. */
const authorityProvider = (opts) => startProvider({ ...opts, log: 'full', discoveryCounter: true });

/**
 * HelseID-style authority: client_credentials with private_key_jwt only, DPoP required with nonces, scope
 * `helse.read`. Clients (all `dpop_bound_access_tokens`), each with its own key and registered alg:
 *   ps256 (RSA, alg in the JWK), rs256 (RSA, no alg in the JWK), es512 (P-521), es384 (P-384),
 *   cryptoKey (RSA-PSS PS256, non-extractable CryptoKey: `key`, no privateJwk).
 * Discovery lists ES256/384/512, RS*, PS* for both client assertions and DPoP proofs.
 * Returns the provider handle + { clients: { [name]: { clientId, alg, kid, privateJwk?, key?, publicJwk } } }.
 */
export async function startHelseIdAuthority(opts = {}) {
  const [ps256, rs256, es512, es384, cryptoKey] = await Promise.all([
    generateKey('PS256'), generateKey('RS256', { jwkAlg: false }), generateKey('ES512'), generateKey('ES384'),
    generateKey('PS256', { extractable: false }),
  ]);
  const keys = { ps256, rs256, es512, es384, cryptoKey };
  const clients = Object.fromEntries(Object.entries(keys).map(([name, k]) => [name, {
    clientId: `helse-${name}`, alg: k.alg, kid: k.kid, privateJwk: k.privateJwk, publicJwk: k.publicJwk,
    ...(k.privateJwk ? {} : { key: k.keyPair.privateKey }),
  }]));
  const algs = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
  const authority = await authorityProvider({
    accessTokenTTL: opts.accessTokenTTL,
    scopes: ['helse.read'],
    dpop: true,
    clientAuthMethods: ['private_key_jwt'],
    enabledJWA: { clientAuthSigningAlgValues: algs, dPoPSigningAlgValues: algs },
    clients: Object.values(clients).map((c) => ({
      ...base,
      client_id: c.clientId,
      token_endpoint_auth_method: 'private_key_jwt',
      token_endpoint_auth_signing_alg: c.alg,
      jwks: { keys: [c.publicJwk] },
      grant_types: ['client_credentials'],
      dpop_bound_access_tokens: true,
      scope: 'helse.read',
    })),
  });
  return Object.assign(authority, { clients, scope: 'helse.read' });
}

/**
 * Maskinporten-style authority. Grant `urn:ietf:params:oauth:grant-type:jwt-bearer` with only `assertion` (no
 * client authentication, no client_id): the authority reads the unverified `iss` to find the client (oidc-provider
 * insists on a client_id, so it is added to the form before oidc-provider sees it; clients are registered with
 * token_endpoint_auth_method `none`), then verifies the assertion itself against the client's registered JWKS:
 * alg RS256 only, aud = issuer, iss = client_id, exp - iat <= 120, iat within 10 s, jti not replayed, only the
 * claims in MASKINPORTEN_CLAIMS, scope allowed for the client, `resource` (if any) = the API audience.
 * Client `mp-client`: JWKS = { rs256 (JWK), rs256Key (non-extractable RSASSA CryptoKey), pssKey (non-extractable
 * RSA-PSS CryptoKey, registered but PS256 is refused) }; scopes `mp:read mp:write`. Tokens: Bearer JWTs.
 * Business-certificate mode, as Maskinporten's: an assertion whose header has `x5c` is verified with the key of the
 * chain's leaf certificate, which must be one of `opts.certificates` (PEM or DER, registered for the client); the
 * header's `kid` is then not needed. `grantLog` records the header (`x5c` included) of every assertion.
 * Returns the provider handle + { clientId, keys: { rs256, rs256Key, pssKey }, grantLog: [{ ok, reason?, claims, header }] }.
 */
export async function startMaskinportenAuthority(opts = {}) {
  const clientId = 'mp-client';
  const [rs256, rs256Key, pssKey] = await Promise.all([
    generateKey('RS256'), generateKey('RS256', { extractable: false }), generateKey('PS256', { extractable: false }),
  ]);
  const seenJti = new Set();
  const grantLog = [];
  const certificates = new Set((opts.certificates ?? []).map((c) => new X509Certificate(c).fingerprint256));
  const { InvalidGrant, InvalidRequest, InvalidScope, InvalidTarget } = errors;

  async function handler(ctx, tools) {
    const { assertion } = ctx.oidc.params;
    const { client } = ctx.oidc;
    const record = { clientId: client.clientId };
    grantLog.push(record);
    const fail = (Err, reason) => { record.ok = false; record.reason = reason; throw new Err(reason); };
    if (!assertion) fail(InvalidRequest, 'missing assertion');
    if (ctx.oidc.body.client_assertion || ctx.get('authorization')) fail(InvalidRequest, 'client authentication is not used with this grant');
    const decoded = decodeJws(assertion);
    if (!decoded) fail(InvalidGrant, 'assertion is not a JWT');
    Object.assign(record, decoded);
    let payload;
    let key = createLocalJWKSet(client.jwks);
    const chain = decoded.header.x5c;
    if (chain !== undefined) {
      let leaf;
      try {
        leaf = new X509Certificate(Buffer.from(chain[0], 'base64'));
      } catch {
        fail(InvalidGrant, 'x5c[0] is not a certificate');
      }
      if (!certificates.has(leaf.fingerprint256)) fail(InvalidGrant, 'the x5c leaf is not a registered business certificate');
      key = await importX509(leaf.toString(), 'RS256');
    }
    try {
      ({ payload } = await jwtVerify(assertion, key, {
        algorithms: ['RS256'], issuer: client.clientId, audience: tools.issuer, requiredClaims: ['iat', 'exp', 'jti', 'scope'],
      }));
    } catch (err) {
      fail(InvalidGrant, `assertion rejected: ${joseReason(err)}`);
    }
    if (typeof payload.aud !== 'string') fail(InvalidGrant, 'aud must be a single string');
    const unknown = Object.keys(payload).filter((k) => !MASKINPORTEN_CLAIMS.has(k));
    if (unknown.length) fail(InvalidGrant, `unknown claims: ${unknown.join(',')}`);
    if (payload.exp - payload.iat > 120) fail(InvalidGrant, 'exp - iat exceeds 120 s');
    if (Math.abs(Date.now() / 1000 - payload.iat) > 10) fail(InvalidGrant, 'iat not within 10 s');
    if (typeof payload.jti !== 'string' || seenJti.has(payload.jti)) fail(InvalidGrant, 'jti replayed');
    seenJti.add(payload.jti);
    if (typeof payload.scope !== 'string' || !payload.scope) fail(InvalidScope, 'scope missing');
    const allowed = new Set(client.scope.split(' '));
    const scopes = payload.scope.split(' ');
    if (!scopes.every((s) => allowed.has(s))) fail(InvalidScope, 'scope not allowed');
    if (payload.resource !== undefined && payload.resource !== tools.audience) fail(InvalidTarget, 'unknown resource');
    record.ok = true;
    const extra = payload.consumer_org ? { consumer_org: payload.consumer_org } : undefined;
    await tools.issue(ctx, { scope: scopes.join(' '), extra });
  }

  const authority = await authorityProvider({
    accessTokenTTL: opts.accessTokenTTL,
    scopes: ['mp:read', 'mp:write'],
    dpop: false,
    // As maskinporten.no's metadata: private_key_jwt, RS256/384/512 (the grant's client is registered as `none`).
    clientAuthMethods: ['private_key_jwt', 'none'],
    enabledJWA: { clientAuthSigningAlgValues: ['RS256', 'RS384', 'RS512'] },
    clients: [{
      ...base,
      client_id: clientId,
      token_endpoint_auth_method: 'none',
      jwks: { keys: [rs256.publicJwk, rs256Key.publicJwk, pssKey.publicJwk] },
      grant_types: [JWT_BEARER],
      scope: 'mp:read mp:write',
    }],
    grants: [{ type: JWT_BEARER, params: ['assertion'], handler }],
    // No client authentication and no client_id: the client is the assertion's (unverified) iss.
    deriveClientId(form, ctx) {
      if (form.grant_type !== JWT_BEARER || form.client_id || form.client_assertion || ctx.get('authorization')) return undefined;
      const iss = decodeJws(form.assertion)?.payload?.iss;
      return typeof iss === 'string' ? iss : undefined;
    },
  });
  return Object.assign(authority, { clientId, keys: { rs256, rs256Key, pssKey }, grantLog, scope: 'mp:read mp:write' });
}

/**
 * Entra-style On-Behalf-Of authority. Grant jwt-bearer requires requested_token_use=on_behalf_of, `assertion` = a
 * user token from `userIssuer` (verified with jose: iss, aud = the calling client's id, ES256), `scope`, and client
 * authentication; issues a Bearer JWT whose `sub` is the user's `sub` (and `obo_client` = the caller).
 * Clients: `obo-secret` (client_secret_post), `obo-basic` (client_secret_basic), `obo-pkjwt` (private_key_jwt, ES256).
 * Scope: `downstream.read`. Returns the provider handle + { clients: { secret, basic, pkjwt }, grantLog }.
 */
export async function startEntraAuthority({ userIssuer, accessTokenTTL } = {}) {
  const pk = await generateEs256Jwk();
  const clients = {
    secret: { clientId: 'obo-secret', clientSecret: `obo-${randomUUID()}` },
    basic: { clientId: 'obo-basic', clientSecret: `obo+/ ${randomUUID()}` },
    pkjwt: { clientId: 'obo-pkjwt', privateJwk: pk.privateJwk, publicJwk: pk.publicJwk },
  };
  const grantLog = [];
  const { InvalidGrant, InvalidRequest, InvalidScope } = errors;
  const userJwks = createLocalJWKSet({ keys: [userIssuer.publicJwk] });

  async function handler(ctx, tools) {
    const { assertion, requested_token_use: use, scope } = ctx.oidc.params;
    const record = { clientId: ctx.oidc.client.clientId, requestedTokenUse: use, scope };
    grantLog.push(record);
    const fail = (Err, reason) => { record.ok = false; record.reason = reason; throw new Err(reason); };
    if (use !== 'on_behalf_of') fail(InvalidRequest, 'requested_token_use must be on_behalf_of');
    if (!assertion) fail(InvalidRequest, 'missing assertion');
    if (!scope) fail(InvalidScope, 'scope missing');
    let payload;
    try {
      ({ payload } = await jwtVerify(assertion, userJwks, {
        algorithms: ['ES256'], issuer: userIssuer.issuer, audience: ctx.oidc.client.clientId,
      }));
    } catch (err) {
      fail(InvalidGrant, `user assertion rejected: ${joseReason(err)}`);
    }
    if (!scope.split(' ').every((s) => s === 'downstream.read')) fail(InvalidScope, 'scope not allowed');
    Object.assign(record, { ok: true, sub: payload.sub });
    await tools.issue(ctx, { accountId: payload.sub, scope, gty: 'on_behalf_of', extra: { obo_client: ctx.oidc.client.clientId } });
  }

  const secretClient = (c, method) => ({
    ...base, client_id: c.clientId, client_secret: c.clientSecret, token_endpoint_auth_method: method,
    grant_types: [JWT_BEARER], scope: 'downstream.read',
  });
  const authority = await authorityProvider({
    accessTokenTTL,
    scopes: ['downstream.read'],
    dpop: false,
    clientAuthMethods: ['client_secret_post', 'client_secret_basic', 'private_key_jwt'],
    clients: [
      secretClient(clients.secret, 'client_secret_post'),
      secretClient(clients.basic, 'client_secret_basic'),
      {
        ...base, client_id: clients.pkjwt.clientId, token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [pk.publicJwk] }, grant_types: [JWT_BEARER], scope: 'downstream.read',
      },
    ],
    grants: [{ type: JWT_BEARER, params: ['assertion', 'requested_token_use', 'scope'], handler }],
  });
  return Object.assign(authority, { clients, grantLog, scope: 'downstream.read' });
}

/**
 * RFC 8693 token-exchange authority. Checks: subject_token (a `userIssuer` token whose aud is the calling client,
 * verified with jose) and subject_token_type (access_token or jwt), `audience` (if given) = the API audience,
 * requested_token_type (if given) = access_token, actor_token (if given: a `userIssuer` token, with
 * actor_token_type required). Issues a JWT with sub = the subject's sub and `act: { sub }` for an actor;
 * `issued_token_type` access_token; DPoP-bound when a proof came (nonces required; default oidc-provider DPoP algs:
 * ES256/EdDSA; client assertion algs: the oidc-provider defaults, i.e. no ES384/ES512).
 * Clients: `te-basic` (client_secret_basic), `te-pkjwt` (private_key_jwt ES256, dpop_bound_access_tokens).
 * Scope `exchanged.read`. Returns the provider handle + { clients: { basic, pkjwt }, grantLog }.
 * opts.issueOtherTypes: requested_token_type jwt or id_token is issued too, as RFC 8693 §2.2.1 says of what is not
 * an access token: `issued_token_type` that type, `token_type` "N_A".
 */
export async function startTokenExchangeAuthority({ userIssuer, accessTokenTTL, issueOtherTypes = false } = {}) {
  const pk = await generateEs256Jwk();
  const clients = {
    basic: { clientId: 'te-basic', clientSecret: `te:${randomUUID()}%` },
    pkjwt: { clientId: 'te-pkjwt', privateJwk: pk.privateJwk, publicJwk: pk.publicJwk },
  };
  const grantLog = [];
  const { InvalidGrant, InvalidRequest, InvalidTarget } = errors;
  const userJwks = createLocalJWKSet({ keys: [userIssuer.publicJwk] });
  const subjectTypes = new Set([TOKEN_TYPES.accessToken, TOKEN_TYPES.jwt]);

  async function handler(ctx, tools) {
    const p = ctx.oidc.params;
    const record = {
      clientId: ctx.oidc.client.clientId,
      subjectTokenType: p.subject_token_type,
      requestedTokenType: p.requested_token_type,
      audience: p.audience,
      actorTokenType: p.actor_token_type,
      hadActorToken: p.actor_token !== undefined,
      scope: p.scope,
    };
    grantLog.push(record);
    const fail = (Err, reason) => { record.ok = false; record.reason = reason; throw new Err(reason); };
    const proof = await tools.dpop(ctx);
    if (!p.subject_token) fail(InvalidRequest, 'missing subject_token');
    if (!subjectTypes.has(p.subject_token_type)) fail(InvalidRequest, 'unsupported subject_token_type');
    const other = issueOtherTypes && [TOKEN_TYPES.jwt, TOKEN_TYPES.idToken].includes(p.requested_token_type);
    if (p.requested_token_type !== undefined && p.requested_token_type !== TOKEN_TYPES.accessToken && !other) {
      fail(InvalidRequest, 'unsupported requested_token_type');
    }
    if (p.audience !== undefined && p.audience !== tools.audience) fail(InvalidTarget, 'unknown audience');
    const verify = async (token, what) => {
      try {
        return (await jwtVerify(token, userJwks, { algorithms: ['ES256'], issuer: userIssuer.issuer })).payload;
      } catch (err) {
        return fail(InvalidGrant, `${what} rejected: ${joseReason(err)}`);
      }
    };
    const subject = await verify(p.subject_token, 'subject_token');
    if (subject.aud !== ctx.oidc.client.clientId) fail(InvalidGrant, 'subject_token audience is not this client');
    let act;
    if (p.actor_token !== undefined) {
      if (!p.actor_token_type) fail(InvalidRequest, 'actor_token_type is required with actor_token');
      act = { sub: (await verify(p.actor_token, 'actor_token')).sub };
    } else if (p.actor_token_type !== undefined) {
      fail(InvalidRequest, 'actor_token_type without actor_token');
    }
    Object.assign(record, { ok: true, sub: subject.sub, act });
    await tools.issue(ctx, {
      accountId: subject.sub, scope: p.scope, gty: 'token_exchange', dpop: proof,
      extra: act ? { act } : undefined, issuedTokenType: other ? p.requested_token_type : TOKEN_TYPES.accessToken,
    });
    if (other) ctx.body.token_type = 'N_A';
  }

  const authority = await authorityProvider({
    accessTokenTTL,
    scopes: ['exchanged.read'],
    dpop: true,
    clientAuthMethods: ['client_secret_basic', 'private_key_jwt'],
    clients: [
      {
        ...base, client_id: clients.basic.clientId, client_secret: clients.basic.clientSecret,
        token_endpoint_auth_method: 'client_secret_basic', grant_types: [TOKEN_EXCHANGE], scope: 'exchanged.read',
      },
      {
        ...base, client_id: clients.pkjwt.clientId, token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256', jwks: { keys: [pk.publicJwk] }, grant_types: [TOKEN_EXCHANGE],
        scope: 'exchanged.read', dpop_bound_access_tokens: true,
      },
    ],
    grants: [{
      type: TOKEN_EXCHANGE,
      params: ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'requested_token_type',
        'audience', 'resource', 'scope'],
      dupes: ['resource', 'audience'],
      handler,
    }],
  });
  return Object.assign(authority, { clients, grantLog, scope: 'exchanged.read' });
}

/**
 * A DPoP API (GET /data) that accepts proofs of any asymmetric JWS algorithm (startApi in resource.mjs accepts only
 * ES256). Checks the access token (jose: issuer, audience, at+jwt, ES256) and the proof (typ dpop+jwt, htm, htu,
 * recent iat, unique jti, ath, cnf.jkt); no nonces. opts: { name, issuer, jwksUri, audience }.
 * Returns { url, counters: { requests, ok, rejected }, requests: [{ status, error?, proofAlg? }], close() }.
 */
export async function startAnyAlgDpopApi({ name, issuer, jwksUri, audience }) {
  const jwks = createRemoteJWKSet(new URL(jwksUri));
  const counters = { requests: 0, ok: 0, rejected: 0 };
  const requests = [];
  const jtis = new Set();
  const algorithms = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
  const server = createServer(async (req, res) => {
    await readBody(req);
    counters.requests += 1;
    const log = {};
    requests.push(log);
    const url = `http://127.0.0.1:${server.address().port}`;
    try {
      const [scheme, token] = (req.headers.authorization ?? '').split(' ');
      if (scheme !== 'DPoP' || !token) throw new Error('DPoP scheme required');
      const { payload: claims } = await jwtVerify(token, jwks, { issuer, audience, typ: 'at+jwt', algorithms: ['ES256'] });
      const { payload, protectedHeader } = await jwtVerify(String(req.headers.dpop), EmbeddedJWK, { typ: 'dpop+jwt', algorithms });
      log.proofAlg = protectedHeader.alg;
      const u = new URL(req.url, url);
      if (payload.htm !== req.method || payload.htu !== `${u.origin}${u.pathname}`) throw new Error('htm/htu mismatch');
      if (Math.abs(Date.now() / 1000 - payload.iat) > 60) throw new Error('iat');
      if (!payload.jti || jtis.has(payload.jti)) throw new Error('jti');
      jtis.add(payload.jti);
      if (payload.ath !== createHash('sha256').update(token).digest('base64url')) throw new Error('ath');
      if (await calculateJwkThumbprint(protectedHeader.jwk) !== claims.cnf?.jkt) throw new Error('cnf.jkt');
      counters.ok += 1;
      log.status = 200;
      sendJson(res, 200, { api: name, client_id: claims.client_id, sub: claims.sub, proofAlg: protectedHeader.alg });
    } catch (err) {
      counters.rejected += 1;
      Object.assign(log, { status: 401, error: err.code ?? err.message });
      // invalid_request, not invalid_token: a client must not retry with a new token here.
      sendJson(res, 401, { error: 'invalid_request', error_description: String(err.code ?? err.message) },
        { 'www-authenticate': 'DPoP error="invalid_request"' });
    }
  });
  const url = `http://127.0.0.1:${await listen(server, 0)}`;
  return { url, name, counters, requests, close: () => closeServer(server) };
}
