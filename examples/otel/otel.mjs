// tokenfetch's events as OpenTelemetry spans and metrics (tokenfetch/otel), next to a ClientRegistry
// with two named clients:
//   helseid  API 1 behind a HelseID-style authority: private_key_jwt client assertion + DPoP (nonces handled)
//   duende   API 2 behind a Duende IdentityServer-style authority: client secret, Bearer token
// It starts the OpenTelemetry SDK (global tracer and meter providers), calls each API CALLS times
// (default 3), flushes, and prints each span and metric data point as one JSON line:
//   span   {"name":"tokenfetch.token_request","traceId":..,"parent":null,"start":..,"durationMs":..,"status":..,"attributes":{..}}
//   metric {"name":"tokenfetch.cache.hits","unit":"{token}","attributes":{..},"value":2}
// The exporters here print; a service uses OTLP ones instead (see README.md), nothing else changes.
//
// Run (see README.md): configured from the environment like the other examples (HELSEID_*, API1_*,
// API2_*), or with `--local` against local authorities and APIs (tests/support).
import { metrics, trace } from '@opentelemetry/api';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { ClientRegistry, TokenError } from 'tokenfetch';
import { openTelemetry } from 'tokenfetch/otel';

// ---------------------------------------------------------------------------------------------------
// Exporters that print JSON lines. In a service: new OTLPTraceExporter() / new OTLPMetricExporter()
// from @opentelemetry/exporter-trace-otlp-http and @opentelemetry/exporter-metrics-otlp-http.

const SUCCESS = { code: 0 }; // ExportResultCode.SUCCESS (@opentelemetry/core)
const ms = ([seconds, nanos]) => seconds * 1000 + nanos / 1e6;

const printSpans = {
  export(spans, done) {
    for (const span of spans) {
      console.log(`span ${JSON.stringify({
        name: span.name,
        traceId: span.spanContext().traceId,
        parent: span.parentSpanContext?.spanId ?? null,
        start: new Date(ms(span.startTime)).toISOString(),
        durationMs: ms(span.duration),
        status: span.status,
        attributes: span.attributes,
      })}`);
    }
    done(SUCCESS);
  },
  shutdown: async () => {},
};

const printMetrics = {
  export(resourceMetrics, done) {
    for (const { metrics: list } of resourceMetrics.scopeMetrics) {
      for (const { descriptor, dataPoints } of list) {
        for (const { attributes, value } of dataPoints) {
          console.log(`metric ${JSON.stringify({ name: descriptor.name, unit: descriptor.unit, attributes, value })}`);
        }
      }
    }
    done(SUCCESS);
  },
  forceFlush: async () => {},
  shutdown: async () => {},
};

// The SDK, started before the clients (tokenfetch/otel looks the global providers up at the first
// event, so starting it later works too).
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(printSpans)] });
const metricReader = new PeriodicExportingMetricReader({ exporter: printMetrics, exportIntervalMillis: 60_000 });
const meterProvider = new MeterProvider({ readers: [metricReader] });
trace.setGlobalTracerProvider(tracerProvider);
metrics.setGlobalMeterProvider(meterProvider);

// ---------------------------------------------------------------------------------------------------
// The clients.

/** With `--local`: start local authorities and APIs and configure from them, as run-examples.mjs does. */
async function localSettings() {
  const { startScenario, exampleSettings } = await import('../../tests/support/index.mjs');
  const scenario = await startScenario();
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
  try {
    return JSON.parse(env(name));
  } catch {
    throw new Error(`${name} is not a JSON private JWK`);
  }
};

// One hook per client; `helseid` combines it with a hook of its own (any number can be chained).
const otelHelseid = openTelemetry({ client: 'helseid' });
const logFailures = (event) => {
  if (event.type === 'error' || event.type === 'store_error') console.error(`helseid: ${event.type} ${event.code ?? event.op}`);
};
const apis = new ClientRegistry({
  helseid: {
    profile: 'helseid', // private_key_jwt, DPoP on
    issuer: env('HELSEID_ISSUER'),
    ...(vars.HELSEID_TOKEN_ENDPOINT ? { tokenEndpoint: vars.HELSEID_TOKEN_ENDPOINT } : {}),
    clientId: env('HELSEID_CLIENT_ID'),
    clientAuth: { method: 'private_key_jwt', privateJwk: privateJwk('HELSEID_PRIVATE_JWK') },
    scope: env('API1_SCOPE'),
    baseUrl: env('API1_URL'),
    onEvent: (event) => {
      otelHelseid(event);
      logFailures(event);
    },
  },
  duende: {
    profile: 'duende',
    ...(vars.API2_ISSUER ? { issuer: vars.API2_ISSUER } : {}),
    tokenEndpoint: env('API2_TOKEN_ENDPOINT'),
    clientId: env('API2_CLIENT_ID'),
    clientAuth: { method: 'client_secret_basic', clientSecret: env('API2_CLIENT_SECRET') },
    scope: env('API2_SCOPE'),
    baseUrl: env('API2_URL'),
    onEvent: openTelemetry({ client: 'duende' }),
  },
});
const paths = { helseid: vars.API1_PATH ?? '/', duende: vars.API2_PATH ?? '/' };

let failed = false;
try {
  for (let i = 1; i <= Number(vars.CALLS ?? 3); i++) {
    for (const [name, path] of Object.entries(paths)) {
      try {
        const res = await apis.fetch(name, path);
        await res.arrayBuffer();
        console.log(`call ${i} ${name} ${res.status}`);
      } catch (err) {
        if (!(err instanceof TokenError)) throw err;
        failed = true;
        console.log(`call ${i} ${name} ${err.code}`); // also a span with status ERROR
      }
    }
  }
} finally {
  // Before exit: spans are exported as they end, metrics on the reader's interval and once more at shutdown.
  await Promise.all([meterProvider.shutdown(), tracerProvider.shutdown()]);
  apis.free();
  await local?.close();
}
process.exitCode = failed ? 1 : 0;
