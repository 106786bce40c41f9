// The package's JS, bundled by scripts/build.sh into one module, pkg/gen/runtime.mjs, beside the
// wasm-bindgen glue: Node loads 3 modules (entry, runtime, glue) instead of 8, about 4 ms of a
// cold start, and minified it is ~2 KB gzip smaller. Its named exports are the public API; the
// default export is for the entries (pkg/*.mjs) only, as `export *` leaves a default out
// (`nodeKeyCount` there is internal, for tests).
import * as glue from '../pkg/gen/tokenfetch_bg.js';
import { settling, throwing } from './boundary.mjs';
import { start, started } from './init.mjs';
import { registryOf } from './registry.mjs';
import { nodeKeyCount, nodeRelease, nodeSigner } from './node-signer.mjs';

export { TokenError } from './error.mjs';
export { kvStore, denoKvStore, redisStore } from './stores.mjs';
export { TokenClient } from '../pkg/gen/tokenfetch_bg.js';

/** Named clients, one per API. */
export const ClientRegistry = registryOf(glue.TokenClient);

// The standalone helpers, guarded (js/boundary.mjs): a Promise-returning one never throws.
export const generateDpopKey = settling(glue.generateDpopKey, 'generateDpopKey');
export const createClientAssertion = settling(glue.createClientAssertion, 'createClientAssertion');
export const createDpopProof = settling(glue.createDpopProof, 'createDpopProof');
export const jwkThumbprint = throwing(glue.jwkThumbprint, 'jwkThumbprint');
export const helseIdAuthorization = throwing(glue.helseIdAuthorization, 'helseIdAuthorization');

export default { start, started, nodeSigner, nodeRelease, nodeKeyCount };
