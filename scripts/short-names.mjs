// Shortens the names the wasm module and its glue know each other by, in both files at once.
//
// wasm-bindgen names each JS import `__wbg_<what>_<16 hex digits>` and exports Rust functions as
// `tokenclient_fetch`, `wasm_bindgen_<mangled closure type>` and so on: the names sit in the
// module's import and export sections and again in the glue, and the hashes do not compress
// (2.5 KB gzip of the module, 1.5 KB of the glue). Here every import from the glue and every export the glue
// calls gets a short name (`$a`, `$b`, …), in the module and in the glue alike. Exports the
// loaders use by name (`__wbindgen_start`, `memory`) and the glue's public exports keep theirs.
// Any old name still in the glue afterwards fails the build.
//
// usage: node scripts/short-names.mjs <module.wasm> <glue.js>   (both rewritten in place)
import { readFileSync, writeFileSync } from 'node:fs';

const GLUE = './tokenfetch_bg.js';
const KEEP = new Set(['__wbindgen_start', 'memory']);

const [wasmPath, gluePath] = process.argv.slice(2);
const bytes = readFileSync(wasmPath);
let glue = readFileSync(gluePath, 'utf8');

/** `$a` … `$Z`, `$aa` …: short, valid JS identifiers, and not names the glue already has. */
function* shortNames() {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  for (let n = 0; ; n++) {
    let name = '';
    for (let k = n; ; k = Math.floor(k / letters.length) - 1) {
      name = letters[k % letters.length] + name;
      if (k < letters.length) break;
    }
    if (!new RegExp(`\\$${name}\\b`).test(glue)) yield `$${name}`;
  }
}

// --- reading and writing the binary format --------------------------------------------------
function readU32(buf, at) {
  let value = 0;
  for (let shift = 0; ; shift += 7) {
    const byte = buf[at++];
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return [value, at];
  }
}

function u32(value) {
  const out = [];
  do {
    let byte = value & 0x7f;
    value = Math.floor(value / 128);
    if (value) byte |= 0x80;
    out.push(byte);
  } while (value);
  return Buffer.from(out);
}

function readName(buf, at) {
  const [len, start] = readU32(buf, at);
  return [buf.subarray(start, start + len).toString('utf8'), start + len];
}

const name = (text) => Buffer.concat([u32(Buffer.byteLength(text)), Buffer.from(text)]);

/** Skip an import's description (function, table, memory, global or tag). */
function skipImportDesc(buf, at) {
  const kind = buf[at++];
  const limits = (p) => {
    const flags = buf[p++];
    [, p] = readU32(buf, p);
    if (flags & 1) [, p] = readU32(buf, p);
    return p;
  };
  switch (kind) {
    case 0: return readU32(buf, at)[1];
    case 1: return limits(at + 1);
    case 2: return limits(at);
    case 3: return at + 2;
    case 4: return readU32(buf, at + 1)[1];
    default: throw new Error(`short-names: unknown import kind ${kind}`);
  }
}

const names = shortNames();
const renamed = []; // [old, new, where]

function rewriteImports(section) {
  let [count, at] = readU32(section, 0);
  const parts = [u32(count)];
  while (count--) {
    let module, field;
    [module, at] = readName(section, at);
    [field, at] = readName(section, at);
    const end = skipImportDesc(section, at);
    let short = field;
    if (module === GLUE) {
      short = names.next().value;
      renamed.push([field, short, 'import']);
    }
    parts.push(name(module), name(short), section.subarray(at, end));
    at = end;
  }
  return Buffer.concat(parts);
}

function rewriteExports(section) {
  let [count, at] = readU32(section, 0);
  const parts = [u32(count)];
  while (count--) {
    let field;
    [field, at] = readName(section, at);
    const end = readU32(section, at + 1)[1];
    let short = field;
    if (!KEEP.has(field) && new RegExp(`\\bwasm\\.${field}\\b`).test(glue)) {
      short = names.next().value;
      renamed.push([field, short, 'export']);
    }
    parts.push(name(short), section.subarray(at, end));
    at = end;
  }
  return Buffer.concat(parts);
}

const out = [bytes.subarray(0, 8)];
for (let at = 8; at < bytes.length; ) {
  const id = bytes[at];
  const [size, start] = readU32(bytes, at + 1);
  let section = bytes.subarray(start, start + size);
  if (id === 2) section = rewriteImports(section);
  if (id === 7) section = rewriteExports(section);
  out.push(Buffer.from([id]), u32(section.length), section);
  at = start + size;
}

// --- the glue: imports are its `export function <name>(`, exports its `wasm.<name>` -----------
for (const [old, short, where] of renamed) {
  const pattern = where === 'import' ? new RegExp(`^export function ${old}\\(`, 'm') : new RegExp(`\\bwasm\\.${old}\\b`, 'g');
  const replacement = where === 'import' ? `export function ${short}(` : `wasm.${short}`;
  if (!pattern.test(glue)) throw new Error(`short-names: ${where} ${old} not found in the glue`);
  glue = glue.replace(pattern, () => replacement);
}
for (const [old, , where] of renamed) {
  const left = where === 'import' ? new RegExp(`\\b${old}\\b`) : new RegExp(`\\bwasm\\.${old}\\b`);
  if (left.test(glue)) throw new Error(`short-names: ${old} still in the glue`);
}

const module = Buffer.concat(out);
new WebAssembly.Module(module); // still a valid module
writeFileSync(wasmPath, module);
writeFileSync(gluePath, glue);
console.log(`short-names: ${renamed.length} names shortened`);
