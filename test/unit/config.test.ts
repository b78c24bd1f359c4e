// config.json parsing (src/io/config.ts): the fixture configs, the GPT-2 options, the three NeoX field styles, and every
// rejection as a ConfigError that names the field. Expected values are read off the config files by hand (headDim =
// hidden / heads, rotaryDims = floor(headDim × fraction), the attention scale 1/√headDim as in transformers).

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { parseConfig, parseConfigText } from '../../src/io/config.ts';
import type { ModelConfig } from '../../src/io/config.ts';

const read = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');

/** A minimal GPT-2 config (64 wide, 4 heads of 16), with overrides; `undefined` removes a field. */
function gpt2(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return withOverrides({ model_type: 'gpt2', vocab_size: 100, n_positions: 32, n_embd: 64, n_layer: 2, n_head: 4 }, overrides);
}

/** A minimal GPT-NeoX config (128 wide, 2 heads of 64), with overrides; `undefined` removes a field. */
function neox(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return withOverrides(
    { model_type: 'gpt_neox', vocab_size: 100, max_position_embeddings: 32, hidden_size: 128, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 512 },
    overrides,
  );
}

function withOverrides(base: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  const out = { ...base, ...overrides };
  for (const [k, v] of Object.entries(overrides)) if (v === undefined) delete out[k];
  return out;
}

/** Parsing must fail with a ConfigError whose message matches (every pattern). */
function expectConfigError(parse: () => unknown, ...patterns: RegExp[]): ConfigError {
  let error: unknown;
  try {
    parse();
  } catch (e) {
    error = e;
  }
  expect(error, 'expected a ConfigError').toBeInstanceOf(ConfigError);
  for (const p of patterns) expect((error as Error).message).toMatch(p);
  return error as ConfigError;
}

const rotary = (c: ModelConfig) => {
  expect(c.positions.kind).toBe('rotary');
  return c.positions as { kind: 'rotary'; rotaryDims: number; base: number };
};

// ---------------------------------------------------------------------------------------------------------------------

describe('the fixture configs', () => {
  it('gpt2-tiny', () => {
    const c = parseConfigText(read('../fixtures/gpt2-tiny/config.json'));
    expect(c).toMatchObject({
      family: 'gpt2',
      vocabSize: 50257,
      contextLength: 128,
      hiddenSize: 64,
      numLayers: 2,
      numHeads: 4,
      headDim: 16,
      intermediateSize: 256, // n_inner null: 4 × 64
      layerNormEps: 1e-5,
      activation: 'gelu_tanh', // gelu_new
      positions: { kind: 'learned' },
      parallelResidual: false,
      tiedEmbeddings: true,
      attentionBias: true,
      eosTokenId: 50256,
    });
    expect(c.attentionScale(0)).toBe(0.25); // 1/√16
    expect(c.attentionScale(1)).toBe(0.25);
  });

  it('gpt2-tiny-f16', () => {
    const c = parseConfigText(read('../fixtures/gpt2-tiny-f16/config.json'));
    expect(c).toMatchObject({ family: 'gpt2', hiddenSize: 48, numHeads: 2, headDim: 24, numLayers: 2, contextLength: 96, intermediateSize: 192, activation: 'gelu_tanh' });
    expect(c.attentionScale(0)).toBeCloseTo(0.2041241452319315, 15); // 1/√24
    expect(c.attentionScale(1)).toBe(c.attentionScale(0));
  });

  it('neox-tiny (Pythia-style rotary_pct / rotary_emb_base fields)', () => {
    const c = parseConfigText(read('../fixtures/neox-tiny/config.json'));
    expect(c).toMatchObject({
      family: 'gpt_neox',
      vocabSize: 4096,
      contextLength: 128,
      hiddenSize: 128,
      numLayers: 2,
      numHeads: 2,
      headDim: 64,
      intermediateSize: 512,
      layerNormEps: 1e-5,
      activation: 'gelu_erf', // hidden_act "gelu" is the exact form
      positions: { kind: 'rotary', rotaryDims: 16, base: 10000 }, // floor(64 × 0.25)
      parallelResidual: true,
      tiedEmbeddings: false,
      attentionBias: true,
      eosTokenId: 2,
    });
    for (const l of [0, 1]) expect(c.attentionScale(l)).toBe(0.125); // 1/√64
  });

  it('the gpt2-shakespeare demo model', () => {
    const c = parseConfigText(read('../../models/gpt2-shakespeare/config.json'));
    expect(c).toMatchObject({ family: 'gpt2', vocabSize: 50257, contextLength: 256, hiddenSize: 128, numLayers: 6, numHeads: 2, headDim: 64, intermediateSize: 512, tiedEmbeddings: true });
    for (let l = 0; l < 6; l++) expect(c.attentionScale(l)).toBe(0.125);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('GPT-2 options', () => {
  it('defaults: tanh GELU, eps 1e-5, 4C MLP, tied embeddings, 1/√headDim at every layer, no eos', () => {
    const c = parseConfig(gpt2());
    expect(c).toMatchObject({ activation: 'gelu_tanh', layerNormEps: 1e-5, intermediateSize: 256, tiedEmbeddings: true, parallelResidual: false });
    expect(c.eosTokenId).toBeUndefined();
    for (const l of [0, 1, 5]) expect(c.attentionScale(l)).toBe(0.25);
  });

  it('scale_attn_by_inverse_layer_idx: 1/√headDim/(layer + 1)', () => {
    const c = parseConfig(gpt2({ scale_attn_by_inverse_layer_idx: true }));
    expect(c.attentionScale(0)).toBe(0.25);
    expect(c.attentionScale(1)).toBe(0.125);
    expect(c.attentionScale(3)).toBe(0.0625);
    expect(c.attentionScale(4)).toBeCloseTo(0.05, 15);
  });

  it('scale_attn_weights false: scale 1', () => {
    const c = parseConfig(gpt2({ scale_attn_weights: false }));
    expect(c.attentionScale(0)).toBe(1);
    expect(c.attentionScale(7)).toBe(1);
  });

  it('scale_attn_weights false with scale_attn_by_inverse_layer_idx: 1/(layer + 1)', () => {
    const c = parseConfig(gpt2({ scale_attn_weights: false, scale_attn_by_inverse_layer_idx: true }));
    expect(c.attentionScale(0)).toBe(1);
    expect(c.attentionScale(1)).toBe(0.5);
    expect(c.attentionScale(3)).toBe(0.25);
  });

  it('null options take their defaults', () => {
    const c = parseConfig(gpt2({ scale_attn_weights: null, scale_attn_by_inverse_layer_idx: null, activation_function: null, tie_word_embeddings: null }));
    expect(c.attentionScale(1)).toBe(0.25);
    expect(c.activation).toBe('gelu_tanh');
    expect(c.tiedEmbeddings).toBe(true);
  });

  it('n_inner: null or absent is 4 × n_embd, a number is taken as is', () => {
    expect(parseConfig(gpt2({ n_inner: null })).intermediateSize).toBe(256);
    expect(parseConfig(gpt2({ n_inner: undefined })).intermediateSize).toBe(256);
    expect(parseConfig(gpt2({ n_inner: 100 })).intermediateSize).toBe(100);
    expect(parseConfig(gpt2({ n_inner: 3072 })).intermediateSize).toBe(3072);
  });

  it.each([0, -1, 1.5, '100', true])('rejects n_inner %j, naming it', (n) => {
    expectConfigError(() => parseConfig(gpt2({ n_inner: n })), /"n_inner"/, /positive integer/);
  });

  it.each([
    ['gelu_new', 'gelu_tanh'],
    ['gelu_pytorch_tanh', 'gelu_tanh'],
    ['gelu_fast', 'gelu_tanh'],
    ['gelu', 'gelu_erf'],
  ])('activation_function %s is %s', (name, act) => {
    expect(parseConfig(gpt2({ activation_function: name })).activation).toBe(act);
  });

  it.each(['relu', 'silu', 'quick_gelu', 'tanh', 'GELU'])('rejects activation_function %s, naming the field and the value', (name) => {
    expectConfigError(() => parseConfig(gpt2({ activation_function: name })), /activation_function/, new RegExp(`"${name}"`), /not supported/);
  });

  it('rejects a non-string activation_function', () => {
    expectConfigError(() => parseConfig(gpt2({ activation_function: 3 })), /"activation_function" must be a string/);
  });

  it('reads tie_word_embeddings, layer_norm_epsilon and eos_token_id', () => {
    const c = parseConfig(gpt2({ tie_word_embeddings: false, layer_norm_epsilon: 1e-6, eos_token_id: 7 }));
    expect(c.tiedEmbeddings).toBe(false);
    expect(c.layerNormEps).toBe(1e-6);
    expect(c.eosTokenId).toBe(7);
    expect(parseConfig(gpt2({ eos_token_id: 0 })).eosTokenId).toBe(0);
    expect(parseConfig(gpt2({ eos_token_id: null })).eosTokenId).toBeUndefined();
    expect(parseConfig(gpt2({ eos_token_id: [5, 9] })).eosTokenId).toBe(5);
  });

  it('refuses an eos_token_id that is not a token of the vocabulary, naming the field', () => {
    const vocab = parseConfig(gpt2({})).vocabSize;
    for (const bad of [-1, 1.5, vocab, 2 ** 40, '7', true, [], [-3], {}]) {
      expectConfigError(() => parseConfig(gpt2({ eos_token_id: bad })), /"eos_token_id" must be a token id/);
    }
  });

  it('rejects add_cross_attention true, naming it; false is fine', () => {
    expectConfigError(() => parseConfig(gpt2({ add_cross_attention: true })), /add_cross_attention/);
    expect(parseConfig(gpt2({ add_cross_attention: false })).family).toBe('gpt2');
  });

  it.each([
    ['scale_attn_weights', 'yes'],
    ['scale_attn_by_inverse_layer_idx', 1],
    ['tie_word_embeddings', 'false'],
  ])('rejects a non-boolean %s, naming it', (field, value) => {
    expectConfigError(() => parseConfig(gpt2({ [field]: value })), new RegExp(`"${field}" must be true or false`));
  });

  it.each([['x'], [null], [Infinity]])('rejects layer_norm_epsilon %j, naming it', (eps) => {
    // JSON has no Infinity, but parseConfig takes objects too.
    expectConfigError(() => parseConfig(gpt2({ layer_norm_epsilon: eps })), /"layer_norm_epsilon" must be a number/);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('GPT-NeoX field styles', () => {
  it('old style (transformers ~4.24, Pythia): rotary_pct and rotary_emb_base', () => {
    const c = parseConfig(neox({ rotary_pct: 0.5, rotary_emb_base: 20000 }));
    expect(rotary(c)).toEqual({ kind: 'rotary', rotaryDims: 32, base: 20000 });
  });

  it('mid style: top-level partial_rotary_factor and rope_theta', () => {
    const c = parseConfig(neox({ partial_rotary_factor: 0.5, rope_theta: 50000 }));
    expect(rotary(c)).toEqual({ kind: 'rotary', rotaryDims: 32, base: 50000 });
  });

  it('new style (transformers 5): rope_parameters {rope_type: "default", rope_theta, partial_rotary_factor}', () => {
    const c = parseConfig(neox({ rope_parameters: { rope_type: 'default', rope_theta: 1_000_000, partial_rotary_factor: 1 } }));
    expect(rotary(c)).toEqual({ kind: 'rotary', rotaryDims: 64, base: 1_000_000 });
  });

  it('defaults: a quarter of each head, base 10000', () => {
    expect(rotary(parseConfig(neox()))).toEqual({ kind: 'rotary', rotaryDims: 16, base: 10000 });
    expect(rotary(parseConfig(neox({ rope_parameters: { rope_type: 'default' } })))).toEqual({ kind: 'rotary', rotaryDims: 16, base: 10000 });
    expect(rotary(parseConfig(neox({ rope_parameters: null })))).toEqual({ kind: 'rotary', rotaryDims: 16, base: 10000 });
  });

  it('rope_parameters wins over top-level fields; top-level fills what it lacks', () => {
    const both = neox({ rope_parameters: { rope_type: 'default', rope_theta: 500, partial_rotary_factor: 0.5 }, rope_theta: 100, rotary_pct: 0.25, rotary_emb_base: 7 });
    expect(rotary(parseConfig(both))).toEqual({ kind: 'rotary', rotaryDims: 32, base: 500 });
    const partial = neox({ rope_parameters: { rope_type: 'default', rope_theta: 500 }, partial_rotary_factor: 0.5 });
    expect(rotary(parseConfig(partial))).toEqual({ kind: 'rotary', rotaryDims: 32, base: 500 });
  });

  it('mid-style names win over old-style ones when both are present', () => {
    const c = parseConfig(neox({ partial_rotary_factor: 1, rotary_pct: 0.25, rope_theta: 1e4, rotary_emb_base: 5e5 }));
    expect(rotary(c)).toEqual({ kind: 'rotary', rotaryDims: 64, base: 10000 });
  });

  it('accepts the legacy rope_parameters key "type" too', () => {
    expect(rotary(parseConfig(neox({ rope_parameters: { type: 'default', rope_theta: 123 } }))).base).toBe(123);
  });

  it.each([
    // [hidden, heads, fraction, rotaryDims = floor(headDim × fraction)]
    [128, 2, 0.25, 16], // 64 × 0.25
    [2048, 16, 0.25, 32], // Pythia-1B: heads of 128
    [512, 8, 0.25, 16], // Pythia-70M: heads of 64
    [160, 2, 0.3, 24], // 80 × 0.3 = 24.000000000000004 → 24
    [256, 2, 0.3, 38], // 128 × 0.3 = 38.4 → 38
    [96, 2, 0.25, 12], // 48 × 0.25
    [128, 2, 1, 64],
    [128, 2, 0.03125, 2], // the smallest allowed: 2 dims
  ])('hidden %i / %i heads with fraction %d: %i rotary dims', (hidden, heads, pct, dims) => {
    expect(rotary(parseConfig(neox({ hidden_size: hidden, num_attention_heads: heads, rotary_pct: pct }))).rotaryDims).toBe(dims);
  });

  it('reads the other NeoX options', () => {
    const c = parseConfig(neox({ use_parallel_residual: false, tie_word_embeddings: true, attention_bias: false, layer_norm_eps: 1e-6, hidden_act: 'gelu_new', eos_token_id: 0 }));
    expect(c).toMatchObject({ parallelResidual: false, tiedEmbeddings: true, attentionBias: false, layerNormEps: 1e-6, activation: 'gelu_tanh', eosTokenId: 0 });
    const d = parseConfig(neox());
    expect(d).toMatchObject({ parallelResidual: true, tiedEmbeddings: false, attentionBias: true, layerNormEps: 1e-5, activation: 'gelu_erf' });
    expect(d.attentionScale(0)).toBe(0.125);
    expect(d.attentionScale(9)).toBe(0.125);
  });

  it('NeoX ignores the GPT-2 layer-scaling option: always 1/√headDim', () => {
    const c = parseConfig(neox({ hidden_size: 256, num_attention_heads: 4, scale_attn_by_inverse_layer_idx: true }));
    expect(c.attentionScale(3)).toBe(0.125);
  });

  it.each(['gelu_pytorch_tanh', 'gelu_fast'])('hidden_act %s is the tanh GELU', (act) => {
    expect(parseConfig(neox({ hidden_act: act })).activation).toBe('gelu_tanh');
  });

  it('accepts rope_scaling null or "default"', () => {
    expect(parseConfig(neox({ rope_scaling: null })).family).toBe('gpt_neox');
    expect(parseConfig(neox({ rope_scaling: { rope_type: 'default' } })).family).toBe('gpt_neox');
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('rejections', () => {
  it('invalid JSON, naming the file', () => {
    expectConfigError(() => parseConfigText('{"model_type": "gpt2",', 'models/x/config.json'), /models\/x\/config\.json/, /not valid JSON/);
    expectConfigError(() => parseConfigText(''), /config\.json/, /not valid JSON/);
    expectConfigError(() => parseConfigText("{'model_type': 'gpt2'}"), /not valid JSON/);
  });

  it.each([['[]'], ['[{"model_type":"gpt2"}]'], ['42'], ['null'], ['"gpt2"'], ['true']])('JSON that is not an object: %s', (text) => {
    expectConfigError(() => parseConfigText(text, 'c.json'), /c\.json must hold a JSON object/);
  });

  it('missing model_type, naming the field', () => {
    expectConfigError(() => parseConfig(gpt2({ model_type: undefined })), /no "model_type" field/, /"gpt2"/, /"gpt_neox"/);
    expectConfigError(() => parseConfigText('{}'), /model_type/);
  });

  it.each(['llama', 'gpt_neo', 'gptj', 'GPT2', 'opt', ''])('unsupported model_type %j, naming it and the supported ones', (type) => {
    expectConfigError(() => parseConfig(gpt2({ model_type: type })), /model_type/, new RegExp(`"${type}"`), /"gpt2"/, /"gpt_neox"/);
  });

  it('names the file given', () => {
    expectConfigError(() => parseConfig(gpt2({ n_embd: undefined }), 'my/config.json'), /^my\/config\.json: /);
  });

  const gpt2Sizes = ['n_embd', 'n_head', 'n_layer', 'vocab_size', 'n_positions'];
  const neoxSizes = ['hidden_size', 'num_attention_heads', 'num_hidden_layers', 'vocab_size', 'max_position_embeddings', 'intermediate_size'];

  it.each(gpt2Sizes)('GPT-2 without %s: the field is missing', (field) => {
    expectConfigError(() => parseConfig(gpt2({ [field]: undefined })), new RegExp(`the field "${field}" is missing`));
  });

  it.each(neoxSizes)('NeoX without %s: the field is missing', (field) => {
    expectConfigError(() => parseConfig(neox({ [field]: undefined })), new RegExp(`the field "${field}" is missing`));
  });

  const badSizes: unknown[] = [0, -64, 64.5, '64', null, true, [64], 2 ** 53];
  it.each(gpt2Sizes.flatMap((f) => badSizes.map((v) => [f, v] as const)))('GPT-2 %s = %j: must be a positive integer', (field, value) => {
    expectConfigError(() => parseConfig(gpt2({ [field]: value })), new RegExp(`"${field}" must be a positive integer`));
  });

  it.each(neoxSizes.flatMap((f) => badSizes.map((v) => [f, v] as const)))('NeoX %s = %j: must be a positive integer', (field, value) => {
    expectConfigError(() => parseConfig(neox({ [field]: value })), new RegExp(`"${field}" must be a positive integer`));
  });

  it('hidden size not divisible by the number of heads', () => {
    expectConfigError(() => parseConfig(gpt2({ n_embd: 64, n_head: 5 })), /hidden size 64 is not divisible by the number of heads 5/);
    expectConfigError(() => parseConfig(neox({ hidden_size: 100, num_attention_heads: 3 })), /hidden size 100 is not divisible by the number of heads 3/);
  });

  it.each(['relu', 'silu', 'gelu_python'])('NeoX hidden_act %s, naming the field', (act) => {
    expectConfigError(() => parseConfig(neox({ hidden_act: act })), /hidden_act/, new RegExp(`"${act}"`));
  });

  it.each([
    ['rope_parameters.rope_type "linear"', { rope_parameters: { rope_type: 'linear', factor: 2 } }, /rope_type "linear" is not supported/],
    ['rope_parameters.rope_type "yarn"', { rope_parameters: { rope_type: 'yarn', rope_theta: 1e4 } }, /rope_type "yarn"/],
    ['rope_parameters.type "dynamic"', { rope_parameters: { type: 'dynamic' } }, /rope_type "dynamic"/],
    ['rope_scaling {type: "linear"}', { rope_scaling: { type: 'linear', factor: 2 } }, /rope_scaling .*linear.* is not supported/],
    ['rope_scaling {rope_type: "dynamic"}', { rope_scaling: { rope_type: 'dynamic', factor: 4 } }, /rope_scaling .*dynamic/],
    ['rope_parameters that is not an object', { rope_parameters: 'default' }, /rope_parameters must be an object/],
    ['rope_parameters that is a list', { rope_parameters: [] }, /rope_parameters must be an object/],
  ])('non-default RoPE: %s', (_what, overrides, message) => {
    expectConfigError(() => parseConfig(neox(overrides)), message);
  });

  it.each([
    // [hidden, heads, fraction]: floor(headDim × fraction) is odd, or under 2
    [128, 2, 0.3], // 64 × 0.3 = 19.2 → 19
    [40, 2, 0.25], // 20 × 0.25 = 5
    [200, 2, 0.33], // 100 × 0.33 = 33
    [128, 2, 0.015625], // 64 / 64 = 1
    [128, 2, 0.01], // 0.64 → 0
  ])('rotary dims odd or under 2: hidden %i, %i heads, fraction %d', (hidden, heads, pct) => {
    expectConfigError(() => parseConfig(neox({ hidden_size: hidden, num_attention_heads: heads, rotary_pct: pct })), /rotary dimensions per head/, /even number/);
  });

  it.each([0, -0.25, 1.5, 2])('rotary fraction %d outside (0, 1]', (pct) => {
    expectConfigError(() => parseConfig(neox({ rotary_pct: pct })), /rotary fraction must be in \(0, 1\]/);
    expectConfigError(() => parseConfig(neox({ partial_rotary_factor: pct })), /rotary fraction/);
    expectConfigError(() => parseConfig(neox({ rope_parameters: { rope_type: 'default', partial_rotary_factor: pct } })), /rotary fraction/);
  });

  it.each([0, -10000])('rotary base %d', (base) => {
    expectConfigError(() => parseConfig(neox({ rotary_emb_base: base })), /rotary base must be positive/);
    expectConfigError(() => parseConfig(neox({ rope_theta: base })), /rotary base must be positive/);
    expectConfigError(() => parseConfig(neox({ rope_parameters: { rope_theta: base } })), /rotary base must be positive/);
  });

  it('non-numeric rotary fields, naming them', () => {
    expectConfigError(() => parseConfig(neox({ rotary_pct: '0.25' })), /"rotary_pct" must be a number/);
    expectConfigError(() => parseConfig(neox({ rope_theta: null })), /"rope_theta" must be a number/);
    expectConfigError(() => parseConfig(neox({ rope_parameters: { rope_theta: 'big' } })), /rope_parameters/, /"rope_theta" must be a number/);
  });

  it('add_cross_attention true', () => {
    expectConfigError(() => parseConfigText(JSON.stringify(gpt2({ add_cross_attention: true }))), /add_cross_attention is true/);
  });
});
