// The cached-token fast path of client.fetch, installed once per loaded glue. With a fresh cached
// token, a URL input and (for DPoP) a signer that answers at once, the wasm side sends at once and
// hands back fetch's own Promise (`__fastFetch`); only a 401, or a DPoP-Nonce after a proof, goes
// back to wasm for the same decisions as the full path (`__continueFetch`). Everything else takes
// the full path, unchanged.

/** Install the fast path on the glue's TokenClient and ClientRegistry classes. */
export function installFastPath(TokenClient, ClientRegistry) {
  const full = TokenClient.prototype.fetch;
  TokenClient.prototype.fetch = function fetch(input, init, req) {
    const fast = this.__fastFetch(input, init, req);
    if (fast === undefined) return full.call(this, input, init, req);
    const [sent, authorization, proofSent] = fast;
    return sent.then((response) =>
      (response.status === 401 || (proofSent && response.headers.has('dpop-nonce'))
        ? this.__continueFetch(response, input, init, authorization)
        : response));
  };
  ClientRegistry.prototype.fetch = function fetch(name, input, init) {
    let client;
    try {
      client = this.get(name);
    } catch (e) {
      return Promise.reject(e);
    }
    return client.fetch(input, init);
  };
}
