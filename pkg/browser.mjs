// Browsers and bundlers: fetch and compile the wasm with top-level await (serve .wasm as application/wasm).
import { start } from './gen/runtime.mjs';

const url = new URL('./gen/tokenfetch_bg.wasm', import.meta.url);
start(await WebAssembly.compileStreaming(fetch(url)));

export * from './api.mjs';
