// Node (require): the CommonJS bindings load the same gen/tokenfetch_bg.wasm synchronously.
// Note: a process that both `require`s and `import`s tokenfetch gets two instances (two caches).
'use strict';
const glue = require('./gen/tokenfetch_node.cjs');

/** See error.mjs: the same class for CommonJS callers. */
class TokenError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'TokenError';
    if (code !== undefined) this.code = code;
  }
}
glue.__registerTokenError(TokenError);
glue.__registerNativeSigner(require('./node-signer.cjs').nodeSigner);
require('./fast-path.mjs').installFastPath(glue.TokenClient, glue.ClientRegistry);

module.exports = {
  TokenError,
  TokenClient: glue.TokenClient,
  ClientRegistry: glue.ClientRegistry,
  generateDpopKey: glue.generateDpopKey,
  createClientAssertion: glue.createClientAssertion,
  createDpopProof: glue.createDpopProof,
  jwkThumbprint: glue.jwkThumbprint,
  helseIdAuthorization: glue.helseIdAuthorization,
  // Store adapters (ESM, loaded through require(esm): Node >= 20.19).
  ...require('./stores.mjs'),
};
