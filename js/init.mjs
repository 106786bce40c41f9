// Shared by the entries: hand the wasm module to the glue, once, and install the JS parts.
import * as glue from '../pkg/gen/tokenfetch_bg.js';
import { guardClasses } from './boundary.mjs';
import { TokenError } from './error.mjs';
import { installFetch } from './fetch.mjs';

/** Instantiate `module` (a WebAssembly.Module) synchronously and start the glue. */
export function start(module) {
  started(new WebAssembly.Instance(module, { './tokenfetch_bg.js': glue }).exports);
}

/** Start the glue on an instance's exports (Deno instantiates the module itself). */
export function started(exports) {
  glue.__wbg_set_wasm(exports);
  exports.__wbindgen_start();
  glue.__registerTokenError(TokenError);
  guardClasses(glue.TokenClient);
  installFetch(glue.TokenClient);
}
