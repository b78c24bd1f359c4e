// The linear layers' reduction contract, bit for bit (issue 12 step 2): the split-K GEMV (decode) and the tiled GEMM
// (prefill) both compute the canonical 64-k chunk order, so for every row count, width and weight format they give the
// same bits as each other and as a CPU twin of that order (test/reference/kernels.ts linearCanonicalF32, written from
// the definition, not from the shaders). Runs on every adapter (Node/Dawn and Chromium: vitest.config.ts).
// The shapes cover each M ∈ {1, 2, 3, 5, 8, 9, 16, 17, 33} (the GEMV's 16-row passes, one row past them, the GEMM's
// 32-row tile and one past), each K ∈ {64, 100, 768, 3072} (one chunk, a ragged last chunk, GPT-2's widths: 12 and 48
// lanes per column), each N ∈ {1, 63, 768, 50257} (columns per workgroup not dividing N; the vocabulary), f32 and f16,
// and K = 16401 / 16448 (more than 256 chunks: the GEMV's second round), without taking M·N·K past what the CPU twin
// does in well under a second. The kernels before the canonical order (v1) are checked on the same shapes against the
// float64 reference and against each other; the one-lane GEMV (the decode kernel on software adapters) against the
// same twin wherever it takes the shape.
// Whether the adapter's fma rounds once is probed first (a two-term dot product whose fused and unfused results
// differ); an adapter that gives neither fails the probe rather than loosening the comparison.
import { beforeAll, describe, expect, it } from 'vitest';
import { gemvOneLaneFits, LinearCall, type LinearVariant } from '../../src/kernels/matmul.ts';
import { fmaF32, linearCanonicalF32, linearRef } from '../reference/kernels.ts';
import { expectClose, expectSameBits, randomArray, seededRandom } from '../support/compare.ts';
import { useGpu } from '../support/gpu.ts';
import { halfPacked } from '../support/halfPacked.ts';

const g = useGpu();

interface Shape {
  m: number;
  k: number;
  n: number;
  f16: boolean;
  bias: boolean;
}

const SHAPES: Shape[] = [
  { m: 1, k: 3072, n: 768, f16: false, bias: true },
  { m: 2, k: 768, n: 768, f16: false, bias: true },
  { m: 3, k: 100, n: 50257, f16: false, bias: false },
  { m: 5, k: 64, n: 63, f16: false, bias: true },
  { m: 8, k: 3072, n: 63, f16: false, bias: true },
  { m: 9, k: 768, n: 1, f16: false, bias: true },
  { m: 16, k: 768, n: 768, f16: false, bias: true },
  { m: 17, k: 100, n: 768, f16: false, bias: false },
  { m: 33, k: 3072, n: 63, f16: false, bias: true },
  { m: 1, k: 64, n: 50257, f16: false, bias: true },
  { m: 1, k: 768, n: 63, f16: true, bias: true },
  { m: 2, k: 64, n: 50257, f16: true, bias: false },
  { m: 3, k: 3072, n: 768, f16: true, bias: true },
  { m: 5, k: 100, n: 768, f16: true, bias: true },
  { m: 8, k: 768, n: 768, f16: true, bias: true },
  { m: 9, k: 64, n: 63, f16: true, bias: false },
  { m: 16, k: 3072, n: 1, f16: true, bias: true },
  { m: 17, k: 768, n: 63, f16: true, bias: true },
  { m: 33, k: 100, n: 768, f16: true, bias: true },
  { m: 1, k: 100, n: 1, f16: true, bias: false },
  { m: 2, k: 16401, n: 5, f16: false, bias: true },
  { m: 17, k: 16448, n: 3, f16: true, bias: true },
  { m: 4, k: 16448, n: 2, f16: false, bias: false },
];

/** Runs one linear layer variant on the given buffers and reads its (M, N) result. */
async function runVariant(args: ConstructorParameters<typeof LinearCall>[2], shape: Shape, variant: LinearVariant): Promise<Float32Array> {
  const y = g.buffer(`y ${variant}`, shape.m * shape.n * 4);
  const call = new LinearCall(g.gpu, variant, { ...args, y });
  g.run((pass) => call.encode(pass, shape.m, variant));
  const out = await g.readF32(y, shape.m * shape.n);
  call.destroy();
  return out;
}

describe('linear layers: GEMV = GEMM = the canonical chunk order, bit for bit', () => {
  let fused = true;

  beforeAll(async () => {
    // x · w over K = 2: fma(x1, w1, fma(x0, w0, 0)) = (1 + 2⁻¹²)² − (1 + 2⁻¹¹) = 2⁻²⁴ when fused, 0 when the product
    // is rounded first (1 + 2⁻¹¹ + 2⁻²⁴ is a tie that rounds to even).
    const x = new Float32Array([-(1 + 2 ** -11), 1 + 2 ** -12]);
    const w = new Float32Array([1, 1 + 2 ** -12]);
    const y = g.buffer('probe y', 4);
    const call = new LinearCall(g.gpu, 'fma probe', { x: g.upload('probe x', x), w: g.upload('probe w', w), y, inFeatures: 2, outFeatures: 1 });
    g.run((pass) => call.encode(pass, 1, 'gemv'));
    const got = (await g.readF32(y, 1))[0];
    call.destroy();
    expect([fmaF32(x[1], w[1], fmaF32(x[0], w[0], 0, true), true), fmaF32(x[1], w[1], fmaF32(x[0], w[0], 0, false), false)], 'the probe tells the two apart').toEqual([2 ** -24, 0]);
    expect([2 ** -24, 0], `the adapter's fma gave ${got}, neither fused nor unfused`).toContain(got);
    fused = got !== 0;
  });

  it.each(SHAPES)('M=$m K=$k N=$n f16=$f16 bias=$bias', async (shape) => {
    const { m, k, n } = shape;
    const rand = seededRandom(m * 7919 + k * 31 + n + (shape.f16 ? 1 : 0));
    const x = randomArray(m * k, rand);
    const drawn = randomArray(n * k, rand);
    const half = shape.f16 ? halfPacked(drawn) : undefined;
    const w = half ? half.rounded : drawn;
    const wData = half ? half.packed : drawn;
    const bias = shape.bias ? randomArray(n, rand) : undefined;
    const args = { x: g.upload('x', x), w: g.upload('w', wData), bias: bias && g.upload('bias', bias), y: g.buffer('unused', 4), inFeatures: k, outFeatures: n, weightF16: shape.f16 };
    const canonical = linearCanonicalF32(x, w, bias, m, n, k, fused);
    const want = linearRef(x, w, bias, m, n, k);
    const tolerance = 1e-5 * Math.sqrt(k) + 1e-6;

    const gemv = await runVariant(args, shape, 'gemv');
    const gemm = await runVariant(args, shape, 'gemm');
    const auto = await runVariant(args, shape, 'auto');
    if (gemvOneLaneFits(m, k)) expectSameBits(await runVariant(args, shape, 'gemv-1lane'), canonical, 'gemv-1lane vs the canonical order (CPU)');
    expectClose(gemv, want, tolerance, 1e-5, 'gemv vs float64');
    expectSameBits(gemv, canonical, 'gemv vs the canonical order (CPU)');
    expectSameBits(gemm, canonical, 'gemm vs the canonical order (CPU)');
    expectSameBits(auto, canonical, 'auto vs the canonical order (CPU)');

    // gemv_v1's one thread per column runs ⌈M/4⌉ · (K/4) · 5 loop iterations; past 65535 llvmpipe's loop limiter
    // (gallivm's LP_MAX_TGSI_LOOP_ITERATIONS) stops the invocation's loops, so at K = 16448, M = 17 rows 8 … 16 come
    // out short. The kept variant is not fixed; the split-K GEMV, whose threads each walk one 64-k chunk, has no such
    // chain. So v1 is compared only up to K = 16384.
    if (k > 16384) return;
    const gemvV1 = await runVariant(args, shape, 'gemv-v1');
    const gemmV1 = await runVariant(args, shape, 'gemm-v1');
    expectClose(gemvV1, want, tolerance, 1e-5, 'gemv-v1 vs float64');
    expectSameBits(gemvV1, gemmV1, 'gemv-v1 vs gemm-v1');
  });
});
