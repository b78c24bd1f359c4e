// How the tests start Debian's Chromium headless with WebGPU on (SwiftShader when there is no GPU): shared by the
// puppeteer end-to-end tests (browser.ts) and vitest's browser project (vitest.config.ts). The flags are the ones
// measured to work on this project's machines; the background-networking ones keep Chromium off a closed network.
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-dev-shm-usage',
];
