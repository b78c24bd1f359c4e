import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { playwright } from '@vitest/browser-playwright';
import type { BrowserCommand } from 'vitest/node';
import { defineConfig } from 'vitest/config';
import { CHROMIUM_ARGS, CHROMIUM } from './test/support/chromiumFlags.ts';

// Two projects, one definition of each GPU test:
// - node: every test; GPU tests on Dawn (hardware if present, else Mesa llvmpipe). Each test file runs in its own forked
//   process (not a worker thread), so a native crash names its file instead of taking the whole run down.
// - chromium: the GPU tests that check numbers (kernels vs their CPU twins, models vs the golden fixtures and the float64
//   reference, batch invariance, every row count) again in headless Debian Chromium, on its WebGPU (SwiftShader without a
//   GPU) — a second implementation (Tint → SPIR-V → SwiftShader, not Tint → GLSL → llvmpipe) catches what one hides.
//   test/support/platform.ts is swapped for platform.browser.ts there. Vitest's browser mode (not an in-page runner of
//   our own) so both projects share one runner, one reporter, and the same expect.
export const BROWSER_GPU_TESTS = [
  'test/gpu/kernels.test.ts',
  'test/gpu/attention.test.ts',
  'test/gpu/rowCounts.test.ts',
  'test/gpu/linearBits.test.ts',
  'test/gpu/fusion.test.ts',
  'test/gpu/fixtures.test.ts',
  'test/gpu/models.test.ts',
  'test/gpu/concurrency.test.ts',
  'test/gpu/numerical.test.ts',
  'test/gpu/sampling.test.ts',
  'test/gpu/shardSources.test.ts',
  'test/gpu/profile.test.ts',
];

const ROOT = import.meta.dirname;

/** Lets the page ask whether a repository file exists (the dev server may answer a missing file with index.html). */
const projectFileExists: BrowserCommand<[path: string]> = (_context, path) => {
  const full = resolve(ROOT, path);
  return !relative(ROOT, full).startsWith('..') && existsSync(full);
};

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: 'node', include: ['test/**/*.test.ts'], pool: 'forks' },
      },
      {
        extends: true,
        resolve: { alias: [{ find: /^(.*)\/platform\.ts$/, replacement: '$1/platform.browser.ts' }] },
        test: {
          name: 'chromium',
          include: BROWSER_GPU_TESTS,
          browser: {
            enabled: true,
            headless: true,
            provider: playwright({ launchOptions: { executablePath: CHROMIUM, args: CHROMIUM_ARGS } }),
            instances: [{ browser: 'chromium' }],
            commands: { projectFileExists },
            screenshotFailures: false,
          },
        },
      },
    ],
  },
});
