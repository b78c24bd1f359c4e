// Greedy token choice on the GPU (shaders/argmax.wgsl): only R token ids travel back, not R × V logits. Each id also
// carries a flag (bit 31) telling whether its row held a NaN or ±Inf logit; decodeArgmaxIds splits the two.
import template from '../../shaders/argmax.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface ArgmaxArgs {
  logits: GPUBuffer; // (R, V)
  ids: GPUBuffer; // (R) u32: argmax | NON_FINITE_FLAG
  vocab: number; // V
}

/** Set in an id the kernel writes when its row held a NaN or ±Inf logit (the id itself is then meaningless). */
export const NON_FINITE_FLAG = 0x80000000;

export function argmax(gpu: GpuContext, label: string, a: ArgmaxArgs): KernelCall {
  const pipeline = computePipeline(gpu, 'argmax', template);
  return new KernelCall(gpu, label, pipeline, [a.logits, a.ids], (rows) => ({
    params: new Params().u32('rows', rows).u32('vocab', a.vocab),
    grid: [rows],
  }));
}

/** The kernel's raw output as token ids and, per row, whether the row's logits held a NaN or ±Inf (1) or not (0). */
export function decodeArgmaxIds(raw: Uint32Array): { ids: Uint32Array; nonFinite: Uint8Array } {
  return { ids: raw.map((v) => v & ~NON_FINITE_FLAG), nonFinite: Uint8Array.from(raw, (v) => v >>> 31) };
}
