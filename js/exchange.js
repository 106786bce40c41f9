// The engine's transport (src/wasm/transport.rs, `JsTransport`): one token or metadata request over
// fetch, imported by the wasm module. The host does HTTP; the engine decides what it means.
//   - `redirect: "manual"`: a token request never follows a redirect; a custom fetch that follows
//     one anyway shows it (`redirected`, or a `Response.url` other than the request's);
//   - `AbortSignal.timeout(timeoutMs)` bounds the whole exchange, body included;
//   - the body is read up to `limit` bytes: past it the stream is cancelled and `body` is null;
//   - a failure is `{ failed: 'timeout' }` or `{ failed: 'network', detail, withheld }`: the
//     error's cause code or message, unless the error repeats what was sent ({@link quotes}).
// (A wasm-bindgen snippet is copied alone: what it needs is in this file. js/fetch.mjs imports
// `errorText` and `quotes` from here too.)

/**
 * `fetch(url, { method, headers, body, redirect: 'manual', signal })` with `fetchFn` (or
 * `globalThis.fetch`, looked up now): `{ status, contentType, dpopNonce, retryAfter, date,
 * redirected, body }`, `body` a Uint8Array or null when larger than `limit`; or, when it failed, what
 * {@link failure} says.
 */
export async function exchange(fetchFn, url, method, headers, body, timeoutMs, limit) {
  try {
    return await attempt(fetchFn, url, method, headers, body, timeoutMs, limit);
  } catch (e) {
    return failure(e, headers, body);
  }
}

/**
 * A failed exchange: `{ failed: 'timeout' }` when the signal aborted, else `{ failed: 'network',
 * detail, withheld }`, `detail` the cause's `code` (`ECONNREFUSED`) or the error's message, or
 * undefined and `withheld` true when the error repeats a header value or the form (raw or decoded).
 */
function failure(e, headers, body) {
  let name;
  let detail;
  try {
    name = e?.name;
    detail = e?.cause?.code ?? e?.message;
  } catch {
    // a getter that throws: no detail
  }
  if (name === 'TimeoutError' || name === 'AbortError') return { failed: 'timeout' };
  const sent = Object.values(headers);
  if (body !== undefined) sent.push(body, ...[...new URLSearchParams(body)].flat());
  const withheld = quotes(errorText(e), sent);
  return { failed: 'network', detail: withheld || typeof detail !== 'string' ? undefined : detail, withheld };
}

async function attempt(fetchFn, url, method, headers, body, timeoutMs, limit) {
  // A plain init: a Request object would make fetch copy (tee) the body again (~5 ms of a cold
  // start's first token request in Node).
  const init = { method, headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) };
  if (body !== undefined) init.body = body;
  const response = await (fetchFn ?? globalThis.fetch).call(globalThis, url, init);
  if (!(response instanceof Response)) throw new TypeError('fetch did not resolve to a Response');
  const { status, headers: got } = response;
  const answered = response.url;
  return {
    status,
    contentType: got.get('content-type'),
    dpopNonce: got.get('dpop-nonce'),
    retryAfter: got.get('retry-after'),
    date: got.get('date'),
    // (Request URLs here are in normal form and without a fragment, as `Response.url` is.)
    redirected: response.redirected || (answered !== '' && answered !== url),
    body: await readLimited(response, limit),
  };
}

/** The body's bytes, or null past `limit` (the stream is then cancelled). */
async function readLimited(response, limit) {
  if (Number(response.headers.get('content-length')) > limit) {
    response.body?.cancel().catch(() => {});
    return null;
  }
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks = [];
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    length += value.byteLength;
    if (length > limit) {
      reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return bytes;
}

// Whether a host's error repeats what a request sent: a custom fetch (or a wrapper, or the
// platform about an invalid header value) may quote the Authorization header, a DPoP proof, or a
// token request's form with its client secret, assertion or subject token. Such an error is never
// handed on as it is.

/** The shortest piece of a sent value that, repeated in an error, counts as quoting it. */
const PIECE = 8;

/**
 * What of a thrown value can reach a log: `String(e)`, its `message`, `stack` and JSON (own
 * enumerable properties), and the same of its causes (at most four: a chain may be a cycle).
 * Whatever throws while being read is skipped.
 */
export function errorText(error) {
  const parts = [];
  let e = error;
  for (let depth = 0; depth < 4 && e != null; depth++) {
    for (const read of [() => String(e), () => e.message, () => e.stack, () => JSON.stringify(e)]) {
      try {
        const part = read();
        if (typeof part === 'string') parts.push(part);
      } catch {
        // a getter, toString or toJSON that throws: nothing to read
      }
    }
    try {
      e = e.cause;
    } catch {
      break;
    }
  }
  return parts.join('\n');
}

/** Whether `text` repeats {@link PIECE} or more consecutive characters of any of `sent`. */
export function quotes(text, sent) {
  const seen = new Set();
  for (let i = 0; i + PIECE <= text.length; i++) seen.add(text.slice(i, i + PIECE));
  return sent.some((value) => {
    for (let i = 0; i + PIECE <= value.length; i++) if (seen.has(value.slice(i, i + PIECE))) return true;
    return false;
  });
}
