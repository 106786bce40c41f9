// Metrics from tokenfetch's onEvent hook, in Prometheus text format: events by client and type,
// errors by code, and a histogram of token request durations. Events carry no secret; their
// cacheKey is high-cardinality, so it is never a label.
//
//   node examples/metrics/metrics.mjs     (env as in examples/node-service; PORT, default 9464)
//   curl localhost:9464/call ; curl localhost:9464/metrics
import { createServer } from 'node:http';
import { ClientRegistry } from 'tokenfetch';

const BUCKETS_MS = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000];

/** Counters and a histogram fed by `hook(clientName)`; `render()` gives the exposition text. */
export function tokenMetrics() {
  const events = new Map(); // `client\ttype` -> count
  const errors = new Map(); // `client\tcode` -> count
  const durations = new Map(); // client -> { buckets: number[], sum, count }
  const bump = (map, key) => map.set(key, (map.get(key) ?? 0) + 1);
  const hook = (client) => (event) => {
    bump(events, `${client}\t${event.type}`);
    if (event.type === 'error' || event.type === 'stale_if_error') bump(errors, `${client}\t${event.code}`);
    if (typeof event.durationMs === 'number') {
      const h = durations.get(client) ?? { buckets: BUCKETS_MS.map(() => 0), sum: 0, count: 0 };
      BUCKETS_MS.forEach((le, i) => { if (event.durationMs <= le) h.buckets[i] += 1; });
      h.sum += event.durationMs;
      h.count += 1;
      durations.set(client, h);
    }
  };
  const labels = (pairs) => `{${pairs.map(([k, v]) => `${k}="${String(v).replace(/["\\\n]/g, '_')}"`).join(',')}}`;
  const render = () => {
    const lines = ['# HELP tokenfetch_events_total tokenfetch onEvent events.', '# TYPE tokenfetch_events_total counter'];
    for (const [key, n] of events) { const [client, type] = key.split('\t'); lines.push(`tokenfetch_events_total${labels([['client', client], ['type', type]])} ${n}`); }
    lines.push('# HELP tokenfetch_errors_total Failed token requests by TokenError code.', '# TYPE tokenfetch_errors_total counter');
    for (const [key, n] of errors) { const [client, code] = key.split('\t'); lines.push(`tokenfetch_errors_total${labels([['client', client], ['code', code]])} ${n}`); }
    lines.push('# HELP tokenfetch_token_request_ms Token request durations.', '# TYPE tokenfetch_token_request_ms histogram');
    for (const [client, h] of durations) {
      BUCKETS_MS.forEach((le, i) => lines.push(`tokenfetch_token_request_ms_bucket${labels([['client', client], ['le', le]])} ${h.buckets[i]}`));
      lines.push(`tokenfetch_token_request_ms_bucket${labels([['client', client], ['le', '+Inf']])} ${h.count}`);
      lines.push(`tokenfetch_token_request_ms_sum${labels([['client', client]])} ${h.sum}`);
      lines.push(`tokenfetch_token_request_ms_count${labels([['client', client]])} ${h.count}`);
    }
    return `${lines.join('\n')}\n`;
  };
  return { hook, render };
}

/** The two clients of the seed scenario, each reporting to `metrics`. */
export function registryFor(env, metrics) {
  return new ClientRegistry({
    api1: {
      issuer: env.HELSEID_ISSUER, tokenEndpoint: env.HELSEID_TOKEN_ENDPOINT, clientId: env.HELSEID_CLIENT_ID,
      clientAuth: { method: 'private_key_jwt', privateJwk: JSON.parse(env.HELSEID_PRIVATE_JWK) },
      dpop: true, scope: env.API1_SCOPE, baseUrl: env.API1_URL, onEvent: metrics.hook('api1'),
    },
    api2: {
      tokenEndpoint: env.API2_TOKEN_ENDPOINT, clientId: env.API2_CLIENT_ID,
      clientAuth: { method: 'client_secret_basic', clientSecret: env.API2_CLIENT_SECRET },
      scope: env.API2_SCOPE, baseUrl: env.API2_URL, onEvent: metrics.hook('api2'),
    },
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const metrics = tokenMetrics();
  const registry = registryFor(process.env, metrics);
  createServer(async (req, res) => {
    if (req.url === '/metrics') return res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(metrics.render());
    const statuses = await Promise.all(['api1', 'api2'].map(async (name) =>
      (await registry.fetch(name, process.env[`${name.toUpperCase()}_PATH`] ?? '/')).status));
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(statuses));
  }).listen(Number(process.env.PORT ?? 9464), '127.0.0.1');
}
