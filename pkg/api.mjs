// The public surface, the same for every ESM entry.
export { TokenError, kvStore, denoKvStore, redisStore } from './gen/runtime.mjs';
export {
  TokenClient,
  ClientRegistry,
  generateDpopKey,
  createClientAssertion,
  createDpopProof,
  jwkThumbprint,
  helseIdAuthorization,
} from './gen/tokenfetch_bg.js';
