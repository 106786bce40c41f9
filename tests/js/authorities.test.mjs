// tokenfetch end to end against authorities modelled on HelseID (RSA / P-384 / P-521 keys, DPoP with nonces),
// Maskinporten (jwt-bearer grant, no client authentication), Entra On-Behalf-Of and RFC 8693 token exchange,
// plus metadata discovery and non-extractable CryptoKeys. Every authority is a real oidc-provider on 127.0.0.1
// (tests/support/authorities.mjs); what it received (form, auth, decoded assertions) is asserted from its log.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT, decodeJwt, jwtVerify } from 'jose';
import { TokenClient, TokenError, jwkThumbprint } from 'tokenfetch';
import { startApi } from '../support/resource.mjs';
import {
  JWT_BEARER, TOKEN_EXCHANGE, TOKEN_TYPES, createUserTokenIssuer, generateKey, startAnyAlgDpopApi,
  startEntraAuthority, startHelseIdAuthority, startMaskinportenAuthority, startTokenExchangeAuthority,
} from '../support/authorities.mjs';
import { secrets } from '../support/secrets.mjs';

let users; // the user token issuer (Entra OBO / token exchange subjects)
let helse; let maskinporten; let entra; let exchange; // authorities
let helseApi; let anyAlgApi; let mpApi; let oboApi; let teApi; let teBearerApi; // resource servers
const servers = [];

/** Await servers being started; keep every one that started (closed in `after`) even when another fails. */
async function started(promises) {
  const results = await Promise.allSettled(promises);
  for (const r of results) if (r.status === 'fulfilled') servers.push(r.value);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => r.value);
}

before(async () => {
  users = await createUserTokenIssuer();
  [helse, maskinporten, entra, exchange] = await started([
    startHelseIdAuthority(), startMaskinportenAuthority(),
    startEntraAuthority({ userIssuer: users }), startTokenExchangeAuthority({ userIssuer: users }),
  ]);
  const api = (name, authority, opts) => startApi({ name, issuer: authority.issuer, jwksUri: authority.jwksUri, ...opts });
  [helseApi, mpApi, oboApi, teApi] = await started([
    api('helse', helse, { dpop: true, requireNonce: true }),
    api('mp', maskinporten, { dpop: false }),
    api('obo', entra, { dpop: false }),
    api('te', exchange, { dpop: true, requireNonce: true }),
  ]);
  [anyAlgApi, teBearerApi] = await started([
    startAnyAlgDpopApi({ name: 'any-alg', issuer: helse.issuer, jwksUri: helse.jwksUri, audience: helseApi.audience }),
    api('te-bearer', exchange, { dpop: false, audience: teApi.audience }),
  ]);
  // The secret scan (tests/support/secrets.mjs) looks for every key, client secret and token of these authorities
  // in every error rejectsWith() sees.
  const authorities = { helse, maskinporten, entra, exchange };
  for (const [name, a] of Object.entries(authorities)) {
    for (const [which, c] of Object.entries(a.clients ?? {})) secrets.addClient(`${name} ${which}`, c);
    for (const [which, k] of Object.entries(a.keys ?? {})) secrets.addKey(`${name} ${which} key`, k.privateJwk);
    secrets.addSource(`a token issued by ${name}`, () => a.issuedTokens);
  }
  secrets.addSource('a user (subject) token', () => users.minted);
  helse.setAudience(helseApi.audience);
  maskinporten.setAudience(mpApi.audience);
  entra.setAudience(oboApi.audience);
  exchange.setAudience(teApi.audience);
});

after(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Run `action`; return its result and the token POSTs the authority logged meanwhile. */
async function logged(authority, action) {
  const start = authority.requests.length;
  const result = await action();
  return { result, requests: authority.requests.slice(start) };
}

/** Assert `promise` rejects with a TokenError of `code` whose message matches `pattern`. */
async function rejectsWith(promise, code, pattern) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof TokenError, `expected a TokenError, got ${err?.name}: ${err?.message}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    secrets.check(err, `TokenError ${code}`);
    return true;
  });
}

const sorted = (o) => Object.keys(o).sort();

/** A HelseID-style client for `c` (one of helse.clients), DPoP on. */
function helseClient(c, extra = {}) {
  const keyAuth = c.key ? { key: c.key, kid: c.kid } : { privateJwk: c.privateJwk };
  return new TokenClient({
    issuer: helse.issuer,
    tokenEndpoint: helse.tokenEndpoint,
    clientId: c.clientId,
    clientAuth: { method: 'private_key_jwt', ...keyAuth, ...(c.alg === 'RS256' ? { alg: 'RS256' } : {}) },
    dpop: true,
    scope: helse.scope,
    ...extra,
  });
}

/** The nonce-challenged first POST and the successful retry, each with a fresh client assertion and proof. */
function assertNonceDance(requests, { clientId, alg, kid, audience }) {
  assert.deepEqual(requests.map((r) => [r.status, r.error ?? null]), [[400, 'use_dpop_nonce'], [200, null]]);
  for (const r of requests) {
    assert.equal(r.grantType, 'client_credentials');
    assert.equal(r.authMethod, 'private_key_jwt');
    assert.equal(r.clientId, clientId);
    const { header, payload } = r.clientAssertion;
    assert.equal(header.alg, alg);
    assert.equal(header.kid, kid);
    assert.equal(payload.iss, clientId);
    assert.equal(payload.sub, clientId);
    assert.equal(payload.aud, audience);
    assert.ok(r.hadDpop);
  }
  const [first, second] = requests;
  assert.notEqual(first.clientAssertion.payload.jti, second.clientAssertion.payload.jti, 'fresh assertion jti on the retry');
  assert.notEqual(first.dpopProof.payload.jti, second.dpopProof.payload.jti, 'fresh proof jti on the retry');
  assert.equal(first.dpopProof.payload.nonce, undefined);
  assert.ok(second.dpopProof.payload.nonce, 'the retry carries the server nonce');
  assert.equal(second.tokenType, 'DPoP');
}

describe('HelseID-style: private_key_jwt with RSA and EC P-384 / P-521 keys, DPoP with nonces', () => {
  for (const name of ['ps256', 'rs256', 'es512', 'es384']) {
    test(`${name} client assertion: token issued, DPoP-bound, accepted by the API`, async () => {
      const c = helse.clients[name];
      const client = helseClient(c, { baseUrl: helseApi.url });
      const { result: res, requests } = await logged(helse, () => client.fetch('/data'));
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { api: 'helse', client_id: c.clientId, sub: c.clientId, scope: 'helse.read' });
      assertNonceDance(requests, { clientId: c.clientId, alg: c.alg, kid: c.kid, audience: helse.issuer });
      assert.equal(requests[1].accessToken.cnf.jkt, client.dpopThumbprint());
      assert.equal(requests[1].dpopProof.header.alg, 'ES256', 'dpop: true is an ephemeral ES256 key');

      // Cached: a second call sends no token request.
      const again = await logged(helse, () => client.fetch('/data'));
      assert.equal(again.result.status, 200);
      assert.equal(again.requests.length, 0);
      assert.equal(client.inspect().tokenRequests, 1);
    });
  }

  for (const alg of ['PS256', 'RS256', 'ES384', 'ES512']) {
    test(`DPoP key ${alg} ({ privateJwk }): proofs at the token endpoint and the API use it`, async () => {
      const dpopKey = await generateKey(alg);
      const c = helse.clients.es384;
      const client = helseClient(c, { dpop: { privateJwk: dpopKey.privateJwk } });
      const expectedJkt = jwkThumbprint(dpopKey.publicJwk);
      assert.equal(client.dpopThumbprint(), expectedJkt);
      const { result: res, requests } = await logged(helse, () => client.fetch(`${anyAlgApi.url}/data`));
      assert.equal(res.status, 200, JSON.stringify(anyAlgApi.requests.at(-1)));
      assert.deepEqual(await res.json(), { api: 'any-alg', client_id: c.clientId, sub: c.clientId, proofAlg: alg });
      assertNonceDance(requests, { clientId: c.clientId, alg: 'ES384', kid: c.kid, audience: helse.issuer });
      for (const r of requests) assert.equal(r.dpopProof.header.alg, alg);
      assert.equal(requests[1].accessToken.cnf.jkt, expectedJkt);
    });
  }

  test('profile "helseid" (issuer only): typ client-authentication+jwt, aud = issuer, 60 s, DPoP on', async () => {
    const c = helse.clients.ps256;
    const client = new TokenClient({
      profile: 'helseid', issuer: helse.issuer, clientId: c.clientId,
      clientAuth: { method: 'private_key_jwt', privateJwk: c.privateJwk }, scope: helse.scope, baseUrl: helseApi.url,
    });
    const { result: res, requests } = await logged(helse, () => client.fetch('/data'));
    assert.equal(res.status, 200);
    assertNonceDance(requests, { clientId: c.clientId, alg: 'PS256', kid: c.kid, audience: helse.issuer });
    for (const r of requests) {
      assert.equal(r.clientAssertion.header.typ, 'client-authentication+jwt');
      assert.equal(r.clientAssertion.payload.exp - r.clientAssertion.payload.iat, 60);
    }
    assert.ok(client.dpopThumbprint());
  });

  test('non-extractable RSA-PSS CryptoKey as clientAuth.key (and a non-extractable DPoP key pair)', async () => {
    const c = helse.clients.cryptoKey;
    assert.equal(c.key.extractable, false);
    assert.equal(c.key.algorithm.name, 'RSA-PSS');
    const dpopPair = (await generateKey('ES256', { extractable: false })).keyPair;
    const client = helseClient(c, { dpop: { keyPair: dpopPair }, baseUrl: helseApi.url });
    assert.equal(c.key.extractable, false);
    const { result: res, requests } = await logged(helse, () => client.fetch('/data'));
    assert.equal(res.status, 200);
    assert.equal((await res.json()).client_id, c.clientId);
    assertNonceDance(requests, { clientId: c.clientId, alg: 'PS256', kid: c.kid, audience: helse.issuer });
    assert.equal(requests[1].accessToken.cnf.jkt, client.dpopThumbprint());
    assert.equal(c.key.extractable, false, 'the key is still non-extractable');
    assert.equal(dpopPair.privateKey.extractable, false);
  });
});

describe('Maskinporten-style: jwt-bearer grant, the assertion is the only credential', () => {
  const mpClient = (clientAuth, extra = {}) => new TokenClient({
    issuer: maskinporten.issuer,
    tokenEndpoint: maskinporten.tokenEndpoint,
    clientId: maskinporten.clientId,
    grant: 'jwt_bearer',
    clientAuth: { method: 'private_key_jwt', ...clientAuth },
    scope: ['mp:read', 'mp:write'],
    ...extra,
  });

  /** A token POST of the Maskinporten form without client authentication; returns the decoded assertion. */
  function assertMaskinportenForm(r) {
    assert.equal(r.grantType, JWT_BEARER);
    for (const name of ['client_id', 'client_secret', 'client_assertion', 'client_assertion_type', 'requested_token_use']) {
      assert.equal(r.form[name], undefined, `no ${name}`);
    }
    assert.equal(r.authScheme, undefined, 'no Authorization header');
    assert.equal(r.authMethod, 'none');
    assert.equal(r.hadDpop, false);
    return r.assertion;
  }

  test('RS256 JWK with resource and consumer_org: exact claims, Bearer token accepted by the API, cached', async () => {
    const { rs256 } = maskinporten.keys;
    const client = mpClient({ privateJwk: rs256.privateJwk, claims: { consumer_org: '999888777' } },
      { resource: mpApi.audience, baseUrl: mpApi.url });
    const { result: res, requests } = await logged(maskinporten, () => client.fetch('/data'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { api: 'mp', client_id: 'mp-client', sub: 'mp-client', scope: 'mp:read mp:write' });
    assert.equal(requests.length, 1);
    const { header, payload } = assertMaskinportenForm(requests[0]);
    assert.equal(header.alg, 'RS256');
    assert.equal(header.kid, rs256.kid);
    assert.deepEqual(sorted(header).filter((k) => k !== 'typ'), ['alg', 'kid']);
    assert.deepEqual(sorted(payload), ['aud', 'consumer_org', 'exp', 'iat', 'iss', 'jti', 'resource', 'scope']);
    assert.equal(payload.iss, 'mp-client');
    assert.equal(payload.aud, maskinporten.issuer);
    assert.equal(payload.scope, 'mp:read mp:write');
    assert.equal(payload.resource, mpApi.audience);
    assert.equal(payload.consumer_org, '999888777');
    assert.equal(payload.exp - payload.iat, 60);
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) <= 5);
    assert.equal(requests[0].status, 200);
    assert.equal(requests[0].tokenType, 'Bearer');
    assert.equal(requests[0].accessToken.consumer_org, '999888777');
    assert.equal(maskinporten.grantLog.at(-1).ok, true);

    const again = await logged(maskinporten, () => client.fetch('/data'));
    assert.equal(again.result.status, 200);
    assert.equal(again.requests.length, 0, 'cached token');
  });

  test('the token request body is exactly grant_type + assertion (scope and resource travel in the assertion)', async () => {
    const client = mpClient({ privateJwk: maskinporten.keys.rs256.privateJwk }, { resource: mpApi.audience });
    const { requests } = await logged(maskinporten, () => client.getToken());
    assert.equal(requests.length, 1);
    assert.equal(requests[0].status, 200);
    assert.equal(requests[0].assertion.payload.scope, 'mp:read mp:write');
    assert.equal(requests[0].assertion.payload.resource, mpApi.audience);
    assert.deepEqual(sorted(requests[0].form), ['assertion', 'grant_type']);
  });

  test('minimal assertion (iss aud scope iat exp jti), lifetimeSeconds 120, forceRefresh mints a fresh jti', async () => {
    const client = mpClient({ privateJwk: maskinporten.keys.rs256.privateJwk, lifetimeSeconds: 120 }, { scope: 'mp:read' });
    const { result: token, requests } = await logged(maskinporten, async () => {
      const first = await client.getToken();
      const second = await client.getToken({ forceRefresh: true });
      return [first, second];
    });
    assert.equal(requests.length, 2);
    assert.ok(requests.every((r) => r.status === 200));
    const [a, b] = requests.map(assertMaskinportenForm);
    assert.deepEqual(sorted(a.payload), ['aud', 'exp', 'iat', 'iss', 'jti', 'scope']);
    assert.equal(a.payload.exp - a.payload.iat, 120);
    assert.equal(a.payload.scope, 'mp:read');
    assert.notEqual(a.payload.jti, b.payload.jti);
    assert.notEqual(token[0].accessToken, token[1].accessToken);
    assert.equal(token[0].tokenType, 'Bearer');
  });

  test('profile "maskinporten" alone selects the jwt-bearer grant form', async () => {
    const client = new TokenClient({
      profile: 'maskinporten',
      issuer: maskinporten.issuer,
      tokenEndpoint: maskinporten.tokenEndpoint,
      clientId: maskinporten.clientId,
      clientAuth: { method: 'private_key_jwt', privateJwk: maskinporten.keys.rs256.privateJwk, alg: 'RS256' },
      scope: 'mp:write',
    });
    const { result: token, requests } = await logged(maskinporten, () => client.getToken());
    assert.equal(token.tokenType, 'Bearer');
    assert.equal(requests.length, 1);
    const { payload } = assertMaskinportenForm(requests[0]);
    assert.equal(payload.aud, maskinporten.issuer);
  });

  test('assertion aud: the token endpoint without `issuer` (refused by the authority), clientAuth.audience overrides', async () => {
    const endpointOnly = (clientAuth) => new TokenClient({
      tokenEndpoint: maskinporten.tokenEndpoint, clientId: maskinporten.clientId, grant: 'jwt_bearer',
      clientAuth: { method: 'private_key_jwt', privateJwk: maskinporten.keys.rs256.privateJwk, ...clientAuth }, scope: 'mp:read',
    });
    const refused = await logged(maskinporten, () => rejectsWith(endpointOnly({}).getToken(), 'oauth_error'));
    assert.equal(refused.requests.length, 1);
    assert.equal(assertMaskinportenForm(refused.requests[0]).payload.aud, maskinporten.tokenEndpoint, 'RFC 7523 §3 default');
    assert.equal(refused.requests[0].error, 'invalid_grant');
    assert.match(maskinporten.grantLog.at(-1).reason, /aud/);

    const accepted = await logged(maskinporten, () => endpointOnly({ audience: maskinporten.issuer }).getToken());
    assert.equal(accepted.result.tokenType, 'Bearer');
    assert.equal(assertMaskinportenForm(accepted.requests[0]).payload.aud, maskinporten.issuer);
  });

  test('lifetimeSeconds above 120 is refused at construction; an unknown claim is refused by the authority', async () => {
    assert.throws(() => mpClient({ privateJwk: maskinporten.keys.rs256.privateJwk, lifetimeSeconds: 121 }), (err) => {
      assert.ok(err instanceof TokenError);
      assert.equal(err.code, 'invalid_config');
      assert.match(err.message, /clientAuth\.lifetimeSeconds/);
      return true;
    });
    const client = mpClient({ privateJwk: maskinporten.keys.rs256.privateJwk, claims: { foo: 'bar' } });
    const { requests } = await logged(maskinporten, () => rejectsWith(client.getToken(), 'oauth_error'));
    assert.equal(requests.length, 1);
    assert.equal(requests[0].status, 400);
    assert.equal(requests[0].error, 'invalid_grant');
    assert.equal(maskinporten.grantLog.at(-1).reason, 'unknown claims: foo');
    const err = secrets.check(await client.getToken().catch((e) => e), 'the refusal');
    assert.equal(err.error, 'invalid_grant');
    assert.equal(err.status, 400);
  });

  test('non-extractable CryptoKeys: RSASSA (RS256) is accepted; RSA-PSS signs PS256, which Maskinporten refuses', async () => {
    const { rs256Key, pssKey } = maskinporten.keys;
    for (const k of [rs256Key, pssKey]) assert.equal(k.keyPair.privateKey.extractable, false);

    const ok = mpClient({ key: rs256Key.keyPair.privateKey, kid: rs256Key.kid });
    const { result: token, requests } = await logged(maskinporten, () => ok.getToken());
    assert.equal(token.tokenType, 'Bearer');
    const { header } = assertMaskinportenForm(requests[0]);
    assert.equal(header.alg, 'RS256');
    assert.equal(header.kid, rs256Key.kid);
    assert.equal(requests[0].status, 200);

    const pss = mpClient({ key: pssKey.keyPair.privateKey, kid: pssKey.kid });
    const refused = await logged(maskinporten, () => rejectsWith(pss.getToken(), 'oauth_error'));
    const r = refused.requests[0];
    assertMaskinportenForm(r);
    assert.equal(r.assertion.header.alg, 'PS256');
    assert.equal(r.error, 'invalid_grant');
    assert.match(maskinporten.grantLog.at(-1).reason, /ALG_NOT_ALLOWED/);
    // The assertion was validly signed with the PSS key; only the algorithm is refused.
    const { payload } = await jwtVerify(r.form.assertion, pssKey.keyPair.publicKey, { algorithms: ['PS256'] });
    assert.equal(payload.iss, 'mp-client');
    for (const k of [rs256Key, pssKey]) assert.equal(k.keyPair.privateKey.extractable, false);
  });
});

describe('Entra-style On-Behalf-Of', () => {
  const userTokens = {};
  before(async () => {
    for (const clientId of ['obo-secret', 'obo-basic', 'obo-pkjwt']) {
      userTokens[clientId] = {
        alice: await users.mint({ sub: 'alice', aud: clientId }),
        bob: await users.mint({ sub: 'bob', aud: clientId }),
      };
    }
  });
  const oboClient = (extra = {}) => new TokenClient({
    tokenEndpoint: entra.tokenEndpoint,
    clientId: entra.clients.secret.clientId,
    clientAuth: { method: 'client_secret_post', clientSecret: entra.clients.secret.clientSecret },
    grant: 'on_behalf_of',
    scope: 'downstream.read',
    ...extra,
  });

  test('per-user cache: alice twice + bob once = 2 token requests; the tokens carry the user sub', async () => {
    const { alice, bob } = userTokens['obo-secret'];
    const client = oboClient({ baseUrl: oboApi.url });
    const { result: tokens, requests } = await logged(entra, async () => [
      await client.getToken({ subjectToken: alice }),
      await client.getToken({ subjectToken: alice }),
      await client.getToken({ subjectToken: bob }),
    ]);
    assert.equal(requests.length, 2);
    assert.equal(tokens[0].accessToken, tokens[1].accessToken);
    assert.notEqual(tokens[0].accessToken, tokens[2].accessToken);
    assert.deepEqual(tokens.map((t) => decodeJwt(t.accessToken).sub), ['alice', 'alice', 'bob']);
    for (const [i, r] of requests.entries()) {
      assert.equal(r.status, 200);
      assert.equal(r.grantType, JWT_BEARER);
      assert.deepEqual(sorted(r.form), ['assertion', 'client_id', 'client_secret', 'grant_type', 'requested_token_use', 'scope']);
      assert.equal(r.form.requested_token_use, 'on_behalf_of');
      assert.equal(r.form.assertion, [alice, bob][i]);
      assert.equal(r.form.scope, 'downstream.read');
      assert.equal(r.form.client_id, 'obo-secret');
      assert.equal(r.authMethod, 'client_secret_post');
      assert.equal(r.tokenType, 'Bearer');
      assert.equal(r.accessToken.obo_client, 'obo-secret');
    }
    assert.equal(client.inspect().tokenRequests, 2);
    const keys = JSON.stringify(client.inspect().cache);
    for (const t of [alice, bob]) {
      assert.ok(!keys.includes(t), 'the user token is not stored in clear');
      assert.ok(!keys.includes(t.split('.')[2]), 'not even its signature');
    }

    // client.fetch with a per-call subject token uses the cached per-user token.
    const fetched = await logged(entra, async () => {
      const a = await (await client.fetch('/data', undefined, { subjectToken: alice })).json();
      const b = await (await client.fetch('/data', undefined, { subjectToken: bob })).json();
      return [a, b];
    });
    assert.deepEqual(fetched.result.map((b) => [b.api, b.sub, b.client_id]), [['obo', 'alice', 'obo-secret'], ['obo', 'bob', 'obo-secret']]);
    assert.equal(fetched.requests.length, 0);
  });

  test('concurrent callers: 3 x alice + 3 x bob at once = 2 token requests', async () => {
    const { alice, bob } = userTokens['obo-secret'];
    const client = oboClient();
    const { result: tokens, requests } = await logged(entra, () => Promise.all(
      [alice, bob, alice, bob, alice, bob].map((subjectToken) => client.getToken({ subjectToken })),
    ));
    assert.equal(requests.length, 2);
    assert.deepEqual(tokens.map((t) => decodeJwt(t.accessToken).sub), ['alice', 'bob', 'alice', 'bob', 'alice', 'bob']);
  });

  test('cacheSize 1: alice, bob, alice = 3 token requests', async () => {
    const { alice, bob } = userTokens['obo-secret'];
    const client = oboClient({ cacheSize: 1 });
    const { requests } = await logged(entra, async () => {
      for (const subjectToken of [alice, bob, alice]) await client.getToken({ subjectToken });
    });
    assert.deepEqual(requests.map((r) => r.accessToken.sub), ['alice', 'bob', 'alice']);
    assert.equal(client.inspect().cache.length, 1);
  });

  test('client_secret_basic and private_key_jwt client authentication', async () => {
    const basic = oboClient({
      clientId: entra.clients.basic.clientId,
      clientAuth: { method: 'client_secret_basic', clientSecret: entra.clients.basic.clientSecret },
    });
    const pkjwt = oboClient({
      issuer: entra.issuer,
      clientId: entra.clients.pkjwt.clientId,
      clientAuth: { method: 'private_key_jwt', privateJwk: entra.clients.pkjwt.privateJwk },
    });
    const { requests } = await logged(entra, async () => {
      await basic.getToken({ subjectToken: userTokens['obo-basic'].bob });
      await pkjwt.getToken({ subjectToken: userTokens['obo-pkjwt'].alice });
    });
    assert.deepEqual(requests.map((r) => [r.status, r.clientId, r.authMethod, r.accessToken?.sub]), [
      [200, 'obo-basic', 'client_secret_basic', 'bob'],
      [200, 'obo-pkjwt', 'private_key_jwt', 'alice'],
    ]);
    assert.equal(requests[0].authScheme, 'Basic');
    assert.equal(requests[0].form.client_secret, undefined);
    assert.equal(requests[1].form.assertion, userTokens['obo-pkjwt'].alice, 'the grant assertion is the user token');
    assert.equal(requests[1].clientAssertion.payload.iss, 'obo-pkjwt');
    assert.equal(requests[1].clientAssertion.payload.aud, entra.issuer);
    for (const r of requests) assert.equal(r.form.requested_token_use, 'on_behalf_of');
  });
});

describe('RFC 8693 token exchange', () => {
  test('client_secret_basic: RFC 8693 parameters, per-user token, cached, accepted by a Bearer API', async () => {
    const alice = await users.mint({ sub: 'alice', aud: 'te-basic' });
    const client = new TokenClient({
      tokenEndpoint: exchange.tokenEndpoint,
      clientId: exchange.clients.basic.clientId,
      clientAuth: { method: 'client_secret_basic', clientSecret: exchange.clients.basic.clientSecret },
      grant: 'token_exchange',
      tokenExchange: { audience: teApi.audience, requestedTokenType: TOKEN_TYPES.accessToken },
      scope: exchange.scope,
      baseUrl: teBearerApi.url,
    });
    const { result: res, requests } = await logged(exchange, async () => {
      const r = await client.fetch('/data', undefined, { subjectToken: alice });
      await client.getToken({ subjectToken: alice });
      return r;
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { api: 'te-bearer', client_id: 'te-basic', sub: 'alice', scope: 'exchanged.read' });
    assert.equal(requests.length, 1, 'second call is cached');
    const [r] = requests;
    assert.equal(r.status, 200);
    assert.equal(r.grantType, TOKEN_EXCHANGE);
    assert.equal(r.authScheme, 'Basic');
    assert.deepEqual(sorted(r.form), ['audience', 'grant_type', 'requested_token_type', 'scope', 'subject_token', 'subject_token_type']);
    assert.equal(r.form.subject_token, alice);
    assert.equal(r.form.subject_token_type, TOKEN_TYPES.accessToken, 'default subject_token_type');
    assert.equal(r.form.requested_token_type, TOKEN_TYPES.accessToken);
    assert.equal(r.form.audience, teApi.audience);
    assert.equal(r.tokenType, 'Bearer');
    assert.equal(exchange.grantLog.at(-1).ok, true);
  });

  test('per-call subjectTokenType, option subjectTokenType and an actor token', async () => {
    const [bob, carol, service] = await Promise.all([
      users.mint({ sub: 'bob', aud: 'te-basic' }), users.mint({ sub: 'carol', aud: 'te-basic' }),
      users.mint({ sub: 'svc-batch', aud: 'te-basic' }),
    ]);
    const options = (tokenExchange) => ({
      tokenEndpoint: exchange.tokenEndpoint,
      clientId: exchange.clients.basic.clientId,
      clientAuth: { method: 'client_secret_basic', clientSecret: exchange.clients.basic.clientSecret },
      grant: 'token_exchange',
      tokenExchange,
      scope: exchange.scope,
    });
    const plain = new TokenClient(options({}));
    const withActor = new TokenClient(options({
      subjectTokenType: TOKEN_TYPES.jwt, actorToken: service, actorTokenType: TOKEN_TYPES.jwt,
    }));
    const { result: tokens, requests } = await logged(exchange, async () => [
      await plain.getToken({ subjectToken: bob, subjectTokenType: TOKEN_TYPES.jwt }),
      await withActor.getToken({ subjectToken: carol }),
    ]);
    assert.deepEqual(requests.map((r) => [r.status, r.error ?? null]), [[200, null], [200, null]]);
    assert.equal(requests[0].form.subject_token_type, TOKEN_TYPES.jwt, 'per-call subjectTokenType');
    assert.equal(requests[0].form.actor_token, undefined);
    assert.equal(requests[0].form.audience, undefined);
    assert.equal(requests[1].form.subject_token_type, TOKEN_TYPES.jwt, 'tokenExchange.subjectTokenType');
    assert.equal(requests[1].form.actor_token, service);
    assert.equal(requests[1].form.actor_token_type, TOKEN_TYPES.jwt);
    assert.equal(decodeJwt(tokens[0].accessToken).sub, 'bob');
    assert.equal(decodeJwt(tokens[0].accessToken).act, undefined);
    assert.equal(decodeJwt(tokens[1].accessToken).sub, 'carol');
    assert.deepEqual(decodeJwt(tokens[1].accessToken).act, { sub: 'svc-batch' });
  });

  test('private_key_jwt + DPoP (nonce at the token endpoint and the API): DPoP token for the user', async () => {
    const dave = await users.mint({ sub: 'dave', aud: 'te-pkjwt' });
    const client = new TokenClient({
      issuer: exchange.issuer,
      tokenEndpoint: exchange.tokenEndpoint,
      clientId: exchange.clients.pkjwt.clientId,
      clientAuth: { method: 'private_key_jwt', privateJwk: exchange.clients.pkjwt.privateJwk },
      grant: 'token_exchange',
      tokenExchange: { audience: teApi.audience },
      scope: exchange.scope,
      dpop: true,
      baseUrl: teApi.url,
    });
    const apiBefore = { ...teApi.counters };
    const { result: res, requests } = await logged(exchange, () => client.fetch('/data', undefined, { subjectToken: dave }));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { api: 'te', client_id: 'te-pkjwt', sub: 'dave', scope: 'exchanged.read' });
    assert.deepEqual(requests.map((r) => [r.status, r.error ?? null]), [[400, 'use_dpop_nonce'], [200, null]]);
    for (const r of requests) {
      assert.equal(r.grantType, TOKEN_EXCHANGE);
      assert.equal(r.authMethod, 'private_key_jwt');
      assert.equal(r.form.subject_token, dave);
      assert.equal(r.form.audience, teApi.audience);
      assert.ok(r.hadDpop);
    }
    assert.notEqual(requests[0].clientAssertion.payload.jti, requests[1].clientAssertion.payload.jti);
    assert.ok(requests[1].dpopProof.payload.nonce);
    assert.equal(requests[1].tokenType, 'DPoP');
    assert.equal(requests[1].accessToken.cnf.jkt, client.dpopThumbprint());
    assert.equal(teApi.counters.ok - apiBefore.ok, 1);
    assert.equal(teApi.counters.nonceChallenges - apiBefore.nonceChallenges, 1, 'the API nonce challenge was answered');
  });
});

describe('metadata discovery (issuer without tokenEndpoint)', () => {
  let erinToken; // a user token for te-pkjwt
  before(async () => { erinToken = await users.mint({ sub: 'erin', aud: 'te-pkjwt' }); });

  test('issuer-only clients work against the HelseID-, Maskinporten- and token-exchange-style authorities', async () => {
    const c = helse.clients.es512;
    const discoveryBefore = helse.counters.discovery;
    const h = new TokenClient({
      issuer: helse.issuer, clientId: c.clientId, clientAuth: { method: 'private_key_jwt', privateJwk: c.privateJwk },
      dpop: true, scope: helse.scope, baseUrl: helseApi.url,
    });
    const hr = await logged(helse, () => h.fetch('/data'));
    assert.equal(hr.result.status, 200);
    assert.ok(helse.counters.discovery > discoveryBefore, 'the metadata was read');
    assertNonceDance(hr.requests, { clientId: c.clientId, alg: 'ES512', kid: c.kid, audience: helse.issuer });

    const m = new TokenClient({
      issuer: maskinporten.issuer, clientId: maskinporten.clientId, grant: 'jwt_bearer',
      clientAuth: { method: 'private_key_jwt', privateJwk: maskinporten.keys.rs256.privateJwk }, scope: 'mp:read',
    });
    const mr = await logged(maskinporten, () => m.getToken());
    assert.equal(mr.result.tokenType, 'Bearer');
    assert.equal(mr.requests.length, 1);
    assert.equal(mr.requests[0].assertion.payload.aud, maskinporten.issuer);
    assert.equal(mr.requests[0].form.client_assertion, undefined);

    const t = new TokenClient({
      issuer: exchange.issuer, clientId: exchange.clients.pkjwt.clientId,
      clientAuth: { method: 'private_key_jwt', privateJwk: exchange.clients.pkjwt.privateJwk },
      grant: 'token_exchange', tokenExchange: { audience: teApi.audience }, scope: exchange.scope, dpop: true,
    });
    const tr = await logged(exchange, () => t.getToken({ subjectToken: erinToken }));
    assert.equal(tr.result.tokenType, 'DPoP');
    assert.equal(tr.requests.at(-1).status, 200);
  });

  test('RFC 8414 fallback: no OpenID configuration, metadata at /.well-known/oauth-authorization-server', async () => {
    const start = maskinporten.discoveryRequests.length;
    maskinporten.setDiscoveryMode('oauth');
    try {
      const client = new TokenClient({
        issuer: maskinporten.issuer, clientId: maskinporten.clientId, grant: 'jwt_bearer',
        clientAuth: { method: 'private_key_jwt', privateJwk: maskinporten.keys.rs256.privateJwk }, scope: 'mp:read',
      });
      const { result: token, requests } = await logged(maskinporten, () => client.getToken());
      assert.equal(token.tokenType, 'Bearer');
      assert.equal(requests.length, 1);
      assert.equal(requests[0].status, 200);
      assert.deepEqual(maskinporten.discoveryRequests.slice(start).map((r) => [r.path, r.status]), [
        ['/.well-known/openid-configuration', 404],
        ['/.well-known/oauth-authorization-server', 200],
      ]);
    } finally {
      maskinporten.setDiscoveryMode('openid');
    }
  });

  /** Expect getToken() to fail with invalid_config naming `field`, and no token POST to reach the authority. */
  async function refusedByMetadata(authority, options, field) {
    const client = new TokenClient(options);
    const { requests } = await logged(authority, () => rejectsWith(client.getToken(options.grant === 'token_exchange'
      ? { subjectToken: erinToken } : undefined), 'invalid_config', field));
    assert.equal(requests.length, 0, 'no token request was sent');
  }

  test('issuer mismatch (configured with a trailing slash the authority does not use) -> invalid_config naming issuer', async () => {
    assert.ok(!helse.issuer.endsWith('/'));
    const c = helse.clients.es384;
    await refusedByMetadata(helse, {
      issuer: `${helse.issuer}/`, clientId: c.clientId, clientAuth: { method: 'private_key_jwt', privateJwk: c.privateJwk },
      dpop: true, scope: helse.scope,
    }, /\bissuer\b/);
  });

  test('DPoP key alg not in dpop_signing_alg_values_supported -> invalid_config naming dpop', async () => {
    const es384 = await generateKey('ES384');
    await refusedByMetadata(exchange, {
      issuer: exchange.issuer, clientId: exchange.clients.pkjwt.clientId,
      clientAuth: { method: 'private_key_jwt', privateJwk: exchange.clients.pkjwt.privateJwk },
      grant: 'token_exchange', scope: exchange.scope, dpop: { privateJwk: es384.privateJwk },
    }, /\bdpop\b/);
  });

  test('client assertion alg not in token_endpoint_auth_signing_alg_values_supported -> invalid_config naming clientAuth.alg', async () => {
    const es384 = await generateKey('ES384');
    await refusedByMetadata(exchange, {
      issuer: exchange.issuer, clientId: exchange.clients.pkjwt.clientId,
      clientAuth: { method: 'private_key_jwt', privateJwk: es384.privateJwk },
      grant: 'token_exchange', scope: exchange.scope,
    }, /clientAuth\.alg/);
  });

  test('auth method not in token_endpoint_auth_methods_supported -> invalid_config naming clientAuth.method', async () => {
    await refusedByMetadata(helse, {
      issuer: helse.issuer, clientId: helse.clients.es384.clientId,
      clientAuth: { method: 'client_secret_basic', clientSecret: 'whatever' }, scope: helse.scope,
    }, /clientAuth\.method/);
  });
});

describe('the authorities themselves enforce what the tests rely on (hand-made requests, no tokenfetch)', () => {
  /** POST a form; returns { status, json }. */
  async function post(url, form, headers = {}) {
    const res = await fetch(url, { method: 'POST', body: new URLSearchParams(form), headers });
    return { status: res.status, json: await res.json() };
  }

  test('Maskinporten grant: only a fresh, exact, RS256 assertion for the registered key is accepted', async () => {
    const { rs256 } = maskinporten.keys;
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims = {}, { key = rs256.keyPair.privateKey, alg = 'RS256', kid = rs256.kid } = {}) => new SignJWT({
      iss: 'mp-client', aud: maskinporten.issuer, scope: 'mp:read', iat: now, exp: now + 60, jti: randomUUID(), ...claims,
    }).setProtectedHeader({ alg, kid }).sign(key);
    const send = async (assertion, extra = {}) => post(maskinporten.tokenEndpoint, { grant_type: JWT_BEARER, assertion, ...extra });

    const good = await sign();
    const ok = await send(good);
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.token_type, 'Bearer');
    const other = await generateKey('RS256');
    const cases = {
      'replayed jti': [good, 'invalid_grant'],
      'exp - iat = 121': [await sign({ exp: now + 121 }), 'invalid_grant'],
      'iat 30 s old': [await sign({ iat: now - 30, exp: now + 30 }), 'invalid_grant'],
      'aud = token endpoint': [await sign({ aud: maskinporten.tokenEndpoint }), 'invalid_grant'],
      'unknown claim': [await sign({ sub: 'mp-client' }), 'invalid_grant'],
      'unregistered key': [await sign({}, { key: other.keyPair.privateKey, kid: other.kid }), 'invalid_grant'],
      'scope not granted': [await sign({ scope: 'mp:admin' }), 'invalid_scope'],
      'foreign resource': [await sign({ resource: 'http://127.0.0.1:1' }), 'invalid_target'],
    };
    for (const [name, [assertion, error]] of Object.entries(cases)) {
      const res = await send(assertion);
      assert.equal(res.status, 400, name);
      assert.equal(res.json.error, error, name);
    }
    const withClientAuth = await send(await sign(), {
      client_id: 'mp-client', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: await sign(),
    });
    assert.equal(withClientAuth.status, 401, 'client authentication is not part of this grant');
    assert.equal(withClientAuth.json.error, 'invalid_client');
  });

  test('OBO grant: requested_token_use, the user token audience and the client secret are checked', async () => {
    const { clientId, clientSecret } = entra.clients.secret;
    const form = async (over = {}) => ({
      grant_type: JWT_BEARER, requested_token_use: 'on_behalf_of', scope: 'downstream.read',
      assertion: await users.mint({ sub: 'zoe', aud: clientId }), client_id: clientId, client_secret: clientSecret, ...over,
    });
    const ok = await post(entra.tokenEndpoint, await form());
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(decodeJwt(ok.json.access_token).sub, 'zoe');
    const { requested_token_use: _, ...noUse } = await form();
    assert.equal((await post(entra.tokenEndpoint, noUse)).json.error, 'invalid_request');
    assert.equal((await post(entra.tokenEndpoint, await form({ assertion: await users.mint({ sub: 'zoe', aud: 'someone-else' }) }))).json.error, 'invalid_grant');
    assert.equal((await post(entra.tokenEndpoint, await form({ client_secret: 'wrong' }))).json.error, 'invalid_client');
  });

  test('token exchange grant: token types, audience and actor token are checked; issued_token_type answered', async () => {
    const { clientId, clientSecret } = exchange.clients.basic;
    const authorization = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
    const form = async (over = {}) => ({
      grant_type: TOKEN_EXCHANGE, subject_token: await users.mint({ sub: 'yan', aud: clientId }),
      subject_token_type: TOKEN_TYPES.accessToken, ...over,
    });
    const send = async (over) => post(exchange.tokenEndpoint, await form(over), { authorization });
    const ok = await send({ audience: teApi.audience });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.equal(ok.json.issued_token_type, TOKEN_TYPES.accessToken);
    assert.equal(decodeJwt(ok.json.access_token).sub, 'yan');
    assert.equal((await send({ subject_token_type: TOKEN_TYPES.idToken })).json.error, 'invalid_request');
    assert.equal((await send({ requested_token_type: TOKEN_TYPES.idToken })).json.error, 'invalid_request');
    assert.equal((await send({ audience: 'https://elsewhere.example' })).json.error, 'invalid_target');
    assert.equal((await send({ actor_token: await users.mint({ sub: 'svc', aud: clientId }) })).json.error, 'invalid_request');
    assert.equal((await send({ subject_token: 'not.a.jwt' })).json.error, 'invalid_grant');
  });
});
