import { defineConfig } from 'vite';

// The library as plain ESM in dist/lib: `index` (browser and Node), `node` (adds Dawn and folders on disk) and `cli`
// (the command line, runnable with plain `node dist/lib/cli.js` where there is no TypeScript tooling, e.g. the GPU
// machine). WGSL is inlined by the `?raw` imports; Dawn and Node built-ins stay external.
export default defineConfig({
  build: {
    outDir: 'dist/lib',
    emptyOutDir: true,
    target: 'es2022',
    minify: false,
    lib: { entry: { index: 'src/index.ts', node: 'src/node.ts', cli: 'src/cli/cli.ts' }, formats: ['es'] },
    rollupOptions: {
      external: ['webgpu', /^node:/],
      // dist/lib/cli.js is the package's bin: `npx gpt-webgpu` runs it directly, so it needs the interpreter line.
      output: { banner: (chunk) => (chunk.isEntry && chunk.name === 'cli' ? '#!/usr/bin/env node' : '') },
    },
  },
});
