import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The demo site: demo/ is the app; the embedded model folder (models/) is copied next to it, so the built site in
// dist/demo/ is self-contained and serves the demo model at ./gpt2-shakespeare/. The app shell's service worker
// (demo/sw.ts) is a second entry, emitted as sw.js at the site root (a fixed name the page registers, and a scope
// covering the whole site); every other script stays hashed under assets/.
const demo = (file: string) => fileURLToPath(new URL(`./demo/${file}`, import.meta.url));

export default defineConfig({
  root: 'demo',
  base: './',
  publicDir: '../models',
  build: {
    outDir: '../dist/demo',
    emptyOutDir: true,
    target: 'es2022',
    rollupOptions: {
      input: { index: demo('index.html'), sw: demo('sw.ts') },
      output: { entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js') },
    },
  },
  server: { fs: { allow: ['..'] } },
});
