import { loadEngine } from '../src/node.ts';
const e = await loadEngine({ onNotice: () => {} }) as any;
const blocks = e.kv.allocator.allocate(2);
const step = (rows: number[]) => ({ tokens: [{ id: 100, position: 3, sequence: 0 }], blockTables: [blocks], logitRows: rows });
for (const [name, rows] of [['layers only', []], ['with head', [0]]] as const) {
  await e.plan.run(step([...rows]), { kind: 'argmax' });
  const t0 = performance.now();
  for (let i = 0; i < 10; i++) await e.plan.run(step([...rows]), { kind: 'argmax' });
  console.log(name, ((performance.now() - t0) / 10).toFixed(1), 'ms');
}
process.exit(0);
