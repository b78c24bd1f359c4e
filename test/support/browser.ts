// Headless Debian Chromium for the browser tests, with WebGPU on (SwiftShader when there is no GPU). The flags are the
// ones measured to work on this project's machines (see docs: FACTS, "WebGPU on machines without a GPU").
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { CHROMIUM, CHROMIUM_ARGS } from './chromiumFlags.ts';

export { CHROMIUM };

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: run "bash scripts/setup.sh --browser" (Debian package chromium) or set CHROMIUM_PATH`);
  }
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless=new', ...CHROMIUM_ARGS],
  });
}

/** Collects the page's console errors and uncaught exceptions, for failure messages. */
export function pageErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${(e as Error).message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  return errors;
}
