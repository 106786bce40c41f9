// Deno: call two protected APIs through tokenfetch, a few times, and print what each call saw.
//   API 1 behind a HelseID-style authority: private_key_jwt client assertion + DPoP (nonces handled),
//   API 2 behind a Duende IdentityServer-style authority: client secret, Bearer token.
// Configuration comes from environment variables (see README.md). The first call to each API gets a
// token; the later ones use the cached token.
//
// Import: `npm:tokenfetch` once published; here the bare specifier resolves through the repository's
// package.json / node_modules (the package's "deno" export condition).
import { ClientRegistry, TokenError, type JsonWebKey, type TokenClientOptions } from 'tokenfetch';


function env(name: string): string {
  const value = Deno.env.get(name);
  if (!value) throw new Error(`set the environment variable ${name}`);
  return value;
}
const optional = (name: string): string | undefined => Deno.env.get(name) || undefined;

/** JSON.parse's error message quotes the input: never let it echo a private key. */
function parseJwk(name: string): JsonWebKey {
  try {
    const jwk: unknown = JSON.parse(env(name));
    if (jwk && typeof jwk === 'object' && !Array.isArray(jwk)) return jwk as JsonWebKey;
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('set the environment')) throw err;
  }
  throw new Error(`${name} is not a JSON object (a private JWK)`);
}

const calls = Number(optional('CALLS') ?? 3);
const api1Resource = optional('API1_RESOURCE');
const api2Resource = optional('API2_RESOURCE');
const helseidTokenEndpoint = optional('HELSEID_TOKEN_ENDPOINT');
const api2Issuer = optional('API2_ISSUER');

const api1: TokenClientOptions = {
  profile: 'helseid', // assertion typ client-authentication+jwt, aud = issuer, 60 s lifetime, DPoP on
  issuer: env('HELSEID_ISSUER'),
  ...(helseidTokenEndpoint ? { tokenEndpoint: helseidTokenEndpoint } : {}),
  clientId: env('HELSEID_CLIENT_ID'),
  clientAuth: { method: 'private_key_jwt', privateJwk: parseJwk('HELSEID_PRIVATE_JWK') },
  dpop: true,
  scope: env('API1_SCOPE'),
  ...(api1Resource ? { resource: api1Resource } : {}),
  baseUrl: env('API1_URL'),
};
const api2: TokenClientOptions = {
  profile: 'duende',
  ...(api2Issuer ? { issuer: api2Issuer } : {}),
  tokenEndpoint: env('API2_TOKEN_ENDPOINT'),
  clientId: env('API2_CLIENT_ID'),
  clientAuth: { method: 'client_secret_basic', clientSecret: env('API2_CLIENT_SECRET') },
  scope: env('API2_SCOPE'),
  ...(api2Resource ? { resource: api2Resource } : {}),
  baseUrl: env('API2_URL'),
};
let apis: ClientRegistry;
try {
  apis = new ClientRegistry({ api1, api2 });
} catch (err) {
  // TokenError `invalid_config` names the field (e.g. clients.api1.clientAuth.privateJwk); never a secret.
  console.error(`configuration: ${err instanceof Error ? err.message : String(err)}`);
  Deno.exit(2);
}
const paths: Record<string, string> = { api1: optional('API1_PATH') ?? '/', api2: optional('API2_PATH') ?? '/' };

let failures = 0;
console.log('call  api   status  token   body');
for (let i = 1; i <= calls; i++) {
  for (const name of ['api1', 'api2']) {
    const client = apis.get(name);
    const before = client.inspect().tokenRequests;
    let status: string;
    let body: string;
    let failed = false;
    try {
      const res = await client.fetch(paths[name]!, { headers: { accept: 'application/json' } });
      status = String(res.status);
      body = (await res.text()).slice(0, 200);
      if (!res.ok) failures++;
    } catch (err) {
      if (!(err instanceof TokenError)) throw err;
      failures++;
      failed = true;
      status = err.code; // e.g. oauth_error (see err.error: invalid_client, ...) or network_error
      body = err.message; // never contains a secret, key or token
    }
    const token = failed ? '-' : client.inspect().tokenRequests > before ? 'new' : 'cached';
    console.log(`${String(i).padEnd(5)} ${name.padEnd(5)} ${status.padEnd(7)} ${token.padEnd(7)} ${body}`);
  }
}
const counts = { api1: apis.get('api1').inspect().tokenRequests, api2: apis.get('api2').inspect().tokenRequests };
console.log(`token requests: api1 ${counts.api1}, api2 ${counts.api2}; DPoP key jkt ${apis.get('api1').dpopThumbprint()}`);
apis.free();
if (failures) {
  console.error(`${failures} call(s) failed`);
  Deno.exit(1);
}
