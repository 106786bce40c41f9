// The package's JS, bundled by scripts/build.sh into one module, pkg/gen/runtime.mjs, beside the
// wasm-bindgen glue: Node loads 3 modules (entry, runtime, glue) instead of 8, about 4 ms of a
// cold start, and minified it is ~2 KB gzip smaller. Its named exports are the public API; the
// default export is for the entries (pkg/*.mjs) only, as `export *` leaves a default out
// (`nodeKeyCount` there is internal, for tests).
import { start, started } from './init.mjs';
import { nodeKeyCount, nodeRelease, nodeSigner } from './node-signer.mjs';

export { TokenError } from './error.mjs';
export { kvStore, denoKvStore, redisStore } from './stores.mjs';
export {
  TokenClient,
  ClientRegistry,
  generateDpopKey,
  createClientAssertion,
  createDpopProof,
  jwkThumbprint,
  helseIdAuthorization,
} from '../pkg/gen/tokenfetch_bg.js';

export default { start, started, nodeSigner, nodeRelease, nodeKeyCount };
