// The site as users meet it: built by the project's own command and served by `npm run serve` (vite preview, which
// answers a missing file such as the demo model's absent tokenizer.json with index.html and status 200, as most
// static hosts with an SPA fallback do). The embedded model generates the reference text; then the server stops for
// real (its port refuses connections), and the site still works: the page comes from the app shell's service worker
// (demo/sw.ts), the model loads from the Cache API and generates again, with no request for its files at all; the
// same in a new tab of the same browser.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, HTTPResponse, Page } from 'puppeteer-core';
import { launchChromium, pageErrors } from '../support/browser.ts';
import { ROOT, status, text, waitForStatus } from './site.ts';

const reference = JSON.parse(readFileSync(join(ROOT, 'models/gpt2-shakespeare/reference.json'), 'utf8'));
const { prompt: PROMPT, greedy_text: WANT, greedy_ids: WANT_IDS } = reference.greedy[0] as { prompt: string; greedy_text: string; greedy_ids: number[] };

// The commands as a person runs them: Vitest sets NODE_ENV=test, with which Vite builds a non-production site
// (import.meta.env.PROD false, so no service worker).
const { NODE_ENV: _vitest, ...USER_ENV } = process.env;

let browser: Browser;
let preview: ChildProcess | undefined;
let port: number;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** `npm run serve` on `port` (its own group, so that stopping it stops vite too); resolves once it answers. */
async function startServe(port: number): Promise<ChildProcess> {
  const child = spawn('npm', ['run', '--silent', 'serve', '--', '--port', String(port), '--strictPort', '--host', '127.0.0.1'], { cwd: ROOT, env: USER_ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  const end = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`npm run serve exited with ${child.exitCode}: ${output}`);
    try {
      if ((await fetch(`http://127.0.0.1:${port}/`)).ok) return child;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > end) throw new Error(`npm run serve did not answer on port ${port}: ${output}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(-child.pid!, 'SIGTERM');
  await exited;
}

beforeAll(async () => {
  await promisify(execFile)('npm', ['run', '--silent', 'build:demo'], { cwd: ROOT, env: USER_ENV });
  port = await freePort();
  preview = await startServe(port);
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (preview) await stopServe(preview);
});

/** Requests the page (and its engine worker) makes for the model's files. */
function modelRequests(page: Page): string[] {
  const seen: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.startsWith('/gpt2-shakespeare/')) seen.push(request.url());
  });
  return seen;
}

describe('npm run serve', () => {
  it('generates with the embedded model, and again offline after the server stops (reload and a new tab)', async () => {
    // The browser's default context, as a person's browser has it: with its disk HTTP cache (an incognito-like context
    // hid a bug where Chromium answered the loader's HEAD from a stored gzipped GET, without a Content-Length).
    const context = browser.defaultBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const errors = pageErrors(page);
    const settings = { prompt: PROMPT, greedy: '1', maxNewTokens: String(WANT_IDS.length), autostart: '1' };
    const url = `http://127.0.0.1:${port}/?${new URLSearchParams(settings)}`;
    const site = `http://127.0.0.1:${port}/`;
    // The page as it opens: the embedded model, Generate.
    await page.goto(url);
    expect(await waitForStatus(page, '^(done|error)'), `${await status(page)}\n${errors.join('\n')}`).toBe('done');
    expect(await text(page, 'output')).toBe(WANT);

    // The embedded model is kept in the Cache API like any other, and the cache panel lists it as complete.
    await page.waitForFunction((url) => document.querySelector(`[data-testid=cached-model][data-url="${url}"][data-complete=true]`), { polling: 100, timeout: 10_000 }, `${site}gpt2-shakespeare/`);
    // One visit is enough: the service worker controls the page and keeps the page and every built asset.
    const shell = [site, ...readdirSync(join(ROOT, 'dist/demo/assets')).map((f) => `${site}assets/${f}`)].sort();
    await page.waitForFunction(
      async (want) => !!navigator.serviceWorker.controller && JSON.stringify((await (await caches.open('gpt-webgpu-app-shell')).keys()).map((r) => r.url).sort()) === want,
      { polling: 200, timeout: 20_000 },
      JSON.stringify(shell),
    ).catch(async (e) => {
      throw new Error(`${e}: controlled ${await page.evaluate(() => !!navigator.serviceWorker.controller)}, shell cache ${await page.evaluate(async () => (await (await caches.open('gpt-webgpu-app-shell')).keys()).map((r) => r.url).join(' '))}, want ${shell.join(' ')}\n${errors.join('\n')}`);
    });

    await stopServe(preview!);
    preview = undefined;
    expect(await fetch(site).then(() => 'answered', (e: { cause?: { code?: string } }) => e.cause?.code)).toBe('ECONNREFUSED');

    const offline = async (tab: Page, load: () => Promise<HTTPResponse | null>) => {
      const asked = modelRequests(tab);
      const response = await load();
      expect(response?.status()).toBe(200);
      expect(response?.fromServiceWorker(), 'the page comes from the service worker').toBe(true);
      expect(await waitForStatus(tab, '^(done|error)'), `${await status(tab)}\n${errors.join('\n')}`).toBe('done');
      expect(await text(tab, 'download-status')).toContain('from cache');
      expect(await text(tab, 'output')).toBe(WANT);
      // Nothing of the model was asked of the network.
      expect(asked).toEqual([]);
    };
    await offline(page, () => page.reload());
    // The person opens the link again in a new tab of the same browser.
    const tab = await context.newPage();
    errors.push(...pageErrors(tab));
    await offline(tab, () => tab.goto(url));
    await Promise.all([page.close(), tab.close()]);
  }, 180_000);
});
