// The cached-models panel (on the library's listCachedModels / deleteModelInCache): after a load from a Hub-like server
// the model is listed as complete with its size; Delete removes it from the Cache API and from the list.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'puppeteer-core';
import { launchChromium, pageErrors } from '../support/browser.ts';
import { buildDemo, ROOT, serveSite, text, waitForStatus, type SiteServer } from './site.ts';

let site: SiteServer;
let browser: Browser;

beforeAll(async () => {
  site = await serveSite(await buildDemo(), { 'test-org/panel/resolve/main': join(ROOT, 'models/gpt2-shakespeare') });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

describe('cached models panel', () => {
  it('lists a loaded model as complete, and deletes it', async () => {
    const page = await browser.newPage();
    const errors = pageErrors(page);
    await page.goto(`${site.url}?${new URLSearchParams({ model: 'test-org/panel', hub: site.url })}`);
    expect(await waitForStatus(page, '^(ready|error)'), errors.join('\n')).toBe('ready');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=cached-model]').length > 0, { polling: 100, timeout: 10_000 });
    const rows = await page.$$eval('[data-testid=cached-model]', (els) => els.map((e) => ({ url: (e as HTMLElement).dataset.url, complete: (e as HTMLElement).dataset.complete, text: e.textContent })));
    expect(rows).toHaveLength(1);
    expect(rows[0].url).toBe(`${site.url}test-org/panel/resolve/main/`);
    expect(rows[0].complete).toBe('true');
    expect(rows[0].text).toMatch(/MiB/);
    expect(await text(page, 'cache-info')).toMatch(/1 model/);

    await page.click('[data-testid=cached-model-delete]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=cached-model]').length === 0, { polling: 100, timeout: 10_000 });
    expect(await text(page, 'cache-info')).toMatch(/empty/);
    expect(await page.evaluate(async () => (await (await caches.open('gpt-webgpu-models')).keys()).length)).toBe(0);
    await page.close();
  }, 90_000);
});
