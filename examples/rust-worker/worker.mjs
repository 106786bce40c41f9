// The Worker's entry: instantiates the Rust module (built into build/ by build.sh) once per
// isolate and hands it every request with the bindings. Everything else is Rust (src/lib.rs).
// wrangler bundles this file with build/tokenfetch_rust_worker.js and imports the .wasm as a
// WebAssembly.Module (its default rule for **/*.wasm).
import { initSync, handle } from './build/tokenfetch_rust_worker.js';
import module from './build/tokenfetch_rust_worker_bg.wasm';

initSync({ module });

export default {
  fetch(request, env) {
    return handle(request, env);
  },
};
