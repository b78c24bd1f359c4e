// Causal attention over the paged KV cache (shaders/attention.wgsl), for prefill chunks and decode tokens alike.
import template from '../../shaders/attention.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface AttentionArgs {
  qkv: GPUBuffer; // (T, 3C)
  tokens: GPUBuffer; // (T) vec4<u32>
  blockTables: GPUBuffer; // (S, MAXB) u32
  kCache: GPUBuffer; // (NB · B, C)
  vCache: GPUBuffer; // (NB · B, C)
  out: GPUBuffer; // (T, C)
  channels: number; // C
  numHeads: number; // H
  headDim: number; // D
  blockSize: number; // B
  maxBlocksPerSequence: number; // MAXB
  scale: number; // multiplies q·k
}

export function attention(gpu: GpuContext, label: string, a: AttentionArgs): KernelCall {
  const accPerThread = Math.ceil(a.headDim / 64);
  const pipeline = computePipeline(gpu, 'attention', template, { ACC_PER_THREAD: accPerThread, MAX_HEAD_DIM: 64 * accPerThread });
  return new KernelCall(gpu, label, pipeline, [a.qkv, a.tokens, a.blockTables, a.kCache, a.vCache, a.out], (rows) => ({
    params: new Params()
      .u32('rows', rows)
      .u32('channels', a.channels)
      .u32('head_dim', a.headDim)
      .u32('block_size', a.blockSize)
      .u32('max_blocks', a.maxBlocksPerSequence)
      .f32('scale', a.scale),
    grid: [a.numHeads, rows],
  }));
}
