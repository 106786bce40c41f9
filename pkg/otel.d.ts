/**
 * `tokenfetch/otel`: a client's `onEvent` as OpenTelemetry spans and metrics, through
 * `@opentelemetry/api` (an optional peer dependency: install it to use this entry).
 */
import type { Meter, Tracer } from '@opentelemetry/api';
import type { TokenEvent } from './index.js';

export interface OpenTelemetryOptions {
  /**
   * The client's name (`api1`): the `tokenfetch.client` attribute of every span and data point.
   * Attribute values are only this name and fixed sets (event types, TokenError codes, store
   * operations), never a cache key, URL, token or secret.
   */
  client: string;
  /** Default: `trace.getTracer('tokenfetch')` of the global provider, looked up at the first event. */
  tracer?: Tracer;
  /** Default: `metrics.getMeter('tokenfetch')` of the global provider, looked up at the first event. */
  meter?: Meter;
}

/**
 * An `onEvent` hook that records, for one client:
 * - a root span `tokenfetch.token_request` per token request (it serves every caller waiting
 *   for it, so it belongs to no caller's trace), from its start (`time - durationMs`) to
 *   its end (`time`), with attributes `tokenfetch.client`, `tokenfetch.attempts`,
 *   `tokenfetch.refresh` (success) or status ERROR and `error.type` = the TokenError code (failure);
 * - counters `tokenfetch.cache.hits` (`tokenfetch.cache.source`: `memory` | `store`),
 *   `tokenfetch.cache.misses` (token requests), `tokenfetch.store.errors`
 *   (`tokenfetch.store.operation`: `get` | `set` | `delete` | `lock` | `unlock` | `key`) and
 *   `tokenfetch.events` (`tokenfetch.event.type`);
 * - a histogram `tokenfetch.token_request.duration` in seconds (`tokenfetch.refresh` or `error.type`).
 *
 * Combine with a hook of your own: `onEvent: (e) => { otel(e); mine(e); }`.
 * Throws a `TypeError` naming the option when `client`, `tracer` or `meter` is not what it should be.
 */
export function openTelemetry(options: OpenTelemetryOptions): (event: TokenEvent) => void;
