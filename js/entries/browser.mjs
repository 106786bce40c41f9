// Built into pkg/ by scripts/build.sh (minified); import paths are relative to pkg/.
// Browsers and bundlers: fetch and compile the wasm with top-level await (serve .wasm as application/wasm).
import runtime from './gen/runtime.mjs';

const url = new URL('./gen/tokenfetch_bg.wasm', import.meta.url);
runtime.start(await WebAssembly.compileStreaming(fetch(url)));

export * from './gen/runtime.mjs';
