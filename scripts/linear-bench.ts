// The linear layers' decode kernels on this machine's adapter: the split-K GEMV, its one-lane form (same order, one
// thread per column: what software adapters run) and the one-thread-per-column GEMV they replaced (gemv-v1), interleaved round by round so a loaded machine slows both alike. Each figure is the median over
// rounds of `repeats` copies of one call in one pass, submit → done, divided by `repeats`, in wall ms and in the
// process's CPU ms (on a software adapter the GPU is this process's threads; CPU time moves less under load).
// Shapes: the demo model's (C 128, f16) and GPT-2 124M's (C 768, f32) qkv, mlp up, mlp down and LM head.
// Run: node --import ./scripts/node-hooks.mjs scripts/linear-bench.ts [rows=1,16] [rounds=7] [repeats=5]
import { createStorageBuffer } from '../src/gpu/buffers.ts';
import { createNodeGpuContext } from '../src/gpu/node.ts';
import { LinearCall, type LinearVariant } from '../src/kernels/matmul.ts';

const [rowsArg = '1,16', roundsArg = '7', repeatsArg = '5'] = process.argv.slice(2);
const SHAPES = [
  { name: 'demo qkv', k: 128, n: 384, f16: true },
  { name: 'demo mlp up', k: 128, n: 512, f16: true },
  { name: 'demo mlp down', k: 512, n: 128, f16: true },
  { name: 'demo lm head', k: 128, n: 50257, f16: true },
  { name: '124M qkv', k: 768, n: 2304, f16: false },
  { name: '124M mlp down', k: 3072, n: 768, f16: false },
  { name: '124M lm head', k: 768, n: 50257, f16: true }, // f16: the f32 matrix is over llvmpipe's 128 MiB binding
];
const VARIANTS: LinearVariant[] = ['gemv', 'gemv-1lane', 'gemv-v1'];
const gpu = await createNodeGpuContext({ onNotice: () => {} });
const device = gpu.device;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`adapter ${gpu.adapter.device || gpu.adapter.description}; load ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const M of rowsArg.split(',').map(Number)) {
  for (const s of SHAPES) {
    // Contents do not matter for the time: zero-filled buffers.
    const x = createStorageBuffer(gpu, 'x', M * s.k * 4); // (M, K)
    const w = createStorageBuffer(gpu, 'w', s.n * s.k * (s.f16 ? 2 : 4)); // (N, K)
    const y = createStorageBuffer(gpu, 'y', M * s.n * 4); // (M, N)
    const call = new LinearCall(gpu, s.name, { x, w, y, inFeatures: s.k, outFeatures: s.n, weightF16: s.f16 });
    const wall: Record<string, number[]> = Object.fromEntries(VARIANTS.map((v) => [v, []]));
    const cpu: Record<string, number[]> = Object.fromEntries(VARIANTS.map((v) => [v, []]));
    for (let round = -1; round < Number(roundsArg); round++) {
      for (const v of VARIANTS) {
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        for (let r = 0; r < Number(repeatsArg); r++) call.encode(pass, M, v);
        pass.end();
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
        const c = process.cpuUsage(c0);
        if (round < 0) continue; // warm-up
        wall[v].push((performance.now() - t0) / Number(repeatsArg));
        cpu[v].push((c.user + c.system) / 1000 / Number(repeatsArg));
      }
    }
    const f = (t: Record<string, number[]>) => `split-K ${median(t.gemv).toFixed(3)}, one-lane ${median(t['gemv-1lane']).toFixed(3)}, v1 ${median(t['gemv-v1']).toFixed(3)}`;
    console.log(`M ${M}, ${s.name} (K ${s.k}, N ${s.n}${s.f16 ? ', f16' : ''}): wall ms ${f(wall)}; CPU ms ${f(cpu)}`);
    call.destroy();
    for (const b of [x, w, y]) b.destroy();
  }
}
gpu.destroy();
