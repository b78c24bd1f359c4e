// y = x · wᵀ + bias (PyTorch Linear). Two kernels with one reduction order (see shaders/matmul.wgsl): a tiled GEMM for
// prefill and a GEMV for decode. The choice is made per dispatch from the row count, and cannot change results.
import gemmTemplate from '../../shaders/matmul.wgsl?raw';
import gemvTemplate from '../../shaders/gemv.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { ceilDiv, computePipeline, type DispatchPlan, KernelCall, Params } from '../gpu/kernel.ts';

/** Row counts up to this use the GEMV kernel (decode); above it, the tiled GEMM (prefill). */
export const GEMV_MAX_ROWS = 8;

export interface LinearArgs {
  x: GPUBuffer; // (M, K)
  w: GPUBuffer; // (N, K): f32, or f16 packed two per u32 when weightF16
  bias?: GPUBuffer; // (N)
  y: GPUBuffer; // (M, N)
  inFeatures: number; // K
  outFeatures: number; // N
  weightF16?: boolean;
}

/** A linear layer call site; `encode(pass, M)` picks GEMV or GEMM for M rows. */
export class LinearCall {
  private readonly gemm: KernelCall;
  private readonly gemv: KernelCall;

  constructor(gpu: GpuContext, label: string, a: LinearArgs) {
    const defines = { HAS_BIAS: a.bias !== undefined, W_F16: a.weightF16 === true };
    const buffers = a.bias ? [a.x, a.w, a.bias, a.y] : [a.x, a.w, a.y];
    const params = (rows: number) => new Params().u32('M', rows).u32('N', a.outFeatures).u32('K', a.inFeatures);
    this.gemm = new KernelCall(gpu, `${label} (gemm)`, computePipeline(gpu, 'matmul', gemmTemplate, defines), buffers, (rows): DispatchPlan => ({
      params: params(rows),
      grid: [ceilDiv(a.outFeatures, 32), ceilDiv(rows, 32)],
    }));
    this.gemv = new KernelCall(gpu, `${label} (gemv)`, computePipeline(gpu, 'gemv', gemvTemplate, { ...defines, VEC4: a.inFeatures % 4 === 0 }), buffers, (rows): DispatchPlan => ({
      params: params(rows),
      grid: [ceilDiv(a.outFeatures, 64)],
    }));
  }

  encode(pass: GPUComputePassEncoder, rows: number, variant: 'auto' | 'gemm' | 'gemv' = 'auto'): void {
    const useGemv = variant === 'gemv' || (variant === 'auto' && rows <= GEMV_MAX_ROWS);
    (useGemv ? this.gemv : this.gemm).encode(pass, rows);
  }

  destroy(): void {
    this.gemm.destroy();
    this.gemv.destroy();
  }
}
