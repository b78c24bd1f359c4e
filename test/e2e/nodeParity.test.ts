// The page and Node give the same tokens. (1) The app's defaults are START_SETTINGS, the settings `npm start` uses in
// the terminal: the same seed gives the same text in both. (2) Issue 9: parallel greedy streams in the page (5–8 rows
// per decode step, where Chromium's GEMV once went wrong) give exactly what Node's loadEngine gives for the same
// prompts of 5–8 tokens. The Node side is computed here, on Dawn, not written down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'puppeteer-core';
import type { Engine } from '../../src/engine.ts';
import { loadEngine } from '../../src/node.ts';
import { START_SETTINGS } from '../../src/sampling/startSettings.ts';
import { launchChromium } from '../support/browser.ts';
import { buildDemo, openPage, serveSite, text, waitForStatus, type SiteServer } from './site.ts';

let site: SiteServer;
let browser: Browser;
let node: Engine;

beforeAll(async () => {
  site = await serveSite(await buildDemo());
  browser = await launchChromium();
  node = await loadEngine({ onNotice: () => {} });
}, 180_000);

afterAll(async () => {
  await node?.dispose();
  await browser?.close();
  await site?.close();
});

const open = (query: Record<string, string>) => openPage(browser, site.url, query);

const streamTexts = (page: Page) => page.$$eval('[data-stream]', (els) => els.map((e) => e.textContent ?? ''));

describe('the page and Node agree', () => {
  it("the app's default settings are npm start's: the same seed gives the same text", async () => {
    // As the CLI's start line passes them (topP and the penalty left at their defaults).
    const { prompt, maxNewTokens, temperature, topK, seed } = START_SETTINGS;
    const want = await node.generate(prompt, { maxNewTokens, temperature, topK, seed }).result;
    const { page, errors } = await open({});
    expect(await waitForStatus(page, '^(ready|error)'), errors.join('\n')).toBe('ready');
    expect(await page.$eval('[data-testid=prompt]', (e) => (e as HTMLTextAreaElement).value)).toBe(prompt);
    await page.click('[data-testid=generate]');
    expect(await waitForStatus(page, '^(done|error)'), errors.join('\n')).toBe('done');
    expect(await text(page, 'output')).toBe(want.text);
    expect(Number(await text(page, 'token-count'))).toBe(want.ids.length);
    await page.close();
  }, 120_000);

  it.each([
    [6, 'ROMEO:\nBut soft', 6],
    [8, 'First Citizen:\nBefore we proceed', 7],
    [5, 'KING HENRY:\nOnce more', 8],
  ])('%i parallel greedy streams on %j give exactly Node\'s tokens', async (streams, prompt, promptTokens) => {
    expect(node.encode(prompt)).toHaveLength(promptTokens);
    const maxNewTokens = 24;
    const want = await node.generate(prompt, { greedy: true, maxNewTokens }).result;
    const { page, errors } = await open({ prompt, greedy: '1', maxNewTokens: String(maxNewTokens), streams: String(streams), autostart: '1' });
    expect(await waitForStatus(page, '^(done|error)'), errors.join('\n')).toBe('done');
    expect(await streamTexts(page)).toEqual(Array(streams).fill(want.text));
    expect(Number(await text(page, 'token-count'))).toBe(want.ids.length);
    await page.close();
  }, 120_000);
});
