// Repetition penalty on the logits, in place (shaders/repetition_penalty.wgsl).
import template from '../../shaders/repetition_penalty.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface RepetitionPenaltyArgs {
  logits: GPUBuffer; // (R, V), updated in place
  history: GPUBuffer; // (H) u32: each row's distinct earlier token ids, back to back
  offsets: GPUBuffer; // (R + 1) u32
  penalty: GPUBuffer; // (R) f32
  vocab: number; // V
}

export function repetitionPenalty(gpu: GpuContext, label: string, a: RepetitionPenaltyArgs): KernelCall {
  const pipeline = computePipeline(gpu, 'repetition_penalty', template);
  return new KernelCall(gpu, label, pipeline, [a.logits, a.history, a.offsets, a.penalty], (rows) => ({
    params: new Params().u32('rows', rows).u32('vocab', a.vocab),
    grid: [rows],
  }));
}
