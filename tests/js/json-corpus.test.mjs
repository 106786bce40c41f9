// The crate's two JSON front ends agree (src/json.rs): in wasm the host's `JSON.parse` parses, natively serde_json
// does. Both run over the committed fuzz corpora (fuzz/corpus/<target>/: JWKs, configurations, token responses and
// discovery documents after their header line, and inputs that are not JSON at all) and over edge inputs written
// here: natively through `cargo test --test json_corpus` (tests/json_corpus.rs), which prints each input with its
// canonical text, in wasm through the package's internal `__jsonCanonical` (src/wasm/hooks.rs, built with the
// `hooks` feature by scripts/build.sh). The canonical text is `json::text` of the parsed value, or null for "not JSON".
//
// The differences src/json.rs allows: a number's representation (JSON.parse makes every number a double; an
// integral one in range becomes an integer, so `3600.0` natively is `3600` in wasm, `-0` is `0`, and an integer
// beyond 2^53 is the double nearest to it), compared here as doubles. Everything else, refusals included (depth,
// invalid UTF-8), must be the same.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import 'tokenfetch'; // instantiates the module the glue below belongs to
import * as glue from '../../pkg/gen/tokenfetch_bg.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CORPUS = join(ROOT, 'fuzz/corpus');

const nest = (n, open, close) => open.repeat(n) + close.repeat(n);

/** Edge inputs (name -> bytes): where JSON.parse and serde_json could part ways. */
const EDGE = {
  // Numbers: equal as doubles, the representation may differ.
  'integral-float': '{"expires_in":3600.0,"a":[1.0,-1.0,1.5e1,1e2]}',
  'negative-zero': '[-0,-0.0]',
  'underflow-to-zero': '1e-400',
  'u64-max': '18446744073709551615',
  'beyond-u64': '18446744073709551616',
  'i64-min': '-9223372036854775808',
  'beyond-i64': '-9223372036854775809',
  'beyond-2^53': '9007199254740993',
  'floats': '[0.1,1e300,-2.5e-7,123456789.125]',
  // Refused by both.
  'overflow-to-infinity': '1e400',
  'nan': 'NaN',
  'plus-sign': '+1',
  'leading-zero': '01',
  'trailing-comma': '[1,]',
  'single-quotes': "{'a':1}",
  'empty': '',
  'byte-order-mark': Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
  'no-break-space-as-whitespace': Buffer.from([0xc2, 0xa0, 0x7b, 0x7d]),
  'raw-control-character': '"a\u0001b"',
  'raw-nul': '"a\u0000b"',
  'invalid-utf-8-in-a-string': Buffer.from([0x22, 0xff, 0x22]),
  'invalid-utf-8-after-the-value': Buffer.from([0x5b, 0x31, 0x5d, 0xff]),
  'overlong-utf-8': Buffer.from([0x22, 0xc0, 0xaf, 0x22]),
  'arrays-129-deep': nest(129, '[', ']'),
  'objects-129-deep': `${'{"a":'.repeat(128)}{}${'}'.repeat(128)}`,
  // The same value.
  'arrays-127-deep': nest(127, '[', ']'),
  'arrays-128-deep': nest(128, '[', ']'),
  'objects-128-deep': `${'{"a":'.repeat(127)}{}${'}'.repeat(127)}`,
  'objects-127-deep': `${'{"a":'.repeat(126)}{}${'}'.repeat(126)}`,
  'lone-high-surrogate': '"\\ud800"',
  'lone-low-surrogate': '"\\udc00x"',
  'lone-surrogate-in-a-key': '{"\\ud800":1}',
  'replacement-character-itself': '"\\ufffd \uFFFD"',
  'surrogate-pair': '"\\ud83d\\ude00"',
  'duplicate-keys': '{"a":1,"a":2}',
  'proto-key': '{"__proto__":{"x":1},"b":2}',
  'integer-like-keys': '{"b":1,"2":2,"1":3,"10":4}',
  'escapes': '"\\u0000 \\/ \\" \\\\ \\b\\f\\n\\r\\t \\u00e6 \\ud83d\\ude00"',
  'line-separators': '"\u2028\u2029"',
  'whitespace': ' \t\r\n{"a" : [ 1 , 2 ] }\n ',
  'long-string': `"${'x'.repeat(100_000)}"`,
};

let native; // input name -> { bytes, canonical }
let dir;

before(async () => {
  assert.equal(typeof glue.__jsonCanonical, 'function', 'no __jsonCanonical: build with hooks (bash scripts/build.sh)');
  dir = await mkdtemp(join(tmpdir(), 'tokenfetch-json-'));
  await Promise.all(Object.entries(EDGE).map(([name, bytes]) => writeFile(join(dir, name), bytes)));
  const { stdout } = await promisify(execFile)('cargo', ['test', '--locked', '--quiet', '--test', 'json_corpus', '--', '--nocapture'], {
    cwd: ROOT,
    env: { ...process.env, TOKENFETCH_JSON_CANONICAL: '1', TOKENFETCH_JSON_INPUTS: dir },
    maxBuffer: 64 << 20,
    timeout: 540_000,
  });
  native = new Map();
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('json-canonical\t')) continue;
    const { input, bytes, canonical } = JSON.parse(line.slice('json-canonical\t'.length));
    native.set(input, { bytes: Buffer.from(bytes, 'base64'), canonical });
  }
});

after(async () => { if (dir) await rm(dir, { recursive: true, force: true }); });

/** Whether two JSON values are the same, numbers compared as doubles (`===`: -0 equals 0). */
function sameAsDoubles(a, b) {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || (a === null) !== (b === null)) return false;
  if (typeof a !== 'object' || a === null) return a === b;
  const keys = Object.keys(a).sort();
  const other = Object.keys(b).sort();
  return keys.length === other.length && keys.every((k, i) => k === other[i] && sameAsDoubles(a[k], b[k]));
}

/** How the wasm front end's canonical text of `input` compares with the native one: 'same', 'numbers' or a reason. */
function compare(input) {
  const { bytes, canonical: expected } = native.get(input);
  const got = glue.__jsonCanonical(bytes) ?? null;
  if (got === expected) return { verdict: 'same', got, expected };
  if (got === null || expected === null) {
    return { verdict: `only ${got === null ? 'native' : 'wasm'} parses it`, got, expected };
  }
  const verdict = sameAsDoubles(JSON.parse(got), JSON.parse(expected)) ? 'numbers' : 'different values';
  return { verdict, got, expected };
}

const short = (text) => (text === null ? 'null' : text.length > 80 ? `${text.slice(0, 80)}…` : text);

test('every fuzz corpus input parses to the same value in wasm (JSON.parse) as natively (serde_json)', async () => {
  // Every committed corpus file is among the native inputs, whole and after its first line.
  const files = [];
  for (const target of (await readdir(CORPUS, { withFileTypes: true })).filter((d) => d.isDirectory())) {
    for (const file of await readdir(join(CORPUS, target.name))) files.push(`${target.name}/${file}`);
  }
  assert.ok(files.length >= 30, `${files.length} corpus files`);
  for (const file of files) assert.ok(native.has(file), `${file} was not run natively`);
  const inputs = [...native.keys()].filter((name) => !name.startsWith('extra/'));
  const verdicts = inputs.map((input) => [input, compare(input)]);
  const disagreements = verdicts.filter(([, v]) => v.verdict !== 'same' && v.verdict !== 'numbers');
  assert.deepEqual(disagreements.map(([input, v]) => `${input}: ${v.verdict} (wasm ${short(v.got)}, native ${short(v.expected)})`), []);
  const parsed = verdicts.filter(([, v]) => v.expected !== null).map(([input]) => input);
  for (const target of ['jwk/', 'config/', 'token_response/', 'discovery/']) {
    assert.ok(parsed.some((input) => input.startsWith(target)), `no ${target} input is JSON: nothing compared there`);
  }
  assert.ok(verdicts.some(([, v]) => v.expected === null), 'inputs that are not JSON are compared too');
});

test('edge inputs: numbers may differ in representation only, everything else (refusals included) is the same', () => {
  const verdicts = Object.keys(EDGE).map((name) => [name, compare(`extra/${name}`)]);
  const wrong = verdicts.filter(([, v]) => v.verdict !== 'same' && v.verdict !== 'numbers');
  assert.deepEqual(wrong.map(([name, v]) => `${name}: ${v.verdict} (wasm ${short(v.got)}, native ${short(v.expected)})`), []);
  const numbers = verdicts.filter(([, v]) => v.verdict === 'numbers').map(([name]) => name).sort();
  // The number cases differ in representation (else this test would not see the allowance it grants).
  assert.deepEqual(numbers, ['beyond-2^53', 'beyond-i64', 'beyond-u64', 'integral-float', 'negative-zero',
    'u64-max', 'underflow-to-zero']);
  for (const name of ['arrays-128-deep', 'objects-128-deep', 'arrays-129-deep', 'objects-129-deep', 'invalid-utf-8-in-a-string',
    'byte-order-mark', 'lone-high-surrogate', 'lone-low-surrogate', 'lone-surrogate-in-a-key']) {
    assert.equal(compare(`extra/${name}`).expected, null, `${name} is refused`);
  }
  for (const name of ['arrays-127-deep', 'objects-127-deep', 'replacement-character-itself', 'surrogate-pair']) {
    assert.notEqual(compare(`extra/${name}`).expected, null, `${name} is JSON to both`);
  }
});
