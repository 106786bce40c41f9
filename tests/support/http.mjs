// Small shared helpers for the test servers: listen on 127.0.0.1, close everything, read a body.
import { once } from 'node:events';

/** Listen on 127.0.0.1:`port` (0 = ephemeral); resolves to the bound port. */
export async function listen(server, port = 0) {
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return server.address().port;
}

/** Close an http.Server including idle and active keep-alive sockets; safe to call twice. */
export function closeServer(server) {
  if (!server.listening) return Promise.resolve();
  const closed = new Promise((resolve) => server.close(() => resolve()));
  server.closeAllConnections?.();
  return closed;
}

/** Read a request body as UTF-8 text. */
export async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** Send a JSON response. */
export function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}
