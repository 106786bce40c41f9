// Tests and examples reach the package only through its public API (DESIGN.md) and the documented internal test
// hooks, never through its private `__` methods (`__authorize`, `__after`, `__setup`, ...: the contract between
// js/fetch.mjs and the glue, free to change). A test that called or patched them would break on a refactoring that
// keeps every behaviour; this keeps them out.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import 'tokenfetch';
import * as glue from '../../pkg/gen/tokenfetch_bg.js';
import runtime from '../../pkg/gen/runtime.mjs';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The internal hooks tests may use (built only with the `hooks` cargo feature, scripts/build.sh): the glue's host-key
 * counts, signer preference, wasm memory size and JSON front end, and the runtime module's node:crypto key count.
 */
const HOOKS = { glue: ['__hostKeyCounts', '__setSignerPreference', '__wasmMemoryBytes', '__jsonCanonical'], runtime: ['nodeKeyCount'] };

/** `__name` used as a property (`x.__name`, `x['__name']`, `x?.__name`), with the line it is on. */
function privateUses(source) {
  const uses = [];
  source.split('\n').forEach((line, i) => {
    for (const m of line.matchAll(/(?:\??\.\s*|\[\s*['"`])(__[A-Za-z0-9_$]+)/g)) uses.push({ name: m[1], line: i + 1 });
  });
  return uses;
}

/** Build output and installed packages: not the tests' or examples' own code. */
const GENERATED = new Set(['node_modules', 'build', 'target', 'dist']);

/** Every JS file under `dir` (generated directories skipped). */
async function jsFiles(dir) {
  const out = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!GENERATED.has(entry.name)) out.push(...(await jsFiles(path)));
    } else if (/\.(mjs|cjs|js)$/.test(entry.name)) {
      out.push(path);
    }
  }
  return out;
}

test('the scan finds private member uses in every form it looks for, and not their names in prose or URLs', () => {
  const found = privateUses([
    'client.__authorize(h, m, u);',
    "client['__after'] = () => {};",
    'TokenClient.prototype . __setup.call(c);',
    'c?.__setupDone;',
    '// __authorize in a comment, /__dump in a URL path, __dirname as a name',
  ].join('\n'));
  assert.deepEqual(found.map((u) => `${u.line}:${u.name}`), ['1:__authorize', '2:__after', '3:__setup', '4:__setupDone']);
});

test('tests and examples use no private __ member of the package, only the documented test hooks', async () => {
  const allowed = new Set([...HOOKS.glue, '__dirname', '__filename']);
  const self = fileURLToPath(import.meta.url); // (its fixtures above are the forms the scan looks for)
  const files = [...(await jsFiles(join(ROOT, 'tests'))), ...(await jsFiles(join(ROOT, 'examples')))].filter((f) => f !== self);
  assert.ok(files.length > 30, `${files.length} files scanned`);
  const offending = [];
  for (const file of files) {
    for (const use of privateUses(await readFile(file, 'utf8'))) {
      if (!allowed.has(use.name)) offending.push(`${relative(ROOT, file)}:${use.line} ${use.name}`);
    }
  }
  assert.deepEqual(offending, [], 'use the public API (DESIGN.md), or add a documented hook (src/wasm/hooks.rs)');
});

test('the documented test hooks exist in the hooks build, so the allowance above names real exports', () => {
  for (const name of HOOKS.glue) assert.equal(typeof glue[name], 'function', `glue.${name} (bash scripts/build.sh builds with hooks)`);
  for (const name of HOOKS.runtime) assert.equal(typeof runtime[name], 'function', `runtime.${name}`);
});
