// The cached-token fast path of client.fetch, installed once per loaded glue. With a URL input
// and a plain init, the wasm side only decides the headers (`__fastHeaders`: the cached token and,
// with DPoP, a proof signed at once, for a URL the token may go to) and this file sends: one
// string crosses the boundary and the caller gets fetch's own Promise. Only a 401, a DPoP-Nonce
// after a proof, or a redirect (sent with `redirect: "manual"` unless the caller chose a mode:
// the engine follows within the origin only) goes back to wasm for the same decisions as the
// full path (`__continueFetch`); anything else (a Request, a streamed body, per-call token
// options, no fresh token, a URL the token may not go to) takes the full path, unchanged.

import { asTokenError } from './boundary.mjs';

/** Install the fast path on the glue's TokenClient and ClientRegistry classes. */
export function installFastPath(TokenClient, ClientRegistry) {
  const full = TokenClient.prototype.fetch;
  TokenClient.prototype.fetch = function fetch(input, init, req) {
    let sent;
    try {
      sent = req == null && fastFetch(this, input, init);
    } catch {
      // The caller's input or init threw when read (a getter, a Proxy): the full path reads them
      // again and rejects with a TokenError naming the one at fault.
    }
    try {
      return sent || full.call(this, input, init, req);
    } catch (e) {
      return Promise.reject(asTokenError(e, 'fetch'));
    }
  };
  // `registry.get(name).fetch(input, init)`, defined here only.
  ClientRegistry.prototype.fetch = function fetch(name, input, init) {
    let client;
    try {
      // One wrapper per name, so the fast path's per-client setup is kept between calls.
      const clients = (this.__clients ??= new Map());
      client = clients.get(name);
      if (client === undefined) clients.set(name, (client = this.get(name)));
    } catch (e) {
      return Promise.reject(e);
    }
    return client.fetch(input, init);
  };
}

/** Send `input` with the cached token's headers; `undefined` when the full path must run. */
function fastFetch(client, input, init) {
  if (typeof input !== 'string' && !(input instanceof URL)) return undefined;
  let method = 'GET'; // normalized by the engine, where it matters (the proof's htm)
  if (init != null) {
    if (typeof init !== 'object' || isStream(init.body)) return undefined;
    if (init.method !== undefined) {
      if (typeof init.method !== 'string') return undefined;
      method = init.method;
    }
  }
  const [custom, base] = (client.__fastSetupDone ??= client.__fastSetup());
  let url;
  try {
    url = new URL(input, base).href;
  } catch {
    return undefined; // the full path reports the error
  }
  const headers = client.__fastHeaders(method, url);
  if (headers === undefined) return undefined;
  const cut = headers.indexOf('\n');
  const authorization = cut < 0 ? headers : headers.slice(0, cut);
  const proof = cut < 0 ? undefined : headers.slice(cut + 1);
  const attempt = { ...init, headers: withAuth(init?.headers, authorization, proof) };
  const follow = init?.redirect === undefined || init.redirect === 'follow';
  if (follow) attempt.redirect = 'manual';
  let sent;
  try {
    sent = Promise.resolve((custom ?? globalThis.fetch).call(globalThis, url, attempt));
  } catch (e) {
    sent = Promise.reject(e);
  }
  return sent.then(
    (response) => {
      try {
        const status = response.status;
        if (status !== 401 && !(follow && status >= 300 && status < 400)
          && (proof === undefined || !response.headers.has('dpop-nonce'))) {
          return response;
        }
      } catch {
        // Not a Response (a custom fetch's): the full path's check rejects it with a TokenError.
      }
      return client.__continueFetch(response, input, init, authorization);
    },
    // An error that repeats the Authorization or DPoP value becomes a TokenError without it.
    (error) => {
      throw client.__apiError(error, url, headers);
    },
  );
}

/**
 * The caller's headers as a plain record (fetch converts a record faster than a Headers
 * instance), without their own Authorization/DPoP, with ours set.
 */
function withAuth(given, authorization, proof) {
  const headers = {};
  if (given != null) {
    const pairs = given instanceof Headers || Array.isArray(given) ? new Headers(given) : Object.entries(given);
    for (const [name, value] of pairs) {
      const lower = name.toLowerCase();
      if (lower !== 'authorization' && lower !== 'dpop') headers[name] = value;
    }
  }
  headers.authorization = authorization;
  if (proof !== undefined) headers.dpop = proof;
  return headers;
}

/** A ReadableStream body is sent once, so it needs the full path's cloneable Request. */
function isStream(body) {
  return body != null && typeof body === 'object' && typeof body.getReader === 'function';
}
