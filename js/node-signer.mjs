// The native signer for Node and Bun: node:crypto, synchronous (measured the fastest; see
// BENCHMARKS.md). Keys arrive as private JWKs and are kept as KeyObjects by handle: one per
// SigningKey in wasm, which tells this signer to drop the key (nodeRelease) when that SigningKey
// drops or when it leaves the wasm side's bounded list of imported keys.

// node:crypto is loaded on the first signature (process.getBuiltinModule: Node >= 20.16, Bun):
// importing it up front costs ~7 ms of a cold start that may need no signature at all.
let crypto;
const keys = new Map();

// Signed and verified by the pairwise consistency test; never sent anywhere.
const PAIRWISE_TEST_INPUT = new TextEncoder().encode('tokenfetch pairwise consistency test');

/** node:crypto sign/verify options for a JWS `alg` (ECDSA in IEEE P1363 form, PSS salt = hash length). */
function options(alg, key) {
  const bits = alg.slice(2);
  if (alg.startsWith('ES')) return { key, dsaEncoding: 'ieee-p1363' };
  if (alg.startsWith('PS')) return { key, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(bits) / 8 };
  return { key };
}

/**
 * (handle, alg, data | null, privateJwkJson?, publicJwkJson?) => signature bytes, or undefined
 * when `data` is null (import only). The private JWK comes when this signer does not hold the
 * key; with a public JWK, the key is kept only if a signature made with it verifies with that
 * public key (pairwise consistency test: RSA "n"/"e" or EC "x"/"y" belong to the private part),
 * and the answer is `false` when it does not.
 */
export function nodeSigner(id, alg, data, jwk, publicJwk) {
  crypto ??= process.getBuiltinModule('node:crypto');
  const hash = `sha${alg.slice(2)}`;
  let key = keys.get(id);
  if (key === undefined) {
    if (jwk === undefined) throw new Error('node signer: the key is not imported');
    key = crypto.createPrivateKey({ key: JSON.parse(jwk), format: 'jwk' });
    if (publicJwk !== undefined) {
      const publicKey = crypto.createPublicKey({ key: JSON.parse(publicJwk), format: 'jwk' });
      const signature = crypto.sign(hash, PAIRWISE_TEST_INPUT, options(alg, key));
      if (!crypto.verify(hash, PAIRWISE_TEST_INPUT, options(alg, publicKey), signature)) return false;
    }
    keys.set(id, key);
  }
  if (data === null) return undefined;
  return crypto.sign(hash, data, options(alg, key));
}

/** Drop the key kept for `handle`. */
export function nodeRelease(id) {
  keys.delete(id);
}

/** How many keys this signer holds (internal, for tests). */
export function nodeKeyCount() {
  return keys.size;
}
