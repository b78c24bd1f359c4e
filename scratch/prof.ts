import { loadEngine } from '../src/node.ts';
const e = await loadEngine({ onNotice: () => {} });
const t0 = performance.now();
const s = e.generate('ROMEO:', { greedy: true, maxNewTokens: 20 });
const r = await s.result;
console.log('ttft', r.metrics.ttftMs.toFixed(1), 'itl', (r.metrics.itlMs.reduce((a, b) => a + b) / r.metrics.itlMs.length).toFixed(1), performance.now() - t0);
process.exit(0);
