// The seed scenario: one worker calls API 1 (HelseID-style authority: private_key_jwt client
// assertion + DPoP with nonces) and API 2 (Duende-style authority: shared secret, Bearer), with
// cached tokens. It starts local authorities (npm oidc-provider) and APIs (validating tokens and
// DPoP proofs with `jose`) on 127.0.0.1, runs the worker, prints one line per call, then stops.
import * as tokenfetch from 'tokenfetch';
import { startScenario } from '../tests/support/index.mjs';
// The worker's two named clients, as IHttpClientFactory + Duende.AccessTokenManagement would have
// them; the runtime matrix runs the same worker in every runtime.
import { createRegistry } from '../tests/runtimes/worker-scenario.mjs';

const CALLS_PER_API = Number(process.env.CALLS ?? 6);

const scenario = await startScenario();
let failed = false;
try {
  const { clients, api1, api2, authorityA, authorityB } = scenario;
  console.log(`authority A (HelseID-style, private_key_jwt + DPoP nonces) ${authorityA.issuer}`);
  console.log(`authority B (Duende-style, client_secret_basic)            ${authorityB.issuer}`);
  console.log(`API 1 (DPoP) ${api1.url}    API 2 (Bearer) ${api2.url}\n`);
  const registry = createRegistry(tokenfetch, { helseid: clients.helseid, duende: clients.duende, api1: api1.url, api2: api2.url });
  const authorities = { api1: authorityA, api2: authorityB };

  console.log('call  API   status  token   token requests (client)  token POSTs seen by authority');
  for (let i = 1; i <= CALLS_PER_API; i++) {
    for (const name of ['api1', 'api2']) {
      const client = registry.get(name);
      const before = client.inspect().tokenRequests;
      const res = await registry.fetch(name, '/data');
      await res.text();
      const after = client.inspect().tokenRequests;
      const line = [
        String(i).padEnd(5), name.padEnd(5), String(res.status).padEnd(7),
        (after > before ? 'new' : 'cached').padEnd(7), String(after).padEnd(24),
        String(authorities[name].counters.tokenRequests),
      ].join(' ');
      console.log(line);
      if (res.status !== 200) failed = true;
    }
  }
  const issued = [authorityA.counters.tokensIssued, authorityB.counters.tokensIssued];
  console.log(`\ntokens issued: API 1 ${issued[0]}, API 2 ${issued[1]}; ` +
    `DPoP nonce challenges answered: token endpoint ${authorityA.counters.tokenRequests - issued[0]}, API 1 ${api1.counters.nonceChallenges}`);
  if (issued[0] !== 1 || issued[1] !== 1) failed = true;
} finally {
  await scenario.close();
}
if (failed) {
  console.error('scenario: FAILED (expected 200 from every call and one token per API)');
  process.exit(1);
}
console.log('scenario: ok');
