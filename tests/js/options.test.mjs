// Options are validated at construction: a missing field, a wrong type, an unknown option, a public-only key or
// an http token endpoint off loopback is a TokenError invalid_config naming the field and no secret; numeric
// options that JSON cannot carry (NaN, ±Infinity) are refused by name, not turned into defaults on the way into wasm.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { TokenClient, TokenError } from 'tokenfetch';
import { generateEs256Jwk, startFakeTokenEndpoint } from '../support/index.mjs';
import { assertNoLeak, expectTokenErrorSync } from './helpers.mjs';

const base = { tokenEndpoint: 'http://127.0.0.1:9/token', clientId: 'c', clientAuth: { method: 'none' } };

test('NaN and Infinity in numeric options are invalid_config naming the field', () => {
  for (const [field, value] of [['timeoutMs', NaN], ['refreshBeforeExpirySeconds', Infinity], ['cacheSize', NaN], ['retries', -Infinity]]) {
    assert.throws(() => new TokenClient({ ...base, [field]: value }),
      (e) => e.code === 'invalid_config' && e.message === `${field}: must be a finite number`, field);
  }
  assert.throws(() => new TokenClient({ ...base, clientAuth: { method: 'private_key_jwt', privateJwk: {}, lifetimeSeconds: NaN } }),
    (e) => e.message === 'clientAuth.lifetimeSeconds: must be a finite number');
  assert.ok(new TokenClient({ ...base, timeoutMs: 1000, retries: 0 }));
});

describe('configuration is validated at construction', () => {
  const SECRET = 'c0nfig-s3cret-value';
  const base = () => ({
    tokenEndpoint: 'https://auth.example/token',
    clientId: 'c',
    clientAuth: { method: 'client_secret_basic', clientSecret: SECRET },
  });
  let publicJwk; let privateJwk;
  before(async () => { ({ publicJwk, privateJwk } = await generateEs256Jwk()); });

  test('a valid config constructs; http is allowed for loopback hosts', () => {
    assert.ok(new TokenClient(base()) instanceof TokenClient);
    for (const host of ['127.0.0.1', 'localhost', '[::1]']) {
      assert.ok(new TokenClient({ ...base(), tokenEndpoint: `http://${host}:8080/token` }));
    }
    assert.ok(new TokenClient({ ...base(), clientAuth: { method: 'private_key_jwt', privateJwk }, dpop: true }));
  });

  const cases = [
    ['missing clientId', (o) => { delete o.clientId; }, 'clientId'],
    ['bad clientAuth.method', (o) => { o.clientAuth = { method: 'magic', clientSecret: SECRET }; }, 'clientAuth.method'],
    ['missing clientAuth.clientSecret', (o) => { o.clientAuth = { method: 'client_secret_post' }; }, 'clientAuth.clientSecret'],
    ['public-only JWK for private_key_jwt', (o) => { o.clientAuth = { method: 'private_key_jwt', privateJwk: publicJwk }; }, 'clientAuth.privateJwk'],
    ['http (non-loopback) tokenEndpoint', (o) => { o.tokenEndpoint = 'http://auth.example/token'; }, 'tokenEndpoint'],
    ['unknown option', (o) => { o.scopes = 'api.read'; }, 'scopes'],
    ['bad dpop value', (o) => { o.dpop = 'yes'; }, 'dpop'],
    ['public-only JWK as the DPoP key', (o) => { o.dpop = { privateJwk: publicJwk }; }, 'dpop.privateJwk'],
    ['timeoutMs of the wrong type', (o) => { o.timeoutMs = 'soon'; }, 'timeoutMs'],
    ['negative refreshBeforeExpirySeconds', (o) => { o.refreshBeforeExpirySeconds = -5; }, 'refreshBeforeExpirySeconds'],
    ['fetch that is not a function', (o) => { o.fetch = 'fetch'; }, 'fetch'],
  ];
  for (const [name, mutate, field] of cases) {
    test(`${name}: invalid_config naming "${field}"`, () => {
      const options = base();
      mutate(options);
      const err = expectTokenErrorSync(() => new TokenClient(options), 'invalid_config');
      assert.ok(err.message.includes(field), `"${err.message}" should name ${field}`);
      assertNoLeak(err, [SECRET, privateJwk.d]);
    });
  }

  test('extraParams cannot send a parameter twice (RFC 6749 §3.2): rejected at construction, or not duplicated', async () => {
    const fake = await startFakeTokenEndpoint({ tokenType: 'Bearer' });
    try {
      const plain = { ...base(), tokenEndpoint: fake.tokenEndpoint, extraParams: { authorization_details: '[{"type":"t"}]' } };
      await new TokenClient(plain).getToken();
      assert.deepEqual(new URLSearchParams(fake.requests.at(-1).body).getAll('authorization_details'), ['[{"type":"t"}]']);

      const options = {
        ...base(), tokenEndpoint: fake.tokenEndpoint, clientAuth: { method: 'client_secret_post', clientSecret: SECRET },
        extraParams: { grant_type: 'password', client_id: 'someone-else', authorization_details: '[]' },
      };
      let client;
      try {
        client = new TokenClient(options);
      } catch (err) {
        assert.ok(err instanceof TokenError && err.code === 'invalid_config', String(err));
        assert.match(err.message, /extraParams\.(grant_type|client_id)/);
        return;
      }
      await client.getToken();
      const form = new URLSearchParams(fake.requests.at(-1).body);
      for (const name of new Set(form.keys())) assert.equal(form.getAll(name).length, 1, `"${name}" sent ${form.getAll(name).length} times: ${form}`);
      assert.equal(form.get('grant_type'), 'client_credentials');
      assert.equal(form.get('authorization_details'), '[]', 'other extra parameters still go out');
    } finally {
      await fake.close();
    }
  });

  test('neither issuer nor tokenEndpoint: invalid_config naming them', () => {
    const options = base();
    delete options.tokenEndpoint;
    const err = expectTokenErrorSync(() => new TokenClient(options), 'invalid_config');
    assert.match(err.message, /tokenEndpoint|issuer/);
  });
});
