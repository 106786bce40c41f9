// The secret scan: every error and event a test sees is searched for the secrets the test used (client secrets,
// private JWK members, issued access tokens, subject tokens, DPoP keys), in every form that reaches a log. A leak
// fails the test naming what leaked and where.
//
//   const scan = new SecretScan();
//   scan.addClient('authority B basic', { clientId, clientSecret });
//   scan.addKey('DPoP key', privateJwk);
//   scan.addSource('tokens issued by authority B', () => authority.issuedTokens);
//   scan.check(err, 'getToken()');         // an error: message, stack, String, JSON, inspect, cause chain
//   onEvent: scan.hook(events)             // events kept (also in `events`); scan.checkEvents() checks them
//
// Each test file runs in its own process (node --test), so `secrets` below is that file's registry.
import assert from 'node:assert/strict';
import { inspect } from 'node:util';

/** Private members of a JWK (RFC 7518 §6.2.2, §6.3.2, §6.4). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

/** Shortest value taken as a secret; shorter ones would match by chance. */
const MIN_LENGTH = 8;

/** Everything about `value` that can end up in a log, as [how, text] pairs. */
export function renderings(value, prefix = '') {
  const out = [];
  const push = (how, render) => {
    try {
      out.push([`${prefix}${how}`, String(render())]);
    } catch (err) {
      out.push([`${prefix}${how}`, `(not renderable: ${err?.message})`]);
    }
  };
  if (value instanceof Error) {
    push('message', () => value.message);
    push('stack', () => value.stack);
    push('String()', () => String(value));
    for (const key of Object.getOwnPropertyNames(value)) push(`.${key}`, () => JSON.stringify(value[key]));
  }
  push('JSON.stringify()', () => JSON.stringify(value));
  push('util.inspect()', () => inspect(value, { depth: 10, showHidden: true }));
  return out;
}

/** `err`, its `cause` chain and (AggregateError) `errors`, each once. */
function errorTree(err, seen = new Set()) {
  if (err === null || typeof err !== 'object' || seen.has(err)) return [];
  seen.add(err);
  const nested = [err.cause, ...(Array.isArray(err.errors) ? err.errors : [])];
  return [err, ...nested.flatMap((e) => errorTree(e, seen))];
}

export class SecretScan {
  #values = new Map(); // value -> label
  #sources = [];
  /** How many values were checked (errors, events, ...), for tests that want to show the scan ran. */
  checked = 0;

  /** Register secret strings under `label` (undefined and empty are skipped; very short ones are refused). */
  add(label, ...values) {
    for (const value of values.flat()) {
      if (value === undefined || value === null || value === '') continue;
      assert.equal(typeof value, 'string', `secret "${label}" must be a string`);
      assert.ok(value.length >= MIN_LENGTH, `secret "${label}" is too short to scan for (${value.length} chars)`);
      this.#values.set(value, label);
      // The forms a secret travels in: form-urlencoded (client_secret_post) and URI-encoded.
      for (const encoded of [encodeURIComponent(value), new URLSearchParams({ v: value }).toString().slice(2)]) {
        if (encoded !== value) this.#values.set(encoded, `${label} (encoded)`);
      }
    }
    return this;
  }

  /** A client's private JWK, or its shared secret and the Basic credential that becomes (RFC 6749 §2.3.1). */
  addClient(label, { clientId, clientSecret, privateJwk }) {
    this.addKey(`${label} key`, privateJwk);
    if (!clientSecret) return this;
    this.add(`${label} client secret`, clientSecret);
    const form = (s) => new URLSearchParams({ v: s }).toString().slice(2);
    this.add(`${label} Basic credential`, Buffer.from(`${form(clientId)}:${form(clientSecret)}`).toString('base64'));
    return this;
  }

  /** The private members of a JWK (public members are not secret). */
  addKey(label, jwk) {
    if (!jwk || typeof jwk !== 'object') return this;
    for (const m of PRIVATE_JWK_MEMBERS) if (typeof jwk[m] === 'string') this.add(`${label} private "${m}"`, jwk[m]);
    return this;
  }

  /** Secrets known only later (tokens issued during the test): `fn()` returns strings, read at each check. */
  addSource(label, fn) {
    this.#sources.push([label, fn]);
    return this;
  }

  /** [value, label] pairs to look for now. */
  #all() {
    const all = new Map(this.#values);
    for (const [label, fn] of this.#sources) {
      for (const value of [...(fn() ?? [])]) {
        if (typeof value === 'string' && value.length >= MIN_LENGTH) all.set(value, label);
      }
    }
    return all;
  }

  /** The leaks in `value` (an error with its cause chain, an event, any value) as "label in how" strings. */
  leaks(value) {
    const secrets = this.#all();
    const found = [];
    const parts = value instanceof Error ? errorTree(value) : [value];
    parts.forEach((part, i) => {
      for (const [how, text] of renderings(part, i === 0 ? '' : `cause[${i}].`)) {
        for (const [secret, label] of secrets) if (text.includes(secret)) found.push(`${label} in ${how}`);
      }
    });
    return [...new Set(found)];
  }

  /** Fail naming what leaked when `value` contains a secret; `where` says what produced it. */
  check(value, where = 'value') {
    this.checked += 1;
    const found = this.leaks(value);
    assert.deepEqual(found, [], `${where} leaks: ${found.join('; ')}`);
    return value;
  }

  /**
   * An `onEvent` hook that keeps every event (in `into` too, when given) for `checkEvents()`. It does not throw:
   * the client ignores a throwing hook, so a leak found there would go unnoticed.
   */
  hook(into) {
    return (event) => {
      this.events.push(event);
      into?.push(event);
    };
  }

  /** Events seen by `hook()`s and not checked yet. */
  events = [];

  /** Check every event the hooks kept since the last call; returns them. */
  checkEvents() {
    const events = this.events.splice(0);
    events.forEach((e, i) => this.check(e, `onEvent #${i} (${e?.type})`));
    return events;
  }

  /** Await `promise`; whatever it rejects with is checked, then rethrown. */
  async settle(promise, where) {
    try {
      return await promise;
    } catch (err) {
      this.check(err, where);
      throw err;
    }
  }
}

/** This test file's registry (one process per test file). */
export const secrets = new SecretScan();
