// LayerNorm over channels (shaders/layernorm.wgsl): one workgroup per row.
import template from '../../shaders/layernorm.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface LayerNormArgs {
  x: GPUBuffer; // (T, C)
  gamma: GPUBuffer; // (C)
  beta: GPUBuffer; // (C)
  y: GPUBuffer; // (T, C)
  channels: number; // C
  eps: number;
}

export function layerNorm(gpu: GpuContext, label: string, a: LayerNormArgs): KernelCall {
  const pipeline = computePipeline(gpu, 'layernorm', template);
  return new KernelCall(gpu, label, pipeline, [a.x, a.gamma, a.beta, a.y], (rows) => ({
    params: new Params().u32('rows', rows).u32('channels', a.channels).f32('eps', a.eps),
    grid: [rows],
  }));
}
