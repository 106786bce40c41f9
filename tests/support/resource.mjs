// A protected API (resource server) on 127.0.0.1 that checks access tokens and DPoP proofs with `jose`.
import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { EmbeddedJWK, calculateJwkThumbprint, createRemoteJWKSet, jwtVerify } from 'jose';
import { closeServer, listen, readBody, sendJson } from './http.mjs';

const IAT_WINDOW_SECONDS = 60;

class AuthError extends Error {
  constructor(error, description, counter) {
    super(description);
    this.error = error;
    this.counter = counter;
  }
}

const newNonce = () => randomBytes(16).toString('base64url');
const quote = (s) => String(s).replace(/["\\]/g, '');

/** The URL without query and fragment (RFC 9449 §4.3 htu comparison), or undefined when it is not a URL. */
function withoutQuery(value) {
  try {
    const u = new URL(value);
    u.search = '';
    u.hash = '';
    return u.href;
  } catch {
    return undefined;
  }
}

/**
 * Start an API. opts: { name, issuer, jwksUri, audience? (default: the API's own URL), dpop: boolean,
 * requireNonce? = false, nonceRotateEvery? (rotate the nonce after every N successful requests), port? = 0 }.
 * Routes: GET /data -> { api, client_id, sub, scope, org?, tenant? } (the tenant claims a test authority put in the
 * token, `tenantClaims` in tests/support/provider.mjs); POST /echo -> { api, body, contentType }; GET /moved -> 308 and
 * POST /see-other -> 303, both to /data on the same origin, before authentication; others -> 404.
 * Returns { url, name, audience, counters, tokensSeen, requests, nonce, rotateNonce(), revokeCurrentTokens(), close() }.
 */
export async function startApi(opts) {
  const { name, issuer, jwksUri, dpop, requireNonce = false, nonceRotateEvery } = opts;
  const jwks = createRemoteJWKSet(new URL(jwksUri));
  const server = createServer((req, res) => cors(req, res) || handle(req, res).catch((err) => {
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: err.message });
  }));
  const url = `http://127.0.0.1:${await listen(server, opts.port)}`;
  const audience = opts.audience ?? url;
  const counters = { requests: 0, ok: 0, rejected: 0, nonceChallenges: 0, invalidToken: 0 };
  const tokensSeen = new Set();
  const revoked = new Set();
  const proofJtis = new Set();
  const requests = [];
  const nonce = { current: newNonce(), pending: undefined };

  /** Verify the request's credentials; returns the access token claims or throws AuthError. */
  async function authenticate(req) {
    const [scheme = '', token = '', extra] = (req.headers.authorization ?? '').split(' ');
    const expected = dpop ? 'dpop' : 'bearer';
    if (!token || extra !== undefined) throw new AuthError(undefined, 'no access token', null);
    if (scheme.toLowerCase() !== expected) {
      throw new AuthError('invalid_token', `this API requires the ${dpop ? 'DPoP' : 'Bearer'} scheme`, 'invalidToken');
    }
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(token, jwks, { issuer, audience, typ: 'at+jwt', algorithms: ['ES256'] }));
    } catch (err) {
      throw new AuthError('invalid_token', `access token rejected: ${err.code ?? err.message}`, 'invalidToken');
    }
    if (revoked.has(claims.jti)) throw new AuthError('invalid_token', 'access token revoked', 'invalidToken');
    tokensSeen.add(claims.jti);
    const jkt = claims.cnf?.jkt;
    if (!dpop) {
      if (jkt) throw new AuthError('invalid_token', 'DPoP-bound token used as a Bearer token', 'invalidToken');
      return claims;
    }
    if (!jkt) throw new AuthError('invalid_token', 'access token is not DPoP-bound', 'invalidToken');
    await checkProof(req, token, jkt);
    return claims;
  }

  /** RFC 9449 §4.3 + §7.1 checks of the DPoP header against the request and the token. */
  async function checkProof(req, token, jkt) {
    const header = req.headers.dpop;
    if (typeof header !== 'string' || header.includes(',')) throw new AuthError('invalid_dpop_proof', 'exactly one DPoP proof is required');
    let proof;
    try {
      proof = await jwtVerify(header, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    } catch (err) {
      throw new AuthError('invalid_dpop_proof', `DPoP proof rejected: ${err.code ?? err.message}`);
    }
    const { payload, protectedHeader } = proof;
    const htu = withoutQuery(payload.htu);
    const requestUrl = withoutQuery(new URL(req.url, url).href);
    const fail = (msg) => { throw new AuthError('invalid_dpop_proof', msg); };
    if (payload.htm !== req.method) fail('htm mismatch');
    if (!htu || htu !== requestUrl) fail('htu mismatch');
    if (typeof payload.iat !== 'number' || Math.abs(Date.now() / 1000 - payload.iat) > IAT_WINDOW_SECONDS) fail('iat not recent');
    if (typeof payload.jti !== 'string' || !payload.jti) fail('jti missing');
    if (proofJtis.has(payload.jti)) fail('DPoP proof replayed');
    proofJtis.add(payload.jti);
    if (payload.ath !== createHash('sha256').update(token).digest('base64url')) fail('ath mismatch');
    if (await calculateJwkThumbprint(protectedHeader.jwk) !== jkt) fail('DPoP key does not match the token cnf.jkt');
    if (requireNonce && payload.nonce !== nonce.current) {
      throw new AuthError('use_dpop_nonce', 'Resource server requires a DPoP nonce', 'nonceChallenges');
    }
  }

  function challenge(err) {
    const params = [];
    if (err.error) params.push(`error="${err.error}"`, `error_description="${quote(err.message)}"`);
    if (dpop) params.push('algs="ES256"');
    const value = `${dpop ? 'DPoP' : 'Bearer'}${params.length ? ` ${params.join(', ')}` : ''}`;
    const headers = { 'www-authenticate': value };
    if (err.error === 'use_dpop_nonce') headers['dpop-nonce'] = nonce.current;
    return headers;
  }

  /** CORS for browser callers: preflights are answered here and not counted. */
  function cors(req, res) {
    res.setHeader('access-control-allow-origin', '*');
    res.setHeader('access-control-expose-headers', 'WWW-Authenticate, DPoP-Nonce');
    if (req.method !== 'OPTIONS') return false;
    res.writeHead(204, {
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'authorization, dpop, content-type',
      'access-control-max-age': '600',
    });
    res.end();
    return true;
  }

  async function handle(req, res) {
    const body = await readBody(req);
    const path = new URL(req.url, url).pathname;
    const route = `${req.method} ${path}`;
    const log = { time: Date.now(), method: req.method, path, status: 404 };
    requests.push(log);
    // Same-origin redirects to /data, answered before authentication, as servers commonly do.
    const moved = { 'GET /moved': 308, 'POST /see-other': 303 }[route];
    if (moved) {
      log.status = moved;
      log.authorization = req.headers.authorization;
      res.writeHead(moved, { location: '/data' }).end();
      return undefined;
    }
    if (route !== 'GET /data' && route !== 'POST /echo') return sendJson(res, 404, { error: 'not_found' });
    counters.requests += 1;
    let claims;
    try {
      claims = await authenticate(req);
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      counters.rejected += 1;
      if (err.counter) counters[err.counter] += 1;
      Object.assign(log, { status: 401, error: err.error ?? null });
      return sendJson(res, 401, { error: err.error ?? 'unauthorized', error_description: err.message }, challenge(err));
    }
    counters.ok += 1;
    log.status = 200;
    const headers = {};
    if (dpop && requireNonce) {
      if (nonceRotateEvery && counters.ok % nonceRotateEvery === 0) api.rotateNonce();
      if (nonce.pending) {
        nonce.current = nonce.pending;
        nonce.pending = undefined;
        headers['dpop-nonce'] = nonce.current;
      }
    }
    const reply = route === 'GET /data'
      ? { api: name, client_id: claims.client_id, sub: claims.sub, scope: claims.scope, org: claims.org, tenant: claims.tenant }
      : { api: name, body, contentType: req.headers['content-type'] ?? null };
    return sendJson(res, 200, reply, headers);
  }

  const api = {
    url,
    name,
    audience,
    counters,
    tokensSeen,
    requests,
    /** The nonce a proof must carry right now (requireNonce APIs). */
    get nonce() { return nonce.current; },
    /**
     * Rotate the DPoP nonce: the next successful reply carries the new nonce in `DPoP-Nonce` and, from then on,
     * the old one is challenged. Clients that learn nonces from 2xx replies never see a challenge.
     */
    rotateNonce() { nonce.pending = newNonce(); },
    /** Every access token seen so far (by jti) is now rejected with 401 invalid_token. */
    revokeCurrentTokens() { for (const jti of tokensSeen) revoked.add(jti); },
    close: () => closeServer(server),
  };
  return api;
}
