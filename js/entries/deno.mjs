// Built into pkg/ by scripts/build.sh (minified); import paths are relative to pkg/.
// Deno: Deno instantiates .wasm imports itself (Wasm ESM integration), so no read permission is needed.
import * as wasm from './gen/tokenfetch_bg.wasm';
import runtime from './gen/runtime.mjs';

runtime.started(wasm);

export * from './gen/runtime.mjs';
