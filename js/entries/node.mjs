// Built into pkg/ by scripts/build.sh (minified); import paths are relative to pkg/.
// Node (ESM) and Bun: compile the one wasm module synchronously, so `import` needs no init call.
// node:fs through process.getBuiltinModule (Node >= 20.16, Bun): `import ... from 'node:fs'` builds
// an ES module facade of all of fs first, about 4 ms of a cold start.
import * as glue from './gen/tokenfetch_bg.js';
import runtime from './gen/runtime.mjs';

const { readFileSync } = process.getBuiltinModule('node:fs');
runtime.start(new WebAssembly.Module(readFileSync(new URL('./gen/tokenfetch_bg.wasm', import.meta.url))));
glue.__registerNativeSigner(runtime.nodeSigner, runtime.nodeRelease);

export * from './gen/runtime.mjs';
