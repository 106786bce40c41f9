// Deno: Deno instantiates .wasm imports itself (Wasm ESM integration), so no read permission is needed.
import * as wasm from './gen/tokenfetch_bg.wasm';
import { started } from './gen/runtime.mjs';

started(wasm);

export * from './api.mjs';
