// The URL-parameter rule (issue 10 §5): a link's `?model=` / `?hub=` naming another server fills the form, shows the
// full URL and waits for Load — the page sends that server nothing until then, autostart or not. The embedded model,
// paths on the site itself and a Hub on the page's own origin still load (and autostart) by themselves.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'puppeteer-core';
import { launchChromium } from '../support/browser.ts';
import { buildDemo, ROOT, openPage, serveSite, status, text, waitForStatus, type SiteServer } from './site.ts';

const MODEL = join(ROOT, 'models/gpt2-shakespeare');

let site: SiteServer;
/** Another origin (another port): the server a link must not make the page contact. */
let other: SiteServer;
let browser: Browser;

beforeAll(async () => {
  const root = await buildDemo();
  site = await serveSite(root, { 'test-org/shakespeare/resolve/main': MODEL });
  other = await serveSite(MODEL, { 'evil-org/model/resolve/main': MODEL });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await other?.close();
});

const open = (query: Record<string, string>) => openPage(browser, site.url, query);

describe('a link naming another server', () => {
  it.each([
    ['a model URL on another origin', () => ({ model: `${other.url}m/`, autostart: '1' }), () => `${other.url}m/`],
    ['a Hub id on a non-default Hub', () => ({ model: 'evil-org/model', hub: other.url, autostart: '1' }), () => `${other.url}evil-org/model/resolve/main/`],
  ])('%s fills the form, shows the URL, and sends that server nothing until Load', async (_what, query, url) => {
    other.requests.length = 0;
    const { page, errors } = await open(query());
    expect(await waitForStatus(page, '^(waiting|ready|error)', 30_000), errors.join('\n')).toBe('waiting');
    expect(await text(page, 'model-pending-url')).toBe(url());
    expect(await page.$eval('[data-testid=model-input]', (e) => (e as HTMLInputElement).value)).toBe(query().model);
    expect(await page.$eval('[data-testid=load]', (b) => (b as HTMLButtonElement).disabled)).toBe(false);
    // Time for anything the page might still start by itself.
    await new Promise((r) => setTimeout(r, 2000));
    expect(await status(page)).toBe('waiting');
    expect(other.requests).toEqual([]);
    // Nothing of the embedded model was loaded either.
    expect(site.requests.filter((r) => r.path.endsWith('.safetensors'))).toEqual([]);

    await page.click('[data-testid=load]');
    await page.waitForFunction(() => (document.querySelector('[data-testid=model-pending]') as HTMLElement).hidden, { polling: 50 });
    await waitForStatus(page, '^(ready|error)', 60_000);
    expect(other.requests.length).toBeGreaterThan(0);
    await page.close();
  }, 90_000);
});

describe('links that load by themselves', () => {
  it.each([
    ['the embedded model', () => ({})],
    ['a path on the site itself', () => ({ model: './gpt2-shakespeare/' })],
    ['a Hub on the page\'s own origin', () => ({ model: 'test-org/shakespeare', hub: site.url })],
  ])('%s loads and autostarts', async (_what, query) => {
    const { page, errors } = await open({ ...query(), greedy: '1', maxNewTokens: '4', autostart: '1' });
    expect(await waitForStatus(page, '^(done|waiting|error)', 90_000), errors.join('\n')).toBe('done');
    expect(Number(await text(page, 'token-count'))).toBe(4);
    expect(await page.$eval('[data-testid=model-pending]', (e) => (e as HTMLElement).hidden)).toBe(true);
    await page.close();
  }, 120_000);
});
