// Proves the test servers in tests/support/ with third-party clients (oauth4webapi, jose, dpop).
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import * as dpop from 'dpop';
import { SignJWT, calculateJwkThumbprint, createRemoteJWKSet, decodeJwt, decodeProtectedHeader, exportJWK, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import {
  startApi, startAuthorityB, startBlackhole, startFakeTokenEndpoint, startScenario, unusedPort, SPECIAL_SECRET,
} from '../support/index.mjs';
import { fakeClock } from './helpers.mjs';

const insecure = { [oauth.allowInsecureRequests]: true };
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
let s; // the scenario

before(async () => { s = await startScenario(); });
after(async () => { await s?.close(); });

/** Delta of a counters object across an async action. */
async function delta(counters, action) {
  const before = { ...counters };
  const result = await action();
  return { result, diff: Object.fromEntries(Object.keys(before).map((k) => [k, counters[k] - before[k]])) };
}

/** A client assertion for worker-a signed with jose (RFC 7523 §2.2). */
function assertion(aud, overrides = {}) {
  const { privateKey = s.authorityA.keyPair.privateKey, iss = 'worker-a' } = overrides;
  return new SignJWT({ jti: randomUUID() })
    .setProtectedHeader({ alg: 'ES256', kid: s.authorityA.privateJwk.kid, typ: 'client-authentication+jwt' })
    .setIssuer(iss).setSubject(iss).setAudience(aud).setIssuedAt().setExpirationTime('60s')
    .sign(privateKey);
}

/** POST a form to a token endpoint with optional extra headers; returns { status, headers, json }. */
async function tokenPost(endpoint, form, headers = {}) {
  const res = await fetch(endpoint, {
    method: 'POST', body: new URLSearchParams(form), headers: { accept: 'application/json', ...headers },
  });
  return { status: res.status, headers: res.headers, json: await res.json() };
}

/** A hand-made DPoP proof (jose), so tests can set iat / omit claims; `key` is a dpop KeyPair. */
async function proof(key, claims) {
  const jwk = await exportJWK(key.publicKey);
  return new SignJWT({ jti: randomUUID(), iat: Math.floor(Date.now() / 1000), ...claims })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk })
    .sign(key.privateKey);
}

const ath = (token) => createHash('sha256').update(token).digest('base64url');

/** Get a DPoP-bound token for API 1 by hand: nonce challenge first, then success. */
async function dpopToken(key) {
  const form = () => assertion(s.authorityA.issuer).then((a) => ({
    grant_type: 'client_credentials', scope: 'api1.read', client_assertion_type: ASSERTION_TYPE, client_assertion: a,
  }));
  const first = await tokenPost(s.authorityA.tokenEndpoint, await form(),
    { dpop: await dpop.generateProof(key, s.authorityA.tokenEndpoint, 'POST') });
  assert.equal(first.status, 400);
  assert.equal(first.json.error, 'use_dpop_nonce');
  const nonce = first.headers.get('dpop-nonce');
  assert.ok(nonce);
  const second = await tokenPost(s.authorityA.tokenEndpoint, await form(),
    { dpop: await dpop.generateProof(key, s.authorityA.tokenEndpoint, 'POST', nonce) });
  assert.equal(second.status, 200, JSON.stringify(second.json));
  return second.json;
}

/** Call API 1 by hand with a DPoP proof carrying the API's current nonce (unless overridden). */
function callApi1(token, key, { method = 'GET', path = '/data', claims = {}, scheme = 'DPoP', dpopHeader } = {}) {
  const url = `${s.api1.url}${path}`;
  return (async () => {
    const header = dpopHeader ?? await proof(key, {
      htm: method, htu: url.split('?')[0], ath: ath(token), nonce: s.api1.nonce, ...claims,
    });
    return fetch(url, { method, headers: { authorization: `${scheme} ${token}`, dpop: header } });
  })();
}

function challengeOf(res) {
  return res.headers.get('www-authenticate') ?? '';
}

test('authority A: private_key_jwt + DPoP nonce challenge, then a DPoP-bound ES256 JWT for API 1 (oauth4webapi)', async () => {
  const as = await oauth.processDiscoveryResponse(
    new URL(s.authorityA.issuer), await oauth.discoveryRequest(new URL(s.authorityA.issuer), insecure));
  assert.deepEqual(as.token_endpoint_auth_methods_supported, ['private_key_jwt']);
  const client = { client_id: 'worker-a' };
  const auth = oauth.PrivateKeyJwt({ key: s.authorityA.keyPair.privateKey, kid: s.authorityA.privateJwk.kid });
  const dpopKey = await oauth.generateKeyPair('ES256');
  const DPoP = oauth.DPoP(client, dpopKey);
  const request = () => oauth.clientCredentialsGrantRequest(as, client, auth, { scope: 'api1.read' }, { DPoP, ...insecure });

  const { result: token, diff } = await delta(s.authorityA.counters, async () => {
    const challenged = await request();
    assert.equal(challenged.status, 400);
    assert.ok(challenged.headers.get('dpop-nonce'));
    await assert.rejects(oauth.processClientCredentialsResponse(as, client, challenged), (e) => oauth.isDPoPNonceError(e));
    const ok = await request();
    assert.equal((await ok.clone().json()).token_type, 'DPoP');
    return oauth.processClientCredentialsResponse(as, client, ok);
  });
  assert.deepEqual(diff, { tokenRequests: 2, tokensIssued: 1 });
  assert.deepEqual(s.authorityA.requests.slice(-2).map(({ time, ...rest }) => rest), [
    { status: 400, error: 'use_dpop_nonce', hadDpop: true, clientId: 'worker-a', authMethod: 'private_key_jwt' },
    { status: 200, error: undefined, hadDpop: true, clientId: 'worker-a', authMethod: 'private_key_jwt' },
  ]);

  assert.equal(token.scope, 'api1.read');
  assert.equal(token.expires_in, 300);
  assert.deepEqual(decodeProtectedHeader(token.access_token).alg, 'ES256');
  const { payload, protectedHeader } = await jwtVerify(token.access_token, createRemoteJWKSet(new URL(s.authorityA.jwksUri)),
    { issuer: s.authorityA.issuer, audience: s.api1.url, typ: 'at+jwt' });
  assert.equal(protectedHeader.alg, 'ES256');
  assert.equal(payload.client_id, 'worker-a');
  assert.equal(payload.cnf.jkt, await dpop.calculateThumbprint(dpopKey.publicKey));

  // The same DPoP handle remembered the nonce; the API demands its own nonce first, then accepts.
  const url = new URL(`${s.api1.url}/data`);
  const { diff: apiDiff, result: body } = await delta(s.api1.counters, async () => {
    const err = await oauth.protectedResourceRequest(token.access_token, 'GET', url, undefined, undefined, { DPoP, ...insecure })
      .then(() => null, (e) => e);
    assert.ok(oauth.isDPoPNonceError(err), 'first API call is a use_dpop_nonce challenge');
    const res = await oauth.protectedResourceRequest(token.access_token, 'GET', url, undefined, undefined, { DPoP, ...insecure });
    assert.equal(res.status, 200);
    return res.json();
  });
  assert.deepEqual(body, { api: 'api1', client_id: 'worker-a', sub: 'worker-a', scope: 'api1.read' });
  assert.deepEqual(apiDiff, { requests: 2, ok: 1, rejected: 1, nonceChallenges: 1, invalidToken: 0 });

  // A 2xx reply can carry the next nonce; oauth4webapi learns it there and is never challenged again.
  s.api1.rotateNonce();
  const { diff: rotated } = await delta(s.api1.counters, async () => {
    for (let i = 0; i < 3; i += 1) {
      const res = await oauth.protectedResourceRequest(token.access_token, 'GET', url, undefined, undefined, { DPoP, ...insecure });
      assert.equal(res.status, 200);
      assert.equal(res.headers.has('dpop-nonce'), i === 0, 'only the reply after rotateNonce() carries DPoP-Nonce');
    }
  });
  assert.equal(rotated.nonceChallenges, 0);
});

test('authority A: assertion aud may be the issuer or the token endpoint; other failures are rejected', async () => {
  const key = await dpop.generateKeyPair('ES256', { extractable: true });
  const endpoint = s.authorityA.tokenEndpoint;
  let nonce;
  const send = async (client_assertion, withDpop = true, extra = {}) => tokenPost(endpoint,
    { grant_type: 'client_credentials', scope: 'api1.read', client_assertion_type: ASSERTION_TYPE, client_assertion, ...extra },
    withDpop ? { dpop: await dpop.generateProof(key, endpoint, 'POST', nonce) } : {});
  const first = await assertion(s.authorityA.issuer);
  const challenged = await send(first);
  assert.equal(challenged.json.error, 'use_dpop_nonce');
  nonce = challenged.headers.get('dpop-nonce');
  // Client authentication runs before the DPoP check: the challenged assertion's jti is already spent.
  const again = await send(first);
  assert.equal(again.status, 401);
  assert.equal(again.json.error, 'invalid_client');

  for (const aud of [s.authorityA.issuer, endpoint]) {
    const res = await send(await assertion(aud));
    assert.equal(res.status, 200, `aud=${aud}: ${JSON.stringify(res.json)}`);
    assert.equal(res.json.token_type, 'DPoP');
    assert.equal(res.json.scope, 'api1.read');
    assert.equal(decodeJwt(res.json.access_token).aud, s.api1.url, 'resource defaults to API 1');
  }
  const reused = await assertion(s.authorityA.issuer);
  assert.equal((await send(reused)).status, 200);
  const cases = {
    'replayed assertion': [reused],
    'foreign aud': [await assertion('https://elsewhere.example')],
    'wrong signing key': [await assertion(s.authorityA.issuer,
      { privateKey: (await dpop.generateKeyPair('ES256')).privateKey })],
  };
  for (const [name, args] of Object.entries(cases)) {
    const res = await send(...args);
    assert.equal(res.status, 401, name);
    assert.equal(res.json.error, 'invalid_client', name);
  }
  const noDpop = await send(await assertion(s.authorityA.issuer), false);
  assert.equal(noDpop.status, 400);
  assert.equal(noDpop.json.error, 'invalid_grant', 'dpop_bound_access_tokens client without a proof');
  const otherResource = await send(await assertion(s.authorityA.issuer), true, { resource: 'http://127.0.0.1:1/' });
  assert.equal(otherResource.json.error, 'invalid_target');
});

test('API 1 accepts a valid DPoP call and rejects replay, wrong htu/htm, missing ath, stale iat, foreign key, Bearer', async () => {
  const key = await dpop.generateKeyPair('ES256', { extractable: true });
  const token = (await dpopToken(key)).access_token;

  const ok = await callApi1(token, key, { path: '/data?page=2' });
  assert.equal(ok.status, 200, 'query string is not part of htu');
  const header = await proof(key, { htm: 'GET', htu: `${s.api1.url}/data`, ath: ath(token), nonce: s.api1.nonce });
  assert.equal((await callApi1(token, key, { dpopHeader: header })).status, 200);

  const now = Math.floor(Date.now() / 1000);
  const otherKey = await dpop.generateKeyPair('ES256', { extractable: true });
  const rejections = {
    'replayed proof': [{ dpopHeader: header }, 'invalid_dpop_proof'],
    'wrong htu': [{ claims: { htu: `${s.api1.url}/other` } }, 'invalid_dpop_proof'],
    'wrong htm': [{ claims: { htm: 'POST' } }, 'invalid_dpop_proof'],
    'missing ath': [{ claims: { ath: undefined } }, 'invalid_dpop_proof'],
    'stale iat': [{ claims: { iat: now - 120 } }, 'invalid_dpop_proof'],
    'Bearer scheme': [{ scheme: 'Bearer' }, 'invalid_token'],
    'no proof': [{ dpopHeader: '' }, 'invalid_dpop_proof'],
  };
  for (const [name, [options, error]] of Object.entries(rejections)) {
    const res = await callApi1(token, key, options);
    assert.equal(res.status, 401, name);
    assert.match(challengeOf(res), new RegExp(`^DPoP error="${error}", error_description="[^"]+", algs="ES256"$`), name);
  }
  const foreign = await callApi1(token, otherKey);
  assert.match(challengeOf(foreign), /error="invalid_dpop_proof"/, 'proof key must match cnf.jkt');
  const tampered = await callApi1(`${token.slice(0, -4)}AAAA`, key);
  assert.match(challengeOf(tampered), /error="invalid_token"/);
  const unauthenticated = await fetch(`${s.api1.url}/data`);
  assert.equal(unauthenticated.status, 401);
  assert.equal(challengeOf(unauthenticated), 'DPoP algs="ES256"');
});

test('API 1 nonces: challenge with DPoP-Nonce, new nonce on a 2xx after rotateNonce(), old nonce then challenged', async () => {
  const key = await dpop.generateKeyPair('ES256', { extractable: true });
  const token = (await dpopToken(key)).access_token;
  const { diff } = await delta(s.api1.counters, async () => {
    const challenged = await callApi1(token, key, { claims: { nonce: undefined } });
    assert.equal(challenged.status, 401);
    assert.match(challengeOf(challenged), /^DPoP error="use_dpop_nonce", error_description="[^"]+", algs="ES256"$/);
    const nonce = challenged.headers.get('dpop-nonce');
    assert.equal(nonce, s.api1.nonce);

    s.api1.rotateNonce();
    const rotated = await callApi1(token, key, { claims: { nonce } });
    assert.equal(rotated.status, 200, 'the old nonce is still good for the reply that announces the new one');
    const next = rotated.headers.get('dpop-nonce');
    assert.ok(next && next !== nonce);
    assert.equal((await callApi1(token, key, { claims: { nonce } })).status, 401, 'old nonce is now challenged');
    assert.equal((await callApi1(token, key, { claims: { nonce: next } })).status, 200);
  });
  assert.deepEqual(diff, { requests: 4, ok: 2, rejected: 2, nonceChallenges: 2, invalidToken: 0 });
});

test('API 1 routes: POST /echo returns the body, unknown routes 404 without authentication', async () => {
  const key = await dpop.generateKeyPair('ES256', { extractable: true });
  const token = (await dpopToken(key)).access_token;
  const url = `${s.api1.url}/echo`;
  const res = await fetch(url, {
    method: 'POST',
    body: 'a=1&b=ü',
    headers: {
      authorization: `DPoP ${token}`,
      'content-type': 'application/x-www-form-urlencoded',
      dpop: await proof(key, { htm: 'POST', htu: url, ath: ath(token), nonce: s.api1.nonce }),
    },
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { api: 'api1', body: 'a=1&b=ü', contentType: 'application/x-www-form-urlencoded' });
  const { diff } = await delta(s.api1.counters, async () => {
    assert.equal((await fetch(`${s.api1.url}/nope`)).status, 404);
    assert.equal((await fetch(`${s.api1.url}/echo`)).status, 404, 'GET /echo');
  });
  assert.equal(diff.requests, 0);
});

test('authority B: client_secret_basic and client_secret_post with a secret that needs form-urlencoding', async () => {
  const as = { issuer: s.authorityB.issuer, token_endpoint: s.authorityB.tokenEndpoint };
  const { duende, duendePost } = s.clients;
  assert.ok(duende.clientSecret.startsWith(SPECIAL_SECRET));
  const { diff, result: tokens } = await delta(s.authorityB.counters, async () => Promise.all([
    [duende, oauth.ClientSecretBasic], [duendePost, oauth.ClientSecretPost],
  ].map(async ([c, method]) => {
    const client = { client_id: c.clientId };
    const res = await oauth.clientCredentialsGrantRequest(as, client, method(c.clientSecret), { scope: 'api2.read' }, insecure);
    assert.equal(res.status, 200, `${c.clientId}: ${await res.clone().text()}`);
    assert.equal((await res.clone().json()).token_type, 'Bearer');
    return oauth.processClientCredentialsResponse(as, client, res);
  })));
  assert.deepEqual(diff, { tokenRequests: 2, tokensIssued: 2 });
  assert.deepEqual(s.authorityB.requests.slice(-2).map((r) => [r.clientId, r.authMethod, r.hadDpop]).sort(),
    [['worker-b', 'client_secret_basic', false], ['worker-b-post', 'client_secret_post', false]]);
  for (const [i, token] of tokens.entries()) {
    const { payload } = await jwtVerify(token.access_token, createRemoteJWKSet(new URL(s.authorityB.jwksUri)),
      { issuer: s.authorityB.issuer, audience: s.api2.url, typ: 'at+jwt', algorithms: ['ES256'] });
    assert.equal(payload.client_id, ['worker-b', 'worker-b-post'][i]);
    assert.equal(payload.cnf, undefined);
  }

  // By hand: RFC 6749 §2.3.1 form-urlencoding before base64 is decoded by the server; a raw secret is not.
  const form = (v) => new URLSearchParams({ v }).toString().slice(2);
  const basic = (id, secret) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` });
  const encoded = await tokenPost(duende.tokenEndpoint, { grant_type: 'client_credentials' },
    basic(form(duende.clientId), form(duende.clientSecret)));
  assert.equal(encoded.status, 200);
  const raw = await tokenPost(duende.tokenEndpoint, { grant_type: 'client_credentials' }, basic(duende.clientId, duende.clientSecret));
  assert.equal(raw.status, 400);
  assert.equal(raw.json.error, 'invalid_request');
  const post = await tokenPost(duende.tokenEndpoint,
    { grant_type: 'client_credentials', client_id: duendePost.clientId, client_secret: duendePost.clientSecret });
  assert.equal(post.status, 200);
});

test('authority B: a wrong secret or an unknown client is 401 invalid_client', async () => {
  const { duende } = s.clients;
  const as = { issuer: s.authorityB.issuer, token_endpoint: s.authorityB.tokenEndpoint };
  const { diff } = await delta(s.authorityB.counters, async () => {
    for (const [id, secret] of [[duende.clientId, 'wrong'], ['nobody', duende.clientSecret]]) {
      const res = await oauth.clientCredentialsGrantRequest(as, { client_id: id }, oauth.ClientSecretBasic(secret), {}, insecure);
      assert.equal(res.status, 401);
      assert.equal((await res.json()).error, 'invalid_client');
      assert.match(challengeOf(res), /^Basic /);
    }
  });
  assert.deepEqual(diff, { tokenRequests: 2, tokensIssued: 0 });
  assert.deepEqual(s.authorityB.requests.slice(-2).map((r) => [r.status, r.error]), [[401, 'invalid_client'], [401, 'invalid_client']]);
});

test('API 2 accepts Bearer; rejects DPoP scheme, tokens from authority A, no token; revokeCurrentTokens()', async () => {
  const { duende } = s.clients;
  const get = async () => (await tokenPost(duende.tokenEndpoint, {
    grant_type: 'client_credentials', scope: 'api2.read', client_id: s.clients.duendePost.clientId, client_secret: s.clients.duendePost.clientSecret,
  })).json.access_token;
  const call = (token, scheme = 'Bearer') => fetch(`${s.api2.url}/data`, { headers: { authorization: `${scheme} ${token}` } });
  const token = await get();
  const seenBefore = s.api2.tokensSeen.size;
  const { diff } = await delta(s.api2.counters, async () => {
    const ok = await call(token);
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { api: 'api2', client_id: 'worker-b-post', sub: 'worker-b-post', scope: 'api2.read' });
    assert.equal((await call(token)).status, 200);
    const dpopScheme = await call(token, 'DPoP');
    assert.match(challengeOf(dpopScheme), /^Bearer error="invalid_token", error_description="[^"]+"$/);
    const fromA = await call((await dpopToken(await dpop.generateKeyPair('ES256', { extractable: true }))).access_token);
    assert.match(challengeOf(fromA), /^Bearer error="invalid_token"/);
    const none = await fetch(`${s.api2.url}/data`);
    assert.equal(challengeOf(none), 'Bearer');
  });
  assert.deepEqual(diff, { requests: 5, ok: 2, rejected: 3, nonceChallenges: 0, invalidToken: 2 });
  assert.equal(s.api2.tokensSeen.size, seenBefore + 1);
  assert.ok(s.api2.tokensSeen.has(decodeJwt(token).jti));

  s.api2.revokeCurrentTokens();
  const revoked = await call(token);
  assert.equal(revoked.status, 401);
  assert.match(challengeOf(revoked), /error="invalid_token"/);
  const fresh = await get();
  assert.notEqual(fresh, token);
  assert.equal((await call(fresh)).status, 200, 'a token fetched after the revocation works');
  assert.equal((await call(token)).status, 401, 'the revoked token stays revoked');
});

test('a Bearer API rejects a DPoP-bound token presented as Bearer (RFC 9449 §7.2)', async () => {
  const api = await startApi({
    name: 'bearer-a', issuer: s.authorityA.issuer, jwksUri: s.authorityA.jwksUri, audience: s.api1.url, dpop: false,
  });
  try {
    const { access_token: token } = await dpopToken(await dpop.generateKeyPair('ES256', { extractable: true }));
    const res = await fetch(`${api.url}/data`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 401);
    assert.equal(challengeOf(res), 'Bearer error="invalid_token", error_description="DPoP-bound token used as a Bearer token"');
    assert.deepEqual(api.counters, { requests: 1, ok: 0, rejected: 1, nonceChallenges: 0, invalidToken: 1 });
  } finally {
    await api.close();
  }
});

test('accessTokenTTL: expires_in follows it and the API rejects the token once expired (fake clock)', async (t) => {
  const authority = await startAuthorityB({ accessTokenTTL: 1 });
  const api = await startApi({ name: 'short', issuer: authority.issuer, jwksUri: authority.jwksUri, dpop: false });
  try {
    authority.setAudience(api.url);
    // The authority and the API read the frozen Date (helpers.mjs fakeClock): the token ages without waiting.
    const to = fakeClock(t);
    const { clientId, clientSecret } = authority.clients.post;
    const { json } = await tokenPost(authority.tokenEndpoint, { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
    assert.equal(json.expires_in, 1);
    const { iat, exp } = decodeJwt(json.access_token);
    assert.equal(exp - iat, 1);
    const call = () => fetch(`${api.url}/data`, { headers: { authorization: `Bearer ${json.access_token}` } });
    assert.equal((await call()).status, 200);
    to(exp * 1000 - 1);
    assert.equal((await call()).status, 200, 'valid until its last millisecond');
    to(exp * 1000);
    const expired = await call();
    assert.equal(expired.status, 401);
    assert.match(challengeOf(expired), /error="invalid_token", error_description="[^"]*ERR_JWT_EXPIRED/);
  } finally {
    await Promise.all([authority.close(), api.close()]);
  }
});

test('fakes: Bearer-answering token endpoint, blackhole, unused port', async () => {
  const fake = await startFakeTokenEndpoint({ tokenType: 'Bearer' });
  const hole = await startBlackhole();
  try {
    const res = await fetch(fake.tokenEndpoint, { method: 'POST', body: 'grant_type=client_credentials', headers: { dpop: 'p' } });
    assert.deepEqual(await res.json(), { access_token: 'x.y.z', token_type: 'Bearer', expires_in: 300 });
    assert.equal((await fetch(fake.url)).status, 404);
    assert.equal(fake.counters.requests, 1);
    assert.equal(fake.requests[0].headers.dpop, 'p');
    assert.equal(fake.requests[0].body, 'grant_type=client_credentials');

    const started = Date.now();
    await assert.rejects(fetch(`${hole.url}/token`, { method: 'POST', signal: AbortSignal.timeout(300) }), { name: 'TimeoutError' });
    assert.ok(Date.now() - started >= 250);
    assert.equal(hole.counters.connections, 1);

    const port = await unusedPort();
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`), (e) => e.cause?.code === 'ECONNREFUSED');
  } finally {
    await Promise.all([fake.close(), hole.close()]);
  }
});
