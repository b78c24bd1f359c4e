// Token (+ learned position) embedding lookup (shaders/embedding.wgsl).
import template from '../../shaders/embedding.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { ceilDiv, computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface EmbeddingArgs {
  tokens: GPUBuffer; // (T) vec4<u32>: id, position, sequence, unused
  wte: GPUBuffer; // (V, C)
  wpe?: GPUBuffer; // (P, C), GPT-2 only
  x: GPUBuffer; // (T, C)
  channels: number; // C
  vocab: number; // V
  positions: number; // P (rows of wpe; 1 when there is none)
  /** The tables hold f16 packed two per u32. */
  tablesF16?: boolean;
}

export function embedding(gpu: GpuContext, label: string, a: EmbeddingArgs): KernelCall {
  const pipeline = computePipeline(gpu, 'embedding', template, { LEARNED_POSITIONS: a.wpe !== undefined, W_F16: a.tablesF16 === true });
  const buffers = a.wpe ? [a.tokens, a.wte, a.wpe, a.x] : [a.tokens, a.wte, a.x];
  return new KernelCall(gpu, label, pipeline, buffers, (rows) => ({
    params: new Params().u32('rows', rows).u32('channels', a.channels).u32('vocab', a.vocab).u32('positions', a.positions),
    grid: [ceilDiv(a.channels, 64), rows],
  }));
}
