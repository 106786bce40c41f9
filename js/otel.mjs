// `tokenfetch/otel`: the `onEvent` hook as OpenTelemetry spans and metrics. Its own package entry
// (pkg/otel.mjs): the main entry never imports `@opentelemetry/api`, so whoever does not import
// this pays nothing. Attribute values are the client's name and fixed sets only (event types,
// TokenError codes, store operations): never an event's `cacheKey`, `url` or `message`, which have a
// value per scope, resource or subject (metric cardinality) and are not meant for telemetry.
import { SpanKind, SpanStatusCode, metrics, trace } from '@opentelemetry/api';

const SCOPE = 'tokenfetch';

/** Histogram bucket bounds (seconds) for token request durations: a cached token costs none. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const fail = (message) => {
  throw new TypeError(`openTelemetry: ${message}`);
};

/**
 * An `onEvent` hook for one client that records, through `@opentelemetry/api`:
 * - a root span `tokenfetch.token_request` per token request (from its start to its end, retries
 *   included), with `tokenfetch.attempts`, `tokenfetch.refresh`, and on failure status ERROR and
 *   `error.type` = the TokenError code;
 * - counters `tokenfetch.cache.hits` (`tokenfetch.cache.source`: `memory` or `store`),
 *   `tokenfetch.cache.misses` (= token requests), `tokenfetch.store.errors`
 *   (`tokenfetch.store.operation`) and `tokenfetch.events` (`tokenfetch.event.type`);
 * - a histogram `tokenfetch.token_request.duration` (seconds).
 * Every span and data point carries `tokenfetch.client` = `options.client`.
 * `tracer` / `meter` default to the global providers' `tokenfetch` ones, looked up at the first
 * event (so the SDK may start after the client is built).
 */
export function openTelemetry(options) {
  if (options === null || typeof options !== 'object') fail('expected options { client, tracer?, meter? }');
  const { client, tracer, meter } = options;
  if (typeof client !== 'string' || client === '') {
    fail('"client" must be a non-empty string: the client\'s name (e.g. "api1"), an attribute of every span and metric');
  }
  if (tracer != null && typeof tracer.startSpan !== 'function') fail('"tracer" must be an OpenTelemetry Tracer (startSpan)');
  if (meter != null && (typeof meter.createCounter !== 'function' || typeof meter.createHistogram !== 'function')) {
    fail('"meter" must be an OpenTelemetry Meter (createCounter, createHistogram)');
  }
  const base = { 'tokenfetch.client': client };
  let tools;
  const instruments = () => {
    if (tools) return tools;
    const m = meter ?? metrics.getMeter(SCOPE);
    tools = {
      tracer: tracer ?? trace.getTracer(SCOPE),
      hits: m.createCounter('tokenfetch.cache.hits', {
        description: 'Tokens served without asking the authority: from the client\'s cache (memory) or the shared store (store).',
        unit: '{token}',
      }),
      misses: m.createCounter('tokenfetch.cache.misses', {
        description: 'Token requests to the authority (new tokens, refreshes and failures).',
        unit: '{request}',
      }),
      storeErrors: m.createCounter('tokenfetch.store.errors', {
        description: 'Shared token store failures, each bypassed (by operation).',
        unit: '{error}',
      }),
      events: m.createCounter('tokenfetch.events', {
        description: 'Every onEvent event, by type.',
        unit: '{event}',
      }),
      duration: m.createHistogram('tokenfetch.token_request.duration', {
        description: 'Time to get a token from the authority, retries included.',
        unit: 's',
        advice: { explicitBucketBoundaries: DURATION_BUCKETS },
      }),
    };
    return tools;
  };

  return (event) => {
    const t = instruments();
    t.events.add(1, { ...base, 'tokenfetch.event.type': event.type });
    switch (event.type) {
      case 'cache_hit':
        t.hits.add(1, { ...base, 'tokenfetch.cache.source': 'memory' });
        break;
      case 'store_hit':
        t.hits.add(1, { ...base, 'tokenfetch.cache.source': 'store' });
        break;
      case 'store_error':
        t.storeErrors.add(1, { ...base, 'tokenfetch.store.operation': event.op });
        break;
      case 'token_request':
      case 'refresh':
      case 'error': {
        const failed = event.type === 'error';
        // A failure does not say whether it was a refresh: `error.type` instead.
        const attributes = failed
          ? { ...base, 'error.type': event.code }
          : { ...base, 'tokenfetch.refresh': event.type === 'refresh' };
        t.misses.add(1, base);
        t.duration.record(event.durationMs / 1000, attributes);
        // A root span: one token request serves every caller waiting for it (single flight), and
        // the context active when the event arrives is not reliably any caller's.
        const span = t.tracer.startSpan('tokenfetch.token_request', {
          root: true,
          kind: SpanKind.INTERNAL,
          startTime: new Date(event.time - event.durationMs),
          attributes: { ...attributes, 'tokenfetch.attempts': event.attempts },
        });
        if (failed) span.setStatus({ code: SpanStatusCode.ERROR, message: event.code });
        span.end(new Date(event.time));
        break;
      }
      default:
        break; // nonce_retry, invalid_token_retry, stale_if_error, clock_skew: counted in tokenfetch.events
    }
  };
}
