// The runtime matrix: the seed scenario inside each runtime, against fresh local authorities and
// APIs each time; server counters prove caching (one token per API) and DPoP nonce handling.
// Usage: node tests/runtimes/matrix.mjs [runtime ...]   (default: all)
import { startScenario } from '../support/index.mjs';
import { runtimes } from './hosts.mjs';

const CALLS = 5;

function check(result, s) {
  const problems = [];
  const expectCalls = CALLS * 2;
  const ck = result.cryptoKey;
  if (ck?.status !== 200 || ck.extractable !== false || typeof ck.jkt !== 'string') problems.push(`CryptoKey DPoP: ${JSON.stringify(ck)}`);
  if (result.calls?.length !== expectCalls) problems.push(`expected ${expectCalls} calls, got ${result.calls?.length}`);
  for (const c of result.calls ?? []) if (c.status !== 200) problems.push(`${c.api} answered ${c.status}`);
  // One token for the worker's API 1 client, one for the CryptoKey client.
  if (s.authorityA.counters.tokensIssued !== 2) problems.push(`authority A issued ${s.authorityA.counters.tokensIssued} tokens`);
  if (s.authorityB.counters.tokensIssued !== 1) problems.push(`authority B issued ${s.authorityB.counters.tokensIssued} tokens`);
  if (result.tokenRequests?.api1 !== 1 || result.tokenRequests?.api2 !== 1) problems.push(`client token requests ${JSON.stringify(result.tokenRequests)}`);
  // Each of the two API 1 clients has its own nonce store: one challenge at each place per client.
  if (s.authorityA.counters.tokenRequests !== 4) problems.push(`token endpoint POSTs: ${s.authorityA.counters.tokenRequests} (nonce challenges not answered?)`);
  if (s.api1.counters.nonceChallenges !== 2) problems.push(`API 1 nonce challenges: ${s.api1.counters.nonceChallenges}`);
  if (s.api1.counters.ok !== CALLS + 1 || s.api2.counters.ok !== CALLS) problems.push('APIs did not accept every call');
  if (!result.errorCheck?.instanceOfTokenError || result.errorCheck.code !== 'invalid_config') problems.push(`TokenError check: ${JSON.stringify(result.errorCheck)}`);
  const tokens = result.calls?.map((c) => c.token).join(',');
  const expected = ['new', 'new', ...Array(expectCalls - 2).fill('cached')].join(',');
  if (tokens !== expected) problems.push(`token new/cached sequence ${tokens}`);
  return problems;
}

const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(runtimes);
const rows = [];
for (const name of names) {
  const run = runtimes[name];
  if (!run) throw new Error(`unknown runtime ${name}; known: ${Object.keys(runtimes).join(', ')}`);
  const s = await startScenario();
  const started = performance.now();
  let problems;
  try {
    const env = { api1: s.api1.url, api2: s.api2.url, helseid: s.clients.helseid, duende: s.clients.duende, calls: CALLS };
    problems = check(await run(env), s);
  } catch (err) {
    problems = [`could not run: ${err.message}`];
  } finally {
    await s.close();
  }
  const ms = Math.round(performance.now() - started);
  rows.push({ name, ok: problems.length === 0, ms, problems });
  console.log(`${name.padEnd(9)} ${problems.length ? 'FAIL' : 'pass'}  ${String(ms).padStart(6)} ms${problems.length ? `  ${problems.join('; ')}` : ''}`);
}
const failed = rows.filter((r) => !r.ok).length;
console.log(`runtimes: ${rows.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
