// Stores this step's keys and values into the paged KV cache (shaders/kv_write.wgsl).
import template from '../../shaders/kv_write.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { ceilDiv, computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface KvWriteArgs {
  qkv: GPUBuffer; // (T, 3C)
  tokens: GPUBuffer; // (T) vec4<u32>
  blockTables: GPUBuffer; // (S, MAXB) u32
  kCache: GPUBuffer; // (NB · B, C)
  vCache: GPUBuffer; // (NB · B, C)
  channels: number; // C
  blockSize: number; // B
  maxBlocksPerSequence: number; // MAXB
  numBlocks: number; // NB
}

export function kvWrite(gpu: GpuContext, label: string, a: KvWriteArgs): KernelCall {
  const pipeline = computePipeline(gpu, 'kv_write', template);
  return new KernelCall(gpu, label, pipeline, [a.qkv, a.tokens, a.blockTables, a.kCache, a.vCache], (rows) => ({
    params: new Params()
      .u32('rows', rows)
      .u32('channels', a.channels)
      .u32('block_size', a.blockSize)
      .u32('max_blocks', a.maxBlocksPerSequence)
      .u32('num_slots', a.numBlocks * a.blockSize),
    grid: [ceilDiv(a.channels, 64), rows],
  }));
}
