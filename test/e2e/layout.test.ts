// Layout of every view at a desktop (1280 px) and a phone (390 px) width: each state is saved as a PNG under
// test/e2e/screenshots/ (git-ignored, for people to look at) and checked for what screenshots once showed — tiles that
// cut their values ("2.97 to…"), four streams laid out 3 + 1, a table clipped on the right instead of scrolling, a toast
// over a chart, a page wider than the screen.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, ElementHandle, Page } from 'puppeteer-core';
import { launchChromium, pageErrors } from '../support/browser.ts';
import { buildDemo, ROOT, screenshot, SCREENSHOTS, serveSite, text, waitForStatus, type SiteServer } from './site.ts';

const WIDTHS = [1280, 390] as const;
const MODEL = join(ROOT, 'models/gpt2-shakespeare');

let site: SiteServer;
let other: SiteServer;
let browser: Browser;
let work: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'gpt-webgpu-layout-'));
  site = await serveSite(await buildDemo());
  other = await serveSite(MODEL);
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await other?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function open(query: Record<string, string>, width: number): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  await page.setViewport({ width, height: 900 });
  const errors = pageErrors(page);
  await page.goto(`${site.url}?${new URLSearchParams(query)}`);
  return { page, errors };
}

/** What is wrong with the layout as it stands, one line per problem (empty: nothing). */
function layoutProblems(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const problems: string[] = [];
    const visible = (e: Element) => (e as HTMLElement).offsetParent !== null || getComputedStyle(e).position === 'fixed';
    const label = (e: Element) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}${(e as HTMLElement).dataset.testid ? `[${(e as HTMLElement).dataset.testid}]` : ''} "${(e.textContent ?? '').trim().slice(0, 40)}"`;
    const doc = document.documentElement;
    if (doc.scrollWidth > doc.clientWidth) {
      // Name the innermost elements that stick out, so the message says what to fix.
      const out = [...document.body.querySelectorAll('*')].filter((e) => visible(e) && e.getBoundingClientRect().right > doc.clientWidth + 1);
      const innermost = out.filter((e) => !out.some((o) => o !== e && e.contains(o))).slice(0, 4);
      problems.push(`the page is ${doc.scrollWidth} px wide in a ${doc.clientWidth} px window: ${innermost.map(label).join(', ')}`);
    }

    // Tiles: every value and caption fits its box.
    for (const e of document.querySelectorAll('.metric *, .summary-cards *')) {
      if (visible(e) && e.scrollWidth > e.clientWidth + 1) problems.push(`tile text cut: ${label(e)} (${e.scrollWidth} > ${e.clientWidth} px)`);
    }

    // Streams: every row of cards holds the same number (2 + 2 or 4, never 3 + 1).
    const cards = [...document.querySelectorAll<HTMLElement>('#stream-grid > .stream')].filter(visible);
    const rows = new Map<number, number>();
    for (const card of cards) rows.set(Math.round(card.getBoundingClientRect().top), (rows.get(Math.round(card.getBoundingClientRect().top)) ?? 0) + 1);
    if (new Set(rows.values()).size > 1) problems.push(`${cards.length} streams laid out ${[...rows.values()].join(' + ')}`);

    // Tables: wider than their card means a scroll container, never a clipped edge.
    for (const table of [...document.querySelectorAll('table')].filter(visible)) {
      const wrap = table.closest('.table-wrap');
      const overflowX = wrap ? getComputedStyle(wrap).overflowX : 'visible';
      if (!wrap || !['auto', 'scroll'].includes(overflowX)) {
        problems.push(`table outside a scroll container: ${label(table)}`);
        continue;
      }
      const card = wrap.parentElement!.getBoundingClientRect();
      if (wrap.getBoundingClientRect().right > card.right + 1) problems.push(`table container sticks out of its card: ${label(table)}`);
      if (table.getBoundingClientRect().width > wrap.clientWidth + 1 && wrap.scrollWidth <= wrap.clientWidth) problems.push(`table clipped: ${label(table)}`);
    }

    // The toast never covers a chart, wherever the chart is scrolled to (the end of the window is where it sat). What
    // the sticky top bar covers is not visible anyway.
    const toast = document.getElementById('toast')!;
    const barBottom = () => document.querySelector('.topbar')!.getBoundingClientRect().bottom;
    if (!toast.hidden) {
      for (const canvas of [...document.querySelectorAll('canvas')].filter(visible)) {
        for (const block of ['start', 'center', 'end'] as const) {
          canvas.scrollIntoView({ block });
          await new Promise((r) => requestAnimationFrame(r));
          const a = toast.getBoundingClientRect();
          const r = canvas.getBoundingClientRect();
          const b = { left: r.left, right: r.right, top: Math.max(r.top, barBottom()), bottom: r.bottom };
          const overlap = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
          if (overlap) problems.push(`the toast "${toast.textContent}" covers ${label(canvas.parentElement!)} (chart at the ${block})`);
        }
      }
      window.scrollTo(0, 0);
      // Nor the title, the tabs or the status.
      for (const el of document.querySelectorAll('.brand, .tabs button, .status-pill')) {
        const a = toast.getBoundingClientRect();
        const b = el.getBoundingClientRect();
        if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) problems.push(`the toast "${toast.textContent}" covers ${label(el as HTMLElement)}`);
      }
    }
    return problems;
  });
}

/** Waits for charts to resize to the new width, saves the PNG, and returns the layout's problems. */
async function check(page: Page, name: string, width: number): Promise<string[]> {
  await page.waitForFunction(() => document.fonts.status === 'loaded', { polling: 50 });
  await new Promise((r) => setTimeout(r, 400));
  await screenshot(page, `layout-${name}-${width}`);
  // A tall phone page shrinks to nothing in one image: also in window-sized parts, each readable at full size.
  if (width < 640) {
    const height = await page.evaluate(() => document.documentElement.scrollHeight);
    for (let y = 0, part = 1; y < height; y += 900, part++) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      await page.screenshot({ path: join(SCREENSHOTS, `layout-${name}-${width}-part${part}.png`), clip: { x: 0, y, width, height: Math.min(900, height - y) }, captureBeyondViewport: true });
    }
  }
  return layoutProblems(page);
}

describe.each(WIDTHS)('at %i px', (width) => {
  it('generate: one stream, then four, then a model waiting for Load', async () => {
    const { page, errors } = await open({ maxNewTokens: '24' }, width);
    expect(await waitForStatus(page, '^(ready|error)'), errors.join('\n')).toBe('ready');
    expect.soft(await check(page, 'generate-ready', width)).toEqual([]);
    await page.click('[data-testid=generate]');
    expect(await waitForStatus(page, '^(done|error)'), errors.join('\n')).toBe('done');
    expect.soft(await check(page, 'generate-done', width)).toEqual([]);

    await page.$eval('#streams', (e) => {
      (e as HTMLInputElement).value = '4';
      e.dispatchEvent(new Event('input'));
    });
    await page.click('[data-testid=generate]');
    expect(await waitForStatus(page, '^(done|error)'), errors.join('\n')).toBe('done');
    expect(await page.$eval('[data-testid=latency-chart]', (e) => (e as HTMLElement).dataset.datasets)).toBe('4');
    expect.soft(await check(page, 'generate-4-streams', width)).toEqual([]);
    await page.close();

    const waiting = await open({ model: `${other.url}some/very/long/path/to/a/model/folder/that/goes/on/`, autostart: '1' }, width);
    expect(await waitForStatus(waiting.page, '^(waiting|error)')).toBe('waiting');
    expect.soft(await check(waiting.page, 'model-waiting', width)).toEqual([]);
    await waiting.page.close();
  }, 180_000);

  it("a local model is named by its config's _name_or_path (loose files have no folder)", async () => {
    const config = join(work, 'config.json');
    writeFileSync(config, JSON.stringify({ ...JSON.parse(readFileSync(join(MODEL, 'config.json'), 'utf8')), _name_or_path: '/home/someone/models/shakespeare-gpt2' }));
    const { page, errors } = await open({}, width);
    expect(await waitForStatus(page, '^(ready|error)'), errors.join('\n')).toBe('ready');
    await page.click('[data-testid=source-local]');
    const input = (await page.$('[data-testid=files-input]')) as ElementHandle<HTMLInputElement>;
    await input.uploadFile(config, ...['model.safetensors', 'vocab.json', 'merges.txt'].map((f) => join(MODEL, f)));
    await page.waitForFunction(() => /local files/.test(document.querySelector('[data-testid=download-status]')?.textContent ?? ''), { polling: 100 });
    const info = await text(page, 'model-info');
    expect(info).not.toMatch(/\d+ local files/);
    expect(info).toContain('shakespeare-gpt2');
    // Sizes in binary units, as the CLI prints them.
    expect(await text(page, 'download-status')).toMatch(/\d MiB of weights/);
    expect.soft(await check(page, 'model-local', width)).toEqual([]);
    await page.close();
  }, 60_000);

  it('benchmark done (with its toast), then compare two records', async () => {
    const { page, errors } = await open({ view: 'bench', protocol: 'quick', autostart: '1' }, width);
    expect(await waitForStatus(page, '^(done|error)', 170_000), errors.join('\n')).toBe('done');
    expect(await page.$eval('#toast', (e) => (e as HTMLElement).hidden)).toBe(false);
    // The toast hides itself after a few seconds: keep it for the checks.
    await page.evaluate(() => {
      const toast = document.getElementById('toast')!;
      new MutationObserver(() => (toast.hidden = false)).observe(toast, { attributes: true });
    });
    expect.soft(await check(page, 'bench-done', width)).toEqual([]);

    const record = await page.evaluate(() => (window as unknown as { gptWebgpu: { app: { sessionRecords: unknown[] } } }).gptWebgpu.app.sessionRecords[0]);
    const file = join(work, `other-${width}.json`);
    const r = record as { label?: string; environment: Record<string, unknown> };
    writeFileSync(file, JSON.stringify({ ...r, label: 'A second machine with a long label', environment: { ...r.environment, runtime: 'node', userAgent: undefined } }));
    await page.click('[data-testid=bench-compare]');
    const upload = (await page.$('[data-testid=compare-file]')) as ElementHandle<HTMLInputElement>;
    await upload.uploadFile(file);
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=compare-table] tbody tr').length === 2, { polling: 50 });
    expect.soft(await check(page, 'compare', width)).toEqual([]);
    await page.close();
  }, 240_000);
});
