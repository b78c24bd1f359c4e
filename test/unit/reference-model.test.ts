// The CPU float64 reference model (test/reference/cpuModel.ts) is the oracle for engine tests on random models. It earns
// that role here: it reproduces the Hugging Face transformers float64 golden fixtures (logits and greedy ids), it gives
// identical answers for every stored layout of the same weights, and it runs on the random checkpoints the engine tests
// build (test/support/randomModel.ts).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodeFloats } from '../../src/io/dtype.ts';
import type { FloatDtype } from '../../src/io/dtype.ts';
import { serializeSafetensors } from '../../src/io/safetensorsWriter.ts';
import type { TensorToWrite } from '../../src/io/safetensorsWriter.ts';
import { ReferenceModel, erf, erfc, geluErf, geluTanh, referenceGreedy, referenceLogits, top1 } from '../reference/cpuModel.ts';
import type { RawConfig, RawTensor } from '../reference/cpuModel.ts';
import { loadCheckpointFiles, loadCheckpointTensors } from '../support/checkpoint.ts';
import type { CheckpointTensors } from '../support/checkpoint.ts';
import { makeRandomCheckpoint, mulberry32 } from '../support/randomModel.ts';
import type { RandomCheckpointOptions } from '../support/randomModel.ts';

const fixturesDir = (name: string) => fileURLToPath(new URL(`../fixtures/${name}/`, import.meta.url));

interface Expected {
  prompt_ids: number[];
  logits_file: string;
  logits_shape: [number, number];
  greedy_ids: number[];
  greedy_top1_margin: number[];
}

async function loadFixture(name: string) {
  const dir = fixturesDir(name);
  const checkpoint = await loadCheckpointTensors(dir);
  const expected = JSON.parse(await readFile(`${dir}expected.json`, 'utf8')) as Expected;
  const raw = await readFile(`${dir}${expected.logits_file}`);
  const logits = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return { ...checkpoint, expected, logits };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Greedy ids must match, except that a step whose reference top-1 margin is below 1e-3 may pick the other token
 *  (after which the continuations legitimately differ). Returns how many ids matched. */
function expectGreedyMatch(actual: number[], expectedIds: number[], margins: number[]): number {
  expect(actual.length).toBe(expectedIds.length);
  for (let i = 0; i < expectedIds.length; i++) {
    if (actual[i] !== expectedIds[i]) {
      expect(margins[i], `greedy id ${i}: got ${actual[i]}, expected ${expectedIds[i]} (margin ${margins[i]})`).toBeLessThan(1e-3);
      return i;
    }
  }
  return expectedIds.length;
}

/** Rewrites a checkpoint's tensors as a safetensors file (names mapped, extra tensors appended) and loads it back. */
async function roundTrip(
  source: CheckpointTensors,
  opts: { dtype?: FloatDtype; rename?: (name: string) => string; extra?: TensorToWrite[]; config?: RawConfig } = {},
): Promise<CheckpointTensors> {
  const dtype = opts.dtype ?? 'F32';
  const tensors: TensorToWrite[] = [...source.tensors].map(([name, t]) => ({
    name: opts.rename ? opts.rename(name) : name,
    dtype,
    shape: t.shape,
    data: encodeFloats(dtype, t.data),
  }));
  tensors.push(...(opts.extra ?? []));
  return loadCheckpointFiles({
    'config.json': JSON.stringify(opts.config ?? source.config),
    'model.safetensors': serializeSafetensors(tensors),
  });
}

/** Round-to-nearest-even of a float32 value to bfloat16, by its own arithmetic (not the project's encoder/decoder). */
function roundToBf16(x: number): number {
  const f = Math.fround(x);
  if (f === 0 || !Number.isFinite(f)) return f;
  const exponent = Math.floor(Math.log2(Math.abs(f)));
  const ulp = 2 ** (exponent - 7); // bf16 keeps 8 significant bits (normal range)
  const q = f / ulp;
  const floor = Math.floor(q);
  const rem = q - floor;
  const rounded = rem > 0.5 || (rem === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
  return rounded * ulp;
}

describe('erf and GELU in float64', () => {
  // Values from CPython's math.erf / math.erfc (correctly rounded to within an ulp).
  const cases: [number, number, number][] = [
    [-3, -0.9999779095030014, 1.9999779095030015],
    [-1, -0.8427007929497149, 1.842700792949715],
    [-0.5, -0.5204998778130465, 1.5204998778130465],
    [0, 0, 1],
    [0.1, 0.1124629160182849, 0.8875370839817152],
    [0.5, 0.5204998778130465, 0.4795001221869535],
    [1, 0.8427007929497149, 0.15729920705028513],
    [2, 0.9953222650189527, 0.004677734981047265],
    [3.5, 0.9999992569016276, 7.430983723414128e-7],
    [5, 0.9999999999984626, 1.5374597944280351e-12],
  ];
  it.each(cases)('erf(%d), erfc(%d) to ~1e-15', (x, e, c) => {
    expect(Math.abs(erf(x) - e)).toBeLessThan(2e-15);
    expect(Math.abs(erfc(x) - c)).toBeLessThan(4e-15 * Math.max(c, 1e-300) + 1e-300);
  });
  it('exact GELU matches x·Φ(x) and the tanh form is the approximation', () => {
    const gelu: [number, number][] = [
      [-6, -5.919525870226207e-9],
      [-2, -0.04550026389635844],
      [-0.3, -0.1146265733433142],
      [0.7, 0.5306254434438489],
      [4, 3.9998733150326675],
    ];
    for (const [x, y] of gelu) expect(Math.abs(geluErf(x) - y)).toBeLessThan(1e-15 * Math.max(1, Math.abs(y)));
    expect(Math.abs(geluTanh(1) - 0.8411919906082768)).toBeLessThan(1e-15);
    expect(Math.abs(geluTanh(1) - geluErf(1))).toBeGreaterThan(1e-5);
  });
});

describe('reference model against the Hugging Face golden fixtures', () => {
  it.each(['gpt2-tiny', 'gpt2-tiny-f16', 'neox-tiny'])('%s: logits within 1e-5 and greedy ids equal', async (name) => {
    const { config, tensors, expected, logits } = await loadFixture(name);
    const [P, V] = expected.logits_shape;
    expect(expected.prompt_ids.length).toBe(P);

    const ours = referenceLogits(config, tensors, expected.prompt_ids);
    expect(ours.length).toBe(P * V);
    const err = maxAbsDiff(ours, logits);
    let scale = 0;
    for (const v of logits) scale = Math.max(scale, Math.abs(v));

    const model = new ReferenceModel(config, tensors);
    const greedy = model.greedy(expected.prompt_ids, expected.greedy_ids.length);
    const matched = expectGreedyMatch(greedy.ids, expected.greedy_ids, expected.greedy_top1_margin);
    const marginErr = maxAbsDiff(greedy.margins.slice(0, matched), expected.greedy_top1_margin.slice(0, matched));
    console.log(
      `[reference-model] ${name}: max |logit - HF| = ${err.toExponential(2)} (max |logit| ${scale.toFixed(2)}), ` +
        `greedy ${matched}/${expected.greedy_ids.length} ids equal, max |margin - HF| = ${marginErr.toExponential(2)}`,
    );
    expect(err).toBeLessThanOrEqual(1e-5);
    expect(matched).toBe(expected.greedy_ids.length); // every fixture margin is > 2e-3: no divergence is legitimate
    expect(marginErr).toBeLessThanOrEqual(1e-5);
    expect(referenceGreedy(config, tensors, expected.prompt_ids, 5)).toEqual(expected.greedy_ids.slice(0, 5));
  });
});

describe('reference model is invariant to the checkpoint layout', () => {
  const prompt = [8028, 6518, 33046, 28031, 10040, 6778, 50256, 0, 11];

  it('GPT-2: without the transformer. prefix, with attn.bias / attn.masked_bias buffers, with a stored tied lm_head', async () => {
    const base = await loadCheckpointTensors(fixturesDir('gpt2-tiny'));
    const expectedLogits = referenceLogits(base.config, base.tensors, prompt);
    const nPos = base.config.n_positions as number;
    const mask = new Float64Array(nPos * nPos);
    for (let r = 0; r < nPos; r++) for (let c = 0; c <= r; c++) mask[r * nPos + c] = 1;
    const buffers = (prefix: string): TensorToWrite[] =>
      [0, 1].flatMap((l) => [
        { name: `${prefix}h.${l}.attn.bias`, dtype: 'F32' as const, shape: [1, 1, nPos, nPos], data: encodeFloats('F32', mask) },
        { name: `${prefix}h.${l}.attn.masked_bias`, dtype: 'F32' as const, shape: [], data: encodeFloats('F32', [-1e4]) },
      ]);
    const strip = (n: string) => n.replace(/^transformer\./, '');

    const bare = await roundTrip(base, { rename: strip });
    expect([...bare.tensors.keys()].some((n) => n.startsWith('transformer.'))).toBe(false);
    expect(referenceLogits(bare.config, bare.tensors, prompt)).toEqual(expectedLogits);

    const bareWithBuffers = await roundTrip(base, { rename: strip, extra: buffers('') });
    expect(referenceLogits(bareWithBuffers.config, bareWithBuffers.tensors, prompt)).toEqual(expectedLogits);

    const prefixedWithBuffers = await roundTrip(base, { extra: buffers('transformer.') });
    expect(referenceLogits(prefixedWithBuffers.config, prefixedWithBuffers.tensors, prompt)).toEqual(expectedLogits);

    const wte = base.tensors.get('transformer.wte.weight')!;
    const withHead = await roundTrip(base, { extra: [{ name: 'lm_head.weight', dtype: 'F32', shape: wte.shape, data: encodeFloats('F32', wte.data) }] });
    expect(referenceLogits(withHead.config, withHead.tensors, prompt)).toEqual(expectedLogits);
  });

  it('GPT-2: tie_word_embeddings false uses lm_head.weight', async () => {
    const base = await loadCheckpointTensors(fixturesDir('gpt2-tiny'));
    const wte = base.tensors.get('transformer.wte.weight')!;
    const head: RawTensor = { shape: wte.shape, data: wte.data.map((v) => -2 * v) };
    const tensors = new Map(base.tensors).set('lm_head.weight', head);
    const untied = referenceLogits({ ...base.config, tie_word_embeddings: false }, tensors, prompt);
    const tied = referenceLogits(base.config, base.tensors, prompt);
    expect(maxAbsDiff(untied, tied.map((v) => -2 * v))).toBeLessThan(1e-9);
  });

  it('GPT-2: BF16 weights through the BF16 decode equal the same weights rounded to bf16 independently', async () => {
    const base = await loadCheckpointTensors(fixturesDir('gpt2-tiny'));
    const bf16 = await roundTrip(base, { dtype: 'BF16' });
    const rounded = new Map<string, RawTensor>([...base.tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data.map(roundToBf16) }]));
    for (const [name, t] of rounded) expect(bf16.tensors.get(name)!.data).toEqual(t.data);
    const logitsBf16 = referenceLogits(bf16.config, bf16.tensors, prompt);
    expect(logitsBf16).toEqual(referenceLogits(base.config, rounded, prompt));
    // Sanity only (different weights): bf16 rounding moves these logits by a few hundredths, not more.
    const drift = maxAbsDiff(logitsBf16, referenceLogits(base.config, base.tensors, prompt));
    console.log(`[reference-model] gpt2-tiny as BF16: max |logit − F32 logit| = ${drift.toExponential(2)}`);
    expect(drift).toBeGreaterThan(0);
    expect(drift).toBeLessThan(0.5);
  });

  it('GPT-2: the F16 fixture re-encoded as F32 gives identical logits', async () => {
    const base = await loadCheckpointTensors(fixturesDir('gpt2-tiny-f16'));
    const asF32 = await roundTrip(base, { dtype: 'F32' }); // f16 values are exact in f32
    const ids = [11739, 7740, 18611, 5693];
    expect(referenceLogits(asF32.config, asF32.tensors, ids)).toEqual(referenceLogits(base.config, base.tensors, ids));
  });

  it('GPT-NeoX: old, mid and new RoPE config styles give identical logits; the fields are really read', async () => {
    const base = await loadCheckpointTensors(fixturesDir('neox-tiny'));
    const ids = [5, 4095, 17, 300, 2048, 1, 0, 77, 1234, 9];
    const expectedLogits = referenceLogits(base.config, base.tensors, ids);
    const { rotary_pct: _pct, rotary_emb_base: _base, ...rest } = base.config as Record<string, unknown>;
    const styles: Record<string, RawConfig> = {
      mid: { ...rest, partial_rotary_factor: 0.25, rope_theta: 10000 },
      new: { ...rest, rope_parameters: { rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.25 } },
      defaults: { ...rest }, // transformers' defaults: rotary_pct 0.25, base 10000
      newOverridesOld: { ...base.config, rotary_pct: 0.5, rope_parameters: { rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.25 } },
      explicitDefaults: { ...base.config, use_parallel_residual: true, attention_bias: true, hidden_act: 'gelu', layer_norm_eps: 1e-5 },
    };
    for (const [style, config] of Object.entries(styles)) {
      expect(referenceLogits(config, base.tensors, ids), style).toEqual(expectedLogits);
    }
    const changed: Record<string, RawConfig> = {
      pct: { ...rest, rope_parameters: { rope_type: 'default', rope_theta: 10000, partial_rotary_factor: 0.5 } },
      theta: { ...rest, rope_theta: 500 },
      sequential: { ...base.config, use_parallel_residual: false },
      tanh: { ...base.config, hidden_act: 'gelu_new' },
    };
    for (const [what, config] of Object.entries(changed)) {
      expect(maxAbsDiff(referenceLogits(config, base.tensors, ids), expectedLogits), what).toBeGreaterThan(1e-6);
    }
  });

  it('GPT-NeoX: keys and buffers as in the published Pythia files, and tied embeddings', async () => {
    const base = await loadCheckpointTensors(fixturesDir('neox-tiny'));
    const ids = [5, 4095, 17, 300];
    const expectedLogits = referenceLogits(base.config, base.tensors, ids);
    const extra: TensorToWrite[] = [0, 1].flatMap((l) => [
      { name: `gpt_neox.layers.${l}.attention.bias`, dtype: 'BOOL' as const, shape: [1, 1, 4, 4], data: new Uint8Array([1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1]) },
      { name: `gpt_neox.layers.${l}.attention.masked_bias`, dtype: 'F32' as const, shape: [], data: encodeFloats('F32', [-1e9]) },
      { name: `gpt_neox.layers.${l}.attention.rotary_emb.inv_freq`, dtype: 'F32' as const, shape: [8], data: encodeFloats('F32', [1, 0.1, 0.01, 0.001, 1, 1, 1, 1]) },
    ]);
    const withBuffers = await roundTrip(base, { extra });
    expect(referenceLogits(withBuffers.config, withBuffers.tensors, ids)).toEqual(expectedLogits);

    const embedIn = base.tensors.get('gpt_neox.embed_in.weight')!;
    const tiedTensors = new Map(base.tensors);
    tiedTensors.delete('embed_out.weight');
    const tied = referenceLogits({ ...base.config, tie_word_embeddings: true }, tiedTensors, ids);
    const viaCopy = referenceLogits(base.config, new Map(base.tensors).set('embed_out.weight', embedIn), ids);
    expect(tied).toEqual(viaCopy);
  });

  it('rejects what it cannot read correctly instead of guessing', async () => {
    const gpt2 = await loadCheckpointTensors(fixturesDir('gpt2-tiny'));
    const neox = await loadCheckpointTensors(fixturesDir('neox-tiny'));
    const ids = [1, 2, 3];
    const without = (m: Map<string, RawTensor>, name: string) => {
      const copy = new Map(m);
      copy.delete(name);
      return copy;
    };
    const transposed = (m: Map<string, RawTensor>, name: string) => {
      const t = m.get(name)!;
      return new Map(m).set(name, { shape: [t.shape[1], t.shape[0]], data: t.data });
    };
    expect(() => referenceLogits(gpt2.config, without(gpt2.tensors, 'transformer.h.1.mlp.c_fc.bias'), ids)).toThrow(/missing tensor h\.1\.mlp\.c_fc\.bias/);
    expect(() => referenceLogits(gpt2.config, transposed(gpt2.tensors, 'transformer.h.0.mlp.c_fc.weight'), ids)).toThrow(/shape \[256,64\], expected \[64,256\]/);
    expect(() => referenceLogits(neox.config, transposed(neox.tensors, 'gpt_neox.layers.0.mlp.dense_h_to_4h.weight'), ids)).toThrow(/expected \[512,128\]/);
    expect(() => referenceLogits(gpt2.config, new Map(gpt2.tensors).set('transformer.h.0.attn.q_proj.weight', { shape: [1], data: new Float64Array(1) }), ids)).toThrow(/unexpected tensor/);
    expect(() => referenceLogits({ ...gpt2.config, activation_function: 'relu6' }, gpt2.tensors, ids)).toThrow(/activation/);
    expect(() => referenceLogits({ ...neox.config, rope_scaling: { rope_type: 'linear', factor: 2 } }, neox.tensors, ids)).toThrow(/rope_scaling/);
    expect(() => referenceLogits({ ...neox.config, model_type: 'llama' }, neox.tensors, ids)).toThrow(/model_type/);
    expect(() => referenceLogits(gpt2.config, gpt2.tensors, [50257])).toThrow(/outside/);
    expect(() => referenceLogits(gpt2.config, gpt2.tensors, new Array(129).fill(0))).toThrow(/positions/);
  });
});

describe('random checkpoints (makeRandomCheckpoint) under the reference model', () => {
  const cases: [string, RandomCheckpointOptions][] = [
    ['gpt2 F32', { family: 'gpt2', vocabSize: 1000, hidden: 64, layers: 3, heads: 4, positions: 64, dtype: 'F32', seed: 1 }],
    ['gpt2 F16 bare+buffers, untied, erf gelu, n_inner', { family: 'gpt2', vocabSize: 777, hidden: 48, layers: 2, heads: 3, positions: 40, intermediate: 100, dtype: 'F16', seed: 2, prefix: false, extraBuffers: true, tied: false, activation: 'gelu' }],
    ['gpt2 BF16 inverse-layer scaling', { family: 'gpt2', vocabSize: 512, hidden: 32, layers: 4, heads: 2, positions: 32, dtype: 'BF16', seed: 3, scaleAttnByInverseLayerIdx: true, activation: 'gelu_pytorch_tanh' }],
    ['neox F32 old style', { family: 'gpt_neox', vocabSize: 1000, hidden: 64, layers: 2, heads: 4, positions: 64, dtype: 'F32', seed: 4, extraBuffers: true }],
    ['neox F16 sequential, full rotary, new style', { family: 'gpt_neox', vocabSize: 600, hidden: 64, layers: 3, heads: 2, positions: 64, dtype: 'F16', seed: 5, parallelResidual: false, rotaryPct: 1, configStyle: 'new' }],
    ['neox BF16 tied, no attention bias, mid style, tanh', { family: 'gpt_neox', vocabSize: 300, hidden: 96, layers: 2, heads: 3, positions: 48, intermediate: 160, dtype: 'BF16', seed: 6, tied: true, attentionBias: false, configStyle: 'mid', rotaryPct: 0.5, activation: 'gelu_new' }],
  ];

  it.each(cases)('%s: finite logits, KV-cache greedy = full recompute, margins not near-ties', async (_label, options) => {
    const checkpoint = makeRandomCheckpoint(options);
    const { config, tensors } = await loadCheckpointFiles(checkpoint.files);
    expect(config).toEqual(checkpoint.config);
    const model = new ReferenceModel(config, tensors);
    const V = model.hparams.vocabSize;
    const uniform = mulberry32(options.seed + 100);
    const next = () => Math.floor(uniform() * V);
    const prompt = Array.from({ length: 7 }, next);

    const logits = model.forward(prompt);
    expect(logits.length).toBe(prompt.length * V);
    expect(logits.every(Number.isFinite)).toBe(true);
    let sumSq = 0;
    for (const v of logits) sumSq += v * v;
    expect(Math.sqrt(sumSq / logits.length)).toBeGreaterThan(0.5); // logits spread out, not all near zero

    // The incremental (KV cache) path gives the same logits as running the whole sequence again.
    const steps = 12;
    const { ids, margins } = model.greedy(prompt, steps);
    const full = model.forward([...prompt, ...ids.slice(0, -1)]);
    for (let s = 0; s < steps; s++) {
      const row = full.subarray((prompt.length - 1 + s) * V, (prompt.length + s) * V);
      expect(top1(row).index).toBe(ids[s]);
      expect(Math.abs(top1(row).margin - margins[s])).toBeLessThan(1e-9);
    }
    expect(margins.filter((m) => m > 1e-3).length).toBeGreaterThanOrEqual(steps - 1);
  });

  it('is deterministic, and prefix / buffer variants are the same model', async () => {
    const options: RandomCheckpointOptions = { family: 'gpt2', vocabSize: 500, hidden: 32, layers: 2, heads: 2, positions: 16, dtype: 'F16', seed: 42 };
    const a = makeRandomCheckpoint(options);
    expect(makeRandomCheckpoint(options).files['model.safetensors']).toEqual(a.files['model.safetensors']);
    expect(makeRandomCheckpoint({ ...options, seed: 43 }).files['model.safetensors']).not.toEqual(a.files['model.safetensors']);
    const prompt = [1, 2, 3, 499];
    const base = await loadCheckpointFiles(a.files);
    const variant = await loadCheckpointFiles(makeRandomCheckpoint({ ...options, prefix: false, extraBuffers: true }).files);
    expect([...variant.tensors.keys()]).toContain('h.0.attn.bias');
    expect(referenceLogits(variant.config, variant.tensors, prompt)).toEqual(referenceLogits(base.config, base.tensors, prompt));

    const neox: RandomCheckpointOptions = { family: 'gpt_neox', vocabSize: 500, hidden: 32, layers: 2, heads: 2, positions: 16, dtype: 'F32', seed: 7 };
    const logitsByStyle = await Promise.all(
      (['old', 'mid', 'new'] as const).map(async (configStyle) => {
        const { config, tensors } = await loadCheckpointFiles(makeRandomCheckpoint({ ...neox, configStyle, extraBuffers: configStyle === 'old' }).files);
        return referenceLogits(config, tensors, prompt);
      }),
    );
    expect(logitsByStyle[1]).toEqual(logitsByStyle[0]);
    expect(logitsByStyle[2]).toEqual(logitsByStyle[0]);
  });

  it('greedy top-1 margins over many random models are mostly above 1e-3', async () => {
    let steps = 0;
    let close = 0;
    for (let seed = 10; seed < 16; seed++) {
      const family = seed % 2 === 0 ? 'gpt2' : 'gpt_neox';
      const { config, tensors } = await loadCheckpointFiles(
        makeRandomCheckpoint({ family, vocabSize: 2000, hidden: 64, layers: 2, heads: 4, positions: 64, dtype: 'F16', seed }).files,
      );
      const { margins } = new ReferenceModel(config, tensors).greedy([3, 1, 4, 1, 5], 40);
      steps += margins.length;
      close += margins.filter((m) => m < 1e-3).length;
    }
    console.log(`[reference-model] random models: ${close}/${steps} greedy steps with top-1 margin < 1e-3`);
    expect(close / steps).toBeLessThan(0.02);
  });
});
