// Causal attention over the paged KV cache, for prefill chunks and decode tokens alike (shaders/attention.wgsl: one
// canonical 64-key-tile order shared by its variants, so a row's bits never depend on which one runs).
// Per dispatch the row count picks the kernel: up to `decodeMaxRows` rows the split-K decode path (tile partials, one
// workgroup per (head, tile, row), then a merge pass: 2 dispatches), above it the prefill kernel (a workgroup per block
// of query rows of one head, K/V tiles staged once for the block: 1 dispatch). shaders/attention_v1.wgsl, the kernel
// before the canonical order, stays selectable for tests and profiling.
// The decode grid is sized by the step's largest position (`encode`'s maxPosition): ceil((maxPosition + 1) / 64) tiles
// per row instead of the whole context's, so a short context launches few workgroups; the partials keep the whole
// context's stride (max_tiles), and the bits are the same whatever the grid (each tile is computed the same way; a grid
// too small for some row has its workgroups loop over the row's further tiles, so a wrong maxPosition is never a wrong
// answer, and the host refuses it anyway where it knows the rows' positions).
import template from '../../shaders/attention.wgsl?raw';
import templateV1 from '../../shaders/attention_v1.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { ceilDiv, computePipeline, KernelCall, Params } from '../gpu/kernel.ts';
import { describeValue } from '../requestTypes.ts';
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
  /**
   * (≥ T, 4) u32: the host copy of `tokens` as last uploaded (id, position, sequence, unused). Where given, `encode`
   * checks a maxPosition against the rows' real positions, so one below them is a typed error before the GPU sees it.
   */
  hostTokens?: Uint32Array;
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
  private readonly maxPositions: number;
  private readonly hostTokens: Uint32Array | undefined;

  constructor(gpu: GpuContext, label: string, a: AttentionArgs) {
    if (!(a.headDim >= 1 && a.headDim <= 256)) throw new ConfigError(`attention supports head sizes 1 … 256, the model has ${a.headDim}`);
    const acc = Math.ceil(a.headDim / 64);
    const tiles = ceilDiv(a.maxPositions, ATTENTION_TILE);
    this.decodeMaxRows = a.decodeMaxRows;
    this.maxPositions = a.maxPositions;
    this.hostTokens = a.hostTokens;
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
      // extent = the tiles that exist for some row (from the step's largest position; the params keep the full stride).
      // Keyed on the tile count, not the position, so a decode step re-plans only when its context crosses a tile.
      partials: new KernelCall(gpu, `${label} (decode)`, computePipeline(gpu, 'attention', template, defines('partials')), [...paged, a.partials], (rows, extent) => ({
        params: params(rows),
        grid: [a.numHeads, extent ?? tiles, rows],
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

  /**
   * Encodes attention for `rows` rows; every variant but v1 gives the same bits. `maxPosition`: the largest position
   * among the rows (omitted: the whole context), which sizes the decode grid; below a row's position (where the host
   * tokens are known), at or past the context, or not an integer, it is an InvalidRequestError.
   */
  encode(pass: GPUComputePassEncoder, rows: number, variant: AttentionVariant = 'auto', maxPosition?: number): void {
    if (maxPosition !== undefined) this.checkMaxPosition(rows, maxPosition);
    const kernel = variant === 'auto' ? (rows <= this.decodeMaxRows ? 'decode' : 'prefill') : variant;
    if (kernel === 'decode') {
      if (rows > this.decodeMaxRows) throw new InvalidRequestError(`attention: the decode path holds ${this.decodeMaxRows} rows, got ${rows}`);
      this.parts.partials.encode(pass, rows, maxPosition === undefined ? undefined : ceilDiv(maxPosition + 1, ATTENTION_TILE));
      this.parts.merge.encode(pass, rows);
    } else {
      this.parts[kernel].encode(pass, rows);
    }
  }

  private checkMaxPosition(rows: number, maxPosition: number): void {
    if (!Number.isInteger(maxPosition) || maxPosition < 0 || maxPosition >= this.maxPositions) {
      throw new InvalidRequestError(`attention: maxPosition must be an integer position 0 … ${this.maxPositions - 1}, got ${describeValue(maxPosition)}`);
    }
    const tokens = this.hostTokens;
    if (!tokens) return;
    if (tokens.length < rows * 4) throw new Error(`attention: the host tokens hold ${tokens.length / 4} rows, the call has ${rows}`);
    for (let t = 0; t < rows; t++) {
      const position = tokens[t * 4 + 1];
      if (position > maxPosition) throw new InvalidRequestError(`attention: maxPosition ${maxPosition} is below row ${t}'s position ${position}`);
    }
  }

  destroy(): void {
    for (const call of Object.values(this.parts)) call.destroy();
  }
}

export function attention(gpu: GpuContext, label: string, a: AttentionArgs): AttentionCall {
  return new AttentionCall(gpu, label, a);
}
