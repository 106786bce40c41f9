// Node (ESM) and Bun: compile the one wasm module synchronously, so `import` needs no init call.
import { readFileSync } from 'node:fs';
import * as glue from './gen/tokenfetch_bg.js';
import runtime from './gen/runtime.mjs';

runtime.start(new WebAssembly.Module(readFileSync(new URL('./gen/tokenfetch_bg.wasm', import.meta.url))));
glue.__registerNativeSigner(runtime.nodeSigner);

export * from './gen/runtime.mjs';
