// Causal attention over the paged KV cache, for prefill chunks and decode tokens alike (shaders/attention.wgsl: one
// canonical 64-key-tile order shared by its variants, so a row's bits never depend on which one runs).
// Per dispatch the row count picks the kernel: up to `decodeMaxRows` rows the split-K decode path (tile partials, one
// workgroup per (head, tile, row), then a merge pass: 2 dispatches), above it the prefill kernel (a workgroup per block
// of query rows of one head, K/V tiles staged once for the block: 1 dispatch). shaders/attention_v1.wgsl, the kernel
// before the canonical order, stays selectable for tests and profiling.
import template from '../../shaders/attention.wgsl?raw';
import templateV1 from '../../shaders/attention_v1.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { ceilDiv, computePipeline, KernelCall, Params } from '../gpu/kernel.ts';
import { ConfigError, InvalidRequestError } from '../errors.ts';

/** Keys per tile of the canonical order (shaders/attention.wgsl TILE). */
export const ATTENTION_TILE = 64;
/** Most rows the decode path takes when the scratch allows it; more rows go to the prefill kernel. */
export const ATTENTION_DECODE_MAX_ROWS = 16;

export type AttentionVariant = 'auto' | 'decode' | 'prefill' | 'v1';

export interface AttentionArgs {
  qkv: GPUBuffer; // (T, 3C)
  tokens: GPUBuffer; // (T) vec4<u32>
  blockTables: GPUBuffer; // (S, MAXB) u32
  kCache: GPUBuffer; // (NB · B, C)
  vCache: GPUBuffer; // (NB · B, C)
  out: GPUBuffer; // (T, C)
  /** (R, H, TILES, D + 2) f32 tile partials of the decode path, R = decodeMaxRows; see attentionScratchBytes. */
  partials: GPUBuffer;
  channels: number; // C
  numHeads: number; // H
  headDim: number; // D
  blockSize: number; // B
  maxBlocksPerSequence: number; // MAXB
  scale: number; // multiplies q·k
  /** Most positions a sequence has (the model's context length): TILES = ceil(positions / 64). */
  maxPositions: number;
  /** R: rows of `partials`, the most rows the decode path takes. */
  decodeMaxRows: number;
}

/** Bytes of the decode path's partials for `rows` rows: (rows, H, ceil(positions / 64), D + 2) f32. */
export function attentionScratchBytes(rows: number, numHeads: number, headDim: number, maxPositions: number): number {
  return rows * numHeads * ceilDiv(maxPositions, ATTENTION_TILE) * (headDim + 2) * 4;
}

/** Rows the decode path can take with a scratch buffer of at most `maxBytes` (≥ 1; ≤ ATTENTION_DECODE_MAX_ROWS). */
export function attentionDecodeRows(maxBytes: number, numHeads: number, headDim: number, maxPositions: number): number {
  const perRow = attentionScratchBytes(1, numHeads, headDim, maxPositions);
  return Math.max(1, Math.min(ATTENTION_DECODE_MAX_ROWS, Math.floor(maxBytes / perRow)));
}

/** One attention call site: its decode (partials + merge), prefill and v1 kernels on the same buffers. */
export class AttentionCall {
  /** The kernels, by variant; tests and test/unit/kernelParams.test.ts reach each one alone. */
  readonly parts: { partials: KernelCall; merge: KernelCall; prefill: KernelCall; v1: KernelCall };
  private readonly decodeMaxRows: number;

  constructor(gpu: GpuContext, label: string, a: AttentionArgs) {
    if (!(a.headDim >= 1 && a.headDim <= 256)) throw new ConfigError(`attention supports head sizes 1 … 256, the model has ${a.headDim}`);
    const acc = Math.ceil(a.headDim / 64);
    const tiles = ceilDiv(a.maxPositions, ATTENTION_TILE);
    this.decodeMaxRows = a.decodeMaxRows;
    // Workgroup memory stays under WebGPU's 16 KiB default: QB query rows and KC staged keys of 64 · ACC dims each.
    const block = Math.floor(16 / acc);
    const defines = (v: 'partials' | 'merge' | 'prefill') => ({
      ACC_PER_THREAD: acc,
      MAX_HEAD_DIM: 64 * acc,
      QUERY_BLOCK: v === 'prefill' ? block : 1,
      KEY_CHUNK: block,
      PARTIALS: v === 'partials',
      MERGE: v === 'merge',
    });
    const params = (rows: number) =>
      new Params()
        .u32('rows', rows)
        .u32('channels', a.channels)
        .u32('head_dim', a.headDim)
        .u32('block_size', a.blockSize)
        .u32('max_blocks', a.maxBlocksPerSequence)
        .f32('scale', a.scale)
        .u32('max_tiles', tiles);
    const paged = [a.qkv, a.tokens, a.blockTables, a.kCache, a.vCache];
    this.parts = {
      partials: new KernelCall(gpu, `${label} (decode)`, computePipeline(gpu, 'attention', template, defines('partials')), [...paged, a.partials], (rows) => ({
        params: params(rows),
        grid: [a.numHeads, tiles, rows],
      })),
      merge: new KernelCall(gpu, `${label} (merge)`, computePipeline(gpu, 'attention', template, defines('merge')), [a.tokens, a.partials, a.out], (rows) => ({
        params: params(rows),
        grid: [a.numHeads, rows],
      })),
      prefill: new KernelCall(gpu, `${label} (prefill)`, computePipeline(gpu, 'attention', template, defines('prefill')), [...paged, a.out], (rows) => ({
        params: params(rows),
        grid: [a.numHeads, ceilDiv(rows, block)],
      })),
      v1: new KernelCall(gpu, `${label} (v1)`, computePipeline(gpu, 'attention_v1', templateV1, { ACC_PER_THREAD: acc, MAX_HEAD_DIM: 64 * acc }), [...paged, a.out], (rows) => ({
        params: new Params()
          .u32('rows', rows)
          .u32('channels', a.channels)
          .u32('head_dim', a.headDim)
          .u32('block_size', a.blockSize)
          .u32('max_blocks', a.maxBlocksPerSequence)
          .f32('scale', a.scale),
        grid: [a.numHeads, rows],
      })),
    };
  }

  /** Encodes attention for `rows` rows; every variant but v1 gives the same bits. */
  encode(pass: GPUComputePassEncoder, rows: number, variant: AttentionVariant = 'auto'): void {
    const kernel = variant === 'auto' ? (rows <= this.decodeMaxRows ? 'decode' : 'prefill') : variant;
    if (kernel === 'decode') {
      if (rows > this.decodeMaxRows) throw new InvalidRequestError(`attention: the decode path holds ${this.decodeMaxRows} rows, got ${rows}`);
      this.parts.partials.encode(pass, rows);
      this.parts.merge.encode(pass, rows);
    } else {
      this.parts[kernel].encode(pass, rows);
    }
  }

  destroy(): void {
    for (const call of Object.values(this.parts)) call.destroy();
  }
}

export function attention(gpu: GpuContext, label: string, a: AttentionArgs): AttentionCall {
  return new AttentionCall(gpu, label, a);
}
