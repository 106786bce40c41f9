// Deno: Deno instantiates .wasm imports itself (Wasm ESM integration), so no read permission is needed.
import * as wasm from './gen/tokenfetch_bg.wasm';
import * as glue from './gen/tokenfetch_bg.js';
import { TokenError } from './error.mjs';

glue.__wbg_set_wasm(wasm);
wasm.__wbindgen_start();
glue.__registerTokenError(TokenError);

export * from './api.mjs';
