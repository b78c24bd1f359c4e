// The tail of a decode step's head after the LM head, on this machine's adapter, three ways, interleaved round by round
// so a loaded machine slows all three alike: greedy (argmax), the sampled chain the engine ran before (argmax, then
// softmax.wgsl without normalization, then sample.wgsl version 1 over the (R, V) probabilities) and the fused one it
// runs now (argmax, then sample.wgsl version 2, which computes the same weights from the logits). Each figure is the
// median over rounds of the wall time of `repeats` dependent copies of the tail in one pass, submit → done, divided by
// `repeats` (Node has no timestamp queries on llvmpipe), and the same for the process's CPU time (user + system: on a
// software adapter the GPU is this process's threads, and CPU time moves less than wall time when other jobs load
// the machine).
// Run: node --import ./scripts/node-hooks.mjs scripts/sample-fusion-bench.ts [rows=1,4] [rounds=15] [repeats=10] [top-k=40] [top-p=1]
// (temperature 0.8, as the PERF.md runs of bench --temperature 0.8 --top-k 40)
import { createStorageBuffer, writeChunked } from '../src/gpu/buffers.ts';
import { createNodeGpuContext } from '../src/gpu/node.ts';
import type { KernelCall } from '../src/gpu/kernel.ts';
import { argmax } from '../src/kernels/argmax.ts';
import { packSampleSettings, sample } from '../src/kernels/sample.ts';
import { softmax } from '../src/kernels/softmax.ts';

const V = 50257; // GPT-2's vocabulary
const [rowsArg = '1,4', roundsArg = '15', repeatsArg = '10', topKArg = '40', topPArg = '1'] = process.argv.slice(2);
const gpu = await createNodeGpuContext({ onNotice: () => {} });
const device = gpu.device;

/** GPT-like logits: a spread around -30 and 1% of them a few units higher (the shape of the demo model's rows). */
function logits(count: number): Float32Array<ArrayBuffer> {
  let s = 12345;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  return Float32Array.from({ length: count }, () => rand() * 8 - 34 + (rand() < 0.01 ? 4 + rand() * 6 : 0));
}

console.log(`adapter ${gpu.adapter.device || gpu.adapter.description}; V ${V}; top-k ${topKArg}, top-p ${topPArg}; load ${(await import('node:os')).loadavg().map((l) => l.toFixed(2)).join(' ')}`);
for (const R of rowsArg.split(',').map(Number)) {
  const upload = (label: string, data: Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>) => {
    const b = createStorageBuffer(gpu, label, data.byteLength);
    writeChunked(gpu, b, 0, data);
    return b;
  };
  const logitsBuf = upload('logits', logits(R * V)); // (R, V)
  const invT = upload('inv t', new Float32Array(R).fill(1 / 0.8)); // (R)
  const settings = upload('settings', packSampleSettings(Array.from({ length: R }, (_, i) => ({ active: true, topK: Number(topKArg), topP: Number(topPArg), seed: 7, tokenIndex: i })))); // (R, 5)
  const ids = createStorageBuffer(gpu, 'ids', R * 4); // (R)
  const probs = createStorageBuffer(gpu, 'probs', R * V * 4); // (R, V)
  const drawn = createStorageBuffer(gpu, 'drawn', R * 4); // (R)
  const argmaxCall = argmax(gpu, 'argmax', { logits: logitsBuf, ids, vocab: V });
  const variants: Record<string, KernelCall[]> = {
    greedy: [argmaxCall],
    chain: [argmaxCall, softmax(gpu, 'softmax', { logits: logitsBuf, invTemperature: invT, probs, vocab: V, normalize: false }), sample(gpu, 'sample v1', { probs, settings, drawn, vocab: V })],
    fused: [argmaxCall, sample(gpu, 'sample v2', { fromLogits: { logits: logitsBuf, argmaxIds: ids, invTemperature: invT }, settings, drawn, vocab: V })],
  };
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const repeats = Number(repeatsArg);
  for (let round = -1; round < Number(roundsArg); round++) {
    for (const [name, calls] of Object.entries(variants)) {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      for (let n = 0; n < repeats; n++) for (const c of calls) c.encode(pass, R);
      pass.end();
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      const c = process.cpuUsage(c0);
      if (round >= 0) {
        // round -1 warms the pipelines up
        times[name].push((performance.now() - t0) / repeats);
        cpu[name].push((c.user + c.system) / 1000 / repeats);
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [what, table] of [['wall', times], ['CPU', cpu]] as const) {
    const m = Object.fromEntries(Object.entries(table).map(([k, xs]) => [k, median(xs)]));
    console.log(`R ${R}, ${what} ms per step tail (median of ${roundsArg} rounds × ${repeats} repeats): greedy ${m.greedy.toFixed(3)}, chain ${m.chain.toFixed(3)}, fused ${m.fused.toFixed(3)}; sampling's extra: chain ${(m.chain - m.greedy).toFixed(3)}, fused ${(m.fused - m.greedy).toFixed(3)}`);
  }
  for (const b of [logitsBuf, invT, settings, ids, probs, drawn]) b.destroy();
}
gpu.destroy();
