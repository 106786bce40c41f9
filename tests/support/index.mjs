// The standard two-authority scenario: A (HelseID-like, DPoP + nonces) -> API 1, B (Duende-like, Bearer) -> API 2.
import { startAuthorityA, startAuthorityB } from './authority.mjs';
import { startApi } from './resource.mjs';

export { startAuthorityA, startAuthorityB, generateEs256Jwk, SPECIAL_SECRET } from './authority.mjs';
export { startApi } from './resource.mjs';
export { startBlackhole, startFakeTokenEndpoint, unusedPort } from './fakes.mjs';

/**
 * Start authority A + API 1 (DPoP, nonce required) and authority B + API 2 (Bearer), wired together.
 * Each API's audience is its own URL (`http://127.0.0.1:<port>`); it is handed to its authority once the API
 * listens, so no port is guessed in advance. opts: { accessTokenTTL? = 300, nonceRotateEvery? }.
 * Returns { authorityA, authorityB, api1, api2, clients: { helseid, duende, duendePost }, close() }.
 */
export async function startScenario(opts = {}) {
  const { accessTokenTTL, nonceRotateEvery } = opts;
  const started = [];
  try {
    const [authorityA, authorityB] = await Promise.all([
      startAuthorityA({ accessTokenTTL }), startAuthorityB({ accessTokenTTL }),
    ]);
    started.push(authorityA, authorityB);
    const [api1, api2] = await Promise.all([
      startApi({ name: 'api1', issuer: authorityA.issuer, jwksUri: authorityA.jwksUri, dpop: true, requireNonce: true, nonceRotateEvery }),
      startApi({ name: 'api2', issuer: authorityB.issuer, jwksUri: authorityB.jwksUri, dpop: false }),
    ]);
    started.push(api1, api2);
    authorityA.setAudience(api1.audience);
    authorityB.setAudience(api2.audience);
    const secretClient = (c) => ({ tokenEndpoint: authorityB.tokenEndpoint, issuer: authorityB.issuer, ...c });
    return {
      authorityA,
      authorityB,
      api1,
      api2,
      clients: {
        helseid: {
          tokenEndpoint: authorityA.tokenEndpoint,
          issuer: authorityA.issuer,
          clientId: authorityA.clientId,
          privateJwk: authorityA.privateJwk,
        },
        duende: secretClient(authorityB.clients.basic),
        duendePost: secretClient(authorityB.clients.post),
      },
      close: () => closeAll(started),
    };
  } catch (err) {
    await closeAll(started);
    throw err;
  }
}

/**
 * The examples' configuration for a started scenario ({@link startScenario}), as environment
 * variables / Worker bindings (examples/run-examples.mjs, and `--local` in the metrics and otel examples).
 * Secrets (HELSEID_PRIVATE_JWK, API2_CLIENT_SECRET) included; no RFC 8707 resource is set, as in the
 * examples' defaults (the local authorities default it to their API's URL).
 */
export function exampleSettings(s) {
  const { helseid, duende } = s.clients;
  return {
    HELSEID_ISSUER: helseid.issuer,
    HELSEID_TOKEN_ENDPOINT: helseid.tokenEndpoint,
    HELSEID_CLIENT_ID: helseid.clientId,
    HELSEID_PRIVATE_JWK: JSON.stringify(helseid.privateJwk),
    API1_URL: s.api1.url,
    API1_SCOPE: 'api1.read',
    API1_PATH: '/data',
    API2_ISSUER: duende.issuer,
    API2_TOKEN_ENDPOINT: duende.tokenEndpoint,
    API2_CLIENT_ID: duende.clientId,
    API2_CLIENT_SECRET: duende.clientSecret,
    API2_URL: s.api2.url,
    API2_SCOPE: 'api2.read',
    API2_PATH: '/data',
  };
}

async function closeAll(servers) {
  await Promise.all(servers.map((s) => s.close()));
}
