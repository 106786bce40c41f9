// js/runtime.mjs and what it imports -> pkg/gen/runtime.mjs, one minified ESM module; the
// wasm-bindgen glue stays a separate import (it is shared with the entries).
import { build } from 'esbuild';

const glue = {
  name: 'glue',
  setup(b) {
    b.onResolve({ filter: /\/gen\/tokenfetch_bg\.js$/ }, () => ({ path: './tokenfetch_bg.js', external: true }));
  },
};
await build({
  entryPoints: [new URL('../js/runtime.mjs', import.meta.url).pathname],
  outfile: new URL('../pkg/gen/runtime.mjs', import.meta.url).pathname,
  bundle: true,
  format: 'esm',
  minify: true,
  target: 'es2022',
  logLevel: 'warning',
  plugins: [glue],
});
