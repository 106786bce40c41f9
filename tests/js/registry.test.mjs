// ClientRegistry: named clients with their own baseUrl and cache, against the standard scenario; an unknown name is a
// TokenError (thrown by get, a rejection from fetch); a bad entry is invalid_config naming clients.<name>.<field>.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ClientRegistry, TokenError } from 'tokenfetch';
import {
  assertNoLeak, duendeOptions, expectTokenErrorSync, helseidOptions, thrown, useScenario,
} from './helpers.mjs';

describe('ClientRegistry', () => {
  const scenario = useScenario();

  test('ClientRegistry: two named clients with baseUrl; unknown name -> TokenError; bad entry names clients.<name>.', async () => {
    const s = scenario();
    const registry = new ClientRegistry({ api1: helseidOptions(s), api2: duendeOptions(s, 'post') });
    const r1 = await registry.fetch('api1', '/data');
    assert.equal(r1.status, 200);
    assert.equal((await r1.json()).api, 'api1');
    const r2 = await registry.fetch('api2', '/data');
    assert.equal(r2.status, 200);
    assert.equal((await r2.json()).client_id, 'worker-b-post');
    assert.equal(registry.get('api1').inspect().tokenRequests, 1, 'get() returns the client that fetched');
    assert.equal((await registry.get('api2').fetch('/data')).status, 200);
    assert.equal(registry.get('api2').inspect().tokenRequests, 1, 'and its cache');

    const unknown = thrown(() => registry.get('nope'));
    assert.ok(unknown instanceof TokenError, `registry.get(unknown) throws a TokenError, got ${unknown}`);
    assert.ok(unknown.message.includes('nope'), unknown.message);
    const viaFetch = await (async () => {
      let p;
      try { p = registry.fetch('nope', '/data'); } catch (err) { assert.fail(`registry.fetch threw synchronously instead of rejecting: ${err.message}`); }
      return p.then(() => assert.fail('resolved'), (err) => err);
    })();
    assert.ok(viaFetch instanceof TokenError);
    assert.equal(viaFetch.code, unknown.code);

    const bad = { api1: helseidOptions(s), api2: duendeOptions(s, 'basic') };
    delete bad.api2.clientId;
    const err = expectTokenErrorSync(() => new ClientRegistry(bad), 'invalid_config');
    assert.ok(err.message.includes('clients.api2.'), err.message);
    assert.ok(err.message.includes('clients.api2.clientId'), err.message);
    assertNoLeak(err, [s.clients.duende.clientSecret]);
  });

});
