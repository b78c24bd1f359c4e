// GELU in place (shaders/gelu.wgsl): the tanh approximation (GPT-2) or the exact erf form (GPT-NeoX).
import template from '../../shaders/gelu.wgsl?raw';
import type { Activation } from '../io/config.ts';
import type { GpuContext } from '../gpu/context.ts';
import { ceilDiv, computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface GeluArgs {
  h: GPUBuffer; // (T, F), updated in place
  features: number; // F
  activation: Activation;
}

export function gelu(gpu: GpuContext, label: string, a: GeluArgs): KernelCall {
  const pipeline = computePipeline(gpu, 'gelu', template, { TANH: a.activation === 'gelu_tanh' });
  return new KernelCall(gpu, label, pipeline, [a.h], (rows) => ({
    params: new Params().u32('rows', rows).u32('features', a.features),
    grid: [ceilDiv(a.features, 64), rows],
  }));
}
