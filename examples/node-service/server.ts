// A small Node HTTP service: GET /report calls API 1 and API 2 through tokenfetch and returns both
// answers as one JSON document. Tokens are fetched once, cached, and refreshed before they expire.
//   API 1 behind a HelseID-style authority: private_key_jwt client assertion + DPoP (nonces handled),
//   API 2 behind a Duende IdentityServer-style authority: client secret, Bearer token.
// Configuration comes from environment variables (see README.md). SIGTERM / SIGINT stop it gracefully:
// no new connections, in-flight requests finish (bounded by SHUTDOWN_GRACE_MS), then exit 0.
//
// Only erasable TypeScript syntax, so Node >= 22.18 runs this file as is (`node server.ts`); Node 20
// runs it after a transpile (README.md).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { ClientRegistry, TokenError, type JsonWebKey, type TokenClientOptions, type TokenErrorCode } from 'tokenfetch';


type ApiResult =
  | { status: number; body: unknown }
  | {
      status: number;
      error: { code: TokenErrorCode; error?: string | undefined; status?: number | undefined; description?: string | undefined };
    };

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`set the environment variable ${name}`);
  return value;
}
const optional = (name: string): string | undefined => process.env[name] || undefined;

/** JSON.parse's error message quotes the input: never let it echo a private key. */
function parseJwk(name: string): JsonWebKey {
  const json = env(name);
  try {
    const jwk: unknown = JSON.parse(json);
    if (jwk && typeof jwk === 'object' && !Array.isArray(jwk)) return jwk as JsonWebKey;
  } catch {
    // fall through
  }
  throw new Error(`${name} is not a JSON object (a private JWK)`);
}

/** The two named clients, from the environment; a bad setting fails at startup, naming the field. */
function createClients(): ClientRegistry {
  const helseidTokenEndpoint = optional('HELSEID_TOKEN_ENDPOINT');
  const api1Resource = optional('API1_RESOURCE');
  const api2Issuer = optional('API2_ISSUER');
  const api2Resource = optional('API2_RESOURCE');
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
    timeoutMs: 10_000,
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
    timeoutMs: 10_000,
  };
  return new ClientRegistry({ api1, api2 });
}

/** One API call: its status and body, or the token error (code, OAuth error) that stopped it. */
async function call(apis: ClientRegistry, name: string, path: string): Promise<ApiResult> {
  try {
    const res = await apis.fetch(name, path, { headers: { accept: 'application/json' } });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body };
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    const error = { code: err.code, error: err.error, status: err.status, description: err.errorDescription };
    return { status: 502, error };
  }
}

/** Set once SIGTERM / SIGINT arrives. */
let stopping = false;

function send(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  // While stopping, close each connection after its response (keep-alive clients go elsewhere).
  const connection: Record<string, string> = stopping ? { connection: 'close' } : {};
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...extra, ...connection });
  res.end(JSON.stringify(body));
}

let apis: ClientRegistry;
try {
  apis = createClients();
} catch (err) {
  // TokenError `invalid_config` names the field (e.g. clients.api1.clientAuth.privateJwk); never a secret.
  console.error(`configuration: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
const paths = { api1: optional('API1_PATH') ?? '/', api2: optional('API2_PATH') ?? '/' };

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = new URL(req.url ?? '/', 'http://service.local').pathname;
  if (req.method !== 'GET') return send(res, 405, { error: 'method_not_allowed' }, { allow: 'GET' });
  if (path === '/healthz') return send(res, stopping ? 503 : 200, { ok: !stopping });
  if (path !== '/report') return send(res, 404, { error: 'not_found' });
  const [api1, api2] = await Promise.all([call(apis, 'api1', paths.api1), call(apis, 'api2', paths.api2)]);
  const tokenRequests = {
    api1: apis.get('api1').inspect().tokenRequests,
    api2: apis.get('api2').inspect().tokenRequests,
  };
  const ok = api1.status < 400 && api2.status < 400;
  send(res, ok ? 200 : 502, { api1, api2, tokenRequests });
}

const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    console.error('request failed:', err);
    if (!res.headersSent) send(res, 500, { error: 'internal' });
    else res.end();
  });
});
server.on('error', (err) => {
  console.error(`server: ${err.message}`);
  process.exit(1);
});

const host = optional('HOST') ?? '127.0.0.1';
server.listen(Number(optional('PORT') ?? 8080), host, () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : address;
  console.log(`listening on http://${host}:${port}`);
});

function shutdown(signal: string): void {
  if (stopping) return;
  stopping = true;
  console.log(`${signal}: stopping`);
  const grace = Number(optional('SHUTDOWN_GRACE_MS') ?? 10_000);
  const force = setTimeout(() => {
    console.error(`still busy after ${grace} ms: closing connections`);
    server.closeAllConnections();
  }, grace);
  server.close(() => {
    clearTimeout(force);
    apis.free();
    console.log('stopped');
    process.exitCode = 0;
  });
  server.closeIdleConnections();
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
