// Misbehaving or silent endpoints that a real server would not produce.
import { createServer } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import { closeServer, listen, readBody, sendJson } from './http.mjs';

/**
 * A token endpoint that answers every POST with 200 { access_token: 'x.y.z', token_type, expires_in: 300 },
 * whatever the request (e.g. `tokenType: 'Bearer'` towards a DPoP client = a downgrade). Other methods: 404.
 * opts: { tokenType? = 'Bearer', port? = 0 }.
 * Returns { url, tokenEndpoint, counters: { requests }, requests: [{ time, method, path, headers, body }], close() }.
 */
export async function startFakeTokenEndpoint({ tokenType = 'Bearer', port = 0 } = {}) {
  const counters = { requests: 0 };
  const requests = [];
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    requests.push({ time: Date.now(), method: req.method, path: req.url, headers: req.headers, body });
    if (req.method !== 'POST') return sendJson(res, 404, { error: 'not_found' });
    counters.requests += 1;
    sendJson(res, 200, { access_token: 'x.y.z', token_type: tokenType, expires_in: 300 });
  });
  const url = `http://127.0.0.1:${await listen(server, port)}`;
  return { url, tokenEndpoint: `${url}/token`, counters, requests, close: () => closeServer(server) };
}

/**
 * A TCP server that accepts connections and never answers (for timeout tests).
 * Returns { url, port, counters: { connections }, close() } — close() destroys the held sockets.
 */
export async function startBlackhole({ port = 0 } = {}) {
  const counters = { connections: 0 };
  const sockets = new Set();
  const server = createTcpServer((socket) => {
    counters.connections += 1;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    socket.resume(); // read and discard, never write
  });
  const bound = await listen(server, port);
  return {
    url: `http://127.0.0.1:${bound}`,
    port: bound,
    counters,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** A 127.0.0.1 port with nothing listening on it (bound once, then released): connecting is refused. */
export async function unusedPort() {
  const server = createTcpServer();
  const port = await listen(server, 0);
  await new Promise((resolve) => server.close(() => resolve()));
  return port;
}
