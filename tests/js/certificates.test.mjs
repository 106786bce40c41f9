// Certificate-based assertions (clientAuth.x5c): Maskinporten's business-certificate mode. Certificates are made at
// test time with openssl (a CA and a leaf for an RSA key, as a business certificate chain); the Maskinporten-style
// authority (tests/support/authorities.mjs) verifies the grant assertion with the key of the registered leaf in the
// header's x5c, and the API validates the token it issues.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { TokenClient } from 'tokenfetch';
import { startMaskinportenAuthority } from '../support/authorities.mjs';
import { startApi } from '../support/resource.mjs';
import { expectTokenErrorSync, recordingFetch } from './helpers.mjs';
import { secrets } from '../support/secrets.mjs';

const dir = mkdtempSync(join(tmpdir(), 'tokenfetch-x5c-'));
const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });

/** A CA, and a leaf certificate for a new RSA key signed by it: { leafDer, caDer, privateJwk } (DER as base64). */
function businessCertificate(name, org) {
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`,
    '-days', '2', '-subj', `/C=NO/O=Test CA ${name}/CN=Test CA`);
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`,
    '-subj', `/C=NO/O=Test Org ${name}/serialNumber=${org}/CN=${name}`);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${name}-ca.pem`, '-CAkey', `${name}-ca.key`,
    '-CAcreateserial', '-out', `${name}.pem`, '-days', '2');
  const der = (file) => new X509Certificate(readFileSync(join(dir, file))).raw.toString('base64');
  const privateJwk = createPrivateKey(readFileSync(join(dir, `${name}.key`))).export({ format: 'jwk' });
  secrets.addKey(`business certificate key ${name}`, privateJwk);
  return { leafDer: der(`${name}.pem`), caDer: der(`${name}-ca.pem`), privateJwk, pem: readFileSync(join(dir, `${name}.pem`)) };
}

let cert;
let unregistered;
let authority;
let api;

before(async () => {
  cert = businessCertificate('worker', '991825827');
  unregistered = businessCertificate('other', '912345678');
  authority = await startMaskinportenAuthority({ certificates: [cert.pem] });
  api = await startApi({ name: 'mp', issuer: authority.issuer, jwksUri: authority.jwksUri, dpop: false });
  authority.setAudience(api.audience);
});
after(async () => {
  await api?.close();
  await authority?.close();
  rmSync(dir, { recursive: true, force: true });
});

const options = (clientAuth, extra = {}) => ({
  profile: 'maskinporten',
  issuer: `${authority.issuer}/`.replace(/\/$/, ''),
  tokenEndpoint: authority.tokenEndpoint,
  clientId: authority.clientId,
  clientAuth: { method: 'private_key_jwt', alg: 'RS256', ...clientAuth },
  scope: 'mp:read',
  baseUrl: api.url,
  ...extra,
});

test('x5c: the grant assertion carries the chain, and the authority identifies the client by its leaf', async () => {
  const client = new TokenClient(options({ privateJwk: cert.privateJwk, x5c: [cert.leafDer, cert.caDer] }));
  const res = await client.fetch('/data');
  assert.equal(res.status, 200);
  assert.equal((await res.json()).client_id, authority.clientId);
  const { header, ok } = authority.grantLog.at(-1);
  assert.equal(ok, true);
  assert.deepEqual(header.x5c, [cert.leafDer, cert.caDer], 'leaf first, as given');
  assert.equal(header.kid, undefined, 'no registered kid needed');
  assert.equal(header.alg, 'RS256');
});

test('x5c: a leaf that does not hold the signing key is refused at construction, naming clientAuth.x5c', () => {
  const e = expectTokenErrorSync(() => new TokenClient(options({ privateJwk: cert.privateJwk, x5c: [unregistered.leafDer] })),
    'invalid_config');
  assert.match(e.message, /^clientAuth\.x5c: the leaf certificate/);
  // Leaf first: the CA's certificate in front is the same mistake.
  expectTokenErrorSync(() => new TokenClient(options({ privateJwk: cert.privateJwk, x5c: [cert.caDer, cert.leafDer] })),
    'invalid_config');
  const bad = expectTokenErrorSync(() => new TokenClient(options({ privateJwk: cert.privateJwk, x5c: ['not base64 DER'] })),
    'invalid_config');
  assert.match(bad.message, /^clientAuth\.x5c\[0\]: must be base64/);
});

test('x5c: an unregistered certificate is the authority\'s refusal, not ours', async () => {
  const client = new TokenClient(options({ privateJwk: unregistered.privateJwk, x5c: [unregistered.leafDer] }));
  await assert.rejects(client.getToken(), (e) => e.code === 'oauth_error' && e.error === 'invalid_grant');
  assert.match(authority.grantLog.at(-1).reason, /not a registered business certificate/);
});

test('x5c also goes in client assertions (private_key_jwt client authentication)', async () => {
  const recording = recordingFetch();
  const client = new TokenClient({
    tokenEndpoint: authority.tokenEndpoint, clientId: 'cert-client', fetch: recording.fetch, retries: 0,
    clientAuth: { method: 'private_key_jwt', privateJwk: cert.privateJwk, alg: 'RS256', x5c: [cert.leafDer] },
  });
  await client.getToken().catch(() => {}); // the authority does not know this client; the header is what counts
  const form = new URLSearchParams(await recording.calls[0].body);
  const header = JSON.parse(Buffer.from(form.get('client_assertion').split('.')[0], 'base64url'));
  assert.deepEqual(header.x5c, [cert.leafDer]);
});
