// Where the RFCs allow more than an access token in a whole-second lifetime: a token exchange that issues what is
// not an access token answers `token_type: "N_A"` with its `issued_token_type` (RFC 8693 §2.2.1): getToken returns it,
// client.fetch never sends it. `expires_in` is a JSON number: `299.5` is 299 s.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TokenClient } from 'tokenfetch';
import {
  createUserTokenIssuer, startTokenExchangeAuthority, TOKEN_EXCHANGE, TOKEN_TYPES,
} from '../support/authorities.mjs';
import { startMisbehaving } from '../support/misbehave.mjs';
import { startApi } from '../support/resource.mjs';
import { expectTokenError, secrets } from './helpers.mjs';

let users;
let exchange;
let api;
const servers = [];

before(async () => {
  users = await createUserTokenIssuer();
  exchange = await startTokenExchangeAuthority({ userIssuer: users, issueOtherTypes: true });
  servers.push(exchange);
  api = await startApi({ name: 'te', issuer: exchange.issuer, jwksUri: exchange.jwksUri, dpop: false });
  servers.push(api);
  exchange.setAudience(api.audience);
  secrets.addClient('token exchange basic client', exchange.clients.basic);
  secrets.addSource('a token issued by the exchange', () => exchange.issuedTokens);
  secrets.addSource('a user (subject) token', () => users.minted);
});
after(async () => { await Promise.all(servers.map((s) => s.close())); });

const exchangeClient = (requestedTokenType) => new TokenClient({
  tokenEndpoint: exchange.tokenEndpoint,
  clientId: exchange.clients.basic.clientId,
  clientAuth: { method: 'client_secret_basic', clientSecret: exchange.clients.basic.clientSecret },
  grant: 'token_exchange',
  tokenExchange: { audience: api.audience, requestedTokenType },
  scope: exchange.scope,
  baseUrl: api.url,
});

test('an exchange that issues a JWT (not an access token): getToken returns it as N_A, fetch never sends it', async () => {
  const alice = await users.mint({ sub: 'alice', aud: 'te-basic' });
  const client = exchangeClient(TOKEN_TYPES.jwt);
  const token = await client.getToken({ subjectToken: alice });
  const answer = exchange.requestsFor(TOKEN_EXCHANGE, 'te-basic').at(-1);
  assert.equal(answer.tokenType, 'N_A', 'what the authority answered');
  assert.equal(token.tokenType, 'N_A');
  assert.equal(token.issuedTokenType, TOKEN_TYPES.jwt);
  assert.equal(token.accessToken, exchange.issuedTokens.at(-1));
  assert.ok(token.expiresAt > Date.now() + 200_000);
  assert.deepEqual(client.inspect().cache.map((c) => c.tokenType), ['N_A']);
  // Cached like any token; never an Authorization header: refused before anything is sent.
  const requestsBefore = api.counters.requests;
  const posts = exchange.counters.tokenRequests;
  assert.deepEqual(await client.getToken({ subjectToken: alice }), token);
  const err = await expectTokenError(client.fetch('/data', undefined, { subjectToken: alice }), 'token_type_mismatch');
  assert.match(err.message, /N_A/);
  assert.equal(api.counters.requests, requestsBefore, 'the API saw nothing');
  assert.equal(exchange.counters.tokenRequests, posts, 'no second exchange');
});

test('an exchange for an access token still says what it issued, and fetch sends it', async () => {
  const bob = await users.mint({ sub: 'bob', aud: 'te-basic' });
  const client = exchangeClient(TOKEN_TYPES.accessToken);
  const token = await client.getToken({ subjectToken: bob });
  assert.equal(token.tokenType, 'Bearer');
  assert.equal(token.issuedTokenType, TOKEN_TYPES.accessToken);
  const res = await client.fetch('/data', undefined, { subjectToken: bob });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).sub, 'bob');
});

test('expires_in 299.5 is a token for 299 s', async () => {
  const server = await startMisbehaving('absurd-expiry', { expiresIn: 299.5 });
  servers.push(server);
  secrets.addSource('a fake token', () => server.issued);
  const client = new TokenClient({
    tokenEndpoint: server.tokenEndpoint, clientId: 'c', clientAuth: { method: 'client_secret_post', clientSecret: 'secret-0815' },
    refreshBeforeExpirySeconds: 0,
  });
  const before = Date.now();
  const token = await client.getToken();
  const after = Date.now();
  assert.ok(token.expiresAt >= before + 299_000 && token.expiresAt <= after + 299_000, `${token.expiresAt - before}`);
  assert.equal(token.issuedTokenType, undefined);
  assert.equal((await client.getToken()).accessToken, token.accessToken, 'cached');
  assert.equal(server.count, 1);
});
