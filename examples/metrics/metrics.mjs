// Prometheus metrics from tokenfetch's `onEvent` hook, next to a ClientRegistry with two named clients:
//   helseid  API 1 behind a HelseID-style authority: private_key_jwt client assertion + DPoP (nonces handled)
//   duende   API 2 behind a Duende IdentityServer-style authority: client secret, Bearer token
// Routes of the node:http server:
//   GET /metrics         counters and a histogram in the Prometheus text exposition format (0.0.4)
//   GET /call/<client>   one call to that client's API through tokenfetch: { client, status } (or { client, error })
//
// Events never carry secrets. Label values are only the client name and fixed sets (event type, TokenError
// code, nonce retry `at`, store `op`); never an event's `cacheKey` or `url`, which have one value per
// scope / resource / subject token: a label from them would grow a series per user.
//
// Run (see README.md): configured from the environment like the other examples (HELSEID_*, API1_*, API2_*,
// PORT default 0 = a free port, HOST default 127.0.0.1), or with `--local` against local authorities and
// APIs (tests/support). SIGTERM / SIGINT stop it.
import { createServer } from 'node:http';
import { ClientRegistry, TokenError } from 'tokenfetch';

/** Upper bounds in seconds of the token request duration buckets (`+Inf` is added). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Every `TokenEvent` type: each client's counters start at 0 so that rate() sees the first event. */
const EVENT_TYPES = ['token_request', 'refresh', 'cache_hit', 'error', 'nonce_retry', 'invalid_token_retry', 'store_hit', 'store_error', 'stale_if_error'];

const FAMILIES = {
  tokenfetch_events_total: ['counter', 'tokenfetch events (onEvent) by client and type.'],
  tokenfetch_errors_total: ['counter', 'Failed token requests by client and TokenError code.'],
  tokenfetch_nonce_retries_total: ['counter', 'Requests repeated after a DPoP nonce challenge, by client and where (token_endpoint, resource).'],
  tokenfetch_store_errors_total: ['counter', 'Shared token store failures (bypassed) by client and operation.'],
  tokenfetch_token_request_duration_seconds: ['histogram', 'Time to get a token from the authority (token_request and refresh, retries included).'],
};

/** `{a="1",b="2"}`, values escaped as the exposition format wants. */
function labels(set) {
  const escape = (v) => String(v).replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
  return `{${Object.entries(set).map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}`;
}

/** Counters and a histogram fed by `onEvent` hooks; `render()` is the body of GET /metrics. */
function createMetrics() {
  const series = new Map(Object.keys(FAMILIES).map((name) => [name, new Map()])); // name -> labels -> value
  const add = (name, set, by = 1) => {
    const family = series.get(name);
    const key = labels(set);
    family.set(key, (family.get(key) ?? 0) + by);
  };
  const durations = new Map(); // client -> { buckets: cumulative counts per bound, sum, count }

  /** The `onEvent` option of the client named `client`. */
  function hook(client) {
    for (const type of EVENT_TYPES) add('tokenfetch_events_total', { client, type }, 0);
    durations.set(client, { buckets: DURATION_BUCKETS.map(() => 0), sum: 0, count: 0 });
    return (event) => {
      add('tokenfetch_events_total', { client, type: event.type });
      switch (event.type) {
        case 'token_request':
        case 'refresh': {
          const seconds = event.durationMs / 1000;
          const h = durations.get(client);
          DURATION_BUCKETS.forEach((le, i) => { if (seconds <= le) h.buckets[i] += 1; });
          h.sum += seconds;
          h.count += 1;
          break;
        }
        case 'error': add('tokenfetch_errors_total', { client, code: event.code }); break;
        case 'nonce_retry': add('tokenfetch_nonce_retries_total', { client, at: event.at }); break;
        case 'store_error': add('tokenfetch_store_errors_total', { client, op: event.op }); break;
        default: break; // cache_hit, store_hit, ...: counted above
      }
    };
  }

  function render() {
    const lines = [];
    for (const [name, [type, help]] of Object.entries(FAMILIES)) {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [key, value] of series.get(name)) lines.push(`${name}${key} ${value}`);
      if (type !== 'histogram') continue;
      for (const [client, h] of durations) {
        DURATION_BUCKETS.forEach((le, i) => lines.push(`${name}_bucket${labels({ client, le })} ${h.buckets[i]}`));
        lines.push(`${name}_bucket${labels({ client, le: '+Inf' })} ${h.count}`);
        lines.push(`${name}_sum${labels({ client })} ${h.sum}`, `${name}_count${labels({ client })} ${h.count}`);
      }
    }
    return `${lines.join('\n')}\n`;
  }

  return { hook, render };
}

// ---------------------------------------------------------------------------------------------------
// The service: two named clients whose events feed the metrics.

/** With `--local`: start local authorities and APIs and configure from them, as run-examples.mjs does. */
async function localSettings() {
  const { startScenario, exampleSettings } = await import('../../tests/support/index.mjs');
  const scenario = await startScenario();
  const { helseid, duende } = scenario.clients;
  console.log(`local authorities ${helseid.issuer} ${duende.issuer}, APIs ${scenario.api1.url} ${scenario.api2.url}`);
  return { vars: { ...process.env, ...exampleSettings(scenario) }, close: () => scenario.close() };
}

const local = process.argv.includes('--local') ? await localSettings() : undefined;
const vars = local?.vars ?? process.env;
const env = (name) => {
  if (!vars[name]) throw new Error(`set the environment variable ${name}`);
  return vars[name];
};
/** JSON.parse's error message quotes its input: never let it echo a private key. */
const privateJwk = (name) => {
  const json = env(name);
  try {
    return JSON.parse(json);
  } catch {
    throw new Error(`${name} is not a JSON private JWK`);
  }
};

const metrics = createMetrics();
let apis;
try {
  apis = new ClientRegistry({
    helseid: {
      profile: 'helseid', // private_key_jwt, DPoP on
      issuer: env('HELSEID_ISSUER'),
      ...(vars.HELSEID_TOKEN_ENDPOINT ? { tokenEndpoint: vars.HELSEID_TOKEN_ENDPOINT } : {}),
      clientId: env('HELSEID_CLIENT_ID'),
      clientAuth: { method: 'private_key_jwt', privateJwk: privateJwk('HELSEID_PRIVATE_JWK') },
      scope: env('API1_SCOPE'),
      baseUrl: env('API1_URL'),
      onEvent: metrics.hook('helseid'),
    },
    duende: {
      profile: 'duende',
      ...(vars.API2_ISSUER ? { issuer: vars.API2_ISSUER } : {}),
      tokenEndpoint: env('API2_TOKEN_ENDPOINT'),
      clientId: env('API2_CLIENT_ID'),
      clientAuth: { method: 'client_secret_basic', clientSecret: env('API2_CLIENT_SECRET') },
      scope: env('API2_SCOPE'),
      baseUrl: env('API2_URL'),
      onEvent: metrics.hook('duende'),
    },
  });
} catch (err) {
  // A TokenError (invalid_config) names the field (clients.helseid.clientAuth...), never a secret.
  console.error(`configuration: ${err.message}`);
  process.exit(1);
}
const paths = { helseid: vars.API1_PATH ?? '/', duende: vars.API2_PATH ?? '/' };

function send(res, status, body, type = 'application/json') {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(type === 'application/json' ? JSON.stringify(body) : body);
}

async function handle(req, res) {
  const path = new URL(req.url ?? '/', 'http://service.local').pathname;
  if (req.method !== 'GET') return send(res, 405, { error: 'method_not_allowed' });
  if (path === '/metrics') return send(res, 200, metrics.render(), 'text/plain; version=0.0.4; charset=utf-8');
  const client = path.match(/^\/call\/([a-z]+)$/)?.[1];
  if (!client || !Object.hasOwn(paths, client)) return send(res, 404, { error: 'not_found' });
  try {
    const upstream = await apis.fetch(client, paths[client]);
    await upstream.arrayBuffer();
    return send(res, upstream.status < 400 ? 200 : 502, { client, status: upstream.status });
  } catch (err) {
    if (!(err instanceof TokenError)) throw err;
    return send(res, 502, { client, error: err.code }); // also counted: tokenfetch_errors_total{code}
  }
}

const server = createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error('request failed:', err);
    if (!res.headersSent) send(res, 500, { error: 'internal' });
    else res.end();
  });
});
const host = vars.HOST || '127.0.0.1';
server.listen(Number(vars.PORT || 0), host, () => {
  const url = `http://${host}:${server.address().port}`;
  console.log(`listening on ${url}  (GET ${url}/metrics, GET ${url}/call/helseid, GET ${url}/call/duende)`);
});

function stop(signal) {
  console.log(`${signal}: stopping`);
  server.close(async () => {
    apis.free();
    await local?.close();
    console.log('stopped');
  });
  server.closeIdleConnections();
}
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));
