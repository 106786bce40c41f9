// The package's JS, bundled by scripts/build.sh into one module, pkg/gen/runtime.mjs (one file to
// load instead of five: ~3 ms of a Node cold start, and ~2 KB gzip smaller minified). Every
// entry (pkg/*.mjs) imports it next to the wasm-bindgen glue.
export { start, started } from './init.mjs';
export { TokenError } from './error.mjs';
export { nodeSigner } from './node-signer.mjs';
export { kvStore, denoKvStore, redisStore } from './stores.mjs';
