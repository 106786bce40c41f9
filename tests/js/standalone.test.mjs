// The standalone helpers, for callers who make their own requests: createClientAssertion, createDpopProof,
// jwkThumbprint, generateDpopKey and client.createDpopProof, each checked with jose (and RFC 7638's example).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  EmbeddedJWK, SignJWT, calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair,
  importJWK, jwtVerify,
} from 'jose';
import { TokenClient, createClientAssertion, createDpopProof, generateDpopKey, jwkThumbprint } from 'tokenfetch';
import { generateEs256Jwk } from '../support/index.mjs';
import { sha256url } from './helpers.mjs';

describe('standalone helpers, checked with jose', () => {
  // RFC 7638 §3.1.
  const RFC7638_JWK = {
    kty: 'RSA',
    n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
    e: 'AQAB',
    alg: 'RS256',
    kid: '2011-04-29',
  };

  test('createClientAssertion (ES256): iss = sub = clientId, aud string, exp - iat <= lifetime, unique jti, kid', async () => {
    const { privateJwk, keyPair } = await generateEs256Jwk();
    const o = { clientId: 'my-client', audience: 'https://as.example/', privateJwk, kid: 'k-1', lifetimeSeconds: 30 };
    const [a, b] = [await createClientAssertion(o), await createClientAssertion(o)];
    const { payload, protectedHeader } = await jwtVerify(a, keyPair.publicKey, {
      issuer: 'my-client', subject: 'my-client', audience: 'https://as.example/', algorithms: ['ES256'],
    });
    assert.equal(protectedHeader.kid, 'k-1');
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(typeof payload.aud, 'string', 'aud is one string, never an array');
    assert.ok(payload.exp > payload.iat && payload.exp - payload.iat <= 30);
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 10);
    assert.ok(typeof payload.jti === 'string' && payload.jti.length >= 16);
    assert.notEqual(payload.jti, decodeJwt(b).jti);
    // kid defaults to the JWK's kid; extra claims are carried.
    const c = await createClientAssertion({ ...o, kid: undefined, claims: { assertion_details: [{ type: 't' }] } });
    assert.equal(decodeProtectedHeader(c).kid, privateJwk.kid);
    assert.deepEqual(decodeJwt(c).assertion_details, [{ type: 't' }]);
  });

  test('createClientAssertion (PS256 RSA key): verified by jose', async () => {
    const pair = await generateKeyPair('PS256', { extractable: true });
    const privateJwk = { ...(await exportJWK(pair.privateKey)), kid: 'rsa-1' };
    const jwt = await createClientAssertion({ clientId: 'r', audience: 'https://as.example/token', privateJwk, alg: 'PS256' });
    const { payload, protectedHeader } = await jwtVerify(jwt, pair.publicKey, {
      issuer: 'r', subject: 'r', audience: 'https://as.example/token', algorithms: ['PS256'],
    });
    assert.equal(protectedHeader.kid, 'rsa-1');
    assert.ok(payload.jti);
  });

  test('createDpopProof: typ dpop+jwt, embedded public jwk, htm, htu stripped, ath, nonce; verified by jose', async () => {
    const privateJwk = await generateDpopKey();
    const proof = await createDpopProof({
      privateJwk, method: 'POST', url: 'https://api.example/a/b?c=1#frag', accessToken: 'tok.en.value', nonce: 'n-1',
    });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: ['ES256'] });
    assert.equal(protectedHeader.typ, 'dpop+jwt');
    assert.equal(protectedHeader.jwk.d, undefined);
    assert.equal(await calculateJwkThumbprint(protectedHeader.jwk), jwkThumbprint(privateJwk));
    assert.equal(payload.htm, 'POST');
    assert.equal(payload.htu, 'https://api.example/a/b');
    assert.equal(payload.ath, sha256url('tok.en.value'));
    assert.equal(payload.nonce, 'n-1');
    assert.ok(payload.jti);
    assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 10);
    const bare = decodeJwt(await createDpopProof({ privateJwk, method: 'GET', url: 'https://api.example/x' }));
    assert.equal(bare.ath, undefined);
    assert.equal(bare.nonce, undefined);
    assert.notEqual(bare.jti, payload.jti);
  });

  test('jwkThumbprint: equals jose for EC and RSA keys, ignores private and optional members; RFC 7638 §3.1', async () => {
    assert.equal(jwkThumbprint(RFC7638_JWK), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
    assert.equal(await calculateJwkThumbprint(RFC7638_JWK), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
    const ec = await generateEs256Jwk();
    assert.equal(jwkThumbprint(ec.publicJwk), await calculateJwkThumbprint(ec.publicJwk));
    assert.equal(jwkThumbprint(ec.privateJwk), await calculateJwkThumbprint(ec.publicJwk));
    const rsa = await exportJWK((await generateKeyPair('RS256', { extractable: true })).privateKey);
    const { d, p, q, dp, dq, qi, ...rsaPublic } = rsa;
    assert.equal(jwkThumbprint(rsa), await calculateJwkThumbprint(rsaPublic));
    assert.equal(jwkThumbprint(rsaPublic), await calculateJwkThumbprint(rsaPublic));
  });

  test('generateDpopKey: a fresh private ES256 JWK that jose imports and signs with', async () => {
    const jwk = await generateDpopKey();
    assert.equal(jwk.kty, 'EC');
    assert.equal(jwk.crv, 'P-256');
    for (const m of ['x', 'y', 'd']) assert.ok(typeof jwk[m] === 'string' && jwk[m].length > 0, m);
    const key = await importJWK(jwk, 'ES256');
    const { d, ...pub } = jwk;
    const jwt = await new SignJWT({ ok: true }).setProtectedHeader({ alg: 'ES256' }).sign(key);
    assert.equal((await jwtVerify(jwt, await importJWK(pub, 'ES256'))).payload.ok, true);
    assert.notEqual((await generateDpopKey()).d, jwk.d);
  });

  test('client.createDpopProof: signed with the client DPoP key, ath and nonce as given', async () => {
    const client = new TokenClient({
      tokenEndpoint: 'https://as.example/token', clientId: 'c', clientAuth: { method: 'none' }, dpop: true,
    });
    const proof = await client.createDpopProof('GET', 'https://api.example/r?q=1', { accessToken: 'abc', nonce: 'n' });
    const { payload, protectedHeader } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt' });
    assert.equal(await calculateJwkThumbprint(protectedHeader.jwk), client.dpopThumbprint());
    assert.deepEqual([payload.htm, payload.htu, payload.ath, payload.nonce], ['GET', 'https://api.example/r', sha256url('abc'), 'n']);
  });
});
