// Runs each example against local authorities and APIs (tests/support: authority A = HelseID-style,
// private_key_jwt + DPoP with nonces; authority B = Duende-style, client secret) and checks the results:
//   cloudflare-worker  bundled as wrangler does, run in workerd (miniflare): KV + Durable Object, KV alone,
//                      no store; two requests to one isolate and one to a new isolate each
//   deno               the exact `deno run` command of examples/deno/README.md
//   node-service       started on a free port, GET /report twice, then SIGTERM with a request in flight
//   metrics            started on a free port, three calls per client, GET /metrics parsed and checked
//   otel               three calls per client, the OpenTelemetry spans and data points it prints checked
//   rust-worker        built (cargo + wasm-bindgen), run in workerd (miniflare): three calls per API, then bad
//                      bindings (errors that name the binding, never quote it)
//   types              tsc -p examples --noEmit, deno check examples/deno/main.ts
// Usage: node examples/run-examples.mjs [example ...]   (default: all). Exits non-zero on any failure.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { closeServer, listen } from '../tests/support/http.mjs';
import { generateDpopKey } from 'tokenfetch';
import { exampleSettings as settingsFor, startScenario } from '../tests/support/index.mjs';
import { startWorker } from '../tests/runtimes/hosts.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
const examples = join(root, 'examples');
const out = join(root, 'test-output/examples');
const bin = (name) => join(root, 'node_modules/.bin', name);
const TIMEOUT_MS = 30_000;

/**
 * What the authorities and APIs saw: `tokens` tokens per API (default 1), each after a DPoP nonce
 * challenge at authority A, and `clients` (default 1) nonce challenges at API 1, one per new client.
 */
function serverProblems(s, calls, { tokens = 1, clients = 1 } = {}) {
  const problems = [];
  const { authorityA: a, authorityB: b, api1, api2 } = s;
  if (a.counters.tokensIssued !== tokens) problems.push(`authority A issued ${a.counters.tokensIssued} tokens (want ${tokens})`);
  if (b.counters.tokensIssued !== tokens) problems.push(`authority B issued ${b.counters.tokensIssued} tokens (want ${tokens})`);
  if (a.counters.tokenRequests !== 2 * tokens) problems.push(`authority A saw ${a.counters.tokenRequests} token POSTs (want ${2 * tokens}: nonce challenge + retry per token)`);
  if (api1.counters.nonceChallenges !== clients) problems.push(`API 1 sent ${api1.counters.nonceChallenges} DPoP nonce challenges (want ${clients})`);
  if (api1.counters.ok !== calls) problems.push(`API 1 accepted ${api1.counters.ok} of ${calls} calls`);
  if (api2.counters.ok !== calls) problems.push(`API 2 accepted ${api2.counters.ok} of ${calls} calls`);
  return problems;
}

/** Run a command to completion; resolves to { code, signal, stdout, stderr } (never rejects on exit status). */
function run(cmd, args, { env = {}, timeout = TIMEOUT_MS } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout);
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

const tail = (text, n = 12) => text.trim().split('\n').slice(-n).join('\n');

// ---------------------------------------------------------------------------------------------------
// cloudflare-worker: bundled the way wrangler does, run by workerd through miniflare.

/**
 * An example's wrangler.toml: compatibility_date, main, [vars] names, KV namespace bindings and Durable
 * Object bindings (with whether their class is SQLite-backed). The file is flat: a line parser is enough.
 */
function readWranglerToml(example = 'cloudflare-worker') {
  const text = readFileSync(join(examples, example, 'wrangler.toml'), 'utf8');
  const sections = text.split(/^(?=\[)/m).map((part) => {
    const [header, ...lines] = part.split('\n');
    const entries = Object.fromEntries(lines.map((l) => l.match(/^([A-Za-z0-9_]+)\s*=\s*(.+?)\s*$/)).filter(Boolean)
      .map(([, k, v]) => [k, v.startsWith('[') ? [...v.matchAll(/"([^"]*)"/g)].map((m) => m[1]) : v.replace(/^"|"$/g, '')]));
    return { header: header.trim(), entries };
  });
  const top = sections[0].entries;
  const of = (header) => sections.filter((x) => x.header === header).map((x) => x.entries);
  const sqlite = of('[[migrations]]').flatMap((m) => m.new_sqlite_classes ?? []);
  return {
    date: top.compatibility_date,
    main: top.main,
    vars: Object.keys(of('[vars]')[0] ?? {}),
    kvNamespaces: of('[[kv_namespaces]]').map((kv) => kv.binding),
    durableObjects: Object.fromEntries(of('[[durable_objects.bindings]]').map((d) =>
      [d.name, { className: d.class_name, useSQLite: sqlite.includes(d.class_name) }])),
  };
}

/**
 * The Worker in three set-ups: as wrangler.toml binds it (KV + Durable Object), KV alone, and no
 * store. Each: two requests to one isolate, then one to a new isolate (another Miniflare on the same
 * persisted KV and Durable Object storage). With a store the new isolate takes both tokens from it
 * (one token per authority in all); without, it asks again (two).
 */
async function cloudflareWorker(scenario) {
  const problems = [];
  const details = [];
  const toml = readWranglerToml();
  const settings = settingsFor(scenario);
  for (const name of toml.vars) if (!(name in settings)) problems.push(`wrangler.toml var ${name} is not exercised`);
  if (!toml.kvNamespaces.includes('TOKENS')) problems.push('wrangler.toml binds no TOKENS KV namespace');
  if (toml.durableObjects.TOKEN_STORE?.className !== 'TokenDurableObject') problems.push('wrangler.toml binds no TOKEN_STORE of class TokenDurableObject');
  const shared = { TOKEN_STORE_KEY: randomBytes(32).toString('base64url'), HELSEID_DPOP_JWK: JSON.stringify(await generateDpopKey()) };
  const setups = [
    { store: 'kv+durable-object', kvNamespaces: toml.kvNamespaces, durableObjects: toml.durableObjects, tokens: 1 },
    { store: 'kv', kvNamespaces: toml.kvNamespaces, durableObjects: {}, tokens: 1 },
    { store: 'none', kvNamespaces: [], durableObjects: {}, tokens: 2 },
  ];
  for (const setup of setups) {
    // Fresh authorities for each set-up but the first, so that their counters are its own.
    const s = setup === setups[0] ? scenario : await startScenario();
    const dir = join(out, 'cloudflare-worker', setup.store);
    rmSync(join(dir, 'persist'), { recursive: true, force: true });
    // Without a store the worker must not need the store's secrets: leave them out.
    const bindings = { ...settingsFor(s), ...(setup.store === 'none' ? {} : shared) };
    const isolate = () => startWorker({
      entry: join(examples, 'cloudflare-worker', toml.main), outDir: dir, compatibilityDate: toml.date, bindings,
      kvNamespaces: setup.kvNamespaces, durableObjects: setup.durableObjects,
      kvPersist: join(dir, 'persist/kv'), durableObjectsPersist: join(dir, 'persist/do'),
    });
    try {
      let n = 0;
      for (const requests of [2, 1]) {
        const mf = await isolate();
        try {
          for (let i = 0; i < requests; i++) {
            n += 1;
            const res = await mf.dispatchFetch('http://worker.local/');
            const body = await res.json();
            details.push(`${setup.store} request ${n} (isolate ${requests === 2 ? 1 : 2}): ${res.status} api1 ${body.api1?.status} api2 ${body.api2?.status} store ${body.store}`);
            if (res.status !== 200) problems.push(`${setup.store} request ${n} answered ${res.status}: ${JSON.stringify(body)}`);
            if (body.api1?.body?.api !== 'api1' || body.api2?.body?.api !== 'api2') problems.push(`${setup.store} request ${n}: unexpected body ${JSON.stringify(body)}`);
            if (body.store !== setup.store) problems.push(`${setup.store} request ${n}: the worker used store ${body.store}`);
          }
        } finally {
          await mf.dispose();
        }
      }
      problems.push(...serverProblems(s, 3, { tokens: setup.tokens, clients: 2 }).map((p) => `${setup.store}: ${p}`));
    } finally {
      if (s !== scenario) await s.close();
    }
  }
  return { problems, details };
}

// ---------------------------------------------------------------------------------------------------
// rust-worker: examples/rust-worker built by its build.sh (cargo for wasm32 into target/rust-worker,
// wasm-bindgen), then its modules run by workerd through miniflare, as wrangler.toml describes them.
// Three calls per API in one isolate: 200s, one token per API (then cached), DPoP nonces answered at
// the token endpoint and API 1, the client events it logs; then two isolates with bad bindings, whose
// errors must name the binding or option and never quote it; no secret or token in anything it printed.

/** The Worker's modules for miniflare: the entry, the wasm-bindgen glue and the module build.sh made. */
function rustWorkerModules(dir, main) {
  return [
    { type: 'ESModule', path: join(dir, main) },
    { type: 'ESModule', path: join(dir, 'build/tokenfetch_rust_worker.js') },
    { type: 'CompiledWasm', path: join(dir, 'build/tokenfetch_rust_worker_bg.wasm') },
  ];
}

async function rustWorker(scenario) {
  const problems = [];
  const details = [];
  const dir = join(examples, 'rust-worker');
  const toml = readWranglerToml('rust-worker');
  const settings = settingsFor(scenario);
  for (const name of toml.vars) if (!(name in settings)) problems.push(`wrangler.toml var ${name} is not exercised`);

  const buildStarted = performance.now();
  const built = await run('bash', [join(dir, 'build.sh')], { timeout: 900_000 });
  details.push(`build.sh: ${Math.round(performance.now() - buildStarted)} ms; ${tail(built.stdout, 1)}`);
  if (built.code !== 0) return { problems: [...problems, `build.sh: exit ${built.code ?? built.signal}: ${tail(built.stderr || built.stdout)}`], details };

  const { Miniflare } = await import('miniflare');
  let printed = ''; // what workerd printed (the Worker's console.log lines among it)
  const isolate = (bindings) => new Miniflare({
    modules: rustWorkerModules(dir, toml.main), modulesRoot: dir, compatibilityDate: toml.date, bindings,
    handleRuntimeStdio(stdout, stderr) {
      stdout.on('data', (d) => { printed += d; });
      stderr.on('data', (d) => { printed += d; });
    },
  });
  const answers = [];
  const get = async (mf, path, init) => {
    const res = await mf.dispatchFetch(`http://worker.local${path}`, init);
    const text = await res.text();
    answers.push(text);
    let body;
    try { body = JSON.parse(text); } catch { problems.push(`${path}: not JSON: ${text.slice(0, 200)}`); }
    return { status: res.status, body: body ?? {} };
  };

  const calls = 3;
  const runStarted = performance.now();
  const mf = await isolate(settings);
  try {
    for (let i = 1; i <= calls; i++) {
      for (const api of ['api1', 'api2']) {
        const { status, body } = await get(mf, `/call/${api}`);
        const want = i === 1 ? 'new' : 'cached';
        details.push(`call ${i} ${api}: ${status} api ${body.status} token ${body.token} (token requests ${body.tokenRequests})`);
        if (status !== 200 || body.status !== 200 || body.body?.api !== api) problems.push(`call ${i} /call/${api}: ${status} ${JSON.stringify(body)}`);
        if (body.token !== want || body.tokenRequests !== 1) problems.push(`call ${i} /call/${api}: token ${body.token}, ${body.tokenRequests} token requests (want ${want}, 1)`);
      }
    }
    const missing = await get(mf, '/call/nope');
    if (missing.status !== 404) problems.push(`GET /call/nope answered ${missing.status}`);
    const post = await get(mf, '/call/api2', { method: 'POST' });
    if (post.status !== 405) problems.push(`POST /call/api2 answered ${post.status}`);
  } finally {
    await mf.dispose();
  }
  details.push(`run: ${Math.round(performance.now() - runStarted)} ms for ${2 * calls + 2} requests, isolate start included`);
  problems.push(...serverProblems(scenario, calls));

  // The client events it logged: API 1's one token request took two attempts (the token endpoint's
  // nonce challenge), and API 1 challenged once; API 2 needed neither.
  const events = printed.split('\n').map((l) => l.match(/tokenfetch-event (\{.*\})/)?.[1]).filter(Boolean).map((j) => JSON.parse(j));
  const count = (client, type, extra = {}) => events.filter((e) => e.client === client && e.type === type
    && Object.entries(extra).every(([k, v]) => e[k] === v)).length;
  const wantEvents = [
    ['api1', 'token_request', { attempts: 2 }, 1], ['api2', 'token_request', { attempts: 1 }, 1],
    ['api1', 'nonce_retry', { at: 'token_endpoint' }, 1], ['api1', 'nonce_retry', { at: 'resource' }, 1],
    ['api2', 'nonce_retry', {}, 0], ['api1', 'cache_hit', {}, calls - 1], ['api2', 'cache_hit', {}, calls - 1],
  ];
  for (const [client, type, extra, n] of wantEvents) {
    const seen = count(client, type, extra);
    if (seen !== n) problems.push(`${client}: ${seen} ${type} events ${JSON.stringify(extra)} logged (want ${n})`);
  }

  // Bad bindings, one isolate each: API 1's key not JSON and API 2's secret missing (named by the
  // Worker), then a JWK the crate refuses (named by tokenfetch's option validation).
  const privateJwk = JSON.parse(settings.HELSEID_PRIVATE_JWK);
  const badCases = [
    {
      what: 'key not JSON, secret unset',
      bindings: { ...settings, HELSEID_PRIVATE_JWK: settings.HELSEID_PRIVATE_JWK.slice(0, -2), API2_CLIENT_SECRET: '' },
      want: { api1: ['invalid_config', 'HELSEID_PRIVATE_JWK'], api2: ['invalid_config', 'API2_CLIENT_SECRET'] },
    },
    {
      what: 'key of another curve',
      bindings: { ...settings, HELSEID_PRIVATE_JWK: JSON.stringify({ ...privateJwk, crv: 'P-384' }) },
      want: { api1: [null, 'clientAuth.privateJwk'] },
    },
  ];
  for (const bad of badCases) {
    const mfBad = await isolate(bad.bindings);
    try {
      for (const [api, [code, names]] of Object.entries(bad.want)) {
        const { status, body } = await get(mfBad, `/call/${api}`);
        const e = body.error ?? {};
        details.push(`${bad.what}: /call/${api} ${status} ${e.code}: ${e.message}`);
        if (status !== 500 || (code && e.code !== code) || !e.code || !String(e.message).includes(names)) {
          problems.push(`${bad.what}: /call/${api} answered ${status} ${JSON.stringify(body)} (want 500${code ? ` ${code}` : ''} naming ${names})`);
        }
      }
    } finally {
      await mfBad.dispose();
    }
  }

  // No secret and no token in what it answered or printed.
  const secrets = {
    'API2_CLIENT_SECRET': settings.API2_CLIENT_SECRET,
    ...Object.fromEntries(['d', 'p', 'q', 'dp', 'dq', 'qi'].filter((k) => privateJwk[k]).map((k) => [`private JWK ${k}`, privateJwk[k]])),
    ...Object.fromEntries([...scenario.authorityA.issuedTokens, ...scenario.authorityB.issuedTokens].map((t, i) => [`access token ${i + 1}`, t])),
  };
  if (Object.keys(secrets).length < 4) problems.push(`only ${Object.keys(secrets).length} secrets to look for`);
  const output = [...answers, printed, built.stdout, built.stderr].join('\n');
  for (const [what, secret] of Object.entries(secrets)) if (output.includes(secret)) problems.push(`the output contains the ${what}`);
  return { problems, details };
}

// ---------------------------------------------------------------------------------------------------
// deno: the exact command from examples/deno/README.md (its --allow-env list), loopback network only.

async function deno(scenario) {
  const readme = readFileSync(join(examples, 'deno/README.md'), 'utf8');
  const allowEnv = readme.match(/--allow-env=(\S+)/)?.[1];
  if (!allowEnv) return { problems: ['examples/deno/README.md shows no --allow-env= list'] };
  const calls = 3;
  const env = { ...settingsFor(scenario), CALLS: String(calls) };
  const r = await run(bin('deno'), ['run', '--quiet', '--allow-net=127.0.0.1', `--allow-env=${allowEnv}`, 'examples/deno/main.ts'], { env });
  const problems = [];
  if (r.code !== 0) problems.push(`exit ${r.code ?? r.signal}: ${tail(r.stderr || r.stdout)}`);
  const rows = r.stdout.split('\n').filter((l) => /^\d+\s+api[12]\s/.test(l)).map((l) => l.split(/\s+/));
  const seen = rows.map(([, api, status, token]) => `${api}:${status}:${token}`).join(' ');
  const want = Array.from({ length: calls }, (_, i) => `api1:200:${i ? 'cached' : 'new'} api2:200:${i ? 'cached' : 'new'}`).join(' ');
  if (seen !== want) problems.push(`calls printed: ${seen || '(none)'}; want ${want}`);
  problems.push(...serverProblems(scenario, calls));
  return { problems, details: [tail(r.stdout, 2 * calls + 2)] };
}

// ---------------------------------------------------------------------------------------------------
// node-service: transpiled with esbuild (Node 20 cannot strip types), PORT=0, GET /report twice, then a
// third /report held in flight (API 2 reached through a delaying proxy) while SIGTERM arrives: it must
// still answer 200, new connections must be refused, and the process must exit 0 by itself.

/** A pass-through proxy in front of an API; `hold()` makes it wait before forwarding the next request. */
async function startDelayingProxy(target) {
  let delayMs = 0;
  let arrived;
  const server = createServer(async (req, res) => {
    const wait = delayMs;
    delayMs = 0;
    if (wait) { arrived?.(); await new Promise((r) => setTimeout(r, wait)); }
    const upstream = await fetch(new URL(req.url, target), { method: req.method, headers: { authorization: req.headers.authorization ?? '' } });
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain' });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    /** The next request waits `ms`; resolves when it has arrived. */
    hold(ms) { delayMs = ms; return new Promise((r) => { arrived = r; }); },
    close: () => closeServer(server),
  };
}

async function nodeService(scenario) {
  const { build } = await import('esbuild');
  const dir = join(out, 'node-service');
  // Under the repository, so the plain `tokenfetch` import resolves through its node_modules.
  await build({
    entryPoints: [join(examples, 'node-service/server.ts')], bundle: false, format: 'esm', platform: 'node',
    target: 'node20', outfile: join(dir, 'server.mjs'), logLevel: 'error',
  });
  const problems = [];
  const details = [];
  const proxy = await startDelayingProxy(scenario.api2.url);
  const env = { ...settingsFor(scenario), API2_URL: proxy.url, PORT: '0', HOST: '127.0.0.1', SHUTDOWN_GRACE_MS: '5000' };
  const child = spawn(process.execPath, [join(dir, 'server.mjs')], { cwd: root, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  const lineSeen = (re) => new Promise((resolve) => {
    const check = () => { if (re.test(stdout)) { child.stdout.off('data', check); resolve(); } };
    child.stdout.on('data', check);
    check();
  });
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const within = (promise, ms, what) => Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms; stderr: ${tail(stderr)}`)), ms))]);
  const report = async (url, i) => {
    const res = await fetch(`${url}/report`);
    const body = await res.json();
    details.push(`GET /report ${i}: ${res.status} api1 ${body.api1?.status} api2 ${body.api2?.status} tokenRequests ${JSON.stringify(body.tokenRequests)}`);
    if (res.status !== 200) problems.push(`GET /report ${i} answered ${res.status}: ${JSON.stringify(body)}`);
    if (body.api1?.body?.api !== 'api1' || body.api2?.body?.api !== 'api2') problems.push(`GET /report ${i}: unexpected body ${JSON.stringify(body)}`);
    if (body.tokenRequests?.api1 !== 1 || body.tokenRequests?.api2 !== 1) problems.push(`GET /report ${i}: client token requests ${JSON.stringify(body.tokenRequests)}`);
    return res;
  };
  try {
    await within(Promise.race([lineSeen(/listening on http:\/\/\S+\n/), exited]), 10_000, 'startup');
    const url = stdout.match(/listening on (http:\/\/\S+)/)?.[1];
    if (!url) throw new Error(`did not start: ${tail(stderr || stdout)}`);
    await report(url, 1);
    await report(url, 2);
    const missing = await fetch(`${url}/nope`);
    await missing.body?.cancel();
    if (missing.status !== 404) problems.push(`GET /nope answered ${missing.status}`);

    // Graceful shutdown with a request in flight.
    const held = proxy.hold(700);
    const inFlight = report(url, '3 (in flight during SIGTERM)');
    await within(held, 5_000, 'in-flight request');
    const started = performance.now();
    child.kill('SIGTERM');
    await within(lineSeen(/stopping/), 5_000, 'SIGTERM');
    const refused = await fetch(`${url}/healthz`).then((r) => `answered ${r.status}`, () => 'refused');
    if (refused !== 'refused') problems.push(`a new connection after SIGTERM was ${refused}`);
    const last = await inFlight;
    if (last.headers.get('connection') !== 'close') problems.push('in-flight response during shutdown lacks connection: close');
    const { code, signal } = await within(exited, 8_000, 'exit after SIGTERM');
    details.push(`SIGTERM -> new connections ${refused}, in-flight ${last.status}, exit ${code ?? signal} in ${Math.round(performance.now() - started)} ms`);
    if (code !== 0) problems.push(`after SIGTERM: exit ${code ?? signal}: ${tail(stderr)}`);
    if (!/^stopped$/m.test(stdout)) problems.push('no "stopped" line after SIGTERM');
  } catch (err) {
    problems.push(err.message);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await proxy.close();
  }
  problems.push(...serverProblems(scenario, 3));
  return { problems, details };
}

// ---------------------------------------------------------------------------------------------------
// types: strict tsc over the Worker and the Node service; deno check over the Deno example.

async function types() {
  const [tsc, denoCheck] = await Promise.all([
    run(bin('tsc'), ['-p', 'examples', '--noEmit']),
    run(bin('deno'), ['check', '--quiet', 'examples/deno/main.ts']),
  ]);
  const problems = [];
  if (tsc.code !== 0) problems.push(`tsc -p examples --noEmit: ${tail(tsc.stdout + tsc.stderr, 30)}`);
  if (denoCheck.code !== 0) problems.push(`deno check examples/deno/main.ts: ${tail(denoCheck.stdout + denoCheck.stderr, 30)}`);
  return { problems, details: [`tsc exit ${tsc.code}`, `deno check exit ${denoCheck.code}`] };
}

// ---------------------------------------------------------------------------------------------------
// metrics: examples/metrics/metrics.mjs started with the examples' environment and PORT=0. GET /metrics
// before and after three calls per client (GET /call/<client>); the scrape is parsed as the Prometheus
// text format and its numbers checked against what the calls must have produced and what the
// authorities saw; no secret or token may appear in it. Then SIGTERM: it must exit 0 by itself.

/** Parse the Prometheus text format: samples by `name{labels}` exactly as written, and format problems. */
function parseExposition(text) {
  const samples = new Map();
  const problems = [];
  const typed = new Set();
  const labelNames = new Set();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const meta = line.match(/^# (HELP|TYPE) ([a-zA-Z_:][\w:]*) (.+)$/);
    if (meta) { if (meta[1] === 'TYPE') typed.add(meta[2]); continue; }
    const m = line.match(/^([a-zA-Z_:][\w:]*)(\{(?:[a-zA-Z_]\w*="(?:[^"\\\n]|\\.)*",?)*\})? (\S+)$/);
    if (!m || Number.isNaN(Number(m[3]))) { problems.push(`not a sample line: ${line}`); continue; }
    const [, name, labels = '', value] = m;
    if (!typed.has(name) && !typed.has(name.replace(/_(bucket|sum|count)$/, ''))) problems.push(`no # TYPE before ${name}`);
    for (const [, label] of labels.matchAll(/([a-zA-Z_]\w*)="/g)) labelNames.add(label);
    samples.set(name + labels, Number(value));
  }
  return { samples, problems, labelNames };
}

async function metrics(scenario) {
  const problems = [];
  const details = [];
  const settings = settingsFor(scenario);
  const child = spawn(process.execPath, [join(examples, 'metrics/metrics.mjs')], {
    cwd: root, env: { ...process.env, ...settings, PORT: '0' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  const waitFor = async (re, ms, what) => {
    for (const until = Date.now() + ms; !re.test(stdout); await new Promise((r) => setTimeout(r, 50))) {
      if (child.exitCode !== null || Date.now() > until) throw new Error(`${what}: not seen; stderr: ${tail(stderr)}`);
    }
  };
  const scrape = async (url) => {
    const res = await fetch(`${url}/metrics`);
    const text = await res.text();
    if (res.status !== 200 || !res.headers.get('content-type')?.startsWith('text/plain; version=0.0.4')) {
      problems.push(`GET /metrics: ${res.status} ${res.headers.get('content-type')}`);
    }
    return { text, ...parseExposition(text) };
  };
  const clients = ['helseid', 'duende'];
  const calls = 3;
  try {
    await waitFor(/listening on http:\/\/\S+/, 10_000, 'startup');
    const url = stdout.match(/listening on (http:\/\/\S+)/)[1];

    // Before any call: every event type is there, at 0 (so rate() sees the first one).
    const before = await scrape(url);
    for (const client of clients) {
      for (const type of ['token_request', 'cache_hit', 'error', 'nonce_retry', 'store_hit', 'store_error']) {
        const v = before.samples.get(`tokenfetch_events_total{client="${client}",type="${type}"}`);
        if (v !== 0) problems.push(`before any call: events_total{client="${client}",type="${type}"} is ${v} (want 0)`);
      }
    }

    for (let i = 1; i <= calls; i++) {
      for (const client of clients) {
        const res = await fetch(`${url}/call/${client}`);
        const body = await res.json();
        if (res.status !== 200 || body.status !== 200) problems.push(`GET /call/${client} ${i}: ${res.status} ${JSON.stringify(body)}`);
      }
    }
    const missing = await fetch(`${url}/call/nope`);
    await missing.body?.cancel();
    if (missing.status !== 404) problems.push(`GET /call/nope answered ${missing.status}`);

    const after = await scrape(url);
    details.push(after.text.split('\n').filter((l) => l && !l.startsWith('#') && !/ 0$/.test(l)).join('\n'));
    problems.push(...after.problems);
    const extra = [...after.labelNames].filter((l) => !['client', 'type', 'code', 'at', 'op', 'le'].includes(l));
    if (extra.length) problems.push(`unexpected labels: ${extra.join(', ')}`);
    const value = (series) => {
      const v = after.samples.get(series);
      if (v === undefined) problems.push(`no sample ${series}`);
      return v;
    };
    const issued = { helseid: scenario.authorityA.counters.tokensIssued, duende: scenario.authorityB.counters.tokensIssued };
    for (const client of clients) {
      const event = (type) => value(`tokenfetch_events_total{client="${client}",type="${type}"}`);
      const requests = event('token_request');
      if (requests !== 1 || requests !== issued[client]) problems.push(`${client}: ${requests} token_request events; the authority issued ${issued[client]} (want 1)`);
      if (!(event('cache_hit') >= calls - 1)) problems.push(`${client}: ${event('cache_hit')} cache hits (want >= ${calls - 1})`);
      for (const type of ['error', 'refresh', 'store_error']) if (event(type) !== 0) problems.push(`${client}: ${event(type)} ${type} events (want 0)`);
      const h = 'tokenfetch_token_request_duration_seconds';
      const count = value(`${h}_count{client="${client}"}`);
      if (count !== requests + event('refresh')) problems.push(`${client}: histogram _count ${count}, token requests ${requests}`);
      if (value(`${h}_bucket{client="${client}",le="+Inf"}`) !== count) problems.push(`${client}: _bucket{le="+Inf"} is not _count`);
      if (!(value(`${h}_sum{client="${client}"}`) > 0)) problems.push(`${client}: histogram _sum is not > 0`);
      const buckets = [...after.samples].filter(([k]) => k.startsWith(`${h}_bucket{client="${client}",`)).map(([, v]) => v);
      if (buckets.length < 2 || buckets.some((v, i) => i && v < buckets[i - 1])) problems.push(`${client}: buckets not cumulative: ${buckets}`);
    }
    // DPoP nonces: one challenge at the token endpoint (authority A), one at API 1; none for duende.
    for (const at of ['token_endpoint', 'resource']) {
      if (value(`tokenfetch_nonce_retries_total{client="helseid",at="${at}"}`) !== 1) problems.push(`helseid: nonce retries at ${at} (want 1)`);
    }
    if (value('tokenfetch_events_total{client="duende",type="nonce_retry"}') !== 0) problems.push('duende: nonce_retry events (want 0)');

    // No secret and no token in either scrape.
    const privateJwk = JSON.parse(settings.HELSEID_PRIVATE_JWK);
    const secrets = {
      'API2_CLIENT_SECRET': settings.API2_CLIENT_SECRET,
      ...Object.fromEntries(['d', 'p', 'q', 'dp', 'dq', 'qi'].filter((k) => privateJwk[k]).map((k) => [`private JWK ${k}`, privateJwk[k]])),
      ...Object.fromEntries([...scenario.authorityA.issuedTokens, ...scenario.authorityB.issuedTokens].map((t, i) => [`access token ${i + 1}`, t])),
    };
    if (Object.keys(secrets).length < 4) problems.push(`only ${Object.keys(secrets).length} secrets to look for`);
    for (const [what, secret] of Object.entries(secrets)) {
      if (before.text.includes(secret) || after.text.includes(secret)) problems.push(`the scrape contains the ${what}`);
    }

    child.kill('SIGTERM');
    await waitFor(/^stopped$/m, 5_000, '"stopped" after SIGTERM');
    const { code, signal } = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ code: 'no exit within 5 s' }), 5_000))]);
    if (code !== 0) problems.push(`after SIGTERM: exit ${code ?? signal}: ${tail(stderr)}`);
  } catch (err) {
    problems.push(err.message);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
  problems.push(...serverProblems(scenario, calls));
  return { problems, details };
}

// ---------------------------------------------------------------------------------------------------
// otel: examples/otel/otel.mjs with the examples' environment and CALLS=3. Its JSON lines (one per span
// and metric data point) are checked against what the calls must have produced and what the authorities
// saw; attributes only from the fixed set; no secret, token or cache key anywhere in its output.

async function otel(scenario) {
  const problems = [];
  const settings = settingsFor(scenario);
  const calls = 3;
  const r = await run(process.execPath, [join(examples, 'otel/otel.mjs')], { env: { ...settings, CALLS: String(calls) } });
  if (r.code !== 0) problems.push(`exit ${r.code ?? r.signal}: ${tail(r.stderr || r.stdout)}`);
  const lines = (kind) => r.stdout.split('\n').filter((l) => l.startsWith(`${kind} `)).map((l) => JSON.parse(l.slice(kind.length + 1)));
  const spans = lines('span');
  const points = lines('metric');
  const clients = ['helseid', 'duende'];
  const callLines = r.stdout.split('\n').filter((l) => /^call \d/.test(l));
  if (callLines.length !== calls * 2 || callLines.some((l) => !l.endsWith(' 200'))) problems.push(`calls: ${callLines.join('; ')}`);

  // A root span per token request: helseid's after a DPoP nonce challenge (2 attempts), duende's in 1.
  for (const [client, attempts] of [['helseid', 2], ['duende', 1]]) {
    const mine = spans.filter((x) => x.attributes['tokenfetch.client'] === client);
    if (mine.length !== 1) { problems.push(`${client}: ${mine.length} spans (want 1)`); continue; }
    const [span] = mine;
    if (span.name !== 'tokenfetch.token_request') problems.push(`${client}: span named ${span.name}`);
    if (span.attributes['tokenfetch.attempts'] !== attempts) problems.push(`${client}: span attempts ${span.attributes['tokenfetch.attempts']} (want ${attempts})`);
    if (span.parent !== null) problems.push(`${client}: the span has a parent`);
    if (span.status.code !== 0) problems.push(`${client}: span status ${JSON.stringify(span.status)}`);
    if (!(span.durationMs >= 0)) problems.push(`${client}: span duration ${span.durationMs}`);
  }
  const value = (name, attributes) => {
    const want = JSON.stringify(Object.entries(attributes).sort());
    const found = points.filter((p) => p.name === name && JSON.stringify(Object.entries(p.attributes).sort()) === want);
    if (found.length !== 1) problems.push(`${found.length} data points ${name} ${JSON.stringify(attributes)} (want 1)`);
    return found[0]?.value;
  };
  for (const client of clients) {
    const c = { 'tokenfetch.client': client };
    const hits = value('tokenfetch.cache.hits', { ...c, 'tokenfetch.cache.source': 'memory' });
    if (hits !== calls - 1) problems.push(`${client}: ${hits} cache hits (want ${calls - 1})`);
    const misses = value('tokenfetch.cache.misses', c);
    if (misses !== 1) problems.push(`${client}: ${misses} cache misses (want 1 = its token request)`);
    const h = value('tokenfetch.token_request.duration', { ...c, 'tokenfetch.refresh': false });
    if (h?.count !== 1 || h.buckets.counts.reduce((a, b) => a + b, 0) !== 1) problems.push(`${client}: histogram ${JSON.stringify(h)}`);
  }
  if (value('tokenfetch.events', { 'tokenfetch.client': 'helseid', 'tokenfetch.event.type': 'nonce_retry' }) !== 2) problems.push('helseid: nonce_retry events (want 2)');
  const allowed = new Set(['tokenfetch.client', 'tokenfetch.attempts', 'tokenfetch.refresh', 'error.type', 'tokenfetch.cache.source', 'tokenfetch.store.operation', 'tokenfetch.event.type']);
  const extra = [...new Set([...spans, ...points].flatMap((x) => Object.keys(x.attributes)))].filter((a) => !allowed.has(a));
  if (extra.length) problems.push(`unexpected attributes: ${extra.join(', ')}`);

  // No secret and no token in anything it printed.
  const privateJwk = JSON.parse(settings.HELSEID_PRIVATE_JWK);
  const secrets = {
    'API2_CLIENT_SECRET': settings.API2_CLIENT_SECRET,
    ...Object.fromEntries(['d', 'p', 'q', 'dp', 'dq', 'qi'].filter((k) => privateJwk[k]).map((k) => [`private JWK ${k}`, privateJwk[k]])),
    ...Object.fromEntries([...scenario.authorityA.issuedTokens, ...scenario.authorityB.issuedTokens].map((t, i) => [`access token ${i + 1}`, t])),
  };
  for (const [what, secret] of Object.entries(secrets)) if ((r.stdout + r.stderr).includes(secret)) problems.push(`the output contains the ${what}`);
  problems.push(...serverProblems(scenario, calls));
  return { problems, details: [tail(r.stdout, 6)] };
}

// ---------------------------------------------------------------------------------------------------

const all = { 'cloudflare-worker': cloudflareWorker, 'rust-worker': rustWorker, deno, 'node-service': nodeService, metrics, otel, types };
const needsScenario = new Set(['cloudflare-worker', 'rust-worker', 'deno', 'node-service', 'metrics', 'otel']);
const names = process.argv.slice(2).length ? process.argv.slice(2) : Object.keys(all);
const verbose = process.env.VERBOSE === '1';
let failed = 0;
for (const name of names) {
  if (!all[name]) throw new Error(`unknown example ${name}; known: ${Object.keys(all).join(', ')}`);
  const started = performance.now();
  let result;
  let scenario;
  try {
    // Fresh authorities and APIs per example, so their counters are this example's alone.
    if (needsScenario.has(name)) scenario = await startScenario();
    result = await all[name](scenario);
  } catch (err) {
    result = { problems: [`could not run: ${err?.stack ?? err}`] };
  } finally {
    await scenario?.close();
  }
  const ms = Math.round(performance.now() - started);
  const ok = result.problems.length === 0;
  if (!ok) failed += 1;
  console.log(`${name} -> ${ok ? 'pass' : 'fail'}  (${ms} ms)`);
  for (const p of result.problems) console.log(`    ${p.replaceAll('\n', '\n    ')}`);
  if (verbose || !ok) for (const d of result.details ?? []) console.log(`    | ${d.replaceAll('\n', '\n    | ')}`);
}
console.log(`${names.length - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
