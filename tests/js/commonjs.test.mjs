// The package through require(): a child Node process loads the CommonJS condition of 'tokenfetch', gets a token
// from authority B of the standard scenario and calls API 2 with it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, test } from 'node:test';
import { decodeJwt } from 'jose';
import { delta, useScenario } from './helpers.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('CommonJS', () => {
  const scenario = useScenario();

  test('CommonJS: require("tokenfetch") in a child process gets a token from authority B and calls API 2', async () => {
    const s = scenario();
    const script = `
      const tf = require('tokenfetch');
      const { TokenClient, TokenError } = tf;
      (async () => {
        let configError;
        try { new TokenClient({ clientAuth: { method: 'none' } }); } catch (e) {
          configError = { isTokenError: e instanceof TokenError, code: e.code };
        }
        const client = new TokenClient({
          tokenEndpoint: process.env.TF_TOKEN_ENDPOINT, clientId: process.env.TF_CLIENT_ID,
          clientAuth: { method: 'client_secret_basic', clientSecret: process.env.TF_SECRET }, scope: 'api2.read',
        });
        const token = await client.getToken();
        const res = await client.fetch(process.env.TF_API + '/data');
        console.log(JSON.stringify({
          resolved: require.resolve('tokenfetch'), exports: Object.keys(tf).sort(), configError, token,
          status: res.status, body: await res.json(), tokenRequests: client.inspect().tokenRequests,
        }));
      })().catch((e) => { console.error(e); process.exit(1); });`;
    const { diff, result: { stdout } } = await delta(s.authorityB.counters, () => promisify(execFile)(
      process.execPath, ['-e', script], {
        cwd: ROOT,
        timeout: 20000,
        env: {
          ...process.env,
          TF_TOKEN_ENDPOINT: s.authorityB.tokenEndpoint,
          TF_CLIENT_ID: s.clients.duende.clientId,
          TF_SECRET: s.clients.duende.clientSecret,
          TF_API: s.api2.url,
        },
      }));
    const out = JSON.parse(stdout);
    assert.match(out.resolved, /node\.cjs$/, 'the require condition was used');
    for (const name of ['ClientRegistry', 'TokenClient', 'TokenError', 'createClientAssertion', 'createDpopProof',
      'generateDpopKey', 'jwkThumbprint']) assert.ok(out.exports.includes(name), name);
    assert.deepEqual(out.configError, { isTokenError: true, code: 'invalid_config' });
    assert.equal(out.token.tokenType, 'Bearer');
    assert.equal(decodeJwt(out.token.accessToken).client_id, 'worker-b');
    assert.equal(out.status, 200);
    assert.equal(out.body.client_id, 'worker-b');
    assert.equal(out.tokenRequests, 1);
    assert.deepEqual(diff, { tokenRequests: 1, tokensIssued: 1 });
  });
});
