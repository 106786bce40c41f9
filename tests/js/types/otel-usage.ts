// Type-checked by tests/js/otel.test.mjs (tsc --strict): tokenfetch/otel's declarations against the
// real @opentelemetry/api and SDK types, as a TypeScript service would use them.
import { metrics, trace } from '@opentelemetry/api';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { TokenClient, type TokenClientOptions, type TokenEvent } from 'tokenfetch';
import { openTelemetry, type OpenTelemetryOptions } from 'tokenfetch/otel';

declare const options: TokenClientOptions;

const withDefaults = new TokenClient({ ...options, onEvent: openTelemetry({ client: 'api1' }) });
const explicit: OpenTelemetryOptions = {
  client: 'api2',
  tracer: new BasicTracerProvider().getTracer('svc'),
  meter: new MeterProvider().getMeter('svc'),
};
const otel = openTelemetry(explicit);
const combined = new TokenClient({ ...options, onEvent: (e: TokenEvent) => { otel(e); console.log(e.type); } });
const globals: OpenTelemetryOptions = { client: 'api3', tracer: trace.getTracer('x'), meter: metrics.getMeter('x') };

// @ts-expect-error: client is required
openTelemetry({});
// @ts-expect-error: a tracer is a Tracer
openTelemetry({ client: 'x', tracer: 'tokenfetch' });

export { withDefaults, combined, globals };
