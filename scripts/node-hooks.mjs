// Lets Node run the TypeScript sources directly (the CLI, scripts): tsx compiles .ts, and the hook below gives
// `import text from './x.wgsl?raw'` the same meaning it has under Vite (the module's default export is the file's text),
// so kernels load their WGSL the same way in the browser bundle, in Vitest and in Node.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./raw-text-loader.mjs', import.meta.url);
