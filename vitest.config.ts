import { defineConfig } from 'vitest/config';

// GPU tests load Dawn's native module: each test file runs in its own forked process (not a worker thread),
// so a native crash names its file instead of taking the whole run down.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
