// Built into pkg/ by scripts/build.sh (minified); import paths are relative to pkg/.
// Cloudflare Workers (workerd): wrangler and miniflare turn a .wasm import into a WebAssembly.Module.
import module from './gen/tokenfetch_bg.wasm';
import runtime from './gen/runtime.mjs';

runtime.start(module);

export * from './gen/runtime.mjs';
