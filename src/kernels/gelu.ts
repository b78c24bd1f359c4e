// GELU in place (shaders/gelu.wgsl): the tanh approximation (GPT-2) or the exact erf form (GPT-NeoX). The function
// itself is shaders/gelu_fn.wgsl, which `withGelu` prepends to any shader that applies it (the linear layers'
// epilogue too), so the fused and unfused paths compile one text.
import template from '../../shaders/gelu.wgsl?raw';
import geluFunction from '../../shaders/gelu_fn.wgsl?raw';
import type { Activation } from '../io/config.ts';
import type { GpuContext } from '../gpu/context.ts';
import { ceilDiv, computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface GeluArgs {
  h: GPUBuffer; // (T, F), updated in place
  features: number; // F
  activation: Activation;
}

/** `shader` with `fn gelu(v: f32) -> f32` in front of it, and the TANH define its variant needs. */
export function withGelu(shader: string, activation: Activation): { template: string; defines: { TANH: boolean } } {
  return { template: `${geluFunction}\n${shader}`, defines: { TANH: activation === 'gelu_tanh' } };
}

export function gelu(gpu: GpuContext, label: string, a: GeluArgs): KernelCall {
  const { template: code, defines } = withGelu(template, a.activation);
  const pipeline = computePipeline(gpu, 'gelu', code, defines);
  return new KernelCall(gpu, label, pipeline, [a.h], (rows) => ({
    params: new Params().u32('rows', rows).u32('features', a.features),
    grid: [ceilDiv(a.features, 64), rows],
  }));
}
