// Cloudflare Worker (workerd): the scenario runs per request; its environment is a JSON binding.
import * as tokenfetch from 'tokenfetch';
import { runWorker } from './worker-scenario.mjs';

export default {
  async fetch(request, env) {
    try {
      const result = await runWorker(tokenfetch, JSON.parse(env.SCENARIO));
      return Response.json({ runtime: 'workerd', ...result });
    } catch (err) {
      return Response.json({ runtime: 'workerd', error: String(err?.stack ?? err) }, { status: 500 });
    }
  },
};
