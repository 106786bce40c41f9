// Short names for the wasm module's imports from the glue: wasm-bindgen names each one
// `__wbg_<name>_<16 hex digits>`, and every name is written twice, in the module's import section
// and among the glue's exports; the hex digits do not compress. Both files get the same short
// names (`$0`, `$1`, ...). The import module ("./tokenfetch_bg.js") is kept, as Deno resolves it.
// Usage: node scripts/minify-imports.mjs <module.wasm> <glue.js> (both rewritten in place).
import { readFileSync, writeFileSync } from 'node:fs';

const [wasmPath, gluePath] = process.argv.slice(2);
const wasm = readFileSync(wasmPath);
let glue = readFileSync(gluePath, 'utf8');

/** Unsigned LEB128 at `pos`: [value, next position]. */
function leb(bytes, pos) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[pos++];
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, pos];
    shift += 7;
  }
}

function encodeLeb(value) {
  const out = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) b |= 0x80;
    out.push(b);
  } while (value > 0);
  return Buffer.from(out);
}

const name = (text) => Buffer.concat([encodeLeb(Buffer.byteLength(text)), Buffer.from(text)]);

/** The bytes of one import description (after the names) starting at `pos`: its end. */
function skipDesc(bytes, pos) {
  const kind = bytes[pos++];
  const limits = (p) => {
    const flags = bytes[p++];
    [, p] = leb(bytes, p);
    if (flags & 1) [, p] = leb(bytes, p);
    return p;
  };
  switch (kind) {
    case 0: return leb(bytes, pos)[1]; // function: type index
    case 1: return limits(pos + 1); // table: reference type, limits
    case 2: return limits(pos); // memory: limits
    case 3: return pos + 2; // global: value type, mutability
    case 4: return leb(bytes, pos + 1)[1]; // tag: attribute, type index
    default: throw new Error(`unknown import kind ${kind}`);
  }
}

const exported = new Set([...glue.matchAll(/\bas\s+([\w$]+)/g)].map((m) => m[1]));
const parts = [wasm.subarray(0, 8)];
let pos = 8;
let renamed = 0;
while (pos < wasm.length) {
  const id = wasm[pos];
  const [size, start] = leb(wasm, pos + 1);
  const end = start + size;
  if (id !== 2) {
    parts.push(wasm.subarray(pos, end));
    pos = end;
    continue;
  }
  const [count, first] = leb(wasm, start);
  const body = [encodeLeb(count)];
  let p = first;
  for (let i = 0; i < count; i++) {
    const [moduleLen, m] = leb(wasm, p);
    const module = wasm.subarray(m, m + moduleLen).toString();
    const [fieldLen, f] = leb(wasm, m + moduleLen);
    let field = wasm.subarray(f, f + fieldLen).toString();
    const descEnd = skipDesc(wasm, f + fieldLen);
    if (module === './tokenfetch_bg.js' && /^__wbg_|^__wbindgen_/.test(field)) {
      const short = `$${(renamed++).toString(36)}`;
      if (exported.has(short)) throw new Error(`${short} is already a glue export`);
      const uses = glue.split(field).length - 1;
      if (uses !== 1) throw new Error(`${field} occurs ${uses} times in the glue, expected once`);
      glue = glue.replace(field, short);
      field = short;
    }
    body.push(name(module), name(field), wasm.subarray(f + fieldLen, descEnd));
    p = descEnd;
  }
  const section = Buffer.concat(body);
  parts.push(Buffer.from([2]), encodeLeb(section.length), section);
  pos = end;
}
writeFileSync(wasmPath, Buffer.concat(parts));
writeFileSync(gluePath, glue);
console.log(`minify-imports: ${renamed} imports renamed`);
