// Node CommonJS: `require` the package, run the worker, print the result as JSON.
const tokenfetch = require('tokenfetch');

import('./worker-scenario.mjs')
  .then(({ runWorker }) => runWorker(tokenfetch, JSON.parse(process.env.SCENARIO)))
  .then((result) => console.log(JSON.stringify({ runtime: 'node-cjs', ...result })))
  .catch((err) => {
    console.error(err);
    process.exit(1);
  });
