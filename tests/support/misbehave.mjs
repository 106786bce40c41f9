// Misbehaving HTTP servers for the fault suite (tests/js/faults.test.mjs). Each is one named behaviour of a token
// endpoint (or, for `resource-401`, a protected API) on 127.0.0.1 at a random port, and records what it received, so
// a test can assert how often and when the client came (retry counts, backoff and Retry-After spacing) and whether
// it let go of the connection.
//
//   const server = await startMisbehaving('storm', { status: 502 });
//   ... new TokenClient({ tokenEndpoint: server.tokenEndpoint, ... }) ...
//   server.count; server.times; server.requests[0].headers; await server.close();
//
// Behaviours (opts in brackets):
//   hang           reads the request, never answers
//   drip           200 application/json headers, then one byte of a token response every `everyMs` [100], forever
//   huge           200 application/json, a `bytes` [8 MiB] JSON body streamed in 64 KiB chunks [declareLength: false]
//   garbage        200 application/json, random binary bytes
//   html           200 text/html page (that even contains an access_token)
//   malformed      200 application/json, a token response cut off mid-object
//   token          well behaved: 200 a Bearer token response for 300 s, `fields` [{}] overriding its members
//   no-expiry      200 valid Bearer token response without expires_in
//   absurd-expiry  200 token response with `expiresIn` as given (any JSON value) [-1]
//   storm          always `status` [cycles 500, 502, 503] after `delayMs` [0], an HTML error page, no Retry-After
//   throttle       `times` [1] answers of `status` [429] with Retry-After `retryAfter(now)` [() => '1'; undefined:
//                  none], then a token
//   flaky          `failures` [2] answers of 503 without Retry-After, then a token
//   reset          resets the connection (TCP RST) once the request is read
//   nonce-loop     400 use_dpop_nonce with a fresh DPoP-Nonce, every time
//   redirect       `status` [302] to `location` [this same URL: a loop]
//   resource-401   a protected API: 401 with WWW-Authenticate `<scheme> error="<error>"` [DPoP, use_dpop_nonce] and a
//                  fresh DPoP-Nonce on every request, forever
//   refusal        400/401 OAuth error `error` [invalid_client], e.g. a client revoked since its last token
//   sequence       the behaviours named in `answers`, one per request, in turn (the last one repeats)
//   metadata       an authorization server metadata document `document(issuer)` at /.well-known/*
//
// Every token the servers issue is in `server.issued` (for the secret scan).
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { closeServer, listen, readBody, sendJson } from './http.mjs';

/** A fresh opaque access token, long enough to be found by a leak scan. */
export const newAccessToken = () => `fake-at.${randomBytes(24).toString('base64url')}`;

/** 200 with a token response; `fields` override or add members (undefined removes one). */
function sendToken(res, server, fields = {}) {
  const access_token = newAccessToken();
  server.issued.push(access_token);
  const body = { access_token, token_type: 'Bearer', expires_in: 300, ...fields };
  for (const [k, v] of Object.entries(body)) if (v === undefined) delete body[k];
  sendJson(res, 200, body);
}

const page = (title) => `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1></body></html>`;

/** Write `bytes` of a JSON token response in chunks, respecting backpressure; stops when the client goes away. */
async function stream(res, server, { bytes, declareLength }) {
  const head = '{"token_type":"Bearer","expires_in":300,"access_token":"';
  const tail = '"}';
  const headers = { 'content-type': 'application/json' };
  if (declareLength) headers['content-length'] = String(bytes);
  res.writeHead(200, headers);
  const chunk = Buffer.alloc(64 * 1024, 'A');
  let left = bytes - head.length - tail.length;
  const write = (data) => new Promise((resolve) => {
    if (res.write(data)) resolve(true);
    else {
      const done = (ok) => { res.off('drain', drained); res.off('close', closed); resolve(ok); };
      const drained = () => done(true);
      const closed = () => done(false);
      res.on('drain', drained);
      res.on('close', closed);
    }
  });
  if (!(await write(head))) return;
  server.bytesSent += head.length;
  while (left > 0 && !res.destroyed) {
    const part = left >= chunk.length ? chunk : chunk.subarray(0, left);
    if (!(await write(part))) return;
    server.bytesSent += part.length;
    left -= part.length;
  }
  if (!res.destroyed) res.end(tail);
}

const BEHAVIOURS = {
  hang: () => {},

  drip: (req, res, server, { everyMs = 100 }) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const text = JSON.stringify({ access_token: 'x'.repeat(10_000), token_type: 'Bearer', expires_in: 300 });
    let i = 0;
    const timer = setInterval(() => {
      if (res.destroyed || i >= text.length) {
        clearInterval(timer);
        return;
      }
      res.write(text[i]);
      server.bytesSent += 1;
      i += 1;
    }, everyMs);
    res.on('close', () => clearInterval(timer));
  },

  huge: (req, res, server, { bytes = 8 * 1024 * 1024, declareLength = false }) =>
    stream(res, server, { bytes, declareLength }),

  garbage: (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(Buffer.concat([Buffer.from([0xff, 0xfe, 0x00, 0x7b]), randomBytes(512)]));
  },

  html: (req, res, server) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    const token = newAccessToken();
    server.issued.push(token);
    res.end(page(`access_token=${token}`));
  },

  malformed: (req, res, server) => {
    const token = newAccessToken();
    server.issued.push(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"access_token":"${token}","token_type":"Bearer","expires_in":30`);
  },

  token: (req, res, server, { fields }) => sendToken(res, server, fields),

  'no-expiry': (req, res, server) => sendToken(res, server, { expires_in: undefined }),

  'absurd-expiry': (req, res, server, { expiresIn = -1 }) => sendToken(res, server, { expires_in: expiresIn }),

  storm: async (req, res, server, { status, delayMs = 0 }) => {
    const code = status ?? [500, 502, 503][(server.count - 1) % 3];
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    if (res.destroyed) return;
    res.writeHead(code, { 'content-type': 'text/html' });
    res.end(page(`${code} upstream trouble`));
  },

  throttle: (req, res, server, { times = 1, status = 429, retryAfter = () => '1' }) => {
    if (server.count > times) return sendToken(res, server);
    const value = retryAfter(Date.now());
    server.requests.at(-1).retryAfter = value;
    res.writeHead(status, { 'content-type': 'text/plain', ...(value === undefined ? {} : { 'retry-after': value }) });
    return res.end('slow down');
  },

  flaky: (req, res, server, { failures = 2 }) => {
    if (server.count > failures) return sendToken(res, server);
    res.writeHead(503, { 'content-type': 'text/plain' });
    return res.end('try again');
  },

  reset: (req) => req.socket.resetAndDestroy(),

  'nonce-loop': (req, res, server) => {
    const nonce = randomBytes(16).toString('base64url');
    server.nonces.push(nonce);
    sendJson(res, 400, { error: 'use_dpop_nonce', error_description: 'Authorization server requires nonce in DPoP proof' },
      { 'dpop-nonce': nonce });
  },

  redirect: (req, res, server, { status = 302, location }) => {
    res.writeHead(status, { location: location ?? `${server.url}${req.url}` });
    res.end();
  },

  refusal: (req, res, server, { error = 'invalid_client' }) =>
    sendJson(res, error === 'invalid_client' ? 401 : 400, { error, error_description: 'refused' }),

  sequence: (req, res, server, { answers }) => {
    const name = answers[Math.min(server.count, answers.length) - 1];
    const [behaviour, error] = name.startsWith('invalid_') ? ['refusal', name] : [name, undefined];
    return BEHAVIOURS[behaviour](req, res, server, { error });
  },

  metadata: (req, res, server, { document }) => {
    if (!req.url.startsWith('/.well-known/')) return sendJson(res, 404, { error: 'not_found' });
    return sendJson(res, 200, document(server.url));
  },

  'resource-401': (req, res, server, { scheme = 'DPoP', error = 'use_dpop_nonce' }) => {
    const nonce = randomBytes(16).toString('base64url');
    server.nonces.push(nonce);
    res.writeHead(401, {
      'www-authenticate': `${scheme} error="${error}", error_description="rejected"`,
      'dpop-nonce': nonce,
      'content-type': 'application/json',
    });
    res.end('{"error":"rejected"}');
  },
};

/**
 * Start the server for `behaviour` (see the table above). Returns
 * { url, tokenEndpoint, behaviour, requests: [{ time, method, path, headers, body, closedAt? }], count, times,
 *   issued: [access tokens], nonces: [DPoP-Nonce values sent], bytesSent, close() }.
 * `closedAt` is when the client's connection closed (a client that gives up closes it).
 */
export async function startMisbehaving(behaviour, opts = {}) {
  const handler = BEHAVIOURS[behaviour];
  if (!handler) throw new Error(`unknown behaviour "${behaviour}"`);
  const server = {
    behaviour,
    requests: [],
    issued: [],
    nonces: [],
    bytesSent: 0,
    get count() { return this.requests.length; },
    get times() { return this.requests.map((r) => r.time); },
  };
  const http = createServer(async (req, res) => {
    const body = await readBody(req);
    const entry = { time: Date.now(), method: req.method, path: req.url, headers: req.headers, body };
    server.requests.push(entry);
    res.on('close', () => { entry.closedAt = Date.now(); });
    req.socket.on('error', () => {});
    await handler(req, res, server, opts);
  });
  const port = await listen(http, 0);
  server.url = `http://127.0.0.1:${port}`;
  server.tokenEndpoint = `${server.url}/token`;
  server.close = () => closeServer(http);
  return server;
}

/**
 * For a test file: `serve(behaviour, opts)` starts a misbehaving server whose issued tokens join
 * `scan` (tests/support/secrets.mjs); `track(server)` adds any other server; `closeAll()` closes
 * them all (call it in `after`).
 */
export function misbehavingServers(scan) {
  const servers = [];
  const track = (server) => {
    servers.push(server);
    return server;
  };
  return {
    track,
    serve: async (behaviour, opts) => {
      const server = track(await startMisbehaving(behaviour, opts));
      scan.addSource(`access token issued by "${behaviour}"`, () => server.issued);
      return server;
    },
    closeAll: () => Promise.all(servers.map((s) => s.close())),
  };
}
