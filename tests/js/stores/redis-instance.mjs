// One "instance" of a fleet: its own process and client, sharing tokens through Redis.
// Env: OPTIONS (client options JSON), REDIS_URL, STORE_KEY, GO_AT (epoch ms to start at), CLIENT
// ('redis' or 'ioredis'). Prints { token, tokenRequests, events }.
import { TokenClient, redisStore } from 'tokenfetch';

const env = process.env;
const redis = env.CLIENT === 'ioredis'
  ? new (await import('ioredis')).Redis(env.REDIS_URL)
  : await (await import('redis')).createClient({ url: env.REDIS_URL }).connect();
const events = [];
const client = new TokenClient({
  ...JSON.parse(env.OPTIONS),
  store: redisStore(redis),
  storeEncryptionKey: env.STORE_KEY,
  onEvent: (e) => events.push(e.type),
});
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(env.GO_AT ?? 0) - Date.now())));
const token = await client.getToken();
console.log(JSON.stringify({ token: token.accessToken, tokenRequests: client.inspect().tokenRequests, events }));
await (env.CLIENT === 'ioredis' ? redis.quit() : redis.quit());
