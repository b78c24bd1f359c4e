// Greedy token choice on the GPU (shaders/argmax.wgsl): only R token ids travel back, not R × V logits.
import template from '../../shaders/argmax.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface ArgmaxArgs {
  logits: GPUBuffer; // (R, V)
  ids: GPUBuffer; // (R) u32
  vocab: number; // V
}

export function argmax(gpu: GpuContext, label: string, a: ArgmaxArgs): KernelCall {
  const pipeline = computePipeline(gpu, 'argmax', template);
  return new KernelCall(gpu, label, pipeline, [a.logits, a.ids], (rows) => ({
    params: new Params().u32(rows).u32(a.vocab),
    grid: [rows],
  }));
}
