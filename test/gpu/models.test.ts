// The whole engine on random-weight checkpoints, against the float64 CPU reference model (test/reference/cpuModel.ts,
// itself checked against Hugging Face): GPT-2 and GPT-NeoX configurations, dtypes and checkpoint layouts the three
// golden fixtures do not cover, at the fixtures' bar (max |Δlogit| ≤ 2e-3, relative L2 ≤ 1e-4, greedy ids equal up to a
// near-tie). Then the loader's error paths: a checkpoint that does not match its config must fail with a typed error that
// names the tensor or field, and leave nothing behind (GPU buffers, open files) that breaks the next load.
import { afterAll, describe, expect, it } from 'vitest';
import { Engine, type EngineOptions } from '../../src/engine.ts';
import { ConfigError, GpuLimitError, ModelFormatError } from '../../src/errors.ts';
import { memoryModelFiles } from '../../src/io/modelFiles.ts';
import { encodeFloats } from '../../src/io/dtype.ts';
import type { TensorToWrite } from '../../src/io/safetensorsWriter.ts';
import { ReferenceModel } from '../reference/cpuModel.ts';
import { trackBuffers } from '../support/bufferTracker.ts';
import { loadCheckpointFiles } from '../support/checkpoint.ts';
import { addTensor, dropTensor, editSafetensors, instrumentedModelFiles, replaceTensor } from '../support/checkpointEdits.ts';
import { expectGreedyMatch, expectLogitsMatch } from '../support/fixtures.ts';
import { useGpu } from '../support/gpu.ts';
import { makeRandomCheckpoint, mulberry32, type RandomCheckpoint, type RandomCheckpointOptions } from '../support/randomModel.ts';

// One device for the file; every test runs inside error scopes that must come back empty.
const g = useGpu();

interface ModelCase {
  name: string;
  model: RandomCheckpointOptions;
  promptLength: number;
  greedyTokens: number;
  engine?: EngineOptions;
  /** Fields of config.json set after the builder (for options it has no parameter for); both sides read them. */
  configOverrides?: Record<string, unknown>;
}

/**
 * Besides the fixtures' bar (the engine's contract, checked first), a tight one: against a float64 oracle the engine's
 * f32 error on these tiny models is ~1e-5 (measured: ≤ 8.3e-6 max |Δ|, ≤ 5e-7 relL2 on Mesa llvmpipe), while some
 * options move the logits by barely more than 2e-3 (exact vs tanh GELU: 2.1e-3 and 2.3e-3 on the FLIPS models below), so
 * the loose bar alone could not tell them apart. The tight bar leaves a >10× margin for other adapters' rounding.
 */
const TIGHT_MAX_ABS = 1e-4;
const TIGHT_REL_L2 = 1e-5;

/** Paged-KV and chunking settings that make a short prompt span several KV blocks and several prefill chunks. */
const SMALL_BLOCKS: EngineOptions = { blockSize: 4, maxBatchTokens: 5 };

const gpt2 = (o: Partial<RandomCheckpointOptions> & { seed: number }): RandomCheckpointOptions => ({
  family: 'gpt2',
  vocabSize: 384,
  hidden: 64,
  layers: 2,
  heads: 4,
  positions: 48,
  dtype: 'F32',
  ...o,
});

const neox = (o: Partial<RandomCheckpointOptions> & { seed: number }): RandomCheckpointOptions => ({
  family: 'gpt_neox',
  vocabSize: 384,
  hidden: 64,
  layers: 2,
  heads: 4,
  positions: 48,
  intermediate: 256,
  dtype: 'F32',
  ...o,
});

const CASES: ModelCase[] = [
  // GPT-2
  { name: 'gpt2 F32', model: gpt2({ seed: 101 }), promptLength: 12, greedyTokens: 8 },
  { name: 'gpt2 F16', model: gpt2({ seed: 102, dtype: 'F16' }), promptLength: 11, greedyTokens: 8 },
  { name: 'gpt2 BF16', model: gpt2({ seed: 103, dtype: 'BF16' }), promptLength: 10, greedyTokens: 8 },
  {
    name: 'gpt2 OpenAI layout (no transformer. prefix, attn.bias + masked_bias buffers), F16',
    model: gpt2({ seed: 104, dtype: 'F16', prefix: false, extraBuffers: true }),
    promptLength: 9,
    greedyTokens: 8,
  },
  { name: 'gpt2 untied lm_head', model: gpt2({ seed: 105, tied: false }), promptLength: 13, greedyTokens: 8 },
  { name: 'gpt2 exact gelu (erf), layer_norm_epsilon 1e-6', model: gpt2({ seed: 106, activation: 'gelu', layerNormEps: 1e-6 }), promptLength: 8, greedyTokens: 8 },
  { name: 'gpt2 scale_attn_by_inverse_layer_idx', model: gpt2({ seed: 107, scaleAttnByInverseLayerIdx: true }), promptLength: 14, greedyTokens: 8 },
  {
    name: 'gpt2 odd sizes (hidden 36 = 3 heads × 12, vocab 997, n_inner 100, 1 layer)',
    model: gpt2({ seed: 108, hidden: 36, heads: 3, vocabSize: 997, intermediate: 100, layers: 1, positions: 40 }),
    promptLength: 15,
    greedyTokens: 10,
  },
  {
    name: 'gpt2 head size 96 (two lanes per thread), KV blocks of 4, prefill chunks of 5',
    model: gpt2({ seed: 109, hidden: 96, heads: 1, vocabSize: 301, layers: 1, positions: 40 }),
    promptLength: 19,
    greedyTokens: 8,
    engine: SMALL_BLOCKS,
  },
  {
    name: 'gpt2 prompt of 70 tokens (more logit rows than one head pass of 64)',
    model: gpt2({ seed: 110, hidden: 32, heads: 2, vocabSize: 257, layers: 1, positions: 80 }),
    promptLength: 70,
    greedyTokens: 6,
  },
  {
    name: 'gpt2 scale_attn_weights false, activation gelu_pytorch_tanh',
    model: gpt2({ seed: 111, activation: 'gelu_pytorch_tanh', layers: 1 }),
    configOverrides: { scale_attn_weights: false },
    promptLength: 12,
    greedyTokens: 8,
  },
  // GPT-NeoX
  { name: 'neox parallel residual, rotary_pct 0.25, old config style', model: neox({ seed: 201 }), promptLength: 12, greedyTokens: 8 },
  {
    name: 'neox sequential residual, rotary_pct 1.0, mid config style',
    model: neox({ seed: 202, parallelResidual: false, rotaryPct: 1, configStyle: 'mid' }),
    promptLength: 11,
    greedyTokens: 8,
  },
  {
    name: 'neox rotary_pct 0.5, rope base 500, new config style (rope_parameters)',
    model: neox({ seed: 203, rotaryPct: 0.5, ropeBase: 500, configStyle: 'new' }),
    promptLength: 16,
    greedyTokens: 8,
  },
  { name: 'neox tied embeddings', model: neox({ seed: 204, tied: true }), promptLength: 10, greedyTokens: 8 },
  { name: 'neox F16', model: neox({ seed: 205, dtype: 'F16' }), promptLength: 9, greedyTokens: 8 },
  {
    name: 'neox BF16, Pythia-style buffers (attention.bias BOOL, masked_bias, rotary_emb.inv_freq)',
    model: neox({ seed: 206, dtype: 'BF16', extraBuffers: true }),
    promptLength: 12,
    greedyTokens: 8,
  },
  {
    name: 'neox hidden_act gelu_fast (tanh form), layer_norm_eps 1e-6, rope_scaling null',
    model: neox({ seed: 210, activation: 'gelu_fast', layerNormEps: 1e-6, configStyle: 'mid' }),
    configOverrides: { rope_scaling: null },
    promptLength: 10,
    greedyTokens: 8,
  },
  {
    name: 'neox prompt of 70 tokens (two head passes), rotary_pct 1.0',
    model: neox({ seed: 211, hidden: 32, heads: 2, intermediate: 96, vocabSize: 263, layers: 1, positions: 80, rotaryPct: 1 }),
    promptLength: 70,
    greedyTokens: 6,
  },
  { name: 'neox attention_bias false', model: neox({ seed: 207, attentionBias: false, configStyle: 'new' }), promptLength: 13, greedyTokens: 8 },
  {
    name: 'neox head size 160 (1 head, two lanes per thread), rotary_pct 0.25',
    model: neox({ seed: 208, hidden: 160, heads: 1, intermediate: 320, vocabSize: 500, layers: 1, positions: 32 }),
    promptLength: 12,
    greedyTokens: 8,
  },
  {
    name: 'neox odd sizes (hidden 48 = 3 heads × 16, vocab 1001, intermediate 136), KV blocks of 4, prefill chunks of 5',
    model: neox({ seed: 209, hidden: 48, heads: 3, vocabSize: 1001, intermediate: 136, positions: 40, parallelResidual: false }),
    promptLength: 20,
    greedyTokens: 10,
    engine: SMALL_BLOCKS,
  },
];

/** Worst errors seen per family, printed at the end. */
const worst = new Map<string, { maxAbs: number; relL2: number; worstCase: string }>();
afterAll(() => {
  for (const [family, w] of worst) console.log(`${family}: worst max |Δ| ${w.maxAbs.toExponential(2)} (${w.worstCase}), worst relL2 ${w.relL2.toExponential(2)}`);
});

function promptFor(seed: number, length: number, vocab: number): number[] {
  const rand = mulberry32(seed ^ 0x5eed);
  return Array.from({ length }, () => Math.floor(rand() * vocab));
}

function filesOf(name: string, checkpoint: RandomCheckpoint) {
  return memoryModelFiles(name, { ...checkpoint.files });
}

/** The builder's checkpoint with `overrides` written into config.json. */
function withConfig(checkpoint: RandomCheckpoint, overrides: Record<string, unknown> = {}): RandomCheckpoint {
  const config = { ...checkpoint.config, ...overrides };
  return { config, files: { ...checkpoint.files, 'config.json': JSON.stringify(config, null, 2) } };
}

describe.each(CASES)('$name', (c) => {
  it('logits at every prompt position and the greedy continuation match the float64 reference', async () => {
    const checkpoint = withConfig(makeRandomCheckpoint(c.model), c.configOverrides);
    const { config, tensors } = await loadCheckpointFiles(checkpoint.files);
    const reference = new ReferenceModel(config, tensors);
    const prompt = promptFor(c.model.seed, c.promptLength, c.model.vocabSize);
    const want = reference.forward(prompt);
    const greedy = reference.greedy(prompt, c.greedyTokens);

    const engine = await Engine.load(g.gpu, filesOf(c.name, checkpoint), c.engine);
    try {
      expect(engine.config.family).toBe(c.model.family);
      const got = await engine.logits(prompt);
      expectLogitsMatch(got, want, c.name);
      const { maxAbs, relL2 } = expectLogitsMatch(got, want, `${c.name} (tight bar)`, TIGHT_MAX_ABS, TIGHT_REL_L2);
      console.log(`${c.name}: max |Δ| ${maxAbs.toExponential(2)}, relL2 ${relL2.toExponential(2)}`);
      const w = worst.get(c.model.family) ?? { maxAbs: 0, relL2: 0, worstCase: '' };
      if (maxAbs > w.maxAbs) [w.maxAbs, w.worstCase] = [maxAbs, c.name];
      w.relL2 = Math.max(w.relL2, relL2);
      worst.set(c.model.family, w);

      const stream = engine.generate(prompt, { greedy: true, maxNewTokens: c.greedyTokens, stopAtEos: false });
      const result = await stream.result;
      expectGreedyMatch(result.ids, greedy.ids, greedy.margins, `${c.name} greedy`);
      expect(result.finishReason).toBe('length');
      // The KV blocks of the first request were freed and are reused: the same request gives the same ids.
      expect((await engine.generate(prompt, { greedy: true, maxNewTokens: c.greedyTokens, stopAtEos: false }).result).ids, 'a repeated request').toEqual(result.ids);
    } finally {
      await engine.dispose();
    }
  });
});

// The table has teeth: every option it exercises moves these models' logits far past the tight bar, so an engine that
// ignored or misread one of them could not pass. Each check loads the engine with one config field changed and measures
// its distance from the reference of the unchanged model.
const FLIPS: { name: string; model: RandomCheckpointOptions; flip: Record<string, unknown> }[] = [
  { name: 'gpt2 activation gelu_new → gelu', model: gpt2({ seed: 401 }), flip: { activation_function: 'gelu' } },
  { name: 'gpt2 scale_attn_by_inverse_layer_idx false → true', model: gpt2({ seed: 402 }), flip: { scale_attn_by_inverse_layer_idx: true } },
  { name: 'gpt2 scale_attn_weights true → false', model: gpt2({ seed: 403 }), flip: { scale_attn_weights: false } },
  { name: 'neox parallel → sequential residual', model: neox({ seed: 404 }), flip: { use_parallel_residual: false } },
  { name: 'neox rotary_pct 0.25 → 0.5', model: neox({ seed: 405 }), flip: { rotary_pct: 0.5 } },
  { name: 'neox rotary_emb_base 10000 → 500', model: neox({ seed: 406 }), flip: { rotary_emb_base: 500 } },
  { name: 'neox hidden_act gelu → gelu_new', model: neox({ seed: 407 }), flip: { hidden_act: 'gelu_new' } },
  { name: 'neox untied → tied head', model: neox({ seed: 408 }), flip: { tie_word_embeddings: true } },
];

describe('each exercised option changes the logits far beyond the bar', () => {
  it.each(FLIPS)('$name', async ({ name, model, flip }) => {
    const checkpoint = makeRandomCheckpoint(model);
    const { config, tensors } = await loadCheckpointFiles(checkpoint.files);
    const prompt = promptFor(model.seed, 12, model.vocabSize);
    const want = new ReferenceModel(config, tensors).forward(prompt);
    const engine = await Engine.load(g.gpu, filesOf(name, withConfig(checkpoint, flip)));
    try {
      const got = await engine.logits(prompt);
      let maxAbs = 0;
      for (let i = 0; i < want.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
      console.log(`${name}: max |Δ| ${maxAbs.toExponential(2)} from the unchanged model`);
      expect(maxAbs, `${name}: distance from the reference of the unchanged config`).toBeGreaterThan(10 * TIGHT_MAX_ABS);
    } finally {
      await engine.dispose();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------------
// Loader errors

const BASE_GPT2 = gpt2({ seed: 301, vocabSize: 128, hidden: 32, heads: 2, positions: 24 });
const BASE_NEOX = neox({ seed: 302, vocabSize: 128, hidden: 32, heads: 2, positions: 24, intermediate: 64 });

/** Loads `files` expecting a typed failure; checks the class and that the message names everything in `mentions`. */
async function expectLoadError(files: Parameters<typeof Engine.load>[1], errorClass: typeof ModelFormatError | typeof ConfigError, mentions: (string | RegExp)[], options?: Parameters<typeof Engine.load>[2]): Promise<Error> {
  let engine: Engine | undefined;
  let error: unknown;
  try {
    engine = await Engine.load(g.gpu, files, options);
  } catch (e) {
    error = e;
  }
  if (engine) {
    await engine.dispose();
    expect.fail(`${files.name}: the load succeeded but a ${errorClass.name} was expected`);
  }
  expect(error, `${files.name}: ${String(error)}`).toBeInstanceOf(errorClass);
  const message = (error as Error).message;
  for (const m of mentions) {
    if (typeof m === 'string') expect(message, 'the error message').toContain(m);
    else expect(message, 'the error message').toMatch(m);
  }
  return error as Error;
}

/** The checkpoint with `edit` applied to its tensors (and optionally its config changed). */
async function edited(checkpoint: RandomCheckpoint, edit: (t: TensorToWrite[]) => TensorToWrite[], config?: Record<string, unknown>) {
  return {
    'config.json': config ? JSON.stringify({ ...checkpoint.config, ...config }) : checkpoint.files['config.json'],
    'model.safetensors': await editSafetensors(checkpoint.files['model.safetensors'], edit),
  };
}

describe('the loader rejects checkpoints that do not match their config', () => {
  const gpt2Checkpoint = makeRandomCheckpoint(BASE_GPT2);
  const neoxCheckpoint = makeRandomCheckpoint(BASE_NEOX);

  it('the unedited base checkpoints re-serialized load (the edits below change only what they say)', async () => {
    for (const checkpoint of [gpt2Checkpoint, neoxCheckpoint]) {
      const engine = await Engine.load(g.gpu, memoryModelFiles('base', await edited(checkpoint, (t) => t)));
      await engine.dispose();
    }
  });

  it('a missing tensor (GPT-2 h.1.mlp.c_fc.bias dropped)', async () => {
    const name = 'transformer.h.1.mlp.c_fc.bias';
    await expectLoadError(memoryModelFiles('gpt2 missing', await edited(gpt2Checkpoint, dropTensor(name))), ModelFormatError, [name, /missing/]);
  });

  it('a missing tensor (NeoX untied embed_out dropped)', async () => {
    await expectLoadError(memoryModelFiles('neox missing head', await edited(neoxCheckpoint, dropTensor('embed_out.weight'))), ModelFormatError, ['embed_out.weight', /missing/]);
  });

  it('a missing token embedding names the family and the names it looked for', async () => {
    await expectLoadError(memoryModelFiles('gpt2 no wte', await edited(gpt2Checkpoint, dropTensor('transformer.wte.weight'))), ModelFormatError, ['wte.weight', 'GPT-2']);
  });

  it('a tensor with a wrong shape (same bytes, transposed shape of c_fc)', async () => {
    const name = 'transformer.h.0.mlp.c_fc.weight';
    const files = await edited(gpt2Checkpoint, replaceTensor(name, (t) => ({ ...t, shape: [t.shape[1], t.shape[0]] })));
    await expectLoadError(memoryModelFiles('gpt2 bad shape', files), ModelFormatError, [name, /shape \[128, 32\]/, /\[32, 128\]/]);
  });

  it('a tensor with a wrong shape (NeoX qkv bias one head short)', async () => {
    const name = 'gpt_neox.layers.1.attention.query_key_value.bias';
    const files = await edited(neoxCheckpoint, replaceTensor(name, (t) => ({ ...t, shape: [t.shape[0] - 16], data: t.data.slice(0, (t.shape[0] - 16) * 4) })));
    await expectLoadError(memoryModelFiles('neox bad shape', files), ModelFormatError, [name, /shape \[80\]/, /\[96\]/]);
  });

  it('an extra tensor the model does not use', async () => {
    const extra = { name: 'transformer.h.0.attn.q_proj.weight', dtype: 'F32' as const, shape: [4], data: encodeFloats('F32', [1, 2, 3, 4]) };
    await expectLoadError(memoryModelFiles('gpt2 extra', await edited(gpt2Checkpoint, addTensor(extra))), ModelFormatError, [extra.name, /does not use/]);
  });

  it('NeoX biases in a checkpoint whose config says attention_bias: false', async () => {
    const files = await edited(neoxCheckpoint, (t) => t, { attention_bias: false });
    await expectLoadError(memoryModelFiles('neox unexpected bias', files), ModelFormatError, ['gpt_neox.layers.0.attention.query_key_value.bias', /does not use/]);
  });

  it('config n_layer larger than the checkpoint has', async () => {
    const files = await edited(gpt2Checkpoint, (t) => t, { n_layer: 3 });
    await expectLoadError(memoryModelFiles('gpt2 n_layer 3', files), ModelFormatError, ['transformer.h.2.', /missing/]);
  });

  it('config num_hidden_layers smaller than the checkpoint has', async () => {
    const files = await edited(neoxCheckpoint, (t) => t, { num_hidden_layers: 1 });
    await expectLoadError(memoryModelFiles('neox 1 layer', files), ModelFormatError, ['gpt_neox.layers.1.', /num_hidden_layers/]);
  });

  it('a weight stored as I32', async () => {
    const name = 'transformer.ln_f.weight';
    const files = await edited(gpt2Checkpoint, replaceTensor(name, (t) => ({ ...t, dtype: 'I32', data: new Uint8Array(t.data.byteLength) })));
    await expectLoadError(memoryModelFiles('gpt2 I32', files), ModelFormatError, [name, 'I32', /F32, F16 or BF16/]);
  });

  it('a weight stored as F64', async () => {
    const name = 'gpt_neox.embed_in.weight';
    const files = await edited(neoxCheckpoint, replaceTensor(name, (t) => ({ ...t, dtype: 'F64', data: new Uint8Array(t.data.byteLength * 2) })));
    await expectLoadError(memoryModelFiles('neox F64', files), ModelFormatError, [name, 'F64']);
  });

  it('NaN and Inf weights are refused at load, naming the tensor and the count', async () => {
    const name = 'transformer.h.0.mlp.c_fc.weight';
    const poisoned = replaceTensor(name, (t) => {
      const values = new Float32Array(t.data.slice().buffer);
      values[3] = Number.NaN;
      values[7] = Number.POSITIVE_INFINITY;
      values[8] = Number.NEGATIVE_INFINITY;
      return { ...t, data: new Uint8Array(values.buffer) };
    });
    for (const weightFormat of ['f32', 'f16'] as const) {
      await expectLoadError(memoryModelFiles(`gpt2 NaN ${weightFormat}`, await edited(gpt2Checkpoint, poisoned)), ModelFormatError, [name, /3 non-finite/], { weightFormat });
    }
  });

  it('config errors name the field', async () => {
    await expectLoadError(memoryModelFiles('bad heads', { ...gpt2Checkpoint.files, 'config.json': JSON.stringify({ ...gpt2Checkpoint.config, n_head: 5 }) }), ConfigError, [/hidden size 32/, /heads 5/]);
    await expectLoadError(memoryModelFiles('no n_embd', { ...gpt2Checkpoint.files, 'config.json': JSON.stringify({ ...gpt2Checkpoint.config, n_embd: undefined }) }), ConfigError, ['"n_embd"', /missing/]);
    await expectLoadError(memoryModelFiles('bad act', { ...neoxCheckpoint.files, 'config.json': JSON.stringify({ ...neoxCheckpoint.config, hidden_act: 'relu' }) }), ConfigError, ['hidden_act', '"relu"']);
    await expectLoadError(memoryModelFiles('llama', { ...neoxCheckpoint.files, 'config.json': JSON.stringify({ ...neoxCheckpoint.config, model_type: 'llama' }) }), ConfigError, ['model_type', '"llama"']);
  });

  it('a NeoX checkpoint under a GPT-2 config is refused, not misread', async () => {
    const files = { 'config.json': gpt2Checkpoint.files['config.json'], 'model.safetensors': neoxCheckpoint.files['model.safetensors'] };
    await expectLoadError(memoryModelFiles('family mismatch', files), ModelFormatError, ['wte.weight', 'model_type']);
  });

  it('failed loads leave nothing behind: no live buffers, files closed, and the next load on the same device is correct', async () => {
    const tracker = trackBuffers(g.gpu);
    try {
      // Validation failures happen before any upload; a read failure part-way through the upload happens after some
      // weights are already on the GPU, which must then be destroyed.
      const broken = instrumentedModelFiles('read failure', { ...gpt2Checkpoint.files }, { failAfterReads: 5 });
      const error = await Engine.load(g.gpu, broken).then(
        (e) => e.dispose().then(() => undefined),
        (e: unknown) => e,
      );
      expect(String(error)).toContain('injected read failure');
      expect(tracker.created, 'the read failure came after some weights were uploaded').toBeGreaterThan(0);
      expect(broken.stats.closed, 'files the failed load opened are closed').toBe(broken.stats.opened);

      const invalid = instrumentedModelFiles('invalid', await edited(gpt2Checkpoint, dropTensor('transformer.ln_f.bias')));
      await expectLoadError(invalid, ModelFormatError, ['transformer.ln_f.bias']);
      expect(invalid.stats.closed, 'files the failed load opened are closed').toBe(invalid.stats.opened);

      // A KV pool over the adapter's binding limit fails before anything is uploaded (or downloaded).
      const kvBlocks = Math.floor(g.gpu.limits.maxStorageBufferBindingSize / (16 * BASE_GPT2.hidden * 4)) + 1;
      const before = tracker.created;
      const kvError = await Engine.load(g.gpu, memoryModelFiles('huge kv', gpt2Checkpoint.files), { kvBlocks, blockSize: 16 }).then(
        (e) => e.dispose().then(() => undefined),
        (e: unknown) => e,
      );
      expect(kvError).toBeInstanceOf(GpuLimitError);
      expect(String(kvError)).toMatch(/KV pool/);
      expect(tracker.created - before, 'nothing is uploaded for a model whose KV pool cannot fit').toBe(0);
      expect(tracker.live(), 'buffers of the failed loads still alive').toEqual([]);
    } finally {
      tracker.stop();
    }
    g.gpu.throwIfFailed();

    // The same device still serves a correct model.
    const { config, tensors } = await loadCheckpointFiles(gpt2Checkpoint.files);
    const prompt = promptFor(BASE_GPT2.seed, 10, BASE_GPT2.vocabSize);
    const engine = await Engine.load(g.gpu, memoryModelFiles('after failures', gpt2Checkpoint.files));
    try {
      expectLogitsMatch(await engine.logits(prompt), new ReferenceModel(config, tensors).forward(prompt), 'load after failed loads');
    } finally {
      await engine.dispose();
    }
  });
});

// Engine.dispose() is documented to free the engine's GPU memory; everything it created must be destroyed, not left to
// the garbage collector (Dawn releases an undestroyed buffer only once its JS wrapper is collected).
describe('engine lifetime', () => {
  it('dispose() destroys every GPU buffer the engine created', async () => {
    const tracker = trackBuffers(g.gpu);
    try {
      const engine = await Engine.load(g.gpu, memoryModelFiles('disposed', makeRandomCheckpoint(BASE_NEOX).files));
      const prompt = promptFor(BASE_NEOX.seed, 6, BASE_NEOX.vocabSize);
      await engine.logits(prompt);
      await engine.generate(prompt, { greedy: true, maxNewTokens: 3, stopAtEos: false }).result;
      await engine.dispose();
      const live = tracker.live();
      expect(live, `${live.length} of ${tracker.created} buffers still alive after dispose()`).toEqual([]);
    } finally {
      tracker.stop();
    }
  });
});
