// The browser harness: local demo authorities and APIs (tests/support startScenario) plus a small
// static server for the repository's /pkg/ and /www/ and the page's /demo-config.json.
//
//   node scripts/www.mjs [--port N]      (bash scripts/www.sh sets up and builds first)
//
// The demo credentials in /demo-config.json are generated at start-up for the local authorities
// and are thrown away when the process exits.
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startScenario } from '../tests/support/index.mjs';
import { closeServer, listen } from '../tests/support/http.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ts': 'text/plain; charset=utf-8',
};
const SERVED = ['/pkg/', '/www/'];

/** The two demo clients, as TokenClientOptions + `apiUrl` (what the page's JSON boxes hold). */
export function demoConfig(scenario) {
  const { clients, api1, api2 } = scenario;
  return {
    note: 'Throwaway credentials of the local demo authorities started by scripts/www.mjs.',
    clients: {
      api1: {
        issuer: clients.helseid.issuer,
        tokenEndpoint: clients.helseid.tokenEndpoint,
        clientId: clients.helseid.clientId,
        clientAuth: { method: 'private_key_jwt', privateJwk: clients.helseid.privateJwk },
        dpop: true,
        scope: 'api1.read',
        resource: api1.url,
        apiUrl: api1.url,
      },
      api2: {
        issuer: clients.duende.issuer,
        tokenEndpoint: clients.duende.tokenEndpoint,
        clientId: clients.duende.clientId,
        clientAuth: { method: 'client_secret_basic', clientSecret: clients.duende.clientSecret },
        scope: 'api2.read',
        resource: api2.url,
        apiUrl: api2.url,
      },
    },
  };
}

/**
 * Start the scenario servers and the static server.
 * opts: { port? = 0 (ephemeral), scenario? (options for startScenario) }.
 * Returns { url (the page), origin, scenario, close() }.
 */
export async function startWww(opts = {}) {
  const scenario = await startScenario(opts.scenario);
  let server;
  try {
    const config = JSON.stringify(demoConfig(scenario), null, 2);
    server = createServer((req, res) => {
      serve(req, res, config).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    const port = await listen(server, opts.port ?? 0);
    const origin = `http://127.0.0.1:${port}`;
    let closed;
    return {
      url: `${origin}/www/index.html`,
      origin,
      scenario,
      close: () => (closed ??= Promise.all([closeServer(server), scenario.close()]).then(() => {})),
    };
  } catch (err) {
    await scenario.close();
    throw err;
  }
}

async function serve(req, res, config) {
  if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { allow: 'GET, HEAD' }).end();
  let path;
  try {
    path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
  } catch {
    return void res.writeHead(400).end();
  }
  const headers = { 'cache-control': 'no-store' };
  if (path === '/' || path === '/www' || path === '/www/') {
    return void res.writeHead(302, { ...headers, location: '/www/index.html' }).end();
  }
  if (path === '/demo-config.json') {
    return void res.writeHead(200, { ...headers, 'content-type': TYPES['.json'] }).end(config);
  }
  if (!SERVED.some((prefix) => path.startsWith(prefix))) return void res.writeHead(404, headers).end();
  let body;
  try {
    body = await readFile(join(root, path));
  } catch {
    return void res.writeHead(404, headers).end();
  }
  res.writeHead(200, { ...headers, 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function parseArgs(argv) {
  const opts = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = arg.startsWith('--port=') ? arg.slice(7) : arg === '--port' ? argv[++i] : undefined;
    if (value !== undefined) {
      const port = Number(value);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port: not a port: ${value}`);
      opts.port = port;
    } else if (arg === '--help' || arg === '-h') {
      console.log('usage: node scripts/www.mjs [--port N]');
      process.exit(0);
    } else {
      throw new Error(`unknown argument: ${arg} (usage: node scripts/www.mjs [--port N])`);
    }
  }
  return opts;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  let opts;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error(err.message);
    process.exit(2);
  }
  const www = await startWww(opts);
  const { authorityA, authorityB, api1, api2 } = www.scenario;
  console.log(`authority A (private_key_jwt + DPoP nonces)  ${authorityA.issuer}`);
  console.log(`authority B (client_secret_basic/post)       ${authorityB.issuer}`);
  console.log(`API 1 (DPoP, nonce)                          ${api1.url}`);
  console.log(`API 2 (Bearer)                               ${api2.url}`);
  console.log(`\ntokenfetch browser harness: open ${www.url}\n(Ctrl-C to stop)`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await www.close();
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
