// Cloudflare Workers (workerd): wrangler and miniflare turn a .wasm import into a WebAssembly.Module.
import module from './gen/tokenfetch_bg.wasm';
import { start } from './gen/runtime.mjs';

start(module);

export * from './api.mjs';
