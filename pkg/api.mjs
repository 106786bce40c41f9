// The public surface, the same for every ESM entry.
export { TokenError } from './error.mjs';
export {
  TokenClient,
  ClientRegistry,
  generateDpopKey,
  createClientAssertion,
  createDpopProof,
  jwkThumbprint,
  helseIdAuthorization,
} from './gen/tokenfetch_bg.js';
export { kvStore, denoKvStore, redisStore } from './stores.mjs';
