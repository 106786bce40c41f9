// Host-side keys (security issue "Tenant-safe by construction", items 2 and 10):
//   - a private JWK made of a victim's public members and an attacker's private members is refused, and never
//     signs with the victim's key, however it arrives (TokenClient clientAuth / dpop, createClientAssertion) and
//     in every runtime (Node and Bun: node:crypto at construction; Deno, workerd, Chromium: WebCrypto, when the key
//     is first imported);
//   - the host's copies of keys are released when their clients are garbage-collected, in every runtime;
//   - the host maps are bounded, and an evicted key is imported again from its JWK.
// The host map counts come from internal exports for tests: `__hostKeyCounts()` of the wasm glue and
// `nodeKeyCount()` of the package's runtime module (the node:crypto signer's KeyObjects).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, test } from 'node:test';
import { EmbeddedJWK, calculateJwkThumbprint, importJWK, jwtVerify } from 'jose';
import { TokenClient, TokenError, createClientAssertion, createDpopProof, generateDpopKey } from 'tokenfetch';
import * as glue from '../../pkg/gen/tokenfetch_bg.js';
import runtime from '../../pkg/gen/runtime.mjs';
import { generateKey, startHelseIdAuthority } from '../support/authorities.mjs';
import { secrets } from '../support/secrets.mjs';
import { startStatic, startWorker } from '../runtimes/hosts.mjs';
import { boundProbe, collectWith, forge, releaseProbe } from '../runtimes/keys-probe.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const bin = (name) => join(root, 'node_modules/.bin', name);

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const collect = () => collectWith(gc);

/** Everything the host holds now: the glue's maps and the node:crypto signer's KeyObjects. */
const counts = () => ({ ...glue.__hostKeyCounts(), node: runtime.nodeKeyCount() });

let helse; // HelseID-style authority: clients ps256 (RSA), es384 (P-384), each registered with its public key

before(async () => {
  helse = await startHelseIdAuthority();
  helse.setAudience('http://127.0.0.1:9/api'); // the resource its tokens are for (no API is called here)
  for (const [name, k] of Object.entries(helse.clients)) secrets.addKey(`helse ${name} key`, k.privateJwk);
});

after(() => helse?.close());

/** TokenClient options for the authority's client `c`, authenticating with `privateJwk`. */
function helseOptions(c, privateJwk, extra = {}) {
  return {
    issuer: helse.issuer,
    tokenEndpoint: helse.tokenEndpoint,
    clientId: c.clientId,
    clientAuth: { method: 'private_key_jwt', privateJwk, ...(c.alg === 'RS256' ? { alg: 'RS256' } : {}) },
    dpop: true,
    scope: helse.scope,
    ...extra,
  };
}

/** Whether `jwt` verifies under `publicJwk` (any error: no). */
async function verifiesWith(jwt, publicJwk, alg) {
  try {
    await jwtVerify(jwt, await importJWK({ ...publicJwk, alg }, alg));
    return true;
  } catch {
    return false;
  }
}

/** The TokenError `fn()` throws or rejects with; checked for code, field (when given) and leaks. */
async function refused(fn, code, field) {
  let caught;
  let value;
  try {
    value = await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught !== undefined, `expected a TokenError (${code}), got ${String(value).slice(0, 20)}…`);
  assert.ok(caught instanceof TokenError, `expected a TokenError, got ${caught?.name}: ${caught?.message}`);
  assert.equal(caught.code, code, caught.message);
  if (field) assert.ok(caught.message.startsWith(`${field}: `), caught.message);
  secrets.check(caught, `TokenError ${code}`);
  return caught;
}

describe('a JWK with another key\'s public members and its own private part (forged)', () => {
  for (const [name, kind] of [['ps256', 'RSA'], ['es384', 'EC P-384']]) {
    test(`${kind}: refused at construction in Node, naming the field, after the victim's key signed in this process`, async () => {
      const victim = helse.clients[name];
      const attacker = await generateKey(victim.alg);
      secrets.addKey('attacker key', attacker.privateJwk);
      const forged = forge(victim.privateJwk, attacker.privateJwk);

      // The victim's key is imported into the host signer first: a token and a standalone assertion.
      const token = await new TokenClient(helseOptions(victim, victim.privateJwk)).getToken();
      assert.equal(token.tokenType, 'DPoP');
      const audience = helse.issuer;
      const victimAssertion = await createClientAssertion({ clientId: victim.clientId, audience, privateJwk: victim.privateJwk });
      assert.ok(await verifiesWith(victimAssertion, victim.publicJwk, victim.alg));

      // The standalone helper first: whatever comes back must not verify under the victim's key; it is refused.
      const helper = () => createClientAssertion({ clientId: victim.clientId, audience, privateJwk: forged });
      const outcome = await helper().then((value) => ({ value }), (error) => ({ error }));
      if (outcome.value !== undefined) {
        assert.equal(await verifiesWith(outcome.value, victim.publicJwk, victim.alg), false,
          'the forged JWK made an assertion that verifies under the victim\'s public key');
      }
      const he = await refused(() => Promise.reject(outcome.error), 'invalid_key', 'privateJwk');
      assert.match(he.message, /do not belong to the private key/);
      await refused(() => createDpopProof({ privateJwk: forged, method: 'GET', url: 'https://api.example/' }),
        'invalid_key', 'privateJwk');

      // TokenClient: refused synchronously, at construction (the node:crypto signer tests the key there).
      const e = await refused(() => new TokenClient(helseOptions(victim, forged)), 'invalid_config', 'clientAuth.privateJwk');
      assert.match(e.message, /public members \("(n"\/"e|x"\/"y)"\) do not belong to the private key/);
      await refused(
        () => new TokenClient(helseOptions(victim, victim.privateJwk, { dpop: { privateJwk: forged } })),
        'invalid_config', 'dpop.privateJwk',
      );

      // A refused key leaves nothing behind in the host maps.
      const before = counts();
      assert.throws(() => new TokenClient(helseOptions(victim, forged)), TokenError);
      await assert.rejects(helper(), TokenError);
      assert.deepEqual(counts(), before);
    });
  }

  test('a valid attacker key under the victim\'s client id and kid: its assertions never verify under the victim\'s key, and the authority refuses them', async () => {
    for (const name of ['ps256', 'es384']) {
      const victim = helse.clients[name];
      await new TokenClient(helseOptions(victim, victim.privateJwk)).getToken();
      const attacker = await generateKey(victim.alg);
      secrets.addKey('attacker key', attacker.privateJwk);
      const posing = { ...attacker.privateJwk, kid: victim.kid };
      const assertion = await createClientAssertion({ clientId: victim.clientId, audience: helse.issuer, privateJwk: posing });
      assert.equal(await verifiesWith(assertion, victim.publicJwk, victim.alg), false);
      assert.ok(await verifiesWith(assertion, attacker.publicJwk, victim.alg), 'signed with the key given');
      const e = await refused(() => new TokenClient(helseOptions(victim, posing)).getToken(), 'oauth_error');
      assert.equal(e.error, 'invalid_client');
    }
  });
});

/** Clients with keys of every kind the Node host holds: a P-384 JWK (checked at construction), an ES256 DPoP JWK, a
 *  caller's CryptoKey and CryptoKeyPair. Each signs once; nothing keeps them. Returns the counts while held. */
async function useNodeClients(n, keys) {
  const clients = [];
  for (let i = 0; i < n; i++) {
    const p384 = await generateKey('ES384');
    const jwkClient = new TokenClient({
      tokenEndpoint: 'https://as.example/token', clientId: 'c',
      clientAuth: { method: 'private_key_jwt', privateJwk: p384.privateJwk },
      dpop: { privateJwk: await generateDpopKey() },
    });
    await jwkClient.createDpopProof('GET', 'https://api.example/');
    const keyClient = new TokenClient({
      tokenEndpoint: 'https://as.example/token', clientId: 'c',
      clientAuth: { method: 'private_key_jwt', key: keys.privateKey },
      dpop: { keyPair: keys.dpop },
    });
    await keyClient.createDpopProof('GET', 'https://api.example/');
    clients.push(jwkClient, keyClient);
  }
  return counts();
}

describe('host keys are released with their clients', () => {
  test('Node: dropped clients free their keys in the node:crypto signer and the glue\'s maps once collected', async () => {
    const rsa = await generateKey('PS256', { extractable: false });
    const dpop = (await generateKey('ES256', { extractable: false })).keyPair;
    await collect();
    const start = counts();
    const held = await useNodeClients(10, { privateKey: rsa.keyPair.privateKey, dpop });
    assert.ok(held.node >= start.node + 20, `node:crypto holds each JWK key: ${JSON.stringify(held)}`);
    assert.ok(held.checked >= start.checked + 10, JSON.stringify(held));
    assert.ok(held.registered >= start.registered + 20, `caller CryptoKeys registered: ${JSON.stringify(held)}`);
    assert.ok(held.publicKeys >= start.publicKeys + 10, JSON.stringify(held));
    // Collection and finalization are up to V8: a few more rounds on a loaded machine.
    for (let round = 0; round < 5 && (round === 0 || !isDeepStrictEqual(counts(), start)); round++) await collect();
    assert.deepEqual(counts(), start, 'every key of the dropped clients is gone');
  });

  test('Node: a helper\'s keys are released when they leave its bounded cache', async () => {
    await collect();
    const start = counts();
    for (let i = 0; i < 40; i++) {
      await createDpopProof({ privateJwk: await generateDpopKey(), method: 'GET', url: 'https://api.example/' });
    }
    const now = counts();
    assert.ok(now.native - start.native <= 32 && now.node - start.node <= 32, `at most 32 kept: ${JSON.stringify(now)}`);
  });

  /** The probe results of one runtime: forged keys refused (never signing with the victim's key), keys released. */
  async function checkRuntime(result, { forgedCode }) {
    assert.equal(result.forged.probeError, undefined, result.forged.probeError);
    for (const [kind, r] of Object.entries(result.forged)) {
      const alg = kind === 'RSA' ? 'RS256' : 'ES384';
      assert.ok(await verifiesWith(r.victim, r.victimJwk, alg), `${kind}: the victim's own assertion verifies`);
      for (const [how, field, codes] of [
        ['helper', 'privateJwk', ['invalid_key']],
        ['client', 'clientAuth.privateJwk', forgedCode],
        ['dpop', 'dpop.privateJwk', forgedCode],
      ]) {
        const outcome = r[how];
        if (outcome.value !== undefined && how === 'helper') {
          assert.equal(await verifiesWith(outcome.value, r.victimJwk, alg), false,
            `${kind} ${how}: an assertion of the forged JWK verifies under the victim's key`);
        }
        assert.ok(outcome.error, `${kind} ${how}: the forged JWK was accepted`);
        assert.equal(outcome.error.name, 'TokenError', JSON.stringify(outcome.error));
        assert.ok(codes.includes(outcome.error.code), JSON.stringify(outcome.error));
        assert.ok(outcome.error.message.startsWith(`${field}: `), outcome.error.message);
      }
    }
    assert.equal(result.release.probeError, undefined, result.release.probeError);
    const { before: start, held, after: end } = result.release;
    const map = held.native > start.native ? 'native' : 'imported';
    assert.ok(held[map] >= start[map] + 20, `keys held: ${JSON.stringify(result.release)}`);
    for (const k of ['imported', 'checked', 'native']) {
      assert.ok(end[k] <= start[k], `${k} released: ${JSON.stringify(result.release)}`);
    }
  }

  /** Run `cmd args` (cwd: the repository); the JSON of its last line. */
  function runJson(cmd, args) {
    return new Promise((resolve, reject) => {
      execFile(cmd, args, { cwd: root, timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        if (err) return reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`));
        resolve(JSON.parse(stdout.trim().split('\n').pop()));
      });
    });
  }

  test('Deno (WebCrypto): forged keys refused when first imported; keys released on GC; maps bounded', async () => {
    const result = await runJson(bin('deno'), ['run', '--quiet', '--allow-read', '--v8-flags=--expose-gc',
      'tests/runtimes/keys-probe-run.mjs']);
    await checkRuntime(result, { forgedCode: ['invalid_key'] });
    await checkBound(result.bound, 'imported');
  });

  test('Bun (node:crypto): forged keys refused at construction; keys released on GC; maps bounded', async () => {
    const result = await runJson(bin('bun'), ['tests/runtimes/keys-probe-run.mjs']);
    await checkRuntime(result, { forgedCode: ['invalid_config'] });
    await checkBound(result.bound, 'native');
  });

  test('workerd (WebCrypto; FinalizationRegistry on by default since compatibility date 2025-05-05)', async () => {
    const mf = await startWorker({
      entry: join(root, 'tests/runtimes/keys-probe-worker.mjs'), outDir: join(root, 'test-output/keys-probe-workerd'),
      compatibilityDate: '2026-04-01',
    });
    try {
      const result = await (await mf.dispatchFetch('http://worker.local/')).json();
      assert.equal(result.error, undefined, result.error);
      await checkRuntime(result, { forgedCode: ['invalid_key'] });
    } finally {
      await mf.dispose();
    }
  });

  test('Chromium (WebCrypto): forged keys refused when first imported; keys released on GC', async () => {
    const site = await startStatic();
    // As tests/runtimes/hosts.mjs launches it, with gc() exposed.
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--no-first-run', '--disable-sync', '--js-flags=--expose-gc'],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${site.url}/tests/runtimes/page.html`);
      await page.waitForFunction(() => window.ready === true, null, { timeout: 20_000 });
      const result = await page.evaluate(async () => {
        const tokenfetch = await import('/pkg/browser.mjs');
        const glue = await import('/pkg/gen/tokenfetch_bg.js');
        const probe = await import('/tests/runtimes/keys-probe.mjs');
        const forged = await probe.settled(() => probe.forgedProbe(tokenfetch));
        const release = await probe.settled(() => probe.releaseProbe(tokenfetch, glue, () => probe.collectWith(() => window.gc())));
        return { forged, release };
      });
      await checkRuntime(result, { forgedCode: ['invalid_key'] });
    } finally {
      await browser.close();
      await site.close();
    }
  });
});

/** A bound probe's results: the map stayed within its cap, and the evicted key still signs (imported again). */
async function checkBound(bound, map) {
  assert.equal(bound.probeError, undefined, bound.probeError);
  assert.ok(bound.clients > bound.full.cap);
  assert.ok(bound.full[map] <= bound.full.cap, `${map} bounded: ${JSON.stringify(bound.full)}`);
  const { payload, protectedHeader } = await jwtVerify(bound.again, EmbeddedJWK, { typ: 'dpop+jwt' });
  assert.equal(payload.htu, 'https://api.example/again');
  assert.equal(await calculateJwkThumbprint(protectedHeader.jwk), bound.jkt);
}

describe('the host maps are bounded', () => {
  test('Node: more live keys than the cap; the node:crypto signer keeps at most the cap, and evicted keys sign again', async () => {
    const result = await boundProbe({ TokenClient }, glue);
    await checkBound(result, 'native');
    assert.ok(runtime.nodeKeyCount() <= result.full.cap, `node:crypto KeyObjects: ${runtime.nodeKeyCount()}`);
  });
});
