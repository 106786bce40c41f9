// tests/runtimes/keys-probe.mjs in workerd (bundled by hosts.mjs startWorker). workerd exposes no
// gc(): allocating a few hundred MB of short-lived arrays makes V8 collect.
import * as tokenfetch from 'tokenfetch';
import * as glue from '../../pkg/gen/tokenfetch_bg.js';
import { collectWith, forgedProbe, releaseProbe, settled } from './keys-probe.mjs';

function pressure() {
  let length = 0;
  for (let i = 0; i < 200; i++) length += new Array(100_000).fill(i).length;
  return length;
}

export default {
  async fetch() {
    try {
      const forged = await settled(() => forgedProbe(tokenfetch));
      const release = await settled(() => releaseProbe(tokenfetch, glue, () => collectWith(pressure)));
      return Response.json({ runtime: 'workerd', forged, release });
    } catch (err) {
      return Response.json({ runtime: 'workerd', error: String(err?.stack ?? err) }, { status: 500 });
    }
  },
};
