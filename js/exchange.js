// The engine's transport (src/wasm/host.rs, `JsTransport`): one token or metadata request over
// fetch, imported by the wasm module. The host does HTTP; the engine decides what it means.
//   - `redirect: "manual"`: a token request never follows a redirect; a custom fetch that follows
//     one anyway shows it (`redirected`, or a `Response.url` other than the request's);
//   - `AbortSignal.timeout(timeoutMs)` bounds the whole exchange, body included;
//   - the body is read up to `limit` bytes: past it the stream is cancelled and `body` is null.

/**
 * `fetch(url, { method, headers, body, redirect: 'manual', signal })` with `fetchFn` (or
 * `globalThis.fetch`, looked up now): `{ status, contentType, dpopNonce, retryAfter, redirected,
 * body }`, `body` a Uint8Array or null when larger than `limit`. Rejects as fetch does, or with a
 * TypeError when a custom fetch resolves to something that is not a Response.
 */
export async function exchange(fetchFn, url, method, headers, body, timeoutMs, limit) {
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
