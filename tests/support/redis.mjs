// A redis-server (Debian's, installed by scripts/setup.sh) on a free 127.0.0.1 port, for the shared-store tests.
import { spawn } from 'node:child_process';
import { createClient } from 'redis';
import { unusedPort } from './fakes.mjs';

/** Start redis-server without persistence; returns { child, url, client (node-redis, connected), close() }. */
export async function startRedis() {
  const port = await unusedPort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const client = await createClient({ url }).on('error', () => {}).connect();
      return { child, url, client, close: async () => { await client.quit(); child.kill(); } };
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  child.kill();
  throw new Error('redis-server did not start');
}
