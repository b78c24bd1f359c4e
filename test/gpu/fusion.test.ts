// Fused = unfused, bit for bit (issue 12 step 5): the linear layers' epilogues (GELU after mlp up, the residual add
// after the attention projection and mlp down) against the separate gelu.wgsl / add.wgsl passes they replace, at the
// kernel (GEMV and GEMM, every row count where the path changes, f32 and f16 weights, both GELU forms) and through
// whole models of both families and both residual forms, prefill and decode. Runs in Node and Chromium.
import { describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { ConfigError } from '../../src/errors.ts';
import { memoryModelFiles } from '../../src/io/modelFiles.ts';
import type { Activation } from '../../src/io/config.ts';
import { gelu } from '../../src/kernels/gelu.ts';
import { LinearCall, type LinearVariant } from '../../src/kernels/matmul.ts';
import { residualAdd } from '../../src/kernels/residualAdd.ts';
import { geluRef, linearRef } from '../reference/kernels.ts';
import { expectClose, expectSameBits, randomArray, seededRandom } from '../support/compare.ts';
import { useGpu } from '../support/gpu.ts';
import { halfPacked } from '../support/halfPacked.ts';
import { makeRandomCheckpoint, type RandomCheckpointOptions } from '../support/randomModel.ts';

const g = useGpu();

const SHAPES = [
  { m: 1, k: 768, n: 63, f16: false },
  { m: 5, k: 100, n: 768, f16: true },
  { m: 16, k: 64, n: 63, f16: false },
  { m: 17, k: 768, n: 63, f16: true },
  { m: 33, k: 100, n: 130, f16: false },
];
const VARIANTS: LinearVariant[] = ['gemv', 'gemv-1lane', 'gemm'];

/** (N, K) random weights: the values the kernels compute with, and what the GPU buffer holds (f16 packed or f32). */
function weights(k: number, n: number, f16: boolean, rand: ReturnType<typeof seededRandom>) {
  const drawn = randomArray(n * k, rand);
  const half = f16 ? halfPacked(drawn) : undefined;
  return { w: half ? half.rounded : drawn, data: half ? half.packed : drawn };
}

describe('linear layer epilogues = the separate passes, bit for bit', () => {
  describe.each(['gelu_tanh', 'gelu_erf'] as Activation[])('GELU (%s)', (activation) => {
    it.each(SHAPES)('M=$m K=$k N=$n f16=$f16', async ({ m, k, n, f16 }) => {
      const rand = seededRandom(m * 97 + k * 7 + n);
      const x = randomArray(m * k, rand, -3, 3);
      const { w, data } = weights(k, n, f16, rand);
      const bias = randomArray(n, rand);
      const args = { x: g.upload('x', x), w: g.upload('w', data), bias: g.upload('bias', bias), inFeatures: k, outFeatures: n, weightF16: f16 };
      const want = linearRef(x, w, bias, m, n, k).map((v) => geluRef(v, activation === 'gelu_tanh'));
      for (const variant of VARIANTS) {
        const yFused = g.buffer('y fused', m * n * 4);
        const yPlain = g.buffer('y plain', m * n * 4);
        const fused = new LinearCall(g.gpu, 'fused', { ...args, y: yFused, epilogue: { kind: 'gelu', activation } });
        const plain = new LinearCall(g.gpu, 'plain', { ...args, y: yPlain });
        const pass2 = gelu(g.gpu, 'gelu', { h: yPlain, features: n, activation });
        g.run((pass) => {
          fused.encode(pass, m, variant);
          plain.encode(pass, m, variant);
          pass2.encode(pass, m);
        });
        const a = await g.readF32(yFused, m * n);
        expectClose(a, want, 1e-5 * Math.sqrt(k) + 1e-5, 1e-5, `${variant} fused vs float64`);
        expectSameBits(a, await g.readF32(yPlain, m * n), `${variant}: fused vs linear + gelu`);
        for (const c of [fused, plain, pass2]) c.destroy();
      }
    });
  });

  it.each(SHAPES)('residual: M=$m K=$k N=$n f16=$f16', async ({ m, k, n, f16 }) => {
    const rand = seededRandom(m * 89 + k * 5 + n);
    const x = randomArray(m * k, rand);
    const { w, data } = weights(k, n, f16, rand);
    const bias = randomArray(n, rand);
    const stream = randomArray(m * n, rand, -4, 4);
    const args = { x: g.upload('x', x), w: g.upload('w', data), bias: g.upload('bias', bias), inFeatures: k, outFeatures: n, weightF16: f16 };
    const lin = linearRef(x, w, bias, m, n, k);
    const want = stream.map((v, i) => v + lin[i]);
    for (const variant of VARIANTS) {
      const fusedStream = g.upload('stream fused', stream);
      const plainStream = g.upload('stream plain', stream);
      const r = g.buffer('r', m * n * 4);
      const fused = new LinearCall(g.gpu, 'fused', { ...args, y: fusedStream, epilogue: { kind: 'residual' } });
      const plain = new LinearCall(g.gpu, 'plain', { ...args, y: r });
      const add = residualAdd(g.gpu, 'add', { x: plainStream, r, channels: n });
      g.run((pass) => {
        fused.encode(pass, m, variant);
        plain.encode(pass, m, variant);
        add.encode(pass, m);
      });
      const a = await g.readF32(fusedStream, m * n);
      expectClose(a, want, 1e-5 * Math.sqrt(k) + 1e-5, 1e-5, `${variant} fused vs float64`);
      expectSameBits(a, await g.readF32(plainStream, m * n), `${variant}: fused vs linear + add`);
      for (const c of [fused, plain, add]) c.destroy();
    }
  });

  it('refuses what an epilogue cannot do: the residual past one GEMV round, and the v1 kernels', () => {
    const b = g.buffer('b', 16);
    const base = { x: b, w: b, y: b, outFeatures: 1, inFeatures: 16448 };
    expect(() => new LinearCall(g.gpu, 'too wide', { ...base, epilogue: { kind: 'residual' } })).toThrow(ConfigError);
    expect(() => new LinearCall(g.gpu, 'too wide', { ...base, epilogue: { kind: 'residual' } })).toThrow(/K ≤ 16384.*residualAdd/);
    const call = new LinearCall(g.gpu, 'gelu', { ...base, inFeatures: 4, epilogue: { kind: 'gelu', activation: 'gelu_tanh' } });
    const encoder = g.gpu.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    expect(() => call.encode(pass, 1, 'gemv-v1')).toThrow(ConfigError);
    pass.end();
    encoder.finish();
    call.destroy();
  });
});

const MODELS: { name: string; model: RandomCheckpointOptions }[] = [
  { name: 'gpt2', model: { family: 'gpt2', vocabSize: 384, hidden: 64, layers: 2, heads: 4, positions: 48, dtype: 'F32', seed: 31 } },
  { name: 'neox parallel residual', model: { family: 'gpt_neox', vocabSize: 384, hidden: 64, layers: 2, heads: 4, positions: 48, dtype: 'F16', seed: 32 } },
  { name: 'neox sequential residual, erf GELU', model: { family: 'gpt_neox', vocabSize: 300, hidden: 48, layers: 2, heads: 3, positions: 48, intermediate: 136, dtype: 'F32', seed: 33, parallelResidual: false } },
];

describe.each(MODELS)('whole model ($name): fused = unfused', ({ name, model }) => {
  it('prefill logits at every position (GEMM and GEMV row counts) and the greedy continuation, bit for bit', async () => {
    const checkpoint = makeRandomCheckpoint(model);
    const rand = seededRandom(model.seed);
    const prompt = Array.from({ length: 40 }, () => Math.floor(rand(0, model.vocabSize)));
    const results = [];
    for (const fuseEpilogues of [true, false]) {
      const engine = await Engine.load(g.gpu, memoryModelFiles(name, { ...checkpoint.files }), { fuseEpilogues, maxBatchTokens: 64 });
      try {
        const before = g.gpu.counters.dispatches;
        const long = await engine.logits(prompt);
        const dispatches = g.gpu.counters.dispatches - before;
        const short = await engine.logits(prompt.slice(0, 7));
        const ids = (await engine.generate(prompt.slice(0, 5), { greedy: true, maxNewTokens: 8, stopAtEos: false }).result).ids;
        results.push({ long, short, ids, dispatches });
      } finally {
        await engine.dispose();
      }
    }
    const [fused, plain] = results;
    expectSameBits(fused.long, plain.long, 'a 40-token prompt (GEMM)');
    expectSameBits(fused.short, plain.short, 'a 7-token prompt (GEMV)');
    expect(fused.ids).toEqual(plain.ids);
    // The fused plan really is another plan: GELU and the +mlp add gone in every layer, +attn too where the residual is sequential.
    const saved = model.layers * (model.family === 'gpt2' || model.parallelResidual === false ? 3 : 2);
    expect(plain.dispatches - fused.dispatches).toBe(saved);
  });
});
