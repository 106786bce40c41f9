// Node (ESM) and Bun: compile the one wasm module synchronously, so `import` needs no init call.
import { readFileSync } from 'node:fs';
import { start } from './init.mjs';

start(new WebAssembly.Module(readFileSync(new URL('./gen/tokenfetch_bg.wasm', import.meta.url))));

export * from './api.mjs';
