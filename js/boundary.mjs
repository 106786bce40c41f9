// The package's public methods and helpers at the JS boundary: whatever a call throws
// synchronously (a value the glue cannot convert, a method called on the wrong object, a trap of
// the wasm module) reaches the caller as a TokenError, and a Promise-returning function never
// throws: it returns a rejected Promise. (Errors inside the wasm module's work are TokenErrors
// already; every call it makes into JS on a caller's value is caught there.)
import { TokenError } from './error.mjs';

/**
 * `e` as a TokenError: itself, or an `invalid_argument` naming `method` and the error's name
 * only (its message could quote the caller's values).
 */
export function asTokenError(e, method) {
  if (e instanceof TokenError) return e;
  let name = 'Error';
  try {
    if (typeof e?.name === 'string' && /^\w{1,40}$/.test(e.name)) name = e.name;
  } catch {
    // a getter that throws: the generic name
  }
  return new TokenError(`${method}: could not be called with these arguments (${name})`, 'invalid_argument');
}

/** `fn` (up to three arguments) returning a Promise: a synchronous throw becomes a rejection. */
export function settling(fn, method) {
  return function settles(a, b, c) {
    try {
      return fn.call(this, a, b, c);
    } catch (e) {
      return Promise.reject(asTokenError(e, method));
    }
  };
}

/** `fn` (up to three arguments) returning a value: what it throws is a TokenError. */
export function throwing(fn, method) {
  return function throws(a, b, c) {
    try {
      return fn.call(this, a, b, c);
    } catch (e) {
      throw asTokenError(e, method);
    }
  };
}

/**
 * Guard the public methods of the glue's TokenClient class (`fetch` is guarded by js/fetch.mjs),
 * and let Node's `util.inspect` show its safe `toJSON()` summary, not the wasm pointer.
 */
export function guardClasses(TokenClient) {
  const client = TokenClient.prototype;
  for (const name of ['getToken', 'invalidate', 'createDpopProof']) client[name] = settling(client[name], name);
  for (const name of ['dpopThumbprint', 'inspect', 'toJSON']) client[name] = throwing(client[name], name);
  client[Symbol.for('nodejs.util.inspect.custom')] = function inspect() {
    return { TokenClient: this.toJSON() };
  };
}
