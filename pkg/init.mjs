// Shared by the ESM entries: hand an instantiated wasm module to the glue, once.
import * as glue from './gen/tokenfetch_bg.js';
import { TokenError } from './error.mjs';
import { installFastPath } from './fast-path.mjs';

/** Instantiate `module` (a WebAssembly.Module) synchronously and start the glue. */
export function start(module) {
  const instance = new WebAssembly.Instance(module, { './tokenfetch_bg.js': glue });
  glue.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();
  glue.__registerTokenError(TokenError);
  installFastPath(glue.TokenClient, glue.ClientRegistry);
}
