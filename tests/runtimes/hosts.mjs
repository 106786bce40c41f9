// How each runtime is started: a function (env) -> result object, printed by the runtime as JSON.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listen, closeServer } from '../support/http.mjs';

const root = fileURLToPath(new URL('../../', import.meta.url));
const here = fileURLToPath(new URL('./', import.meta.url));
const bin = (name) => join(root, 'node_modules/.bin', name);
const TIMEOUT_MS = 60_000;

/** Run a command with SCENARIO in its environment; resolve to the JSON it printed last. */
function runJson(cmd, args, env) {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: root, timeout: TIMEOUT_MS, env: { ...process.env, SCENARIO: JSON.stringify(env) } },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        const last = stdout.trim().split('\n').pop();
        try {
          resolve(JSON.parse(last));
        } catch {
          reject(new Error(`${cmd} printed no JSON result:\n${stdout}\n${stderr}`));
        }
      });
  });
}

/**
 * Bundle a Worker the way wrangler does (workerd/worker/browser conditions, the .wasm kept as a
 * module import and copied beside the bundle) and start it in miniflare (workerd).
 * Other options (e.g. kvNamespaces) go to Miniflare as they are. Returns the Miniflare instance; the caller
 * disposes of it.
 */
export async function startWorker({ entry, outDir, compatibilityDate, bindings, ...miniflare }) {
  const { build } = await import('esbuild');
  const { Miniflare } = await import('miniflare');
  mkdirSync(join(outDir, 'gen'), { recursive: true });
  await build({
    entryPoints: [entry], bundle: true, format: 'esm', platform: 'neutral',
    conditions: ['workerd', 'worker', 'browser'], mainFields: ['module', 'main'], external: ['*.wasm'],
    outfile: join(outDir, 'worker.mjs'), logLevel: 'error',
  });
  copyFileSync(join(root, 'pkg/gen/tokenfetch_bg.wasm'), join(outDir, 'gen/tokenfetch_bg.wasm'));
  return new Miniflare({
    modules: [
      { type: 'ESModule', path: join(outDir, 'worker.mjs') },
      { type: 'CompiledWasm', path: join(outDir, 'gen/tokenfetch_bg.wasm') },
    ],
    modulesRoot: outDir,
    compatibilityDate,
    bindings,
    ...miniflare,
  });
}

async function workerd(env) {
  const mf = await startWorker({
    entry: join(here, 'worker.mjs'), outDir: join(root, 'test-output/workerd'),
    compatibilityDate: '2026-04-01', bindings: { SCENARIO: JSON.stringify(env) },
  });
  try {
    const res = await mf.dispatchFetch('http://worker.local/');
    const body = await res.json();
    if (body.error) throw new Error(`worker failed: ${body.error}`);
    return body;
  } finally {
    await mf.dispose();
  }
}

const TYPES = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm' };

/** Serve the repository's pkg/ and tests/runtimes/ over http (what a browser page needs). */
export async function startStatic() {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    if (!path.startsWith('/pkg/') && !path.startsWith('/tests/runtimes/') && !path.startsWith('/www/')) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = readFileSync(join(root, path));
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server) };
}

/** Headless Chromium (Debian's /usr/bin/chromium) driven by playwright-core. */
export async function launchChromium() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
}

async function chromium(env) {
  const site = await startStatic();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${site.url}/tests/runtimes/page.html`);
    await page.waitForFunction(() => window.ready === true, null, { timeout: 20_000 }).catch(() => {
      throw new Error(`page did not load tokenfetch: ${errors.join('; ')}`);
    });
    return await page.evaluate((e) => window.runScenario(e), env);
  } finally {
    await browser.close();
    await site.close();
  }
}

/** runtime name -> (env) => Promise<result> */
export const runtimes = {
  'node-esm': (env) => runJson(process.execPath, ['tests/runtimes/node.mjs'], env),
  'node-cjs': (env) => runJson(process.execPath, ['tests/runtimes/node.cjs'], env),
  deno: (env) => runJson(bin('deno'), ['run', '--quiet', '--allow-net=127.0.0.1', '--allow-env=SCENARIO',
    'tests/runtimes/deno.mjs'], env),
  bun: (env) => runJson(bin('bun'), ['tests/runtimes/node.mjs'], env),
  workerd,
  chromium,
};
