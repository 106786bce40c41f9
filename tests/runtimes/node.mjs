// Node ESM and Bun: `import` the package, run the worker, print the result as JSON.
import * as tokenfetch from 'tokenfetch';
import { runWorker } from './worker-scenario.mjs';

const result = await runWorker(tokenfetch, JSON.parse(process.env.SCENARIO));
console.log(JSON.stringify({ runtime: globalThis.Bun ? 'bun' : 'node-esm', ...result }));
