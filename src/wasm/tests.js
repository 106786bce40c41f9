// Test helpers written in JS for the wasm-bindgen tests of the glue (src/wasm/tests.rs imports them with
// `#[wasm_bindgen(module = "/src/wasm/tests.js")]`; wasm-bindgen copies the file next to the test module, for Node
// and for the browser runner, which serves only `.js` snippets). Not part of the package.

/**
 * A fetch function for `routes` (URL -> array of response specs). It records every call in `fetch.calls` as
 * `{ url, method, redirect, headers, body, signal, thisIsGlobal, isRequest }` (the body read with `request.text()`)
 * and answers by URL with the next spec of `routes[url]` (the last one repeats): `{ status, json, body, headers }`
 * builds a `Response`; `{ hang: true }` never settles unless the request's signal aborts, then rejects with
 * `signal.reason`; `{ reject: message, cause }` rejects with `TypeError(message, { cause })`. A URL without a route
 * rejects with a TypeError.
 */
export function stub(routes) {
  const calls = [];
  const served = {};
  const fetch = async function (input, init) {
    const request = input instanceof Request ? input : new Request(input, init);
    const call = {
      url: request.url,
      method: request.method,
      redirect: request.redirect,
      headers: Object.fromEntries(request.headers),
      signal: request.signal,
      thisIsGlobal: this === globalThis,
      isRequest: input instanceof Request,
    };
    calls.push(call);
    call.body = await request.text();
    const route = routes[request.url];
    if (!route) throw new TypeError(`stub: no route for ${request.url}`);
    const n = served[request.url] = (served[request.url] || 0) + 1;
    const spec = route[Math.min(n, route.length) - 1];
    if (spec.hang) {
      // Like a real pending request, keep Node's event loop alive (its AbortSignal.timeout timer does not) until
      // the signal aborts.
      const keepAlive = setInterval(() => {}, 1000);
      return new Promise((_, reject) => {
        const { signal } = request;
        const abort = () => { clearInterval(keepAlive); reject(signal.reason); };
        if (signal.aborted) abort();
        else signal.addEventListener('abort', abort, { once: true });
      });
    }
    if (spec.reject !== undefined) {
      throw spec.cause === undefined ? new TypeError(spec.reject) : new TypeError(spec.reject, { cause: spec.cause });
    }
    const headers = new Headers(spec.headers || {});
    let body = spec.body === undefined ? null : spec.body;
    if (spec.json !== undefined) {
      body = JSON.stringify(spec.json);
      if (!headers.has('content-type')) headers.set('content-type', 'application/json');
    }
    return new Response(body, { status: spec.status || 200, headers });
  };
  fetch.calls = calls;
  return fetch;
}

/** `value instanceof ctor`. */
export function instanceOf(value, ctor) {
  return value instanceof ctor;
}

/** A new class named TokenError that extends Error (never registered unless a test does). */
export function defineClass() {
  return class TokenError extends Error {};
}

/** Whether `value` is a plain object (its prototype is Object.prototype). */
export function isPlainObject(value) {
  return typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype;
}
