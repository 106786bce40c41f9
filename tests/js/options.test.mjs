// Numeric options that JSON cannot carry (NaN, ±Infinity) are refused by name, not turned into
// defaults on the way into wasm.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TokenClient } from 'tokenfetch';

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
