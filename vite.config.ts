import { defineConfig } from 'vite';

// The demo site: demo/ is the app; the embedded model folder (models/) is copied next to it, so the built site in
// dist/demo/ is self-contained and serves the demo model at ./gpt2-shakespeare/.
export default defineConfig({
  root: 'demo',
  base: './',
  publicDir: '../models',
  build: { outDir: '../dist/demo', emptyOutDir: true, target: 'es2022' },
  server: { fs: { allow: ['..'] } },
});
