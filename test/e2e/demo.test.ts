// The built demo site in headless Chromium (WebGPU through SwiftShader when there is no GPU): the same WGSL and
// TypeScript as in Node, bundled by Vite, must stream exactly the reference's greedy text for a reference prompt.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { build } from 'vite';
import type { Browser } from 'puppeteer-core';
import { launchChromium, pageErrors } from '../support/browser.ts';
import { serveStatic, type StaticServer } from '../support/staticServer.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const reference = JSON.parse(readFileSync(join(ROOT, 'models/gpt2-shakespeare/reference.json'), 'utf8'));

let server: StaticServer;
let browser: Browser;

beforeAll(async () => {
  await build({ configFile: join(ROOT, 'vite.config.ts'), logLevel: 'error' });
  server = await serveStatic(join(ROOT, 'dist/demo'));
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

it('streams the reference greedy text for a reference prompt, with TTFT and ITL shown', async () => {
  const page = await browser.newPage();
  const errors = pageErrors(page);
  const { prompt, greedy_text: want, greedy_ids: ids } = reference.greedy[0];
  const query = new URLSearchParams({ prompt, greedy: '1', maxNewTokens: String(ids.length), autostart: '1' });
  await page.goto(`${server.url}?${query}`);
  const status = () => page.$eval('[data-testid=status]', (e) => e.textContent ?? '');
  await page.waitForFunction(() => /^(done|error)/.test(document.querySelector('[data-testid=status]')?.textContent ?? ''), { timeout: 240_000, polling: 200 });
  expect(await status(), errors.join('\n')).toBe('done');
  expect(await page.$eval('[data-testid=output]', (e) => e.textContent)).toBe(want);
  expect(await page.$eval('[data-testid=ttft]', (e) => e.textContent)).toMatch(/^\d+(\.\d+)? ms$/);
  expect(await page.$eval('[data-testid=itl]', (e) => e.textContent)).toMatch(/^\d+(\.\d+)? ms/);
  // Where the adapter has timestamp queries (SwiftShader does), the engine reports GPU time per step.
  const timing = await page.evaluate(() => {
    const engine = (window as unknown as { gptWebgpu: { engine: import('../../src/engine.ts').Engine } }).gptWebgpu.engine;
    return { hasTimestamps: engine.gpu.features.timestampQuery, gpu: engine.summary().gpuMsPerStep };
  });
  if (timing.hasTimestamps) {
    expect(timing.gpu?.decode.p50).toBeGreaterThanOrEqual(0);
    expect(timing.gpu?.prefill.p50).toBeGreaterThanOrEqual(0);
  } else {
    expect(timing.gpu).toBeUndefined();
  }
  console.log(`browser: timestamp-query ${timing.hasTimestamps}, GPU ms per step ${JSON.stringify(timing.gpu)}`);
  await page.close();
}, 300_000);
