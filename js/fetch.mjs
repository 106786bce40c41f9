// client.fetch: the one place a request to an API is sent. The engine (wasm) decides, this file
// performs:
//   1. read the caller's input and init once (URL resolution against baseUrl, the method, the
//      caller's headers, whether the body is a stream) into a `call`;
//   2. `__authorize(headers, method, url, req)` sets Authorization (and DPoP) in the call's header
//      record: `true` at once for a cached token (no Promise is made), else a Promise;
//   3. send, with `redirect: "manual"` unless the caller chose a mode;
//   4. a response that carries something for the engine (a 401, a redirect it may follow, a
//      DPoP-Nonce after a proof) goes to `__after`, with its Date (the engine learns the API's
//      clock from these, never from the fast path's 2xx), which says: done, send again (headers
//      set anew), or follow the redirect (within the origin); anything else is the caller's.
// Method normalization, the URL policy and every retry rule live in the engine only.
import { asTokenError } from './boundary.mjs';
import { TokenError } from './error.mjs';
import { errorText, quotes } from './exchange.js';

/** Headers that describe a body: dropped when a redirect turns the request into a GET (Fetch §4.4). */
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type'];

/** Install `fetch` on the glue's TokenClient class. */
export function installFetch(TokenClient) {
  TokenClient.prototype.fetch = function fetch(input, init, req) {
    try {
      const call = prepare(this, input, init);
      const ready = this.__authorize(call.headers, call.method, call.url, req);
      return ready === true ? perform(this, call, req, 0) : ready.then(() => perform(this, call, req, 0));
    } catch (e) {
      return Promise.reject(asTokenError(e, 'fetch'));
    }
  };
}

/**
 * The request, read once from the caller's `input` and `init`: `{ url, method, headers, init,
 * request?, follow, fetch }`. `headers` is the plain record sent (the caller's headers without
 * their own Authorization/DPoP; the engine sets ours in it); `request` is set when the request
 * must be a Request (a Request input or a streamed body), cloned for every attempt.
 */
function prepare(client, input, init) {
  const [custom, base] = (client.__setupDone ??= client.__setup());
  const given = readInit(init);
  const call = { fetch: custom, follow: given.redirect === undefined || given.redirect === 'follow', headers: {} };
  const isRequest = isRequestInput(input);
  if (isRequest || isStream(given.body)) {
    let request;
    try {
      request = isRequest ? input : new Request(resolve(input, base), { ...given, duplex: 'half' });
      if (isRequest && init != null) request = new Request(request, { ...given, duplex: 'half' });
    } catch (e) {
      if (e instanceof TokenError) throw e;
      throw unusable('init', e);
    }
    call.follow = request.redirect === 'follow';
    if (call.follow) request = new Request(request, { redirect: 'manual' });
    copyHeaders(request.headers, call.headers);
    Object.assign(call, { request, url: request.url, method: request.method });
    return call;
  }
  copyHeaders(given.headers, call.headers);
  call.url = resolve(input, base);
  call.method = given.method === undefined ? 'GET' : given.method;
  if (typeof call.method !== 'string') throw new TokenError('init.method: must be a string (an HTTP method)', 'invalid_argument');
  call.init = { ...given, headers: call.headers };
  if (call.follow) call.init.redirect = 'manual';
  return call;
}

/** Whether `input` is a Request (a Proxy whose traps throw is not). */
function isRequestInput(input) {
  try {
    return input instanceof Request;
  } catch {
    return false;
  }
}

/** The caller's init as a plain copy (its getters run here, once). */
function readInit(init) {
  if (init == null) return {};
  if (typeof init !== 'object') throw new TokenError('init: must be an object (a RequestInit)', 'invalid_argument');
  try {
    return { ...init };
  } catch (e) {
    throw unusable('init', e);
  }
}

/** The absolute URL of a string or URL input: `new URL(input, baseUrl).href`. */
function resolve(input, base) {
  let text = input;
  if (typeof input !== 'string') {
    if (input === null || (typeof input !== 'object' && typeof input !== 'function')) {
      throw new TokenError('input: must be a string, a URL or a Request', 'invalid_argument');
    }
    try {
      text = String(input);
    } catch (e) {
      throw unusable('input', e);
    }
  }
  try {
    return new URL(text, base).href;
  } catch {
    const problem = base === undefined ? 'is not an absolute URL (and there is no baseUrl)' : 'is not a valid URL';
    throw new TokenError(`input: ${problem}`, 'invalid_argument');
  }
}

/** The caller's headers (a Headers, an array of pairs or a record) into `record`, without their own Authorization/DPoP. */
function copyHeaders(given, record) {
  if (given == null) return;
  let pairs;
  try {
    pairs = given instanceof Headers || Array.isArray(given) ? new Headers(given) : Object.entries(given);
  } catch (e) {
    throw unusable('init.headers', e);
  }
  for (const [name, value] of pairs) {
    const lower = String(name).toLowerCase();
    if (lower !== 'authorization' && lower !== 'dpop') record[name] = value;
  }
}

/** Send `call` and act on what the engine says of the response; `budget`: its retries left. */
function perform(client, call, req, budget) {
  return send(call).then(
    (response) => {
      let seen;
      try {
        seen = look(response, call);
      } catch {
        throw new TokenError('fetch did not resolve to a Response', 'network_error');
      }
      if (seen === undefined) return response;
      call.replayable = call.request === undefined || !call.request.bodyUsed;
      call.budget = budget;
      return client.__after(call, seen, req).then(({ next, budget: left }) => {
        if (next === 'done') return response;
        discard(response);
        if (next !== 'send') retarget(call, seen.location, next === 'follow-get');
        return perform(client, call, req, left);
      });
    },
    (error) => {
      throw apiError(error, call);
    },
  );
}

/**
 * What `response` carries for the engine: `{ status, www, nonce, location, date }` for a 401, a redirect
 * it may follow or a DPoP-Nonce after a proof; `undefined` when it is the caller's as it is.
 * Throws when it is not a Response.
 */
function look(response, call) {
  const { status, headers } = response;
  const redirect = call.follow && status >= 300 && status < 400;
  const nonce = call.headers.dpop === undefined ? null : headers.get('dpop-nonce');
  if (status !== 401 && !redirect && nonce === null) return undefined;
  return {
    status,
    www: (status === 401 && headers.get('www-authenticate')) || undefined,
    nonce: nonce ?? undefined,
    location: redirect ? locationOf(headers.get('location'), call.url) : undefined,
    date: headers.get('date'),
  };
}

/** The one `fetch` call: the call's request (a fresh clone, our headers set) or its URL and init. */
function send(call) {
  const fetch = call.fetch ?? globalThis.fetch;
  try {
    if (call.request === undefined) return Promise.resolve(fetch.call(globalThis, call.url, call.init));
    const attempt = call.request.clone();
    for (const name of ['authorization', 'dpop']) {
      if (call.headers[name] === undefined) attempt.headers.delete(name);
      else attempt.headers.set(name, call.headers[name]);
    }
    return Promise.resolve(fetch.call(globalThis, attempt));
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * A failed API call's error, unless it repeats a piece of the Authorization or DPoP value (a
 * custom fetch's error, or the platform's about an invalid header value, may quote the token):
 * then a `network_error` naming the URL (without query) says the details were withheld.
 */
function apiError(error, call) {
  const sent = [call.headers.authorization, call.headers.dpop].filter((v) => typeof v === 'string');
  if (!quotes(errorText(error), sent)) return error;
  const url = call.url.split(/[?#]/)[0];
  return new TokenError(`request to ${url} failed (the error's details quote the request and are withheld)`, 'network_error');
}

/** Go on at `url` after a redirect the engine follows; as a GET without body when `asGet`. */
function retarget(call, url, asGet) {
  call.url = url;
  if (asGet) {
    call.method = 'GET';
    for (const name of Object.keys(call.headers)) if (BODY_HEADERS.includes(name.toLowerCase())) delete call.headers[name];
  }
  if (call.request !== undefined) {
    const from = call.request;
    const body = asGet ? {} : { body: from.body === null ? null : from.clone().body, duplex: 'half' };
    call.request = new Request(url, { method: call.method, headers: call.headers, redirect: 'manual', signal: from.signal, ...body });
  } else if (asGet) {
    call.init = { ...call.init, method: 'GET', body: undefined };
  }
}

/** A redirect's `Location` resolved against the request URL; undefined without one (or in a browser's opaque redirect). */
function locationOf(location, url) {
  if (location === null) return undefined;
  try {
    return new URL(location, url).href;
  } catch {
    return undefined;
  }
}

/** Let go of a response that is not handed back (its connection is freed). */
function discard(response) {
  try {
    response.body?.cancel().catch(() => {});
  } catch {
    // a custom fetch's body: nothing to free
  }
}

/** A ReadableStream body is sent once, so it needs a Request cloned per attempt. */
function isStream(body) {
  return body != null && typeof body === 'object' && typeof body.getReader === 'function';
}

/** An `invalid_argument` for `field` after reading it threw `e` (its name only: its message could quote values). */
function unusable(field, e) {
  let name = 'Error';
  try {
    if (typeof e?.name === 'string' && /^\w{1,40}$/.test(e.name)) name = e.name;
  } catch {
    // a getter that throws: the generic name
  }
  return new TokenError(`${field}: could not be read (${name})`, 'invalid_argument');
}
