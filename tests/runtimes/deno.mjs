// Deno: `import` the package (resolved through package.json, "deno" condition), run the worker.
import * as tokenfetch from 'tokenfetch';
import { runWorker } from './worker-scenario.mjs';

const result = await runWorker(tokenfetch, JSON.parse(Deno.env.get('SCENARIO')));
console.log(JSON.stringify({ runtime: 'deno', ...result }));
