// The browser harness page (www/) driven in headless Chromium against the local demo authorities:
// what the page shows must match what the servers saw. Run: node --test tests/www/
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startWww } from '../../scripts/www.mjs';
import { launchChromium } from '../runtimes/hosts.mjs';

const out = fileURLToPath(new URL('../../test-output/', import.meta.url));
const screenshot = `${out}www.png`;

let www;
let browser;
let page;
const pageErrors = [];

before(async () => {
  [www, browser] = await Promise.all([startWww(), launchChromium()]);
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
  page.setDefaultTimeout(15_000);
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // The nonce challenges are 400/401 responses, which Chromium logs as "Failed to load resource": expected.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(`console: ${m.text()}`);
  });
});

after(async () => {
  await browser?.close();
  await www?.close();
});

const card = (name) => page.getByTestId(`client-${name}`);

/** Click an action button of a client and wait until the action has finished. */
async function act(name, testid) {
  const c = card(name);
  const done = Number(await c.getAttribute('data-done'));
  await c.getByTestId(testid).click();
  await page.waitForSelector(`[data-testid="client-${name}"][data-done="${done + 1}"]`);
}

const json = async (locator) => JSON.parse(await locator.textContent());

test('the harness page shows assertions, proofs, cache, nonces and a timeline that agree with the servers', async () => {
  const { scenario } = www;
  const { authorityA, authorityB, api1, api2 } = scenario;

  await page.goto(www.url);
  await page.waitForSelector('body[data-ready="true"]');
  await page.getByTestId('use-demo').click();
  await page.waitForSelector('[data-testid="client-api1"][data-ready="true"]');
  await page.waitForSelector('[data-testid="client-api2"][data-ready="true"]');

  for (let i = 0; i < 2; i++) {
    await act('api1', 'call-api');
    await act('api2', 'call-api');
  }
  await act('api1', 'get-token');
  await act('api2', 'get-token');

  // --- API 1: the latest token request's client assertion and DPoP proofs
  const tokenRequest = card('api1').getByTestId('token-request');
  const tokenAttempts = tokenRequest.getByTestId('attempt');
  assert.equal(await tokenAttempts.count(), 2, 'token request: nonce challenge, then the retry');
  assert.equal(await tokenAttempts.nth(0).getAttribute('data-status'), '400');
  assert.equal(await tokenAttempts.nth(1).getAttribute('data-status'), '200');
  const assertionHeader = await json(tokenAttempts.nth(1).getByTestId('assertion-header'));
  const assertion = await json(tokenAttempts.nth(1).getByTestId('assertion-claims'));
  assert.equal(assertion.iss, authorityA.clientId);
  assert.equal(assertion.sub, authorityA.clientId);
  assert.equal(assertion.aud, authorityA.issuer);
  assert.equal(typeof assertion.jti, 'string');
  assert.ok(assertion.exp > assertion.iat && assertion.exp - assertion.iat <= 300, 'short-lived assertion');
  assert.equal(assertionHeader.alg, 'ES256');
  assert.equal(assertionHeader.kid, authorityA.privateJwk.kid);
  const firstAssertion = await json(tokenAttempts.nth(0).getByTestId('assertion-claims'));
  assert.notEqual(firstAssertion.jti, assertion.jti, 'the retry carries a fresh assertion');

  const tokenProof0 = await json(tokenAttempts.nth(0).getByTestId('dpop-claims'));
  const tokenProofHeader = await json(tokenAttempts.nth(1).getByTestId('dpop-header'));
  const tokenProof = await json(tokenAttempts.nth(1).getByTestId('dpop-claims'));
  assert.equal(tokenProofHeader.typ, 'dpop+jwt');
  assert.equal(tokenProofHeader.alg, 'ES256');
  assert.equal(tokenProofHeader.jwk.kty, 'EC');
  assert.equal(tokenProofHeader.jwk.d, undefined, 'the proof header carries the public key only');
  assert.equal(tokenProof.htm, 'POST');
  assert.equal(tokenProof.htu, authorityA.tokenEndpoint);
  assert.equal(tokenProof.ath, undefined);
  assert.equal(tokenProof0.nonce, undefined, 'the first proof has no nonce yet');
  assert.equal(typeof tokenProof.nonce, 'string', 'the retry answers the nonce challenge');

  // --- API 1: the latest API call's DPoP proof (second call: nonce already known, one attempt)
  const apiAttempts = card('api1').getByTestId('api-call').getByTestId('attempt');
  assert.equal(await apiAttempts.count(), 1);
  assert.equal(await apiAttempts.nth(0).getAttribute('data-status'), '200');
  const apiProofHeader = await json(apiAttempts.nth(0).getByTestId('dpop-header'));
  const apiProof = await json(apiAttempts.nth(0).getByTestId('dpop-claims'));
  assert.equal(apiProofHeader.typ, 'dpop+jwt');
  assert.equal(apiProof.htm, 'GET');
  assert.equal(apiProof.htu, `${api1.url}/data`);
  assert.match(apiProof.ath, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(apiProof.nonce, api1.nonce, 'the stored API nonce is sent');
  assert.deepEqual(apiProofHeader.jwk, tokenProofHeader.jwk, 'one DPoP key for token and API requests');
  const response = await json(card('api1').getByTestId('api-response'));
  assert.deepEqual(response, { api: 'api1', client_id: 'worker-a', sub: 'worker-a', scope: 'api1.read' });

  // --- API 2: secret client, no assertion, no proof
  const api2Token = card('api2').getByTestId('token-request');
  assert.equal(await api2Token.getByTestId('attempt').count(), 1);
  assert.equal(await api2Token.getByTestId('assertion').count(), 0);
  assert.equal(await api2Token.getByTestId('dpop').count(), 0);
  assert.match(await api2Token.textContent(), /client_secret_basic: Authorization: Basic •••• \(hidden\)/);
  assert.match(await card('api2').getByTestId('access-token').textContent(), /^eyJ.{17}… \(\d+ chars\)$/);

  // --- cache entries with a live countdown
  for (const [name, type] of [['api1', 'DPoP'], ['api2', 'Bearer']]) {
    const entries = card(name).getByTestId('cache-entry');
    assert.equal(await entries.count(), 1, `${name}: one cache entry`);
    assert.match(await entries.textContent(), new RegExp(type));
    const expires = entries.getByTestId('countdown-expires');
    const refresh = entries.getByTestId('countdown-refresh');
    assert.match(await expires.textContent(), /^[45]m \d\ds$/, 'expires within the 300 s token lifetime');
    assert.match(await refresh.textContent(), /^[34]m \d\ds$/, 'refresh 60 s earlier');
    const expiresAt = Number(await entries.getAttribute('data-expires-at'));
    const refreshAt = Number(await entries.getAttribute('data-refresh-at'));
    assert.equal(expiresAt - refreshAt, 60_000);
  }
  const first = await card('api1').getByTestId('countdown-expires').textContent();
  await page.waitForFunction((before) =>
    document.querySelector('[data-testid="client-api1"] [data-testid="countdown-expires"]').textContent !== before, first);

  // --- nonces: authority A and API 1 (per origin) for the DPoP client; none for the Bearer client
  const nonces = card('api1').getByTestId('nonce-entry');
  assert.equal(await nonces.count(), 2);
  const nonceText = await card('api1').getByTestId('nonces').textContent();
  assert.ok(nonceText.includes(authorityA.issuer) && nonceText.includes(api1.url));
  assert.ok(nonceText.includes(api1.nonce));
  assert.equal(await card('api2').getByTestId('nonce-entry').count(), 0);

  // --- timeline
  const rows = await page.getByTestId('timeline-row').evaluateAll((trs) => trs.map((tr) => ({
    kind: tr.dataset.kind, client: tr.dataset.client, status: tr.dataset.status,
    outcome: tr.querySelector('[data-testid="timeline-outcome"]').textContent,
  })));
  const of = (client, kind) => rows.filter((r) => r.client === client && r.kind === kind);
  assert.equal(of('api1', 'token').filter((r) => r.outcome.includes('nonce challenge') && r.status === '400').length, 1);
  assert.equal(of('api1', 'api').filter((r) => r.outcome.includes('nonce challenge') && r.status === '401').length, 1);
  assert.equal(of('api1', 'token').filter((r) => r.outcome.startsWith('retry · 200 OK')).length, 1);
  assert.equal(of('api1', 'api').filter((r) => r.outcome.startsWith('retry · 200 OK')).length, 1);
  assert.equal(of('api1', 'api').filter((r) => r.status === '200').length, 2);
  assert.equal(of('api2', 'api').filter((r) => r.status === '200').length, 2);
  assert.equal(of('api2', 'token').filter((r) => r.status === '200').length, 1);
  for (const client of ['api1', 'api2']) {
    // second Call API and Get token were served from the cache
    assert.equal(of(client, 'token').filter((r) => r.outcome === 'token cached').length, 2, `${client}: cached rows`);
  }
  assert.equal(rows.length, 3 + 5 + 4, 'token POSTs + API requests + cached-token rows');

  // --- counters: the page's and the servers'
  for (const name of ['api1', 'api2']) {
    assert.equal(await card(name).getByTestId('counter-token-requests').textContent(), '1', `${name} token requests`);
  }
  assert.equal(await card('api1').getByTestId('counter-token-posts').textContent(), '2');
  assert.equal(await card('api1').getByTestId('counter-api-requests').textContent(), '3');
  assert.equal(await card('api1').getByTestId('counter-nonce-challenges').textContent(), '2');
  assert.equal(await card('api2').getByTestId('counter-token-posts').textContent(), '1');
  assert.equal(await card('api2').getByTestId('counter-api-requests').textContent(), '2');
  assert.deepEqual(authorityA.counters, { tokenRequests: 2, tokensIssued: 1 });
  assert.deepEqual(authorityB.counters, { tokenRequests: 1, tokensIssued: 1 });
  assert.equal(api1.counters.ok, 2);
  assert.equal(api1.counters.nonceChallenges, 1);
  assert.equal(api2.counters.ok, 2);
  assert.equal(api2.counters.rejected, 0);

  // --- nothing secret on the page: not in the text, the markup or the configuration boxes
  const shown = await page.evaluate(() => [
    document.body.innerText,
    document.documentElement.outerHTML,
    ...[...document.querySelectorAll('textarea, input')].map((e) => e.value),
  ].join('\n'));
  const secrets = [scenario.clients.duende.clientSecret, authorityA.privateJwk.d];
  for (const secret of secrets) assert.ok(!shown.includes(secret), 'a secret or private key is shown');
  assert.ok(!/"d"\s*:/.test(shown), 'a private JWK member "d" is shown');
  assert.match(await card('api1').getByTestId('config-json').inputValue(), /"privateJwk": "\$secret:api1\.privateJwk"/);
  assert.match(await card('api2').getByTestId('config-json').inputValue(), /"clientSecret": "\$secret:api2\.clientSecret"/);

  mkdirSync(out, { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  assert.deepEqual(pageErrors, []);
});

test('an invalid configuration shows the TokenError and keeps the working client', async () => {
  const c = card('api2');
  await c.getByTestId('config').evaluate((d) => { d.open = true; });
  const box = c.getByTestId('config-json');
  const good = await box.inputValue();
  const broken = JSON.parse(good);
  delete broken.clientId;
  await box.fill(JSON.stringify(broken, null, 2));
  await c.getByTestId('apply-config').click();
  const error = c.getByTestId('config-error');
  await error.waitFor({ state: 'visible' });
  assert.match(await error.textContent(), /^invalid_config: .*clientId/);

  await box.fill('{ not json');
  await c.getByTestId('apply-config').click();
  assert.match(await error.textContent(), /^JSON: /);

  // The previous client still works; applying the good configuration again clears the error.
  await act('api2', 'call-api');
  assert.match(await c.getByTestId('status').textContent(), /→ 200/);
  await box.fill(good);
  await c.getByTestId('apply-config').click();
  await error.waitFor({ state: 'hidden' });
  assert.equal(await c.getAttribute('data-ready'), 'true');
  await act('api2', 'force-refresh');
  assert.equal(await c.getByTestId('counter-token-requests').textContent(), '1', 'a new client counts from 0');
  assert.equal(www.scenario.authorityB.counters.tokensIssued, 2);
  assert.deepEqual(pageErrors, []);
});
