// The built demo site in headless Chromium (WebGPU through SwiftShader when there is no GPU): the same WGSL and
// TypeScript as in Node, bundled by Vite, with the engine in a Web Worker. Covers what a person does with the page:
// generate (the reference greedy text, token by token), stop, parallel streams, a model from a Hub-like server with
// download progress and the Cache API, cancel, a benchmark record downloaded and compared with one from the CLI, and
// the errors a person can meet (no WebGPU, a model too big for the adapter, a model that is not there).
//
// Every view is also saved as a PNG under test/e2e/screenshots/ (git-ignored) for people to look at.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, ElementHandle, Page } from 'puppeteer-core';
import { parseBenchRecord } from '../../src/index.ts';
import { launchChromium, pageErrors } from '../support/browser.ts';
import { buildDemo, ROOT, screenshot, serveSite, status, text, waitForStatus, type SiteServer } from './site.ts';

const MODEL = join(ROOT, 'models/gpt2-shakespeare');
const reference = JSON.parse(readFileSync(join(MODEL, 'reference.json'), 'utf8'));
const { prompt: PROMPT, greedy_text: WANT, greedy_ids: WANT_IDS } = reference.greedy[0] as { prompt: string; greedy_text: string; greedy_ids: number[] };
const WEIGHTS = 'model.safetensors';

let server: SiteServer;
let browser: Browser;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gpt-webgpu-e2e-'));
  // A model whose config is too wide for the adapter's storage bindings even as f16 (50257 × 16384 × 2 bytes = 1.6 GB):
  // the engine refuses it after reading config.json and the tokenizer, before any weight is fetched.
  for (const file of ['vocab.json', 'merges.txt']) copyFileSync(join(MODEL, file), join(work, file));
  const config = JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8'));
  writeFileSync(join(work, 'config.json'), JSON.stringify({ ...config, n_embd: 16384, n_head: 128 }));

  server = await serveSite(await buildDemo(), {
    // Hub-like paths: <hub>/<org>/<name>/resolve/main/<file>.
    'test-org/shakespeare/resolve/main': MODEL,
    'test-org/cancelled/resolve/main': MODEL,
    'test-org/huge/resolve/main': work,
    'test-org/flaky/resolve/main': MODEL,
  });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function open(query: Record<string, string>, context?: { newPage(): Promise<Page> }): Promise<{ page: Page; errors: string[] }> {
  const page = await (context ?? browser).newPage();
  await page.setViewport({ width: 1440, height: 1000 });
  const errors = pageErrors(page);
  await page.goto(`${server.url}?${new URLSearchParams(query)}`);
  return { page, errors };
}

const gets = (path: string) => server.requests.filter((r) => r.method === 'GET' && r.path === path).length;
const streamTexts = (page: Page) => page.$$eval('[data-stream]', (els) => els.map((e) => e.textContent ?? ''));

describe('generate', () => {
  it('streams exactly the reference greedy text for a reference prompt, with TTFT and ITL shown', async () => {
    const { page, errors } = await open({ prompt: PROMPT, greedy: '1', maxNewTokens: String(WANT_IDS.length) });
    expect(await waitForStatus(page, '^(ready|error)'), errors.join('\n')).toBe('ready');
    expect(await text(page, 'adapter-name')).not.toBe('');
    expect(await text(page, 'model-info')).toContain('GPT-2');
    await screenshot(page, '01-generate-idle');

    await page.click('[data-testid=generate]');
    await page.waitForFunction(() => (document.querySelector('[data-testid=output]')?.textContent ?? '').length > 20, { polling: 50 });
    // (On a fast GPU the 60 tokens may all be there already.)
    expect(['generating', 'done']).toContain(await status(page));
    await screenshot(page, '02-generate-streaming');

    expect(await waitForStatus(page, '^(done|error)'), errors.join('\n')).toBe('done');
    expect(await text(page, 'output')).toBe(WANT);
    expect(await text(page, 'token-count')).toBe(String(WANT_IDS.length));
    expect(await text(page, 'ttft')).toMatch(/^\d+(\.\d+)? ms$/);
    expect(await text(page, 'itl')).toMatch(/^\d+(\.\d+)? ms/);
    expect(await text(page, 'itl-p90')).toMatch(/^\d+(\.\d+)? ms/);
    expect(await text(page, 'tokens-per-second')).toMatch(/tok\/s$/);
    // The latency chart has one point per gap between tokens.
    expect(await page.$eval('[data-testid=latency-chart]', (e) => (e as HTMLElement).dataset.points)).toBe(String(WANT_IDS.length - 1));
    await screenshot(page, '03-generate-done');

    // Where the adapter has timestamp queries (SwiftShader does), the engine reports GPU time per step.
    const { hasTimestamps, gpu } = await page.evaluate(async () => {
      const w = window as unknown as { gptWebgpu: { app: { gpu: { timestampQuery: boolean } }; stats(): Promise<{ summary: { gpuMsPerStep?: { prefill: { p50: number }; decode: { p50: number } } } }> } };
      return { hasTimestamps: w.gptWebgpu.app.gpu.timestampQuery, gpu: (await w.gptWebgpu.stats()).summary.gpuMsPerStep };
    });
    if (hasTimestamps) {
      expect(gpu?.decode.p50).toBeGreaterThanOrEqual(0);
      expect(gpu?.prefill.p50).toBeGreaterThanOrEqual(0);
      expect(await text(page, 'gpu-ms')).toContain('GPU time / decode step');
    } else {
      expect(gpu).toBeUndefined();
    }
    console.log(`browser: timestamp-query ${hasTimestamps}, GPU ms per step ${JSON.stringify(gpu)}`);

    // A phone-width window: one column, nothing wider than the screen.
    await page.setViewport({ width: 420, height: 900 });
    // (Charts resize on the next frames: wait for the layout to settle.)
    await page.waitForFunction(() => document.documentElement.scrollWidth <= 420, { timeout: 5_000, polling: 100 });
    await screenshot(page, '04-generate-narrow');
    await page.close();
  }, 120_000);

  it('stops a generation: the status leaves generating and the output is shorter than asked', async () => {
    const { page, errors } = await open({ prompt: PROMPT, greedy: '1', maxNewTokens: '200', autostart: '1' });
    await waitForStatus(page, '^(generating|error)');
    await page.waitForFunction(() => Number(document.querySelector('[data-testid=token-count]')?.textContent) >= 5, { polling: 50 });
    await page.click('[data-testid=stop]');
    expect(await waitForStatus(page, '^(done|error)', 10_000), errors.join('\n')).toBe('done');
    const tokens = Number(await text(page, 'token-count'));
    expect(tokens).toBeGreaterThanOrEqual(5);
    expect(tokens).toBeLessThan(200);
    expect(await text(page, 'finish-reason')).toBe('stopped');
    // What was streamed before the stop is the start of the greedy text.
    expect(WANT.startsWith(await text(page, 'output'))).toBe(true);
    expect(await page.$eval('[data-testid=generate]', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
    await page.close();
  }, 60_000);

  it('runs parallel streams side by side: 3 greedy streams all give the reference text', async () => {
    const { page, errors } = await open({ prompt: PROMPT, greedy: '1', maxNewTokens: String(WANT_IDS.length), streams: '3', autostart: '1' });
    expect(await waitForStatus(page, '^(done|error)'), errors.join('\n')).toBe('done');
    expect(await streamTexts(page)).toEqual([WANT, WANT, WANT]);
    expect(await text(page, 'output')).toBe(WANT);
    expect(await text(page, 'total-tokens-per-second')).toMatch(/^3 streams: \d/);
    expect(await page.$eval('[data-testid=latency-chart]', (e) => (e as HTMLElement).dataset.datasets)).toBe('3');
    await screenshot(page, '05-parallel-streams');
    await page.close();
  }, 120_000);
});

describe('model sources', () => {
  const weights = `/test-org/shakespeare/resolve/main/${WEIGHTS}`;

  it('loads a model from a Hub-like server with download progress, and from the Cache API after a reload', async () => {
    // Slow enough (about 2 s for 15 MB) that the progress can be seen.
    server.throttle = { pattern: /\/test-org\/shakespeare\/.*\.safetensors$/, bytesPerSecond: 8_000_000 };
    const { page, errors } = await open({ model: 'test-org/shakespeare', hub: server.url });
    await page.waitForFunction(() => / \d+ %$/.test(document.querySelector('[data-testid=progress-bytes]')?.textContent ?? ''), { timeout: 30_000, polling: 50 });
    expect(await status(page)).toBe('loading');
    expect(await text(page, 'load-progress')).toContain(WEIGHTS);
    await page.waitForFunction(() => Number(/(\d+) %$/.exec(document.querySelector('[data-testid=progress-bytes]')?.textContent ?? '')?.[1]) >= 20, { polling: 50 });
    await screenshot(page, '06-loading-progress');
    server.throttle = undefined;
    expect(await waitForStatus(page, '^(ready|error)'), errors.join('\n')).toBe('ready');
    expect(await text(page, 'download-status')).toMatch(/downloaded/);
    expect(gets(weights)).toBe(1);
    // Listed as complete (next to the embedded model when an earlier page of this browser loaded it: it is cached too).
    await page.waitForFunction((url) => document.querySelector(`[data-testid=cached-model][data-url="${url}"]`), { polling: 100, timeout: 10_000 }, `${server.url}test-org/shakespeare/resolve/main/`);
    expect(await page.$eval(`[data-testid=cached-model][data-url="${server.url}test-org/shakespeare/resolve/main/"]`, (e) => (e as HTMLElement).dataset.complete)).toBe('true');

    await page.reload();
    expect(await waitForStatus(page, '^(ready|error)'), errors.join('\n')).toBe('ready');
    expect(await text(page, 'download-status')).toContain('from cache');
    expect(gets(weights)).toBe(1);
    await screenshot(page, '07-loaded-from-cache');

    // Generation works on the cached copy.
    await page.$eval('[data-testid=prompt]', (e, p) => ((e as HTMLTextAreaElement).value = p), PROMPT);
    await page.click('[data-testid=greedy]');
    await page.$eval('#max-new-tokens', (e) => ((e as HTMLInputElement).value = '8'));
    await page.click('[data-testid=generate]');
    expect(await waitForStatus(page, '^(done|error)')).toBe('done');
    expect(WANT.startsWith(await text(page, 'output'))).toBe(true);

    await page.click('[data-testid=clear-cache]');
    await page.waitForFunction(() => /empty/.test(document.querySelector('[data-testid=cache-info]')?.textContent ?? ''), { polling: 50 });
    await page.close();
  }, 120_000);

  it('loads a model from local files picked by the user', async () => {
    const { page, errors } = await open({ prompt: PROMPT, greedy: '1', maxNewTokens: '8' });
    await waitForStatus(page, '^(ready|error)');
    await page.click('[data-testid=source-local]');
    const input = (await page.$('[data-testid=files-input]')) as ElementHandle<HTMLInputElement>;
    await input.uploadFile(...['config.json', WEIGHTS, 'vocab.json', 'merges.txt'].map((f) => join(MODEL, f)));
    // (The demo model was ready before: wait for what only the local load shows.)
    await page.waitForFunction(() => /local files/.test(document.querySelector('[data-testid=download-status]')?.textContent ?? '') || /^error/.test(document.querySelector('[data-testid=status]')?.textContent ?? ''), { polling: 100 });
    expect(await status(page), errors.join('\n')).toBe('ready');
    expect(await text(page, 'download-status')).toContain('read from local files');
    // Loose files (no folder) and no _name_or_path in config.json: named by the model type, not by a file count.
    expect(await text(page, 'model-info')).toContain('local gpt2 model');
    await page.click('[data-testid=generate]');
    expect(await waitForStatus(page, '^(done|error)')).toBe('done');
    expect(WANT.startsWith(await text(page, 'output'))).toBe(true);
    expect(Number(await text(page, 'token-count'))).toBe(8);
    await page.close();
  }, 60_000);

  it('cancels a download; nothing of it is cached', async () => {
    server.throttle = { pattern: /\/test-org\/cancelled\/.*\.safetensors$/, bytesPerSecond: 2_000_000 };
    const { page } = await open({ model: 'test-org/cancelled', hub: server.url });
    await page.waitForFunction(() => / \d+ %$/.test(document.querySelector('[data-testid=progress-bytes]')?.textContent ?? ''), { timeout: 30_000, polling: 50 });
    await page.click('[data-testid=cancel-load]');
    expect(await waitForStatus(page, '^(error|ready)', 10_000)).toMatch(/^error: .*cancelled/);
    server.throttle = undefined;
    expect(await page.evaluate(async () => (await (await caches.open('gpt-webgpu-models')).keys()).some((r) => r.url.includes('/cancelled/') && r.url.endsWith('.safetensors')))).toBe(false);
    expect(await page.$eval('[data-testid=load]', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
    await page.close();
  }, 60_000);
});

describe('benchmark and compare', () => {
  it('produces a record (quick protocol), downloads it, and compares it with a record from the CLI', async () => {
    const downloads = join(work, 'downloads');
    const context = await browser.createBrowserContext({ downloadBehavior: { policy: 'allow', downloadPath: downloads } });
    const { page, errors } = await open({ view: 'bench', protocol: 'quick', autostart: '1' }, context);
    await waitForStatus(page, '^(benchmarking|error)');
    expect(await text(page, 'bench-protocol-table')).toContain('1, 16, 64');
    await page.waitForFunction(() => /^running: /.test(document.querySelector('[data-testid=bench-status]')?.textContent ?? ''), { polling: 50 });
    expect(await waitForStatus(page, '^(done|error)'), errors.join('\n')).toBe('done');
    expect(await text(page, 'bench-status')).toBe('done');
    for (const chart of ['bench-ttft-chart', 'bench-throughput-chart', 'bench-itl-chart']) {
      expect(Number(await page.$eval(`[data-testid=${chart}]`, (e) => (e as HTMLElement).dataset.points)), chart).toBeGreaterThan(0);
    }
    expect(await page.$$eval('[data-testid=bench-latency-table] tbody tr', (rows) => rows.length)).toBe(3);
    expect(await page.$$eval('[data-testid=bench-throughput-table] tbody tr', (rows) => rows.length)).toBe(3);
    expect(await text(page, 'bench-ttft')).toMatch(/ms$/);
    await page.evaluate(() => (document.getElementById('toast')!.hidden = true));
    await screenshot(page, '08-bench-result');

    await page.click('[data-testid=bench-download]');
    const file = await waitForFile(downloads, /^gpt-webgpu-bench-.*\.json$/);
    const browserRecord = parseBenchRecord(JSON.parse(readFileSync(file, 'utf8')));
    expect(browserRecord.environment.runtime).toBe('browser');
    expect(browserRecord.protocol.promptLengths).toEqual([1, 16, 64]);

    // The same protocol from Node (Dawn), as CI runs it.
    const cli = join(work, 'cli-bench.json');
    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'cli', '--', 'bench', '--json', '--prompt-lengths', '1,8', '--new-tokens', '4', '--repetitions', '1', '--concurrency', '1,2', '--label', 'CLI (node)'], { cwd: ROOT, maxBuffer: 64 << 20 });
    writeFileSync(cli, stdout);
    expect(parseBenchRecord(JSON.parse(stdout)).environment.runtime).toBe('node');

    await page.click('[data-testid=tab-compare]');
    expect(await page.$eval('[data-testid=compare-result]', (e) => e.textContent)).toContain('No records yet');
    const input = (await page.$('[data-testid=compare-file]')) as ElementHandle<HTMLInputElement>;
    await input.uploadFile(file, cli);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=compare-table] tbody tr').length === 2, { polling: 50 });
    for (const chart of ['compare-ttft-chart', 'compare-throughput-chart', 'compare-itl-chart']) {
      expect(await page.$eval(`[data-testid=${chart}]`, (e) => (e as HTMLElement).dataset.datasets), chart).not.toBe('0');
      expect(Number(await page.$eval(`[data-testid=${chart}]`, (e) => (e as HTMLElement).dataset.points)), chart).toBeGreaterThan(0);
    }
    const table = await text(page, 'compare-table');
    expect(table).toContain('CLI (node)');
    expect(table).toContain('Chrome');
    expect(table).toContain('Node');
    // The session's run is the downloaded one: adding it again does not duplicate it.
    await page.click('[data-testid=compare-add-session]');
    expect(await page.$$eval('[data-testid=compare-table] tbody tr', (rows) => rows.length)).toBe(2);
    expect(await page.$eval('[data-testid=compare-error]', (e) => (e as HTMLElement).hidden)).toBe(true);
    await screenshot(page, '09-compare-two-records');

    const broken = join(work, 'broken.json');
    const other = join(work, 'not-a-record.json');
    writeFileSync(broken, '{"format": "gpt-webgpu-bench/1", ');
    writeFileSync(other, JSON.stringify({ hello: 'world' }));
    await input.uploadFile(broken, other);
    await page.waitForFunction(() => !(document.querySelector('[data-testid=compare-error]') as HTMLElement).hidden, { polling: 50 });
    const message = await text(page, 'compare-error');
    expect(message).toContain('broken.json: not valid JSON');
    expect(message).toContain('not-a-record.json is not a gpt-webgpu benchmark record');
    expect(await page.$$eval('[data-testid=compare-table] tbody tr', (rows) => rows.length)).toBe(2);
    await screenshot(page, '10-compare-invalid-file');
    await context.close();
  }, 180_000);
});

describe('errors a person can meet', () => {
  it('says what to do when the browser has no WebGPU', async () => {
    const page = await browser.newPage();
    await page.setViewport({ width: 1440, height: 900 });
    await page.evaluateOnNewDocument(() => {
      delete (Navigator.prototype as { gpu?: unknown }).gpu;
    });
    await page.goto(server.url);
    expect(await waitForStatus(page, '^error', 10_000)).toMatch(/^error: .*WebGPU/);
    expect(await text(page, 'error')).toContain('WebGPU is not available');
    expect(await text(page, 'error')).toMatch(/Chrome|Edge|Safari/);
    expect(await page.$eval('[data-testid=generate]', (b) => (b as HTMLButtonElement).disabled)).toBe(true);
    await screenshot(page, '11-error-no-webgpu');
    await page.close();
  }, 30_000);

  it('says so when a model is too big for the adapter, before downloading its weights', async () => {
    const { page } = await open({ model: 'test-org/huge', hub: server.url });
    expect(await waitForStatus(page, '^(error|ready)', 30_000)).toMatch(/^error: .*maxStorageBufferBindingSize/);
    expect(await text(page, 'error')).toContain('This model does not fit this GPU');
    expect(await text(page, 'error')).toContain('smaller model');
    expect(gets(`/test-org/huge/resolve/main/${WEIGHTS}`)).toBe(0);
    await screenshot(page, '12-error-model-too-big');
    await page.close();
  }, 30_000);

  it.each([
    ['an HTTP 500', 'http500', /HTTP 500/],
    ['a body cut off half-way', 'truncate', /download of .*model\.safetensors.*failed|truncated/],
  ] as const)('%s says so in the page, leaves nothing in the cache, and a retry works', async (_what, kind, message) => {
    server.fault = { pattern: /\/test-org\/flaky\/.*\.safetensors$/, kind };
    const { page } = await open({ model: 'test-org/flaky', hub: server.url, prompt: PROMPT, greedy: '1', maxNewTokens: '6' });
    try {
      expect(await waitForStatus(page, '^(error|ready)', 60_000)).toMatch(message);
      expect(await text(page, 'error')).toContain('could not be downloaded');
      const cachedWeights = () => page.evaluate(async () => (await (await caches.open('gpt-webgpu-models')).keys()).filter((r) => r.url.includes('/flaky/') && r.url.endsWith('.safetensors')).length);
      expect(await cachedWeights()).toBe(0);
      server.fault = undefined;
      await page.click('[data-testid=load]');
      expect(await waitForStatus(page, '^(error|ready)', 60_000)).toBe('ready');
      expect(await cachedWeights()).toBe(1);
      await page.click('[data-testid=generate]');
      expect(await waitForStatus(page, '^(done|error)')).toBe('done');
      expect(WANT.startsWith(await text(page, 'output'))).toBe(true);
      await page.evaluate(async () => caches.delete('gpt-webgpu-models'));
    } finally {
      server.fault = undefined;
      await page.close();
    }
  }, 120_000);

  it('says so when a model does not exist', async () => {
    const { page } = await open({ model: 'test-org/missing', hub: server.url });
    expect(await waitForStatus(page, '^(error|ready)', 30_000)).toMatch(/^error: .*404/);
    expect(await text(page, 'error')).toContain('could not be downloaded');
    await page.close();
  }, 30_000);
});

async function waitForFile(dir: string, pattern: RegExp, timeout = 10_000): Promise<string> {
  const end = Date.now() + timeout;
  for (;;) {
    const name = (() => {
      try {
        return readdirSync(dir).find((f) => pattern.test(f));
      } catch {
        return undefined;
      }
    })();
    if (name) return join(dir, name);
    if (Date.now() > end) throw new Error(`no file matching ${pattern} appeared in ${dir}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
