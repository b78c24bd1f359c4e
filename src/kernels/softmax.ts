// Row softmax with a temperature per row (shaders/softmax.wgsl). The engine no longer runs it: shaders/sample.wgsl
// computes the same weights from the logits as it reads them; the tests run it as the reference chain (softmax, then
// sample.wgsl's version 1 on its output) that the fused version must match bit for bit.
import template from '../../shaders/softmax.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface SoftmaxArgs {
  logits: GPUBuffer; // (R, V)
  invTemperature: GPUBuffer; // (R) f32, 1/τ per row
  probs: GPUBuffer; // (R, V)
  vocab: number; // V
  /** false: exp((logit - max) / τ) without dividing by the sum (the input sample.wgsl needs). Default true. */
  normalize?: boolean;
}

export function softmax(gpu: GpuContext, label: string, a: SoftmaxArgs): KernelCall {
  const pipeline = computePipeline(gpu, 'softmax', template, { NORMALIZE: a.normalize !== false });
  return new KernelCall(gpu, label, pipeline, [a.logits, a.invTemperature, a.probs], (rows) => ({
    params: new Params().u32('rows', rows).u32('vocab', a.vocab),
    grid: [rows],
  }));
}
