// The tokenfetch browser harness. Two client slots, each a TokenClient built from a JSON
// configuration (TokenClientOptions + apiUrl). Every request a client sends goes through a
// recording `fetch` (the TokenClient `fetch` option), which decodes the client assertion and the
// DPoP proof it carries and notes how the server answered. Secrets never reach the DOM: they live in
// `vault` and the configuration boxes hold "$secret:<slot>.<field>" references instead.
import { TokenClient, TokenError } from 'tokenfetch';

const SLOTS = [
  { name: 'api1', title: 'Client 1' },
  { name: 'api2', title: 'Client 2' },
];
const DEMO_LABELS = {
  api1: 'API 1 · authority A (HelseID-style)',
  api2: 'API 2 · authority B (Duende-style)',
};
const CUSTOM_TEMPLATE = {
  issuer: 'https://authority.example',
  tokenEndpoint: 'https://authority.example/connect/token',
  clientId: 'my-client',
  clientAuth: { method: 'client_secret_basic', clientSecret: 'paste the secret here' },
  scope: 'api.read',
  apiUrl: 'https://api.example',
};
const SECRET_PREFIX = '$secret:';
const SECRET_PARAMS = new Set(['client_secret', 'client_assertion', 'assertion', 'subject_token', 'actor_token']);

/** "$secret:api1.privateJwk" -> the value. Never rendered. */
const vault = new Map();
/** The timeline, oldest first. */
const timeline = [];
let seq = 0;

const $ = (root, testid) => root.querySelector(`[data-testid="${testid}"]`);
const sourceStatus = $(document, 'source-status');
const slots = new Map(SLOTS.map((s) => [s.name, createSlot(s)]));

// ---------------------------------------------------------------------------------------------
// Slots: one card, one TokenClient

function createSlot({ name, title }) {
  const card = document.getElementById('client-template').content.firstElementChild.cloneNode(true);
  card.dataset.testid = `client-${name}`;
  card.querySelector('.slot-title').textContent = title;
  $(document, 'clients').append(card);
  const slot = {
    name,
    title,
    label: '',
    card,
    client: null,
    apiUrl: null,
    options: null,
    busy: false,
    done: 0,
    action: null,
    latestToken: null,   // { attempts: [...] } of the latest action that requested a token
    latestApi: null,     // { attempts: [...], body } of the latest API call
    lastToken: null,     // { tokenType, preview, expiresAt, scope }
    http: { token: 0, api: 0, challenges: 0 },
    lifetimes: new Map(), // cache key -> { expiresAt, since } for the countdown bars
  };
  for (const button of card.querySelectorAll('[data-action]')) {
    button.addEventListener('click', () => runAction(slot, button.dataset.action));
  }
  $(card, 'apply-config').addEventListener('click', () => applyConfig(slot, $(card, 'config-json').value));
  return slot;
}

/** Move secrets out of `options` into the vault; returns a copy that holds references instead. */
function stashSecrets(slotName, options) {
  const copy = structuredClone(options);
  const stash = (holder, field, path) => {
    const value = holder?.[field];
    if (value === undefined || value === null) return;
    if (typeof value === 'string' && value.startsWith(SECRET_PREFIX)) return;
    const ref = `${SECRET_PREFIX}${slotName}.${path}`;
    vault.set(ref, value);
    holder[field] = ref;
  };
  if (copy.clientAuth && typeof copy.clientAuth === 'object') {
    stash(copy.clientAuth, 'clientSecret', 'clientSecret');
    if (isPrivateJwk(copy.clientAuth.privateJwk)) stash(copy.clientAuth, 'privateJwk', 'privateJwk');
  }
  if (copy.dpop && typeof copy.dpop === 'object' && isPrivateJwk(copy.dpop.privateJwk)) {
    stash(copy.dpop, 'privateJwk', 'dpopPrivateJwk');
  }
  return copy;
}

function isPrivateJwk(v) {
  return v !== null && typeof v === 'object' && 'd' in v;
}

/** Replace "$secret:…" references by their values (deep). */
function resolveSecrets(value) {
  if (typeof value === 'string' && value.startsWith(SECRET_PREFIX)) {
    if (!vault.has(value)) throw new Error(`unknown secret reference ${value} (enter the value itself)`);
    return vault.get(value);
  }
  if (Array.isArray(value)) return value.map(resolveSecrets);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveSecrets(v)]));
  }
  return value;
}

/** Build the slot's TokenClient from JSON text; shows validation errors. Returns true on success. */
function applyConfig(slot, text, label = 'Custom configuration') {
  const { card } = slot;
  const errorBox = $(card, 'config-error');
  const fail = (message) => {
    errorBox.textContent = message;
    errorBox.hidden = false;
    $(card, 'config').open = true;
    return false;
  };
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return fail(`JSON: ${err.message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return fail('JSON: the configuration must be an object (TokenClientOptions + apiUrl)');
  }
  const redacted = stashSecrets(slot.name, parsed);
  // The box never keeps a secret, whatever happens next.
  $(card, 'config-json').value = JSON.stringify(redacted, null, 2);
  const { apiUrl, ...options } = redacted;
  let client;
  try {
    client = new TokenClient({ ...resolveSecrets(options), fetch: recordingFetch(slot) });
  } catch (err) {
    return fail(err instanceof TokenError ? `${err.code}: ${err.message}` : String(err.message ?? err));
  }
  if (!isHttpUrl(apiUrl)) {
    client.free();
    return fail('apiUrl: must be the API base URL (Call API fetches apiUrl + "/data")');
  }
  errorBox.hidden = true;
  Object.assign(slot, {
    client,
    apiUrl: apiUrl.replace(/\/+$/, ''),
    options,
    label,
    latestToken: null,
    latestApi: null,
    lastToken: null,
    http: { token: 0, api: 0, challenges: 0 },
    lifetimes: new Map(),
  });
  card.dataset.ready = 'true';
  setStatus(slot, 'Ready.', 'ok');
  renderSlot(slot);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Actions

async function runAction(slot, kind) {
  if (!slot.client || slot.busy) return;
  const { client } = slot;
  slot.busy = true;
  slot.card.dataset.busy = 'true';
  setButtons(slot);
  const action = { kind, start: Date.now(), seq: ++seq, entries: [], tokenGroup: null, apiGroup: null };
  slot.action = action;
  const before = client.inspect().tokenRequests;
  const labels = { getToken: 'Get token', callApi: 'Call API', forceRefresh: 'Force refresh', invalidate: 'Invalidate' };
  setStatus(slot, `${labels[kind]}…`, 'busy');
  try {
    if (kind === 'invalidate') {
      await client.invalidate();
      slot.lifetimes.clear();
      addRow({ seq: action.seq, time: action.start, slot: slot.name, kind: 'cache', method: '', url: '(cache)',
        status: '', outcome: 'invalidated: cached token dropped', tone: 'info' });
      setStatus(slot, 'Cache entry dropped; the next call requests a new token.', 'ok');
    } else if (kind === 'callApi') {
      const url = `${slot.apiUrl}/data`;
      const res = await client.fetch(url);
      const body = await res.text();
      noteCached(slot, action, before);
      if (action.apiGroup) action.apiGroup.body = prettyBody(body);
      setStatus(slot, `GET ${url} → ${res.status} ${res.statusText || statusText(res.status)}`, res.ok ? 'ok' : 'bad');
    } else {
      const token = await client.getToken(kind === 'forceRefresh' ? { forceRefresh: true } : undefined);
      slot.lastToken = {
        tokenType: token.tokenType,
        preview: truncateToken(token.accessToken),
        expiresAt: token.expiresAt,
        scope: token.scope,
      };
      const cached = noteCached(slot, action, before);
      setStatus(slot, `${token.tokenType} token ${cached ? 'from the cache' : 'issued'}.`, 'ok');
    }
  } catch (err) {
    const message = err instanceof TokenError ? `${err.code}: ${err.message}` : `${err.name ?? 'Error'}: ${err.message ?? err}`;
    addRow({ seq: ++seq, time: Date.now(), slot: slot.name, kind: 'error', method: '', url: '', status: err.status ?? '',
      outcome: message, tone: 'bad' });
    setStatus(slot, message, 'bad');
  } finally {
    slot.action = null;
    slot.busy = false;
    slot.done += 1;
    slot.card.dataset.busy = 'false';
    slot.card.dataset.done = String(slot.done);
    renderSlot(slot);
    renderTimeline();
  }
}

/** When an action needed a token and sent no token request, the token came from the cache. */
function noteCached(slot, action, before) {
  const cached = slot.client.inspect().tokenRequests === before && !action.entries.some((e) => e.kind === 'token');
  if (cached) {
    addRow({ seq: action.seq, time: action.start, slot: slot.name, kind: 'token', method: '', url: '(cache)',
      status: '', outcome: 'token cached', tone: 'info' });
  }
  return cached;
}

// ---------------------------------------------------------------------------------------------
// The recording fetch

function recordingFetch(slot) {
  return async function recordingFetch(input, init) {
    const request = input instanceof Request && init === undefined ? input : new Request(input, init);
    const method = request.method;
    const body = method === 'GET' || method === 'HEAD' ? '' : await request.clone().text();
    const form = /application\/x-www-form-urlencoded/i.test(request.headers.get('content-type') ?? '')
      ? new URLSearchParams(body) : null;
    const kind = form?.has('grant_type') ? 'token'
      : new URL(request.url).pathname.includes('/.well-known/') ? 'discovery' : 'api';
    const action = slot.action;
    const entry = {
      seq: ++seq,
      time: Date.now(),
      slot: slot.name,
      kind,
      method,
      url: request.url,
      status: '',
      outcome: 'pending…',
      tone: 'busy',
      retry: Boolean(action?.entries.some((e) => e.kind === kind && e.url === request.url && e.challenge)),
      dpop: decodeJwt(request.headers.get('dpop')),
      authorization: describeAuthorization(kind, request.headers.get('authorization'), form),
      params: form && kind === 'token' ? visibleParams(form) : null,
      assertion: kind === 'token' ? decodeJwt(form.get('client_assertion') ?? form.get('assertion')) : null,
    };
    if (action) {
      action.entries.push(entry);
      if (kind === 'token') (action.tokenGroup ??= slot.latestToken = { attempts: [] }).attempts.push(entry);
      if (kind === 'api') (action.apiGroup ??= slot.latestApi = { attempts: [], body: null }).attempts.push(entry);
    }
    if (kind === 'token') slot.http.token += 1;
    if (kind === 'api') slot.http.api += 1;
    timeline.push(entry);
    renderSlot(slot);
    renderTimeline();

    let response;
    try {
      response = await globalThis.fetch(request);
    } catch (err) {
      Object.assign(entry, { status: '—', outcome: `network error: ${err.message}`, tone: 'bad' });
      renderTimeline();
      throw err;
    }
    entry.status = response.status;
    entry.nonceReceived = Boolean(response.headers.get('dpop-nonce'));
    if (kind === 'token' && !response.ok) {
      entry.error = await response.clone().json().then((j) => j.error, () => undefined);
    } else if (kind === 'api' && response.status === 401) {
      entry.error = /error="([^"]*)"/.exec(response.headers.get('www-authenticate') ?? '')?.[1];
    }
    entry.challenge = entry.error === 'use_dpop_nonce' || (kind === 'api' && entry.error === 'invalid_token');
    if (entry.error === 'use_dpop_nonce') slot.http.challenges += 1;
    Object.assign(entry, describeOutcome(entry, response));
    renderSlot(slot);
    renderTimeline();
    return response;
  };
}

function describeOutcome(e, response) {
  const retry = e.retry ? 'retry · ' : '';
  if (e.error === 'use_dpop_nonce') return { outcome: `nonce challenge (use_dpop_nonce)${e.retry ? ' again' : ''}`, tone: 'warn' };
  if (e.error === 'invalid_token') return { outcome: `${retry}invalid_token · token dropped, new one requested`, tone: 'warn' };
  const status = `${response.status} ${response.statusText || statusText(response.status)}`;
  if (response.ok) {
    const what = e.kind === 'token' ? ' · token issued' : e.kind === 'discovery' ? ' · metadata' : '';
    const nonce = e.nonceReceived ? ' · new nonce' : '';
    return { outcome: `${retry}${status}${what}${nonce}`, tone: 'ok' };
  }
  return { outcome: `${retry}${status}${e.error ? ` · ${e.error}` : ''}`, tone: 'bad' };
}

function describeAuthorization(kind, header, form) {
  if (!header) {
    if (kind === 'token' && form?.has('client_secret')) return 'client_secret_post: client_secret in the body (hidden)';
    if (kind === 'token' && form?.has('client_assertion')) return 'private_key_jwt: client_assertion (decoded below)';
    return kind === 'token' ? 'none' : 'no Authorization header';
  }
  const [scheme, value = ''] = header.split(' ');
  if (/^basic$/i.test(scheme)) return 'client_secret_basic: Authorization: Basic •••• (hidden)';
  return `${scheme} ${truncateToken(value)}`;
}

function visibleParams(form) {
  const out = [];
  for (const [k, v] of form) {
    const decoded = k === 'client_assertion' || (k === 'assertion' && form.get('grant_type')?.endsWith(':jwt-bearer'));
    out.push([k, SECRET_PARAMS.has(k) ? `(${v.length} chars, ${decoded ? 'decoded below' : 'hidden'})` : v]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rendering

function renderSlot(slot) {
  const { card, client } = slot;
  const view = client ? client.inspect() : { tokenRequests: 0, cache: [], nonces: [] };
  card.querySelector('.slot-label').textContent = slot.label;
  $(card, 'badges').innerHTML = client ? badges(slot.options).map(([t, c]) => `<span class="badge ${c}">${esc(t)}</span>`).join('') : '';
  $(card, 'facts').innerHTML = client ? [
    ['authority', slot.options.issuer ?? slot.options.tokenEndpoint],
    ['client id', slot.options.clientId],
    ['API', slot.apiUrl],
  ].map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v ?? '—')}</dd>`).join('') : '';
  $(card, 'counter-token-requests').textContent = view.tokenRequests;
  $(card, 'counter-token-posts').textContent = slot.http.token;
  $(card, 'counter-api-requests').textContent = slot.http.api;
  $(card, 'counter-nonce-challenges').textContent = slot.http.challenges;
  setButtons(slot);

  const t = slot.lastToken;
  $(card, 'token').innerHTML = t ? `
    <dl class="kv">
      <dt>type</dt><dd><span class="badge ${t.tokenType === 'DPoP' ? 'dpop' : 'bearer'}">${esc(t.tokenType)}</span></dd>
      <dt>access token</dt><dd class="mono" data-testid="access-token">${esc(t.preview)}</dd>
      <dt>scope</dt><dd class="mono">${esc(t.scope ?? '—')}</dd>
      <dt>expires</dt><dd><span data-countdown="${t.expiresAt}"></span> <span class="muted">(${esc(clock(t.expiresAt))})</span></dd>
    </dl>` : '<p class="muted">Get token shows the token the cache holds (truncated).</p>';

  const now = Date.now();
  for (const key of slot.lifetimes.keys()) if (!view.cache.some((c) => c.key === key)) slot.lifetimes.delete(key);
  $(card, 'cache').innerHTML = view.cache.length ? view.cache.map((c) => {
    let life = slot.lifetimes.get(c.key);
    if (!life || life.expiresAt !== c.expiresAt) slot.lifetimes.set(c.key, (life = { expiresAt: c.expiresAt, since: now }));
    return cacheEntry(c, life);
  }).join('') : '<p class="muted">Empty.</p>';

  $(card, 'nonces').innerHTML = view.nonces.length ? `<ul class="nonces">${view.nonces.map((n) => `
    <li data-testid="nonce-entry"><span class="origin">${esc(n.origin)}</span>
      <span class="nonce mono">${esc(n.nonce)}</span></li>`).join('')}</ul>` : '<p class="muted">None.</p>';

  $(card, 'token-request').innerHTML = slot.latestToken ? slot.latestToken.attempts.map((a, i, all) => attempt(a, i, all.length, [
    a.authorization && `<p class="auth"><b>client authentication</b> ${esc(a.authorization)}</p>`,
    a.params && `<p class="params">${a.params.map(([k, v]) => `<span><b>${esc(k)}</b>=${esc(v)}</span>`).join(' ')}</p>`,
    a.assertion && jwtBlock('client assertion', 'assertion', a.assertion),
    a.dpop ? jwtBlock('DPoP proof', 'dpop', a.dpop) : '<p class="muted">No DPoP proof (Bearer client).</p>',
  ])).join('') : '<p class="muted">None yet.</p>';

  const api = slot.latestApi;
  $(card, 'api-call').innerHTML = api ? api.attempts.map((a, i, all) => attempt(a, i, all.length, [
    `<p class="auth"><b>Authorization</b> <span class="mono">${esc(a.authorization)}</span></p>`,
    a.dpop ? jwtBlock('DPoP proof', 'dpop', a.dpop) : '<p class="muted">No DPoP proof (Bearer token).</p>',
  ])).join('') + (api.body ? `<div class="response"><h4>response body</h4><pre class="json" data-testid="api-response">${highlight(api.body)}</pre></div>` : '')
    : '<p class="muted">None yet.</p>';
  tick();
}

/** One request of a token request or API call; earlier (challenged) attempts start folded. */
function attempt(a, i, count, parts) {
  const label = count > 1 ? `attempt ${i + 1} of ${count}` : 'request';
  const head = `<span class="step">${label}</span>
      <span class="mono">${esc(a.method)} ${esc(a.url)}</span>
      <span class="pill ${a.tone}">${esc(a.status || '…')}</span>
      <span class="outcome">${esc(a.outcome)}</span>`;
  const body = parts.filter(Boolean).join('');
  return i < count - 1
    ? `<details class="attempt" data-testid="attempt" data-status="${esc(a.status)}">
        <summary class="attempt-head">${head}</summary>${body}</details>`
    : `<div class="attempt" data-testid="attempt" data-status="${esc(a.status)}">
        <div class="attempt-head">${head}</div>${body}</div>`;
}

function jwtBlock(title, testid, jwt) {
  if (jwt.error) return `<p class="error">${esc(title)}: ${esc(jwt.error)}</p>`;
  const times = ['iat', 'nbf', 'exp'].filter((k) => typeof jwt.claims[k] === 'number')
    .map((k) => `${k} ${clock(jwt.claims[k] * 1000)}`);
  if (typeof jwt.claims.exp === 'number' && typeof jwt.claims.iat === 'number') times.push(`lifetime ${jwt.claims.exp - jwt.claims.iat} s`);
  return `<div class="jwt" data-testid="${testid}">
    <h4>${esc(title)} <span class="hint">${esc(times.join(' · '))}</span></h4>
    <div class="jwt-parts">
      <figure><figcaption>header</figcaption><pre class="json" data-testid="${testid}-header">${highlight(JSON.stringify(jwt.header, null, 2))}</pre></figure>
      <figure><figcaption>claims</figcaption><pre class="json" data-testid="${testid}-claims">${highlight(JSON.stringify(jwt.claims, null, 2))}</pre></figure>
    </div>
  </div>`;
}

function cacheEntry(c, life) {
  // Keys are keyed hashes of everything that shapes the token request: opaque by design.
  const fields = [['key', `${c.key.slice(0, 10)}…`], ['scope', c.scope]].filter(([, v]) => v);
  const span = Math.max(1, c.expiresAt - life.since);
  const refreshPct = clamp01((c.refreshAt - life.since) / span) * 100;
  return `<div class="cache-entry" data-testid="cache-entry" data-expires-at="${c.expiresAt}" data-refresh-at="${c.refreshAt}">
    <div class="cache-head"><span class="badge ${c.tokenType === 'DPoP' ? 'dpop' : 'bearer'}">${esc(c.tokenType)}</span>
      <span class="cache-key">${fields.map(([k, v]) => `<span><b>${k}</b> ${esc(v)}</span>`).join('')}</span></div>
    <div class="bar" data-since="${life.since}"><div class="fill"></div><div class="mark" style="left:${refreshPct.toFixed(2)}%"></div></div>
    <div class="countdowns">
      <span>refresh in <b data-testid="countdown-refresh" data-countdown="${c.refreshAt}"></b> <span class="muted">at ${esc(clock(c.refreshAt))}</span></span>
      <span>expires in <b data-testid="countdown-expires" data-countdown="${c.expiresAt}"></b> <span class="muted">at ${esc(clock(c.expiresAt))}</span></span>
    </div>
  </div>`;
}

function badges(o) {
  const out = [];
  const method = o.clientAuth?.method;
  if (method) out.push([method, method === 'private_key_jwt' ? 'key' : 'secret']);
  out.push(o.dpop ? ['DPoP', 'dpop'] : ['Bearer', 'bearer']);
  if (o.grant && o.grant !== 'client_credentials') out.push([o.grant, 'plain']);
  if (o.profile) out.push([`profile ${o.profile}`, 'plain']);
  return out;
}

function renderTimeline() {
  const body = $(document, 'timeline-body');
  const rows = [...timeline].sort((a, b) => b.seq - a.seq);
  body.innerHTML = rows.length ? rows.map((e, i) => `
    <tr data-testid="timeline-row" data-kind="${esc(e.kind)}" data-client="${esc(e.slot)}" data-status="${esc(e.status)}" class="${e.tone}">
      <td class="num">${rows.length - i}</td>
      <td class="mono">${esc(clock(e.time, true))}</td>
      <td>${esc(slots.get(e.slot)?.title ?? e.slot)}</td>
      <td><span class="kind ${esc(e.kind)}">${esc(e.kind === 'api' ? 'API' : e.kind)}</span></td>
      <td class="mono">${esc(e.method || '—')}</td>
      <td class="mono url">${esc(e.url || '—')}</td>
      <td><span class="pill ${e.tone}">${esc(e.status === '' ? '—' : e.status)}</span></td>
      <td class="outcome" data-testid="timeline-outcome">${esc(e.outcome)}</td>
    </tr>`).join('') : '<tr class="empty"><td colspan="8">No requests yet.</td></tr>';
}

function addRow(row) {
  timeline.push(row);
  renderTimeline();
}

function setStatus(slot, text, tone) {
  const el = $(slot.card, 'status');
  el.textContent = text;
  el.className = `status ${tone ?? ''}`;
}

function setButtons(slot) {
  for (const b of slot.card.querySelectorAll('[data-action]')) b.disabled = !slot.client || slot.busy;
}

/** Live countdowns and cache bars. */
function tick() {
  const now = Date.now();
  for (const el of document.querySelectorAll('[data-countdown]')) {
    el.textContent = duration(Number(el.dataset.countdown) - now);
    el.classList.toggle('late', Number(el.dataset.countdown) <= now);
  }
  for (const entry of document.querySelectorAll('.cache-entry')) {
    const expiresAt = Number(entry.dataset.expiresAt);
    const since = Number(entry.querySelector('.bar').dataset.since);
    const left = clamp01((expiresAt - now) / Math.max(1, expiresAt - since));
    const fill = entry.querySelector('.fill');
    fill.style.width = `${(left * 100).toFixed(2)}%`;
    fill.classList.toggle('stale', now >= Number(entry.dataset.refreshAt));
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Decode a compact JWS without verifying it: { header, claims } or { error }; null when absent. */
function decodeJwt(jwt) {
  if (!jwt) return null;
  try {
    const [h, p] = jwt.split('.');
    return { header: JSON.parse(b64url(h)), claims: JSON.parse(b64url(p)) };
  } catch {
    return { error: 'not a decodable JWT' };
  }
}

function b64url(s) {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(s.length / 4) * 4, '=');
  return new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)));
}

function truncateToken(t) {
  return t.length > 24 ? `${t.slice(0, 20)}… (${t.length} chars)` : '•'.repeat(Math.min(8, t.length));
}

function prettyBody(text) {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text.length > 400 ? `${text.slice(0, 400)}…` : text;
  }
}

/** Syntax-highlight pretty JSON; every piece is HTML-escaped. */
function highlight(json) {
  const token = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b/g;
  let html = '';
  let last = 0;
  for (const m of json.matchAll(token)) {
    const [whole, str, colon, num, lit] = m;
    html += esc(json.slice(last, m.index));
    if (str) html += colon ? `<span class="k">${esc(str)}</span>${esc(colon)}` : `<span class="s">${esc(str)}</span>`;
    else if (num) html += `<span class="n">${esc(num)}</span>`;
    else html += `<span class="l">${esc(lit)}</span>`;
    last = m.index + whole.length;
  }
  return html + esc(json.slice(last));
}

function esc(v) {
  return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

function clock(ms, millis = false) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}${millis ? `.${p(d.getMilliseconds(), 3)}` : ''}`;
}

function duration(ms) {
  if (ms <= 0) return 'now';
  const s = Math.ceil(ms / 1000);
  const m = Math.floor(s / 60);
  return m ? `${m}m ${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function statusText(status) {
  return { 200: 'OK', 201: 'Created', 204: 'No Content', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden',
    404: 'Not Found', 500: 'Internal Server Error' }[status] ?? '';
}

const clamp01 = (x) => Math.min(1, Math.max(0, x));

function isHttpUrl(v) {
  try {
    return typeof v === 'string' && /^https?:$/.test(new URL(v).protocol);
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Configuration source

const demoButton = $(document, 'use-demo');
const customButton = $(document, 'use-custom');

function choose(button) {
  for (const b of [demoButton, customButton]) b.setAttribute('aria-pressed', String(b === button));
}

demoButton.addEventListener('click', async () => {
  choose(demoButton);
  sourceStatus.textContent = 'Fetching /demo-config.json…';
  let config;
  try {
    const res = await fetch('/demo-config.json', { cache: 'no-store' });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    config = await res.json();
  } catch (err) {
    sourceStatus.textContent = `Could not load /demo-config.json (${err.message}); is the page served by scripts/www.mjs?`;
    return;
  }
  const applied = [];
  for (const slot of slots.values()) {
    const options = config.clients?.[slot.name];
    if (!options) continue;
    const redacted = stashSecrets(slot.name, options);
    const text = JSON.stringify(redacted, null, 2);
    $(slot.card, 'config-json').value = text;
    $(slot.card, 'config').open = false;
    if (applyConfig(slot, text, DEMO_LABELS[slot.name] ?? 'demo')) applied.push(slot.title);
  }
  sourceStatus.textContent = `Local demo authorities: ${applied.join(' and ')} configured (throwaway credentials, held in memory).`;
  document.body.dataset.source = 'demo';
});

customButton.addEventListener('click', () => {
  choose(customButton);
  for (const slot of slots.values()) {
    const box = $(slot.card, 'config-json');
    if (!box.value.trim()) box.value = JSON.stringify(CUSTOM_TEMPLATE, null, 2);
    $(slot.card, 'config').open = true;
  }
  $(slots.get('api1').card, 'config-json').focus();
  sourceStatus.textContent = 'Edit a configuration (TokenClientOptions + apiUrl) and press Apply.';
  document.body.dataset.source = 'custom';
});

$(document, 'clear-timeline').addEventListener('click', () => {
  timeline.length = 0;
  renderTimeline();
});

for (const slot of slots.values()) renderSlot(slot);
setInterval(tick, 250);
sourceStatus.textContent = 'tokenfetch loaded. Choose a configuration.';
document.body.dataset.ready = 'true';
