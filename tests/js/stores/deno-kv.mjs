// Deno KV: COUNT clients (each its own cache, as separate isolates would have) share tokens
// through Deno.openKv(KV_PATH). Env: OPTIONS, KV_PATH, STORE_KEY, COUNT. Prints { tokens, tokenRequests, events }.
import { TokenClient, denoKvStore } from 'tokenfetch';

const kv = await Deno.openKv(Deno.env.get('KV_PATH'));
const events = [];
const clients = Array.from({ length: Number(Deno.env.get('COUNT')) }, () => new TokenClient({
  ...JSON.parse(Deno.env.get('OPTIONS')),
  store: denoKvStore(kv),
  storeEncryptionKey: Deno.env.get('STORE_KEY'),
  onEvent: (e) => events.push(e.type),
}));
const tokens = await Promise.all(clients.map((c) => c.getToken().then((t) => t.accessToken)));
const tokenRequests = clients.reduce((n, c) => n + c.inspect().tokenRequests, 0);
const stored = [];
for await (const entry of kv.list({ prefix: ['tokenfetch'] })) stored.push(entry.value);
kv.close();
console.log(JSON.stringify({ tokens, tokenRequests, events, stored }));
