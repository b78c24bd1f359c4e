// y = x · wᵀ + bias (PyTorch Linear). Two kernels with one reduction order, the canonical 64-k chunk order (see
// shaders/gemv.wgsl): a tiled GEMM for prefill and a split-K GEMV for decode. The choice is made per dispatch from the
// row count (and, for the GEMV, whether the adapter is a CPU: a one-lane variant in the same order), and cannot
// change results. The kernels before that order (shaders/gemv_v1.wgsl, matmul_v1.wgsl) stay
// selectable as variants 'gemv-v1' / 'gemm-v1' for tests and profiling; they agree with each other bit for bit, not
// with the current pair. An epilogue (GELU, or adding into the residual stream) can replace the separate gelu / add pass
// that follows a layer: same expression on the same value, so the same bits (test/gpu/fusion.test.ts).
import gemmTemplate from '../../shaders/matmul.wgsl?raw';
import gemvTemplate from '../../shaders/gemv.wgsl?raw';
import gemmV1Template from '../../shaders/matmul_v1.wgsl?raw';
import gemvV1Template from '../../shaders/gemv_v1.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { ceilDiv, computePipeline, type DispatchPlan, KernelCall, Params } from '../gpu/kernel.ts';
import { ConfigError } from '../errors.ts';
import type { Activation } from '../io/config.ts';
import { withGelu } from './gelu.ts';

/** Row counts up to this use the GEMV kernel (decode, up to 16 sequences); above it, the tiled GEMM (prefill). */
export const GEMV_MAX_ROWS = 16;
/** k per chunk of the canonical reduction order (shaders/gemv.wgsl CHUNK). */
export const K_CHUNK = 64;
/** Threads per GEMV workgroup (shaders/gemv.wgsl WG). */
const GEMV_THREADS = 256;

export type LinearVariant = 'auto' | 'gemm' | 'gemv' | 'gemv-1lane' | 'gemm-v1' | 'gemv-v1';

/**
 * Whether the one-lane GEMV (shaders/gemv.wgsl ONE_LANE: one thread per column walking every chunk, same bits) takes
 * M rows of K inputs: its thread runs about ⌈M/4⌉ · (K/4 with vec4 loads, else K) · 6 loop iterations (the k loop and
 * its row loop with its exit test), and llvmpipe stops a thread's loops at 65535; the bound leaves a margin.
 */
export function gemvOneLaneFits(rows: number, inFeatures: number): boolean {
  const steps = inFeatures % 4 === 0 ? inFeatures / 4 : inFeatures;
  return Math.ceil(rows / 4) * steps * 6 <= 50000;
}

/**
 * What a layer does with its biased sum s before storing it: 'gelu' stores gelu(s) (what gelu.wgsl would do next),
 * 'residual' stores y + s into y, the residual stream (what add.wgsl would do next). Not for the v1 variants.
 */
export type LinearEpilogue = { kind: 'gelu'; activation: Activation } | { kind: 'residual' };

/** Whether the residual epilogue can take K inputs: the GEMV must finish in one round (at most 256 chunks of 64). */
export function residualEpilogueFits(inFeatures: number): boolean {
  return Math.ceil(inFeatures / K_CHUNK) <= GEMV_THREADS;
}

/** The split-K GEMV's shape for K inputs: threads per column (one per 64-k chunk, at most 256) and columns per workgroup. */
export function gemvLayout(inFeatures: number): { lanes: number; columns: number } {
  const lanes = Math.min(ceilDiv(inFeatures, K_CHUNK), GEMV_THREADS);
  return { lanes, columns: Math.floor(GEMV_THREADS / lanes) };
}

/** Workgroups of one GEMV dispatch over N outputs (the same for any row count). */
export function gemvWorkgroups(inFeatures: number, outFeatures: number): number {
  return ceilDiv(outFeatures, gemvLayout(inFeatures).columns);
}

export interface LinearArgs {
  x: GPUBuffer; // (M, K)
  w: GPUBuffer; // (N, K): f32, or f16 packed two per u32 when weightF16
  bias?: GPUBuffer; // (N)
  y: GPUBuffer; // (M, N); with the residual epilogue the stream the layer adds into
  inFeatures: number; // K
  outFeatures: number; // N
  weightF16?: boolean;
  epilogue?: LinearEpilogue;
}

/** A linear layer call site; `encode(pass, M)` picks GEMV or GEMM for M rows. */
export class LinearCall {
  private readonly kernels = new Map<Exclude<LinearVariant, 'auto'>, KernelCall>();
  private readonly build: (variant: Exclude<LinearVariant, 'auto'>) => KernelCall;
  private readonly preferOneLane: boolean;
  private readonly inFeatures: number;

  constructor(gpu: GpuContext, label: string, a: LinearArgs) {
    if (!(Number.isInteger(a.inFeatures) && a.inFeatures >= 1 && Number.isInteger(a.outFeatures) && a.outFeatures >= 1)) {
      throw new ConfigError(`${label}: a linear layer needs at least one input and output feature, got K=${a.inFeatures} N=${a.outFeatures}`);
    }
    this.inFeatures = a.inFeatures;
    const epilogue = a.epilogue;
    if (epilogue?.kind === 'residual' && !residualEpilogueFits(a.inFeatures)) {
      throw new ConfigError(`${label}: the residual epilogue needs K ≤ ${K_CHUNK * GEMV_THREADS}, got ${a.inFeatures}; add the residual with residualAdd instead`);
    }
    const v1Defines = { HAS_BIAS: a.bias !== undefined, W_F16: a.weightF16 === true };
    const activation = epilogue?.kind === 'gelu' ? epilogue.activation : undefined;
    const defines = { ...v1Defines, GELU: activation !== undefined, ADD_TO_Y: epilogue?.kind === 'residual', TANH: activation === 'gelu_tanh' };
    const vec4 = { ...defines, VEC4: a.inFeatures % 4 === 0, ONE_LANE: false };
    const v1Vec4 = { ...v1Defines, VEC4: a.inFeatures % 4 === 0 };
    // The GELU epilogue calls gelu_fn.wgsl's gelu(), prepended as for gelu.wgsl.
    const withEpilogue = (shader: string) => (activation ? withGelu(shader, activation).template : shader);
    const buffers = a.bias ? [a.x, a.w, a.bias, a.y] : [a.x, a.w, a.y];
    const params = (rows: number) => new Params().u32('M', rows).u32('N', a.outFeatures).u32('K', a.inFeatures);
    const gemmGrid = (rows: number): [number, number] => [ceilDiv(a.outFeatures, 32), ceilDiv(rows, 32)];
    const layout = gemvLayout(a.inFeatures);
    this.build = (variant) => {
      const name = `${label} (${variant})`;
      if (epilogue && variant.endsWith('-v1')) throw new ConfigError(`${name}: the v1 kernels have no epilogue`);
      switch (variant) {
        case 'gemm':
          return new KernelCall(gpu, name, computePipeline(gpu, 'matmul', withEpilogue(gemmTemplate), defines), buffers, (rows): DispatchPlan => ({ params: params(rows), grid: gemmGrid(rows) }));
        case 'gemv':
          return new KernelCall(gpu, name, computePipeline(gpu, 'gemv', withEpilogue(gemvTemplate), vec4), buffers, (rows): DispatchPlan => ({
            params: params(rows).u32('lanes', layout.lanes).u32('columns', layout.columns),
            grid: [gemvWorkgroups(a.inFeatures, a.outFeatures)],
          }));
        case 'gemv-1lane':
          return new KernelCall(gpu, name, computePipeline(gpu, 'gemv', withEpilogue(gemvTemplate), { ...vec4, ONE_LANE: true }), buffers, (rows): DispatchPlan => ({
            params: params(rows).u32('lanes', 1).u32('columns', GEMV_THREADS),
            grid: [ceilDiv(a.outFeatures, GEMV_THREADS)],
          }));
        case 'gemm-v1':
          return new KernelCall(gpu, name, computePipeline(gpu, 'matmul_v1', gemmV1Template, v1Defines), buffers, (rows): DispatchPlan => ({ params: params(rows), grid: gemmGrid(rows) }));
        case 'gemv-v1':
          return new KernelCall(gpu, name, computePipeline(gpu, 'gemv_v1', gemvV1Template, v1Vec4), buffers, (rows): DispatchPlan => ({
            params: params(rows),
            grid: [ceilDiv(a.outFeatures, 64)],
          }));
      }
    };
    // On an adapter that is a CPU the decode GEMV is the one-lane variant where it fits (same bits: only the speed
    // differs; barriers and workgroup memory are what a software adapter pays most for).
    this.preferOneLane = gpu.adapter.software;
    // The kernels the engine runs are built now, so a shader or layout error surfaces at load; the others on first use.
    this.kernel('gemm');
    this.kernel('gemv');
    if (this.preferOneLane) this.kernel('gemv-1lane');
  }

  /** The kernel `auto` picks for M rows: GEMV up to GEMV_MAX_ROWS (one-lane on a software adapter where it fits), else GEMM. */
  chooseVariant(rows: number): Exclude<LinearVariant, 'auto'> {
    if (rows > GEMV_MAX_ROWS) return 'gemm';
    return this.preferOneLane && gemvOneLaneFits(rows, this.inFeatures) ? 'gemv-1lane' : 'gemv';
  }

  encode(pass: GPUComputePassEncoder, rows: number, variant: LinearVariant = 'auto'): void {
    this.kernel(variant === 'auto' ? this.chooseVariant(rows) : variant).encode(pass, rows);
  }

  private kernel(variant: Exclude<LinearVariant, 'auto'>): KernelCall {
    let call = this.kernels.get(variant);
    if (!call) {
      call = this.build(variant);
      this.kernels.set(variant, call);
    }
    return call;
  }

  destroy(): void {
    for (const call of this.kernels.values()) call.destroy();
    this.kernels.clear();
  }
}
