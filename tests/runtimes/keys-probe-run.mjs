// Runs tests/runtimes/keys-probe.mjs in Deno (`deno run --v8-flags=--expose-gc`) or Bun, with the
// runtime's package entry imported by path (so the glue is the same module instance), and prints
// the results as one JSON line.
import * as glue from '../../pkg/gen/tokenfetch_bg.js';
import { boundProbe, collectWith, forgedProbe, releaseProbe, settled } from './keys-probe.mjs';

const deno = typeof globalThis.Deno !== 'undefined';
const tokenfetch = await import(deno ? '../../pkg/deno.mjs' : '../../pkg/node.mjs');
const gc = deno ? () => globalThis.gc() : () => globalThis.Bun.gc(true);
const forged = await settled(() => forgedProbe(tokenfetch));
const release = await settled(() => releaseProbe(tokenfetch, glue, () => collectWith(gc)));
const bound = await settled(() => boundProbe(tokenfetch, glue));
console.log(JSON.stringify({ runtime: deno ? 'deno' : 'bun', forged, release, bound }));
