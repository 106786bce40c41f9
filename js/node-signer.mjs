// The native signer for Node and Bun: node:crypto, synchronous (measured the fastest; see
// BENCHMARKS.md). Keys arrive once as private JWKs and are kept as KeyObjects by key id.

// node:crypto is loaded on the first signature (process.getBuiltinModule: Node >= 20.16, Bun):
// importing it up front costs ~7 ms of a cold start that may need no signature at all.
let crypto;
const keys = new Map();

/**
 * (keyId, alg, data, privateJwkJson?) => signature bytes; ECDSA in IEEE P1363 (R || S) form. The
 * JWK comes with a key's first signature only, and is kept as a KeyObject by id.
 */
export function nodeSigner(id, alg, data, jwk) {
  crypto ??= process.getBuiltinModule('node:crypto');
  const { createPrivateKey, sign, constants } = crypto;
  let key = keys.get(id);
  if (key === undefined) {
    if (jwk === undefined) throw new Error(`node signer: no key ${id}`);
    key = createPrivateKey({ key: JSON.parse(jwk), format: 'jwk' });
    keys.set(id, key);
  }
  const bits = alg.slice(2);
  const hash = `sha${bits}`;
  if (alg.startsWith('ES')) return sign(hash, data, { key, dsaEncoding: 'ieee-p1363' });
  if (alg.startsWith('PS')) {
    return sign(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 });
  }
  return sign(hash, data, key);
}
