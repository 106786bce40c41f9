// ClientRegistry: named clients, one per API, built once (the JavaScript API of ../shared/DESIGN.md).
import { asTokenError } from './boundary.mjs';
import { TokenError } from './error.mjs';

/** Build the ClientRegistry class over the glue's TokenClient. */
export function registryOf(TokenClient) {
  return class ClientRegistry {
    #clients = new Map();

    /** Build every client; throws a TokenError naming `clients.<name>.<field>`. */
    constructor(clients) {
      if (clients === null || typeof clients !== 'object') {
        throw new TokenError('clients: must be an object of client options', 'invalid_config');
      }
      let names;
      try {
        names = Object.keys(clients);
      } catch {
        throw new TokenError('clients: could not be read (a Proxy or a getter threw)', 'invalid_config');
      }
      for (const name of names) {
        try {
          this.#clients.set(name, new TokenClient(clients[name]));
        } catch (e) {
          const error = asTokenError(e, `clients.${name}`);
          error.message = `clients.${name}.${error.message}`;
          throw error;
        }
      }
    }

    /** The client named `name`; throws a TokenError for an unknown name. */
    get(name) {
      const client = typeof name === 'string' ? this.#clients.get(name) : undefined;
      if (client !== undefined) return client;
      const shown = typeof name === 'string' ? name.replace(/[^\x20-\x7e]/g, '').slice(0, 40) : typeof name;
      throw new TokenError(
        typeof name === 'string' ? `name: no client named "${shown}"` : 'name: must be a string', 'invalid_argument');
    }

    /** `get(name).fetch(input, init)`; a Promise, whatever goes wrong. */
    fetch(name, input, init) {
      try {
        return this.get(name).fetch(input, init);
      } catch (e) {
        return Promise.reject(asTokenError(e, 'fetch'));
      }
    }

    /** Release every client's wasm memory now (optional: the GC does it when the registry goes). */
    free() {
      for (const client of this.#clients.values()) client.free();
      this.#clients.clear();
    }

    /** The names, safe to log. */
    toJSON() {
      return { clients: [...this.#clients.keys()] };
    }
  };
}
