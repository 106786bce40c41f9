// The seed scenario's worker, runtime-neutral: only the tokenfetch API and fetch. Each runtime's
// harness imports tokenfetch its own way and calls runWorker(tokenfetch, env).
//
// env: { api1, api2, helseid: { issuer, tokenEndpoint, clientId, privateJwk },
//        duende: { issuer, tokenEndpoint, clientId, clientSecret }, calls }

/** The worker's two named clients: API 1 (private_key_jwt + DPoP), API 2 (client_secret_basic). */
export function createRegistry(tokenfetch, env) {
  return new tokenfetch.ClientRegistry({
    api1: {
      issuer: env.helseid.issuer,
      tokenEndpoint: env.helseid.tokenEndpoint,
      clientId: env.helseid.clientId,
      clientAuth: { method: 'private_key_jwt', privateJwk: env.helseid.privateJwk },
      dpop: true,
      scope: 'api1.read',
      resource: env.api1,
      baseUrl: env.api1,
    },
    api2: {
      issuer: env.duende.issuer,
      tokenEndpoint: env.duende.tokenEndpoint,
      clientId: env.duende.clientId,
      clientAuth: { method: 'client_secret_basic', clientSecret: env.duende.clientSecret },
      scope: 'api2.read',
      resource: env.api2,
      baseUrl: env.api2,
    },
  });
}

/** Call both APIs `env.calls` times; returns what each call saw and the clients' token counts. */
export async function runWorker(tokenfetch, env) {
  const { TokenError } = tokenfetch;
  const registry = createRegistry(tokenfetch, env);
  const calls = [];
  for (let i = 0; i < env.calls; i++) {
    for (const api of ['api1', 'api2']) {
      const client = registry.get(api);
      const before = client.inspect().tokenRequests;
      const res = await registry.fetch(api, '/data');
      const body = await res.json();
      calls.push({ api, status: res.status, token: client.inspect().tokenRequests > before ? 'new' : 'cached', body });
    }
  }
  // The error class must be the one the package exports, in every runtime.
  let errorCheck;
  try {
    new tokenfetch.TokenClient({ clientId: 'x' });
  } catch (e) {
    errorCheck = { instanceOfTokenError: e instanceof TokenError, code: e.code, message: e.message };
  }
  // A caller's non-extractable CryptoKeyPair as the DPoP key: WebCrypto signs, the key never leaves it.
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const withCryptoKey = new tokenfetch.TokenClient({
    issuer: env.helseid.issuer,
    tokenEndpoint: env.helseid.tokenEndpoint,
    clientId: env.helseid.clientId,
    clientAuth: { method: 'private_key_jwt', privateJwk: env.helseid.privateJwk },
    dpop: { keyPair: pair },
    scope: 'api1.read',
    resource: env.api1,
  });
  const cryptoKeyCall = await withCryptoKey.fetch(`${env.api1}/data`);
  const cryptoKey = { status: cryptoKeyCall.status, extractable: pair.privateKey.extractable, jkt: withCryptoKey.dpopThumbprint() };
  return {
    calls,
    cryptoKey,
    tokenRequests: { api1: registry.get('api1').inspect().tokenRequests, api2: registry.get('api2').inspect().tokenRequests },
    dpopThumbprint: registry.get('api1').dpopThumbprint(),
    errorCheck,
  };
}
