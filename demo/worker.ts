// The demo's engine worker: the library's own handler (src/worker/serve.ts), so the page drives it with the exported
// WorkerEngine exactly as any app would. Vite bundles this file because app.ts names it in `new Worker(new URL(…))`.
import { serveEngineInWorker } from '../src/index.ts';

serveEngineInWorker();
