// Node (ESM) and Bun: compile the one wasm module synchronously, so `import` needs no init call.
import { readFileSync } from 'node:fs';
import * as glue from './gen/tokenfetch_bg.js';
import { TokenError } from './error.mjs';

const module = new WebAssembly.Module(readFileSync(new URL('./gen/tokenfetch_bg.wasm', import.meta.url)));
const instance = new WebAssembly.Instance(module, { './tokenfetch_bg.js': glue });
glue.__wbg_set_wasm(instance.exports);
instance.exports.__wbindgen_start();
glue.__registerTokenError(TokenError);

export { TokenError };
export {
  TokenClient,
  ClientRegistry,
  generateDpopKey,
  createClientAssertion,
  createDpopProof,
  jwkThumbprint,
} from './gen/tokenfetch_bg.js';
