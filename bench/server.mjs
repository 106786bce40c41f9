// The bench's API and token server, in its own process (bench/bench.mjs starts it): a server in
// the bench's process would share its event loop, and every extra microtask of any client would
// then show as the server's slowness too. Prints its port on the first line of stdout.
//   POST /token   a token per request (DPoP-bound when a DPoP header came), after `delay` ms
//   GET  /count   how many token requests so far, as text
//   *             "ok"
import { createServer } from 'node:http';

const delay = Number(process.argv[2] ?? 5);
let tokenRequests = 0;
const server = createServer((req, res) => {
  if (req.url === '/count') return res.end(String(tokenRequests));
  if (req.url !== '/token') return res.end('ok');
  tokenRequests++;
  const type = req.headers.dpop ? 'DPoP' : 'Bearer';
  const n = tokenRequests;
  req.resume();
  req.on('end', () => setTimeout(() => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ access_token: `${type}-token-${n}`, token_type: type, expires_in: 3600 }));
  }, delay));
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('disconnect', () => process.exit(0));
process.stdin.on('end', () => process.exit(0)).resume();
