// A Worker whose every request builds its own client, as a cold isolate would: tokens are shared
// only through the TOKENS KV namespace. SCENARIO: { options, storeKey, api }.
import { TokenClient, kvStore } from 'tokenfetch';

export default {
  async fetch(request, env) {
    const { options, storeKey, api } = JSON.parse(env.SCENARIO);
    const events = [];
    const client = new TokenClient({
      ...options, store: kvStore(env.TOKENS), storeEncryptionKey: storeKey, onEvent: (e) => events.push(e.type),
    });
    try {
      const res = await client.fetch(api);
      return Response.json({ status: res.status, tokenRequests: client.inspect().tokenRequests, events });
    } catch (e) {
      return Response.json({ error: `${e.code}: ${e.message}` });
    }
  },
};
