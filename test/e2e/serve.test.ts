// The site as users meet it: built by the project's own command and served by `npm run serve` (vite preview, which
// answers a missing file such as the demo model's absent tokenizer.json with index.html and status 200, as most
// static hosts with an SPA fallback do). The embedded model generates the reference text; then the server stops, and
// after a reload the model loads from the Cache API and generates again with no network for its files (the page
// itself comes from a stand-in server on the same origin, as an installed app shell would, and every request for the
// model's files fails as if offline).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'puppeteer-core';
import { launchChromium, pageErrors } from '../support/browser.ts';
import { ROOT, serveSite, status, text, waitForStatus, type SiteServer } from './site.ts';

const reference = JSON.parse(readFileSync(join(ROOT, 'models/gpt2-shakespeare/reference.json'), 'utf8'));
const { prompt: PROMPT, greedy_text: WANT, greedy_ids: WANT_IDS } = reference.greedy[0] as { prompt: string; greedy_text: string; greedy_ids: number[] };

let browser: Browser;
let preview: ChildProcess | undefined;
let shell: SiteServer | undefined;
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
  const child = spawn('npm', ['run', '--silent', 'serve', '--', '--port', String(port), '--strictPort', '--host', '127.0.0.1'], { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
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
  await promisify(execFile)('npm', ['run', '--silent', 'build:demo'], { cwd: ROOT });
  port = await freePort();
  preview = await startServe(port);
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  if (preview) await stopServe(preview);
  await shell?.close();
});

describe('npm run serve', () => {
  it('generates with the embedded model, and again from the cache after the server stops', async () => {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    const errors = pageErrors(page);
    const settings = { prompt: PROMPT, greedy: '1', maxNewTokens: String(WANT_IDS.length), autostart: '1' };
    // The page as it opens: the embedded model, Generate.
    await page.goto(`http://127.0.0.1:${port}/?${new URLSearchParams(settings)}`);
    expect(await waitForStatus(page, '^(done|error)'), `${await status(page)}\n${errors.join('\n')}`).toBe('done');
    expect(await text(page, 'output')).toBe(WANT);

    // The embedded model is kept in the Cache API like any other, and the cache panel lists it as complete.
    const demoModel = `http://127.0.0.1:${port}/gpt2-shakespeare/`;
    await page.waitForFunction((url) => document.querySelector(`[data-testid=cached-model][data-url="${url}"][data-complete=true]`), { polling: 100, timeout: 10_000 }, demoModel);

    await stopServe(preview!);
    preview = undefined;
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    // The app shell on the same origin; the model's files are unreachable.
    shell = await serveSite(join(ROOT, 'dist/demo'), {}, port);
    shell.fault = { pattern: /^\/gpt2-shakespeare\//, kind: 'offline' };

    await page.reload();
    expect(await waitForStatus(page, '^(done|error)'), `${await status(page)}\n${errors.join('\n')}`).toBe('done');
    expect(await text(page, 'download-status')).toContain('from cache');
    expect(await text(page, 'output')).toBe(WANT);
    // Nothing of the model was asked of the network.
    expect(shell.requests.filter((r) => r.path.startsWith('/gpt2-shakespeare/'))).toEqual([]);
    await context.close();
  }, 180_000);
});
