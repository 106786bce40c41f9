// client.fetch with a cached token (js/fetch.mjs sends, the engine decides), through the public API
// only: the inputs it takes, the requests it makes (through globalThis.fetch or the fetch option),
// against the scenario's real authorities and the APIs that check tokens and DPoP proofs with jose.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ClientRegistry, TokenClient, TokenError } from 'tokenfetch';
import { startScenario } from '../support/index.mjs';
import {
  delta, duendeClient, duendeOptions, expectTokenError, helseidClient, helseidOptions, recordingFetch, scanScenario,
  secrets, settlesWithin, sha256url,
} from './helpers.mjs';

let s;
before(async () => { s = scanScenario(await startScenario({ nonceRotateEvery: 2 })); });
after(async () => { await s?.close(); });

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url'));

test('Bearer: the caller\'s headers in every form are kept, their Authorization is replaced', async () => {
  const { fetch, calls } = recordingFetch();
  const client = new TokenClient(duendeOptions(s, 'post', { fetch }));
  assert.equal((await client.fetch('/data')).status, 200); // the full path fetches the token
  const token = (await client.getToken()).accessToken;
  const forms = [
    { 'content-type': 'text/plain', Authorization: 'Bearer not-ours' },
    new Headers({ 'content-type': 'text/plain', authorization: 'Bearer not-ours' }),
    [['content-type', 'text/plain'], ['AUTHORIZATION', 'Bearer not-ours']],
  ];
  for (const headers of forms) {
    const response = await client.fetch(new URL('/echo', s.api2.url), { method: 'post', headers, body: 'hi' });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { api: 'api2', body: 'hi', contentType: 'text/plain' });
    const sent = calls.at(-1);
    assert.equal(sent.method, 'POST');
    assert.equal(sent.url, `${s.api2.url}/echo`);
    assert.equal(sent.headers.get('authorization'), `Bearer ${token}`);
  }
  assert.equal(client.inspect().tokenRequests, 1);
});

test('DPoP: a fresh proof per request for the normalized method and URL; nonce rotations are followed', async () => {
  const { fetch, calls } = recordingFetch();
  const client = new TokenClient(helseidOptions(s, { fetch }));
  assert.equal((await client.fetch('/data')).status, 200);
  const token = (await client.getToken()).accessToken;
  const start = calls.length;
  const okBefore = s.api1.counters.ok;
  for (let i = 0; i < 6; i++) {
    const response = await client.fetch('/echo?x=1', { method: 'post', body: `n${i}` });
    assert.equal(response.status, 200, `request ${i}`);
    assert.equal((await response.json()).body, `n${i}`);
  }
  assert.equal(s.api1.counters.ok - okBefore, 6);
  const proofs = calls.slice(start).map((c) => c.headers.get('dpop'));
  assert.equal(proofs.length, 6, 'no retries: a nonce rotated in a 200 reply was taken up from that reply');
  assert.ok(new Set(proofs.map((p) => claims(p).nonce)).size >= 3, 'the rotated nonces were sent');
  assert.equal(new Set(proofs.map((p) => claims(p).jti)).size, proofs.length, 'every proof has its own jti');
  for (const p of proofs) {
    const { htm, htu, ath } = claims(p);
    assert.deepEqual({ htm, htu, ath }, { htm: 'POST', htu: `${s.api1.url}/echo`, ath: sha256url(token) });
  }
});

test('a token the API rejects goes back to the engine: one new token, one retry', async () => {
  const client = new TokenClient(duendeOptions(s, 'post'));
  assert.equal((await client.fetch('/data')).status, 200);
  const first = (await client.getToken()).accessToken;
  s.api2.revokeCurrentTokens();
  assert.equal((await client.fetch('/data')).status, 200);
  assert.notEqual((await client.getToken()).accessToken, first);
  assert.equal(client.inspect().tokenRequests, 2);
});

test('fetch failures: a throwing fetch option rejects (never throws); globalThis.fetch is read per call', async () => {
  let armed = false;
  const client = new TokenClient(duendeOptions(s, 'post', {
    fetch: (input, init) => {
      if (armed) throw new Error('custom fetch failed');
      return globalThis.fetch(input, init);
    },
  }));
  await client.getToken();
  armed = true;
  const pending = client.fetch('/data');
  await assert.rejects(pending, /custom fetch failed/);

  const plain = new TokenClient(duendeOptions(s, 'post'));
  assert.equal((await plain.fetch('/data')).status, 200);
  const real = globalThis.fetch;
  let seen = 0;
  globalThis.fetch = (input, init) => { seen += 1; return real(input, init); };
  try {
    assert.equal((await plain.fetch('/data')).status, 200);
  } finally {
    globalThis.fetch = real;
  }
  assert.equal(seen, 1);
});

test('Request inputs and streamed bodies go as Requests (cloned per attempt); bad inputs reject with invalid_argument', async () => {
  const client = new TokenClient(duendeOptions(s, 'post', { baseUrl: undefined }));
  await client.getToken();
  await assert.rejects(client.fetch('/data'), (e) => e instanceof TokenError && e.code === 'invalid_argument');
  await assert.rejects(client.fetch('http://[::1'), (e) => e instanceof TokenError && e.code === 'invalid_argument');
  const viaRequest = await client.fetch(new Request(`${s.api2.url}/echo`, { method: 'POST', body: 'req' }));
  assert.equal((await viaRequest.json()).body, 'req');
  const stream = new Blob(['streamed']).stream();
  const streamed = await client.fetch(`${s.api2.url}/echo`, { method: 'POST', body: stream, duplex: 'half' });
  assert.equal((await streamed.json()).body, 'streamed');
});

test('ClientRegistry.fetch: one token for repeated calls; an unknown name rejects', async () => {
  const registry = new ClientRegistry({ api2: duendeOptions(s, 'post') });
  for (let i = 0; i < 3; i++) assert.equal((await registry.fetch('api2', '/data')).status, 200);
  assert.equal(registry.get('api2').inspect().tokenRequests, 1);
  const pending = registry.fetch('nope', '/data');
  await assert.rejects(pending, (e) => e instanceof TokenError && e.code === 'invalid_argument');
  secrets.check(await pending.catch((e) => e), 'the unknown-name error');
});

test('string, URL and Request inputs are all accepted (input: string | URL | Request)', async () => {
  const client = duendeClient(s, 'basic');
  assert.equal((await client.fetch(`${s.api2.url}/data`)).status, 200, 'absolute string');
  assert.equal((await client.fetch('/data')).status, 200, 'relative string + baseUrl');
  assert.equal((await client.fetch(new Request(`${s.api2.url}/data`))).status, 200, 'Request');
  const viaUrl = await settlesWithin(client.fetch(new URL(`${s.api2.url}/data`)), 3000, 'client.fetch(new URL(...))');
  assert.equal(viaUrl.status, 200, 'URL object');
});

test('a relative input without baseUrl rejects with TokenError invalid_argument', async () => {
  const client = duendeClient(s, 'basic', { baseUrl: undefined });
  await expectTokenError(settlesWithin(client.fetch('/data'), 3000, 'client.fetch(relative)'), 'invalid_argument');
});

test('caller headers are kept, a caller Authorization is replaced, a fresh POST body survives the nonce retries', async () => {
  const client = helseidClient(s); // fresh: the API challenges the first call for a nonce
  const bytes = new TextEncoder().encode('{"bytes":"blåbær"}');
  const { diff, result: res } = await delta(s.api1.counters, () => client.fetch('/echo', {
    method: 'POST', body: bytes, headers: { 'content-type': 'application/json', authorization: 'Bearer stale' },
  }));
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { api: 'api1', body: '{"bytes":"blåbær"}', contentType: 'application/json' });
  assert.deepEqual([diff.nonceChallenges, diff.ok, diff.invalidToken], [1, 1, 0]);
});

test('custom fetch option: used for token and API requests (DPoP and Bearer); globalThis.fetch untouched', async () => {
  const real = globalThis.fetch;
  let globalCalls = 0;
  const watched = [s.authorityA.tokenEndpoint, s.authorityB.tokenEndpoint, s.api1.url, s.api2.url];
  globalThis.fetch = (input, init) => {
    const url = input instanceof Request ? input.url : String(input);
    if (watched.some((w) => url.startsWith(w))) globalCalls += 1;
    return real(input, init);
  };
  try {
    const makers = [
      [(extra) => helseidClient(s, extra), s.authorityA, s.api1],
      [(extra) => duendeClient(s, 'basic', extra), s.authorityB, s.api2],
    ];
    for (const [make, authority, api] of makers) {
      const rec = recordingFetch(real);
      const client = make({ fetch: rec.fetch });
      const a = await delta(authority.counters, () => delta(api.counters, async () => {
        for (let i = 0; i < 3; i += 1) assert.equal((await client.fetch('/data')).status, 200);
      }));
      const tokenCalls = rec.calls.filter((c) => c.url === authority.tokenEndpoint);
      const apiCalls = rec.calls.filter((c) => c.url.startsWith(api.url));
      assert.equal(tokenCalls.length, a.diff.tokenRequests, 'every token POST went through the custom fetch');
      assert.equal(apiCalls.length, a.result.diff.requests, 'every API request went through the custom fetch');
      assert.ok(tokenCalls.length >= 1 && apiCalls.length >= 3);
      assert.equal(rec.calls.length, tokenCalls.length + apiCalls.length);
    }
    assert.equal(globalCalls, 0, 'globalThis.fetch was not used');
  } finally {
    globalThis.fetch = real;
  }
});
