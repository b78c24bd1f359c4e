// Parses a Hugging Face `config.json` into the one normalized description the engine uses for both families.
// Field names differ between GPT-2 and GPT-NeoX and between transformers versions (NeoX: `rotary_pct`/`rotary_emb_base`
// in configs written around 4.24, `rope_theta`/`partial_rotary_factor` later, `rope_parameters` in 5.x); all are read here
// so nothing downstream knows about them.
import { ConfigError } from '../errors.ts';
import { describeValue, requireString } from '../requestTypes.ts';

export type ModelFamily = 'gpt2' | 'gpt_neox';

/** GELU in its exact (erf) form or the tanh approximation GPT-2 was trained with ("gelu_new"). */
export type Activation = 'gelu_tanh' | 'gelu_erf';

export interface ModelConfig {
  readonly family: ModelFamily;
  readonly vocabSize: number; // V
  readonly contextLength: number; // most positions the model was trained for
  readonly hiddenSize: number; // C
  readonly numLayers: number; // L
  readonly numHeads: number; // H
  readonly headDim: number; // C / H
  readonly intermediateSize: number; // MLP width, usually 4C
  readonly layerNormEps: number;
  readonly activation: Activation;
  /** Learned absolute positions (GPT-2) or rotary embeddings on the first `rotaryDims` of each head (NeoX). */
  readonly positions: { readonly kind: 'learned' } | { readonly kind: 'rotary'; readonly rotaryDims: number; readonly base: number };
  /** NeoX: x + attn(ln1(x)) + mlp(ln2(x)) instead of two residual steps. */
  readonly parallelResidual: boolean;
  /** The output projection is the token embedding matrix. */
  readonly tiedEmbeddings: boolean;
  /** Whether the attention projections have biases (GPT-2 always; NeoX `attention_bias`). */
  readonly attentionBias: boolean;
  /** Multiply attention scores by this, per layer (1/√headDim, GPT-2 options aside). */
  readonly attentionScale: (layer: number) => number;
  readonly eosTokenId?: number;
}

type Json = Record<string, unknown>;

export function parseConfigText(text: string, file = 'config.json'): ModelConfig {
  requireString(text, `the text of ${file}`, ConfigError);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`${file} is not valid JSON (${(e as Error).message})`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(`${file} must hold a JSON object`);
  return parseConfig(json as Json, file);
}

export function parseConfig(json: Json, file = 'config.json'): ModelConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new ConfigError(`${file} must hold a JSON object, got ${describeValue(json)}`);
  const type = json.model_type;
  if (type === undefined) throw new ConfigError(`${file} has no "model_type" field; a GPT-2 model says "gpt2", a GPT-NeoX / Pythia model "gpt_neox"`);
  if (type === 'gpt2') return parseGpt2(json, file);
  if (type === 'gpt_neox') return parseNeox(json, file);
  throw new ConfigError(
    `${file}: model_type ${JSON.stringify(type)} is not supported; this engine runs "gpt2" (GPT-2, DistilGPT2) and "gpt_neox" (Pythia, GPT-NeoX) models`,
  );
}

function parseGpt2(json: Json, file: string): ModelConfig {
  const read = fieldReader(json, file);
  const hiddenSize = read.int('n_embd');
  const numHeads = read.int('n_head');
  const headDim = headDimension(hiddenSize, numHeads, file, 'n_embd', 'n_head');
  if (json.add_cross_attention === true) throw new ConfigError(`${file}: add_cross_attention is true; encoder-decoder GPT-2 models are not supported`);
  const scaleByHeadDim = read.bool('scale_attn_weights', true);
  const scaleByLayer = read.bool('scale_attn_by_inverse_layer_idx', false);
  const base = scaleByHeadDim ? 1 / Math.sqrt(headDim) : 1;
  return {
    family: 'gpt2',
    vocabSize: read.int('vocab_size'),
    contextLength: read.int('n_positions'),
    hiddenSize,
    numLayers: read.int('n_layer'),
    numHeads,
    headDim,
    intermediateSize: json.n_inner == null ? 4 * hiddenSize : read.int('n_inner'),
    layerNormEps: read.nonNegative('layer_norm_epsilon', 1e-5),
    activation: activation(read.string('activation_function', 'gelu_new'), 'activation_function', file),
    positions: { kind: 'learned' },
    parallelResidual: false,
    tiedEmbeddings: read.bool('tie_word_embeddings', true),
    attentionBias: true,
    attentionScale: scaleByLayer ? (layer) => base / (layer + 1) : () => base,
    eosTokenId: read.optionalTokenId('eos_token_id', read.int('vocab_size')),
  };
}

function parseNeox(json: Json, file: string): ModelConfig {
  const read = fieldReader(json, file);
  const hiddenSize = read.int('hidden_size');
  const numHeads = read.int('num_attention_heads');
  const headDim = headDimension(hiddenSize, numHeads, file, 'hidden_size', 'num_attention_heads');

  const rope = (json.rope_parameters ?? {}) as Json;
  if (typeof rope !== 'object' || Array.isArray(rope)) throw new ConfigError(`${file}: rope_parameters must be an object`);
  const ropeType = rope.rope_type ?? rope.type ?? 'default';
  if (ropeType !== 'default') throw new ConfigError(`${file}: rope_type ${JSON.stringify(ropeType)} is not supported (only "default" RoPE)`);
  const scaling = json.rope_scaling as Json | null | undefined;
  if (scaling != null && (typeof scaling !== 'object' || Array.isArray(scaling) || (scaling.rope_type ?? scaling.type ?? 'default') !== 'default')) {
    throw new ConfigError(`${file}: rope_scaling ${JSON.stringify(scaling)} is not supported (only unscaled RoPE)`);
  }
  const ropeRead = fieldReader(rope, `${file} rope_parameters`);
  const pct = rope.partial_rotary_factor !== undefined ? ropeRead.number('partial_rotary_factor') : read.number('partial_rotary_factor', read.number('rotary_pct', 0.25));
  const base = rope.rope_theta !== undefined ? ropeRead.number('rope_theta') : read.number('rope_theta', read.number('rotary_emb_base', 10000));
  // The field each value came from, for the messages (the newest style wins, as above).
  const pctField = rope.partial_rotary_factor !== undefined ? 'rope_parameters.partial_rotary_factor' : json.partial_rotary_factor !== undefined ? 'partial_rotary_factor' : 'rotary_pct';
  const baseField = rope.rope_theta !== undefined ? 'rope_parameters.rope_theta' : json.rope_theta !== undefined ? 'rope_theta' : 'rotary_emb_base';
  if (!(pct > 0 && pct <= 1)) throw new ConfigError(`${file}: the rotary fraction must be in (0, 1], got ${pct} ("${pctField}")`);
  // transformers: rotary_ndims = int(head_size * rotary_pct)
  const rotaryDims = Math.floor(headDim * pct);
  if (rotaryDims < 2 || rotaryDims % 2 !== 0) {
    throw new ConfigError(`${file}: rotary dimensions per head (${headDim} × ${pct} = ${rotaryDims}) must be an even number ≥ 2`);
  }
  if (!(base > 0)) throw new ConfigError(`${file}: the rotary base must be positive, got ${base} ("${baseField}")`);

  return {
    family: 'gpt_neox',
    vocabSize: read.int('vocab_size'),
    contextLength: read.int('max_position_embeddings'),
    hiddenSize,
    numLayers: read.int('num_hidden_layers'),
    numHeads,
    headDim,
    intermediateSize: read.int('intermediate_size'),
    layerNormEps: read.nonNegative('layer_norm_eps', 1e-5),
    activation: activation(read.string('hidden_act', 'gelu'), 'hidden_act', file),
    positions: { kind: 'rotary', rotaryDims, base },
    parallelResidual: read.bool('use_parallel_residual', true),
    tiedEmbeddings: read.bool('tie_word_embeddings', false),
    attentionBias: read.bool('attention_bias', true),
    attentionScale: () => 1 / Math.sqrt(headDim),
    eosTokenId: read.optionalTokenId('eos_token_id', read.int('vocab_size')),
  };
}

function headDimension(hiddenSize: number, numHeads: number, file: string, sizeField: string, headsField: string): number {
  if (hiddenSize % numHeads !== 0) {
    throw new ConfigError(`${file}: the hidden size ${hiddenSize} is not divisible by the number of heads ${numHeads} ("${sizeField}" / "${headsField}")`);
  }
  return hiddenSize / numHeads;
}

function activation(name: string, field: string, file: string): Activation {
  if (name === 'gelu') return 'gelu_erf';
  if (name === 'gelu_new' || name === 'gelu_pytorch_tanh' || name === 'gelu_fast') return 'gelu_tanh';
  throw new ConfigError(`${file}: ${field} ${JSON.stringify(name)} is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast)`);
}

/**
 * Largest count a config may give (sizes, layers, heads, vocabulary, positions): shaders index with u32 and the argmax
 * kernel keeps bit 31 of a token id for its non-finite flag; what is far smaller but still too big for the adapter
 * fails later with GpuLimitError, or against the safetensors header with ModelFormatError.
 */
export const MAX_COUNT = 2 ** 31 - 1;

/** Typed reads of config fields, each failure a ConfigError naming the field. */
function fieldReader(json: Json, file: string) {
  const bad = (key: string, want: string): never => {
    throw new ConfigError(
      json[key] === undefined ? `${file}: the field "${key}" is missing` : `${file}: "${key}" must be ${want}, got ${JSON.stringify(json[key])}`,
    );
  };
  const int = (key: string): number => {
    const v = json[key];
    return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && v <= MAX_COUNT ? v : bad(key, `a positive integer ≤ ${MAX_COUNT}`);
  };
  return {
    int,
    /**
     * A token id: absent or null → undefined; otherwise an integer in [0, vocab_size). Hugging Face also allows a list
     * (several end tokens); we stop at its first — the GPT-2 and NeoX checkpoints we read name one.
     */
    optionalTokenId(key: string, vocabSize: number): number | undefined {
      const raw = json[key];
      if (raw === undefined || raw === null) return undefined;
      const v = Array.isArray(raw) && raw.length > 0 ? raw[0] : raw;
      return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v < vocabSize ? v : bad(key, `a token id from 0 to ${vocabSize - 1} (vocab_size − 1), or null`);
    },
    number(key: string, fallback?: number): number {
      const v = json[key];
      if (v === undefined && fallback !== undefined) return fallback;
      return typeof v === 'number' && Number.isFinite(v) ? v : bad(key, 'a number');
    },
    /** A finite number ≥ 0 (an epsilon: a negative one makes layer norm divide by √(negative) = NaN). */
    nonNegative(key: string, fallback: number): number {
      const v = json[key];
      if (v === undefined) return fallback;
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : bad(key, 'a number ≥ 0 (finite)');
    },
    bool(key: string, fallback: boolean): boolean {
      const v = json[key];
      if (v === undefined || v === null) return fallback;
      return typeof v === 'boolean' ? v : bad(key, 'true or false');
    },
    string(key: string, fallback: string): string {
      const v = json[key];
      if (v === undefined || v === null) return fallback;
      return typeof v === 'string' ? v : bad(key, 'a string');
    },
  };
}
