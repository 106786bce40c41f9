// The package's own JS, minified into pkg/ (comments stay in the sources):
// - js/runtime.mjs and what it imports -> pkg/gen/runtime.mjs, one ESM module; the wasm-bindgen
//   glue stays a separate import (it is shared with the entries, and Deno loads it for the wasm);
// - js/entries/* -> pkg/*, one small entry per runtime (their import paths are relative to pkg/);
// - js/otel.mjs -> pkg/otel.mjs (`tokenfetch/otel`) and js/cloudflare.mjs -> pkg/cloudflare.mjs
//   (`tokenfetch/cloudflare`): optional entries, apart from the main one so that it stays as small
//   as it is; `@opentelemetry/api` stays an import (a peer dependency of the package).
import { readdirSync } from 'node:fs';
import { build } from 'esbuild';

const at = (path) => new URL(`../${path}`, import.meta.url).pathname;
const common = { minify: true, target: 'es2022', logLevel: 'warning' };
const glue = {
  name: 'glue',
  setup(b) {
    b.onResolve({ filter: /\/gen\/tokenfetch_bg\.js$/ }, () => ({ path: './tokenfetch_bg.js', external: true }));
  },
};
await build({
  ...common,
  entryPoints: [at('js/runtime.mjs')],
  outfile: at('pkg/gen/runtime.mjs'),
  bundle: true,
  format: 'esm',
  plugins: [glue],
});
for (const name of readdirSync(at('js/entries'))) {
  await build({
    ...common,
    entryPoints: [at(`js/entries/${name}`)],
    outfile: at(`pkg/${name}`),
    format: name.endsWith('.cjs') ? 'cjs' : 'esm',
  });
}
for (const name of ['otel.mjs', 'cloudflare.mjs']) {
  await build({
    ...common,
    entryPoints: [at(`js/${name}`)],
    outfile: at(`pkg/${name}`),
    bundle: true,
    format: 'esm',
    external: ['@opentelemetry/api'],
  });
}
