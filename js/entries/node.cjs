// Built into pkg/ by scripts/build.sh (minified); import paths are relative to pkg/.
// Node (require): the ESM entry, loaded with require(esm) (Node >= 20.19), so `require` and
// `import` share one glue, one wasm instance and one cache.
'use strict';
module.exports = require('./node.mjs');
