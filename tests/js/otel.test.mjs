// tokenfetch/otel: the onEvent hook as OpenTelemetry spans and metrics, recorded by the real
// OpenTelemetry SDK (sdk-trace-base's InMemorySpanExporter, sdk-metrics' InMemoryMetricExporter)
// for clients that talk to the local oidc-provider authorities. Every span and data point is
// checked for secrets, tokens and cache keys, and for attributes outside the fixed set.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { TokenClient } from 'tokenfetch';
import { openTelemetry } from 'tokenfetch/otel';
import { startScenario } from '../support/index.mjs';
import { delta, duendeOptions, helseidOptions, scanScenario, secrets } from './helpers.mjs';

const ATTRIBUTES = new Set(['tokenfetch.client', 'tokenfetch.attempts', 'tokenfetch.refresh', 'error.type',
  'tokenfetch.cache.source', 'tokenfetch.store.operation', 'tokenfetch.event.type']);

let s;
const spans = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] });
const tracer = tracerProvider.getTracer('otel.test');
const exported = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: exported, exportIntervalMillis: 3_600_000 });
const meterProvider = new MeterProvider({ readers: [reader] });
const meter = meterProvider.getMeter('otel.test');
/** Every cache key an event carried: none may reach an attribute. */
const cacheKeys = new Set();

before(async () => {
  // A context manager, so that a caller's active span could become a parent (it must not).
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  s = scanScenario(await startScenario());
});
after(async () => {
  await meterProvider.shutdown();
  await tracerProvider.shutdown();
  await s?.close();
});

/** `openTelemetry` for `client`, combined with a hook that keeps the events (as the README shows). */
function instrument(client, options = { tracer, meter }) {
  const events = [];
  const otel = openTelemetry({ client, ...options });
  const onEvent = (e) => {
    otel(e);
    events.push(e);
    if (e.cacheKey) cacheKeys.add(e.cacheKey);
  };
  return { onEvent, events, count: (type) => events.filter((e) => e.type === type).length };
}

/** The metrics so far: name -> { descriptor, points: [{ attributes, value }] } (cumulative). */
async function collect() {
  exported.reset();
  await reader.forceFlush();
  const all = new Map();
  for (const resource of exported.getMetrics()) {
    for (const scope of resource.scopeMetrics) {
      for (const m of scope.metrics) all.set(m.descriptor.name, { descriptor: m.descriptor, points: m.dataPoints });
    }
  }
  return all;
}

/** The value of `name`'s data point whose attributes are exactly `attributes` (undefined if none). */
function point(all, name, attributes) {
  const found = all.get(name)?.points.find((p) => {
    const keys = Object.keys(p.attributes);
    return keys.length === Object.keys(attributes).length && keys.every((k) => p.attributes[k] === attributes[k]);
  });
  return found?.value;
}

/** No secret, token or cache key in any attribute; only the fixed attribute names. */
function checkAttributes(where, attributes) {
  for (const [name, value] of Object.entries(attributes)) {
    assert.ok(ATTRIBUTES.has(name), `${where}: unexpected attribute ${name}`);
    for (const key of cacheKeys) assert.ok(!String(value).includes(key), `${where}: ${name} holds a cache key`);
  }
  secrets.check(attributes, where);
}

async function checkTelemetry() {
  const finished = spans.getFinishedSpans();
  finished.forEach((span, i) => checkAttributes(`span #${i}`, span.attributes));
  let n = 0;
  for (const [name, { points }] of await collect()) {
    for (const p of points) checkAttributes(`${name} point`, p.attributes), (n += 1);
  }
  assert.ok(finished.length + n > 0, 'there was telemetry to check');
  assert.ok(cacheKeys.size > 0, 'cache keys were seen to look for');
}

test('a span per token request (attempts: 2 after a DPoP nonce challenge), cache hits and misses, a latency histogram', async () => {
  spans.reset();
  const a = instrument('otel-api1');
  const b = instrument('otel-api2');
  const api1 = new TokenClient(helseidOptions(s, { onEvent: a.onEvent }));
  const api2 = new TokenClient(duendeOptions(s, 'basic', { onEvent: b.onEvent }));
  const calls = 3;
  // Called inside a caller's span: the token request's span still starts a trace of its own.
  const { diff: issuedA } = await delta(s.authorityA.counters, () => tracer.startActiveSpan('caller', async (caller) => {
    for (let i = 0; i < calls; i++) assert.equal((await api1.fetch('/data')).status, 200);
    caller.end();
  }));
  const { diff: issuedB } = await delta(s.authorityB.counters, async () => {
    for (let i = 0; i < calls; i++) assert.equal((await api2.fetch('/data')).status, 200);
  });
  assert.deepEqual([issuedA.tokensIssued, issuedB.tokensIssued], [1, 1]);
  assert.equal(issuedA.tokenRequests, 2, 'authority A: a nonce challenge, then the token');

  const requests = spans.getFinishedSpans().filter((x) => x.name === 'tokenfetch.token_request');
  assert.equal(requests.length, 2);
  const [spanA, spanB] = ['otel-api1', 'otel-api2'].map((c) => requests.find((x) => x.attributes['tokenfetch.client'] === c));
  assert.deepEqual(spanA.attributes, { 'tokenfetch.client': 'otel-api1', 'tokenfetch.refresh': false, 'tokenfetch.attempts': 2 });
  assert.deepEqual(spanB.attributes, { 'tokenfetch.client': 'otel-api2', 'tokenfetch.refresh': false, 'tokenfetch.attempts': 1 });
  assert.equal(spanA.parentSpanContext, undefined, 'a root span, not the caller\'s child');
  assert.notEqual(spanA.spanContext().traceId, spans.getFinishedSpans().find((x) => x.name === 'caller').spanContext().traceId);
  // From the request's start to its end, as the event says.
  const [eventA] = a.events.filter((e) => e.type === 'token_request');
  const ms = ([sec, ns]) => sec * 1000 + ns / 1e6;
  assert.equal(ms(spanA.endTime), eventA.time);
  assert.equal(ms(spanA.duration), eventA.durationMs);
  assert.equal(spanA.status.code, 0, 'UNSET: a success');

  const all = await collect();
  for (const [c, rec] of [['otel-api1', a], ['otel-api2', b]]) {
    const client = { 'tokenfetch.client': c };
    assert.equal(rec.count('cache_hit'), calls - 1);
    assert.equal(point(all, 'tokenfetch.cache.hits', { ...client, 'tokenfetch.cache.source': 'memory' }), calls - 1);
    assert.equal(point(all, 'tokenfetch.cache.misses', client), 1, 'misses = token requests');
    const h = point(all, 'tokenfetch.token_request.duration', { ...client, 'tokenfetch.refresh': false });
    assert.equal(h.count, 1);
    const [event] = rec.events.filter((e) => e.type === 'token_request');
    assert.ok(Math.abs(h.sum - event.durationMs / 1000) < 1e-9, `histogram sum ${h.sum} s`);
    assert.deepEqual(h.buckets.boundaries, [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
    assert.equal(h.buckets.counts.reduce((x, y) => x + y, 0), 1);
  }
  assert.equal(all.get('tokenfetch.token_request.duration').descriptor.unit, 's');
  // Every event counted by type: two DPoP nonce retries for API 1 (token endpoint, API).
  assert.equal(point(all, 'tokenfetch.events', { 'tokenfetch.client': 'otel-api1', 'tokenfetch.event.type': 'nonce_retry' }), 2);
  assert.equal(point(all, 'tokenfetch.events', { 'tokenfetch.client': 'otel-api2', 'tokenfetch.event.type': 'nonce_retry' }), undefined);
  // A refresh is a miss too, and its span says so.
  spans.reset();
  await api2.getToken({ forceRefresh: true });
  const [refresh] = spans.getFinishedSpans();
  assert.equal(refresh.attributes['tokenfetch.refresh'], true);
  const again = await collect();
  assert.equal(point(again, 'tokenfetch.cache.misses', { 'tokenfetch.client': 'otel-api2' }), 2);
  assert.equal(point(again, 'tokenfetch.token_request.duration', { 'tokenfetch.client': 'otel-api2', 'tokenfetch.refresh': true }).count, 1);
  await checkTelemetry();
});

test('a refused token request is an error span with its TokenError code', async () => {
  spans.reset();
  const rec = instrument('otel-refused');
  const wrong = `wrong-secret-${randomBytes(8).toString('hex')}`;
  secrets.add('the wrong client secret', wrong);
  const client = new TokenClient(duendeOptions(s, 'basic', {
    clientAuth: { method: 'client_secret_basic', clientSecret: wrong }, onEvent: rec.onEvent,
  }));
  await assert.rejects(client.getToken(), { code: 'oauth_error', error: 'invalid_client' });
  const [span, ...more] = spans.getFinishedSpans();
  assert.equal(more.length, 0);
  assert.equal(span.name, 'tokenfetch.token_request');
  assert.deepEqual(span.status, { code: 2, message: 'oauth_error' }); // SpanStatusCode.ERROR
  assert.deepEqual(span.attributes, { 'tokenfetch.client': 'otel-refused', 'error.type': 'oauth_error', 'tokenfetch.attempts': 1 });
  const all = await collect();
  const client_ = { 'tokenfetch.client': 'otel-refused' };
  assert.equal(point(all, 'tokenfetch.cache.misses', client_), 1);
  assert.equal(point(all, 'tokenfetch.token_request.duration', { ...client_, 'error.type': 'oauth_error' }).count, 1);
  assert.equal(point(all, 'tokenfetch.events', { ...client_, 'tokenfetch.event.type': 'error' }), 1);
  await checkTelemetry();
});

test('store errors are counted by operation, store hits as hits from the store', async () => {
  const storeKey = randomBytes(32).toString('base64url');
  // A store that always throws: bypassed, and reported.
  const broken = instrument('otel-broken-store');
  const failing = { get() { throw new Error('store down'); }, set() { throw new Error('store down'); } };
  const c1 = new TokenClient(duendeOptions(s, 'basic', { store: failing, storeEncryptionKey: storeKey, onEvent: broken.onEvent }));
  await c1.getToken();
  const ops = broken.events.filter((e) => e.type === 'store_error').map((e) => e.op);
  assert.deepEqual(ops, ['get', 'set']);
  // A working store shared by two clients: the second one's token is a hit from the store.
  const map = new Map();
  const shared = { get: (k) => map.get(k) ?? null, set: (k, v) => { map.set(k, v); } };
  const first = instrument('otel-store-1');
  const second = instrument('otel-store-2');
  await new TokenClient(duendeOptions(s, 'basic', { store: shared, storeEncryptionKey: storeKey, onEvent: first.onEvent })).getToken();
  await new TokenClient(duendeOptions(s, 'basic', { store: shared, storeEncryptionKey: storeKey, onEvent: second.onEvent })).getToken();
  assert.deepEqual(second.events.map((e) => e.type), ['store_hit']);

  const all = await collect();
  for (const op of ['get', 'set']) {
    assert.equal(point(all, 'tokenfetch.store.errors', { 'tokenfetch.client': 'otel-broken-store', 'tokenfetch.store.operation': op }), 1);
  }
  assert.equal(point(all, 'tokenfetch.cache.misses', { 'tokenfetch.client': 'otel-broken-store' }), 1);
  assert.equal(point(all, 'tokenfetch.cache.hits', { 'tokenfetch.client': 'otel-store-2', 'tokenfetch.cache.source': 'store' }), 1);
  assert.equal(point(all, 'tokenfetch.cache.misses', { 'tokenfetch.client': 'otel-store-2' }), undefined, 'no token request');
  assert.equal(point(all, 'tokenfetch.cache.misses', { 'tokenfetch.client': 'otel-store-1' }), 1);
  await checkTelemetry();
});

test('without tracer and meter: the global providers, looked up at the first event (the SDK may start later)', async () => {
  const rec = instrument('otel-global', {});
  const client = new TokenClient(duendeOptions(s, 'basic', { onEvent: rec.onEvent }));
  // Registered after the hook was made, as when a client is built at module load and the SDK later.
  const globalSpans = new InMemorySpanExporter();
  const globalTracing = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(globalSpans)] });
  const globalExported = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const globalReader = new PeriodicExportingMetricReader({ exporter: globalExported, exportIntervalMillis: 3_600_000 });
  const globalMetrics = new MeterProvider({ readers: [globalReader] });
  assert.ok(trace.setGlobalTracerProvider(globalTracing));
  assert.ok(metrics.setGlobalMeterProvider(globalMetrics));
  try {
    await client.getToken();
    await client.getToken();
    const [span] = globalSpans.getFinishedSpans();
    assert.equal(span.instrumentationScope.name, 'tokenfetch');
    assert.equal(span.attributes['tokenfetch.client'], 'otel-global');
    await globalReader.forceFlush();
    const names = globalExported.getMetrics().flatMap((r) => r.scopeMetrics)
      .filter((sm) => sm.scope.name === 'tokenfetch').flatMap((sm) => sm.metrics.map((m) => m.descriptor.name));
    assert.deepEqual(names.sort(), ['tokenfetch.cache.hits', 'tokenfetch.cache.misses', 'tokenfetch.events', 'tokenfetch.token_request.duration']);
  } finally {
    trace.disable();
    metrics.disable();
    await globalMetrics.shutdown();
  }
});

test('bad options are a TypeError naming the option', () => {
  const named = (fn, field) => assert.throws(fn, (e) => e instanceof TypeError && e.message.includes(field), field);
  named(() => openTelemetry(), 'options');
  named(() => openTelemetry({}), '"client"');
  named(() => openTelemetry({ client: '' }), '"client"');
  named(() => openTelemetry({ client: 7 }), '"client"');
  named(() => openTelemetry({ client: 'x', tracer: {} }), '"tracer"');
  named(() => openTelemetry({ client: 'x', meter: { createCounter() {} } }), '"meter"');
  assert.equal(typeof openTelemetry({ client: 'x', tracer, meter }), 'function');
});

test('the main entry does not import @opentelemetry/api (only tokenfetch/otel does)', () => {
  const pkg = new URL('../../pkg/', import.meta.url);
  for (const file of ['node.mjs', 'node.cjs', 'deno.mjs', 'workerd.mjs', 'browser.mjs', 'gen/runtime.mjs', 'gen/tokenfetch_bg.js']) {
    assert.ok(!readFileSync(new URL(file, pkg), 'utf8').includes('opentelemetry'), file);
  }
  assert.match(readFileSync(new URL('otel.mjs', pkg), 'utf8'), /from"@opentelemetry\/api"/);
  const manifest = JSON.parse(readFileSync(new URL('package.json', pkg), 'utf8'));
  assert.equal(manifest.exports['./otel'].default, './otel.mjs');
  assert.deepEqual(manifest.peerDependenciesMeta['@opentelemetry/api'], { optional: true });
  assert.equal(manifest.dependencies, undefined, 'no runtime dependency');
});

test('types: pkg/otel.d.ts against the real @opentelemetry/api and SDK types (tsc --strict, tests/js/types)', async () => {
  const root = new URL('../../', import.meta.url).pathname;
  const { code, output } = await new Promise((resolve) => {
    execFile(`${root}node_modules/.bin/tsc`, ['-p', 'tests/js/types'], { cwd: root },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, output: stdout + stderr }));
  });
  assert.equal(code, 0, output);
});
