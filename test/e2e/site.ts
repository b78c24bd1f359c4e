// What the end-to-end tests share: the built demo site behind a logging front server, Chromium, waiting on the page's
// status, and screenshots.
//
// The front server forwards to test/support/staticServer.ts and adds what the tests need: a log of every request (to
// prove that a cached model is not downloaded again), optional throttling of large files (to see download progress and
// cancel it), and the stylesheet MIME type, which the static server does not know (Chromium refuses to apply a
// stylesheet served as application/octet-stream).
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { request as httpRequest, createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import type { Browser, Page } from 'puppeteer-core';
import { pageErrors } from '../support/browser.ts';
import { build } from 'vite';
import { serveStatic } from '../support/staticServer.ts';

export const ROOT = join(import.meta.dirname, '..', '..');
export const SCREENSHOTS = process.env.E2E_SCREENSHOTS ?? join(import.meta.dirname, 'screenshots');

const EXTRA_TYPES: Record<string, string> = { '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon' };

export interface LoggedRequest {
  method: string;
  path: string;
  status: number;
  range?: string;
}

export interface SiteServer {
  url: string;
  requests: LoggedRequest[];
  /** Bytes per second for responses whose path matches `pattern` (undefined: full speed). */
  throttle: { pattern: RegExp; bytesPerSecond: number } | undefined;
  /**
   * A failure for requests whose path matches `pattern`: HTTP 500, a body cut off half-way (with the full
   * Content-Length), or `offline`: the connection drops before any answer (what a fetch sees with no network).
   */
  fault: { pattern: RegExp; kind: 'http500' | 'truncate' | 'offline' } | undefined;
  close(): Promise<void>;
}

/** Serves `root` (and `mounts`, as serveStatic) through a front server that logs and can throttle. */
export async function serveSite(root: string, mounts: Record<string, string> = {}, port = 0): Promise<SiteServer> {
  const backend = await serveStatic(root, mounts);
  const site: SiteServer = {
    url: '',
    requests: [],
    throttle: undefined,
    fault: undefined,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await backend.close();
    },
  };
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const fault = site.fault?.pattern.test(path) && (req.method === 'GET' || site.fault.kind === 'offline') ? site.fault.kind : undefined;
    if (fault === 'offline') {
      site.requests.push({ method: req.method ?? 'GET', path, status: 0 });
      req.socket.destroy();
      return;
    }
    if (fault === 'http500') {
      site.requests.push({ method: 'GET', path, status: 500 });
      res.writeHead(500, 'Internal Server Error').end('injected failure');
      return;
    }
    const upstream = httpRequest(new URL(req.url ?? '/', backend.url), { method: req.method, headers: req.headers }, (up: IncomingMessage) => {
      site.requests.push({ method: req.method ?? 'GET', path, status: up.statusCode ?? 0, ...(req.headers.range ? { range: req.headers.range } : {}) });
      const headers = { ...up.headers };
      const ext = /\.[a-z0-9]+$/i.exec(path)?.[0].toLowerCase() ?? '';
      if (EXTRA_TYPES[ext]) headers['content-type'] = EXTRA_TYPES[ext];
      res.writeHead(up.statusCode ?? 502, headers);
      const throttle = site.throttle && site.throttle.pattern.test(path) ? site.throttle.bytesPerSecond : undefined;
      if (fault === 'truncate') {
        // Half of the body, then the connection drops: the client sees fewer bytes than Content-Length promised.
        const half = Number(up.headers['content-length'] ?? 0) >> 1;
        let sent = 0;
        up.on('data', (chunk: Buffer) => {
          if (sent >= half) return;
          const piece = chunk.subarray(0, half - sent);
          sent += piece.length;
          res.write(piece, () => sent >= half && res.destroy());
        });
        return;
      }
      (throttle ? up.pipe(slow(throttle)) : up).pipe(res);
      res.on('close', () => up.destroy());
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  site.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return site;
}

/** Passes bytes on at about `bytesPerSecond`: each chunk, then a pause as long as the chunk takes at that rate. */
function slow(bytesPerSecond: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      this.push(chunk);
      setTimeout(done, (chunk.length / bytesPerSecond) * 1000);
    },
  });
}

/**
 * Builds the demo site (what `npm run build:demo` makes) into a folder of this test file's own process, so e2e files
 * running in parallel never empty each other's site mid-test; serve.test.ts alone builds dist/demo, with npm.
 */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function buildDemo(): Promise<string> {
  const outDir = join(ROOT, 'dist', `demo-e2e-${process.pid}`);
  // Vitest ends its forks without an exit event: remove the sites of earlier runs' processes that are gone.
  for (const name of existsSync(join(ROOT, 'dist')) ? readdirSync(join(ROOT, 'dist')) : []) {
    const pid = Number(/^demo-e2e-(\d+)$/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !processAlive(pid)) rmSync(join(ROOT, 'dist', name), { recursive: true, force: true });
  }
  await build({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
  return outDir;
}

export const status = (page: Page) => page.$eval('[data-testid=status]', (e) => e.textContent ?? '');
export const text = (page: Page, testid: string) => page.$eval(`[data-testid="${testid}"]`, (e) => e.textContent ?? '');

/** Waits until [data-testid=status] matches `pattern` (a regular expression's source). */
export async function waitForStatus(page: Page, pattern: string, timeout = 120_000): Promise<string> {
  await page.waitForFunction((p) => new RegExp(p).test(document.querySelector('[data-testid=status]')?.textContent ?? ''), { timeout, polling: 100 }, pattern);
  return status(page);
}

/** A full-page PNG under SCREENSHOTS (git-ignored), for people to look at. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** A new 1280 × 900 page at `url` with `query`, and the list its errors go to. */
export async function openPage(browser: Browser, url: string, query: Record<string, string>): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 900 });
  const errors = pageErrors(page);
  await page.goto(`${url}?${new URLSearchParams(query)}`);
  return { page, errors };
}
