// CPU float64 reference implementation of the GPT-2 and GPT-NeoX forward pass: the test suite's oracle for models beyond
// the golden fixtures. Written from the Hugging Face `transformers` semantics (modeling_gpt2.py, modeling_gpt_neox.py),
// deliberately independent of the engine (nothing from src/model or src/io/checkpoint): it takes the checkpoint exactly
// as Hugging Face stores it (raw tensors under their file names, plus the parsed config.json) and computes in float64.
// Plain on purpose, in the spirit of nanoGPT's model.py: LayerNorm → attention → MLP → block → model, with a simple
// KV cache for generation and no other tricks.

/** One tensor of the checkpoint, decoded to float64, row-major, with its stored shape. */
export interface RawTensor {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

/** The checkpoint's tensors by their names in the file (buffers and prefixes included, as stored). */
export type RawTensors = ReadonlyMap<string, RawTensor>;

/** config.json as parsed JSON. */
export type RawConfig = Readonly<Record<string, unknown>>;

export type Family = 'gpt2' | 'gpt_neox';
export type Activation = (x: number) => number;

/** The hyperparameters the forward pass needs, read from config.json with transformers' defaults. */
export interface ReferenceHparams {
  readonly family: Family;
  readonly vocabSize: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  readonly headDim: number;
  readonly intermediate: number;
  readonly layerNormEps: number;
  readonly activation: string;
  /** Multiplier of q·k for layer `l` (1/√head_dim, possibly also 1/(l+1) for GPT-2). */
  readonly attnScale: (layer: number) => number;
  /** GPT-NeoX only (0 for GPT-2): dims of each head that RoPE rotates, and its base. */
  readonly rotaryNdims: number;
  readonly ropeBase: number;
  /** GPT-NeoX: x + attn(ln1(x)) + mlp(ln2(x)); GPT-2 and NeoX with use_parallel_residual=false: sequential. */
  readonly parallelResidual: boolean;
  /** The largest number of positions (GPT-2: rows of wpe); Infinity where RoPE sets no limit. */
  readonly maxPositions: number;
}

// ---------------------------------------------------------------------------------------------------------------------
// Activations

/** erf(x) in float64, to about 1e-16 relative: a positive-term series for |x| < 3, the erfc continued fraction beyond. */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return -erf(-x);
  if (x < 3) return erfSeries(x);
  return 1 - erfcContinuedFraction(x);
}

/** erfc(x) = 1 − erf(x), without the cancellation of `1 - erf(x)` for large x. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 1) return 1 - erfSeries(x); // erfc(1) ≈ 0.16: under one of 16 digits lost
  return erfcContinuedFraction(x);
}

// erf(x) = 2/√π · e^(−x²) · Σ_{n≥0} 2ⁿ x^(2n+1) / (1·3·…·(2n+1))  (Abramowitz & Stegun 7.1.6): every term is positive,
// so there is no cancellation; at x = 3 it needs ~60 terms.
function erfSeries(x: number): number {
  const x2 = x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return (2 / Math.sqrt(Math.PI)) * Math.exp(-x2) * sum;
}

// erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))  (A&S 7.1.14), evaluated from the tail;
// for x ≥ 1 two hundred terms converge past double precision.
function erfcContinuedFraction(x: number): number {
  if (x > 27) return 0; // e^(−729) underflows
  let tail = x;
  for (let n = 200; n >= 1; n--) tail = x + n / 2 / tail;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / tail;
}

/** Exact GELU, x·Φ(x) = x/2 · erfc(−x/√2) (PyTorch's `gelu`, HF `gelu`). */
export function geluErf(x: number): number {
  return 0.5 * x * erfc(-x * Math.SQRT1_2);
}

/** The tanh approximation: 0.5x(1 + tanh(√(2/π)(x + 0.044715x³))) (HF gelu_new, gelu_pytorch_tanh, gelu_fast). */
export function geluTanh(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
}

export function activationFunction(name: string): Activation {
  switch (name) {
    case 'gelu':
    case 'gelu_python':
      return geluErf;
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return geluTanh;
    default:
      throw new Error(`reference model: activation ${JSON.stringify(name)} is not implemented`);
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Config

function field<T>(config: RawConfig, key: string, fallback: T): T {
  const value = config[key];
  return value === undefined || value === null ? fallback : (value as T);
}

function required(config: RawConfig, key: string): number {
  const value = config[key];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new Error(`reference model: config.json needs a number "${key}"`);
  return value;
}

/** Reads config.json the way transformers' GPT2Config / GPTNeoXConfig would, defaults included. */
export function readHparams(config: RawConfig): ReferenceHparams {
  const modelType = config.model_type;
  if (modelType === 'gpt2') {
    const hidden = required(config, 'n_embd');
    const heads = required(config, 'n_head');
    const headDim = hidden / heads;
    if (!Number.isInteger(headDim)) throw new Error(`reference model: n_embd ${hidden} is not a multiple of n_head ${heads}`);
    const scaleWeights = field(config, 'scale_attn_weights', true);
    const byLayer = field(config, 'scale_attn_by_inverse_layer_idx', false);
    return {
      family: 'gpt2',
      vocabSize: required(config, 'vocab_size'),
      hidden,
      layers: required(config, 'n_layer'),
      heads,
      headDim,
      intermediate: field(config, 'n_inner', 4 * hidden),
      layerNormEps: field(config, 'layer_norm_epsilon', 1e-5),
      activation: field(config, 'activation_function', 'gelu_new'),
      attnScale: (layer) => (scaleWeights ? 1 / Math.sqrt(headDim) : 1) / (byLayer ? layer + 1 : 1),
      rotaryNdims: 0,
      ropeBase: 0,
      parallelResidual: false,
      maxPositions: required(config, 'n_positions'),
    };
  }
  if (modelType === 'gpt_neox') {
    const hidden = required(config, 'hidden_size');
    const heads = required(config, 'num_attention_heads');
    const headDim = hidden / heads;
    if (!Number.isInteger(headDim)) throw new Error(`reference model: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
    const { pct, base } = readRope(config);
    const rotaryNdims = Math.floor(headDim * pct);
    if (rotaryNdims % 2 !== 0 || rotaryNdims > headDim) throw new Error(`reference model: rotary_ndims ${rotaryNdims} must be even and at most head_dim ${headDim}`);
    return {
      family: 'gpt_neox',
      vocabSize: required(config, 'vocab_size'),
      hidden,
      layers: required(config, 'num_hidden_layers'),
      heads,
      headDim,
      intermediate: required(config, 'intermediate_size'),
      layerNormEps: field(config, 'layer_norm_eps', 1e-5),
      activation: field(config, 'hidden_act', 'gelu'),
      attnScale: () => 1 / Math.sqrt(headDim),
      rotaryNdims,
      ropeBase: base,
      parallelResidual: field(config, 'use_parallel_residual', true),
      maxPositions: Infinity,
    };
  }
  throw new Error(`reference model: model_type ${JSON.stringify(modelType)} is not gpt2 or gpt_neox`);
}

/** NeoX RoPE fields, newest style first: rope_parameters{}, then top-level rope_theta / partial_rotary_factor, then rotary_*. */
function readRope(config: RawConfig): { pct: number; base: number } {
  let pct = field(config, 'rotary_pct', 0.25);
  let base = field(config, 'rotary_emb_base', 10000);
  pct = field(config, 'partial_rotary_factor', pct);
  base = field(config, 'rope_theta', base);
  const scaling = config.rope_scaling as Record<string, unknown> | null | undefined;
  if (scaling && (scaling.rope_type ?? scaling.type ?? 'default') !== 'default') {
    throw new Error(`reference model: rope_scaling ${JSON.stringify(scaling)} is not implemented`);
  }
  const params = config.rope_parameters as Record<string, unknown> | null | undefined;
  if (params) {
    if ((params.rope_type ?? 'default') !== 'default') throw new Error(`reference model: rope_type ${JSON.stringify(params.rope_type)} is not implemented`);
    pct = field(params, 'partial_rotary_factor', pct);
    base = field(params, 'rope_theta', base);
  }
  return { pct, base };
}

// ---------------------------------------------------------------------------------------------------------------------
// Weights: the checkpoint's tensors under one naming, with their shapes checked

/** A dense layer as stored: GPT-2 Conv1D keeps W as [in, out] (y = xW + b); NeoX Linear keeps [out, in] (y = xWᵀ + b). */
interface Dense {
  readonly weight: Float64Array;
  readonly bias: Float64Array | null;
  readonly inDim: number;
  readonly outDim: number;
  readonly layout: 'in_out' | 'out_in';
}

interface Norm {
  readonly weight: Float64Array;
  readonly bias: Float64Array;
}

interface Layer {
  readonly ln1: Norm;
  readonly ln2: Norm;
  readonly qkv: Dense;
  readonly attnOut: Dense;
  readonly fc: Dense;
  readonly proj: Dense;
}

interface Weights {
  readonly tokenEmbedding: Float64Array; // [V, E]
  readonly positionEmbedding: Float64Array | null; // [maxPositions, E], GPT-2 only
  readonly layers: readonly Layer[];
  readonly finalNorm: Norm;
  readonly lmHead: Float64Array; // [V, E]: logits = h · lmHeadᵀ
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Looks tensors up by name after stripping a family prefix, checks shapes, and rejects tensors it does not know. */
class TensorTable {
  private readonly byName = new Map<string, { stored: string; tensor: RawTensor }>();
  private readonly used = new Set<string>();

  constructor(tensors: RawTensors, prefix: string, private readonly isBuffer: (name: string) => boolean) {
    for (const [stored, tensor] of tensors) {
      const name = stored.startsWith(prefix) ? stored.slice(prefix.length) : stored;
      if (this.byName.has(name)) throw new Error(`reference model: tensor ${name} appears both with and without the "${prefix}" prefix`);
      this.byName.set(name, { stored, tensor });
    }
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string, shape: readonly number[]): Float64Array {
    const entry = this.byName.get(name);
    if (!entry) throw new Error(`reference model: missing tensor ${name}`);
    if (!sameShape(entry.tensor.shape, shape)) {
      throw new Error(`reference model: tensor ${entry.stored} has shape [${entry.tensor.shape}], expected [${shape}]`);
    }
    this.used.add(name);
    return entry.tensor.data;
  }

  /** Throws on tensors that are neither used nor known buffers: a layout this oracle would otherwise silently misread. */
  checkAllUsed(allowedUnused: readonly string[]): void {
    for (const [name, { stored }] of this.byName) {
      if (!this.used.has(name) && !this.isBuffer(name) && !allowedUnused.includes(name)) {
        throw new Error(`reference model: unexpected tensor ${stored}`);
      }
    }
  }
}

function dense(table: TensorTable, name: string, inDim: number, outDim: number, layout: Dense['layout'], hasBias = true): Dense {
  const shape = layout === 'in_out' ? [inDim, outDim] : [outDim, inDim];
  return {
    weight: table.get(`${name}.weight`, shape),
    bias: hasBias ? table.get(`${name}.bias`, [outDim]) : null,
    inDim,
    outDim,
    layout,
  };
}

function norm(table: TensorTable, name: string, dim: number): Norm {
  return { weight: table.get(`${name}.weight`, [dim]), bias: table.get(`${name}.bias`, [dim]) };
}

function gpt2Weights(config: RawConfig, hp: ReferenceHparams, tensors: RawTensors): Weights {
  const { hidden: E, vocabSize: V, intermediate: I } = hp;
  // attn.bias (the causal mask) and attn.masked_bias are buffers, not parameters.
  const table = new TensorTable(tensors, 'transformer.', (n) => /^h\.\d+\.attn\.(bias|masked_bias)$/.test(n));
  const layers: Layer[] = [];
  for (let l = 0; l < hp.layers; l++) {
    const p = `h.${l}`;
    layers.push({
      ln1: norm(table, `${p}.ln_1`, E),
      ln2: norm(table, `${p}.ln_2`, E),
      qkv: dense(table, `${p}.attn.c_attn`, E, 3 * E, 'in_out'),
      attnOut: dense(table, `${p}.attn.c_proj`, E, E, 'in_out'),
      fc: dense(table, `${p}.mlp.c_fc`, E, I, 'in_out'),
      proj: dense(table, `${p}.mlp.c_proj`, I, E, 'in_out'),
    });
  }
  const tokenEmbedding = table.get('wte.weight', [V, E]);
  // GPT2LMHeadModel ties lm_head to wte unless tie_word_embeddings is false, where lm_head.weight is its own tensor
  // (a file without one falls back to wte rather than to random weights).
  const tied = field(config, 'tie_word_embeddings', true);
  const untiedHead = !tied && table.has('lm_head.weight');
  const weights: Weights = {
    tokenEmbedding,
    positionEmbedding: table.get('wpe.weight', [hp.maxPositions, E]),
    layers,
    finalNorm: norm(table, 'ln_f', E),
    lmHead: untiedHead ? table.get('lm_head.weight', [V, E]) : tokenEmbedding,
  };
  table.checkAllUsed(['lm_head.weight']); // a tied checkpoint may still store lm_head (a copy of wte)
  return weights;
}

function neoxWeights(config: RawConfig, hp: ReferenceHparams, tensors: RawTensors): Weights {
  const { hidden: E, vocabSize: V, intermediate: I } = hp;
  const table = new TensorTable(tensors, 'gpt_neox.', (n) => /^layers\.\d+\.attention\.(bias|masked_bias|rotary_emb\.inv_freq)$/.test(n));
  const attentionBias = field(config, 'attention_bias', true);
  const layers: Layer[] = [];
  for (let l = 0; l < hp.layers; l++) {
    const p = `layers.${l}`;
    layers.push({
      ln1: norm(table, `${p}.input_layernorm`, E),
      ln2: norm(table, `${p}.post_attention_layernorm`, E),
      qkv: dense(table, `${p}.attention.query_key_value`, E, 3 * E, 'out_in', attentionBias),
      attnOut: dense(table, `${p}.attention.dense`, E, E, 'out_in', attentionBias),
      fc: dense(table, `${p}.mlp.dense_h_to_4h`, E, I, 'out_in'),
      proj: dense(table, `${p}.mlp.dense_4h_to_h`, I, E, 'out_in'),
    });
  }
  const tokenEmbedding = table.get('embed_in.weight', [V, E]);
  // GPTNeoXForCausalLM's embed_out is untied by default; with tie_word_embeddings transformers makes it embed_in
  // (a stored embed_out is then ignored).
  const tied = field(config, 'tie_word_embeddings', false);
  const weights: Weights = {
    tokenEmbedding,
    positionEmbedding: null,
    layers,
    finalNorm: norm(table, 'final_layer_norm', E),
    lmHead: tied ? tokenEmbedding : table.get('embed_out.weight', [V, E]),
  };
  table.checkAllUsed(['embed_out.weight']);
  return weights;
}

// ---------------------------------------------------------------------------------------------------------------------
// Building blocks. Activations are row-major [T, dim] Float64Arrays.

function layerNorm(x: Float64Array, T: number, n: Norm, eps: number): Float64Array {
  const E = n.weight.length;
  const out = new Float64Array(T * E);
  for (let t = 0; t < T; t++) {
    const row = x.subarray(t * E, (t + 1) * E);
    let mean = 0;
    for (let i = 0; i < E; i++) mean += row[i];
    mean /= E;
    let variance = 0; // biased, as torch.nn.LayerNorm
    for (let i = 0; i < E; i++) variance += (row[i] - mean) ** 2;
    variance /= E;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < E; i++) out[t * E + i] = (row[i] - mean) * inv * n.weight[i] + n.bias[i];
  }
  return out;
}

/** y = x·W + b for [in, out] weights, y = x·Wᵀ + b for [out, in] ones. */
function applyDense(x: Float64Array, T: number, d: Dense): Float64Array {
  const { inDim: K, outDim: N, weight: W } = d;
  const y = new Float64Array(T * N);
  for (let t = 0; t < T; t++) {
    const xr = x.subarray(t * K, (t + 1) * K);
    const yr = y.subarray(t * N, (t + 1) * N);
    if (d.bias) yr.set(d.bias);
    if (d.layout === 'in_out') {
      for (let k = 0; k < K; k++) {
        const xv = xr[k];
        const wr = W.subarray(k * N, (k + 1) * N);
        for (let j = 0; j < N; j++) yr[j] += xv * wr[j];
      }
    } else {
      for (let j = 0; j < N; j++) {
        const wr = W.subarray(j * K, (j + 1) * K);
        let s = 0;
        for (let k = 0; k < K; k++) s += xr[k] * wr[k];
        yr[j] += s;
      }
    }
  }
  return y;
}

/** NeoX rotary embedding, rotate-half convention, on the first `ndims` dims of one head vector, in place. */
function applyRope(v: Float64Array, offset: number, ndims: number, position: number, base: number): void {
  const half = ndims / 2;
  for (let i = 0; i < half; i++) {
    const invFreq = 1 / base ** ((2 * i) / ndims);
    const angle = position * invFreq;
    const cos = Math.cos(angle);
    const sin = Math.sin(angle);
    const a = v[offset + i];
    const b = v[offset + i + half];
    v[offset + i] = a * cos - b * sin;
    v[offset + i + half] = b * cos + a * sin;
  }
}

/** Keys and values of every past position, per layer: rows of [heads × headDim] (RoPE already applied to keys). */
export interface KvCache {
  readonly keys: Float64Array[][];
  readonly values: Float64Array[][];
  length: number;
}

function attention(hp: ReferenceHparams, layerIndex: number, layer: Layer, x: Float64Array, T: number, cache: KvCache): Float64Array {
  const { heads: H, headDim: D, hidden: E } = hp;
  const qkv = applyDense(x, T, layer.qkv); // [T, 3E]
  const start = cache.length;
  const queries: Float64Array[] = [];
  for (let t = 0; t < T; t++) {
    const row = qkv.subarray(t * 3 * E, (t + 1) * 3 * E);
    const q = new Float64Array(E);
    const k = new Float64Array(E);
    const v = new Float64Array(E);
    for (let h = 0; h < H; h++) {
      for (let d = 0; d < D; d++) {
        if (hp.family === 'gpt2') {
          // Conv1D output is [q (all heads) | k | v], each head a contiguous D-slice of its part.
          q[h * D + d] = row[h * D + d];
          k[h * D + d] = row[E + h * D + d];
          v[h * D + d] = row[2 * E + h * D + d];
        } else {
          // NeoX fuses per head: [head0: q k v, head1: q k v, …].
          q[h * D + d] = row[h * 3 * D + d];
          k[h * D + d] = row[h * 3 * D + D + d];
          v[h * D + d] = row[h * 3 * D + 2 * D + d];
        }
      }
      if (hp.rotaryNdims > 0) {
        applyRope(q, h * D, hp.rotaryNdims, start + t, hp.ropeBase);
        applyRope(k, h * D, hp.rotaryNdims, start + t, hp.ropeBase);
      }
    }
    queries.push(q);
    cache.keys[layerIndex].push(k);
    cache.values[layerIndex].push(v);
  }

  const keys = cache.keys[layerIndex];
  const values = cache.values[layerIndex];
  const scale = hp.attnScale(layerIndex);
  const y = new Float64Array(T * E);
  for (let t = 0; t < T; t++) {
    const visible = start + t + 1; // causal: position start+t sees positions 0..start+t
    for (let h = 0; h < H; h++) {
      const scores = new Float64Array(visible);
      let max = -Infinity;
      for (let s = 0; s < visible; s++) {
        let dot = 0;
        for (let d = 0; d < D; d++) dot += queries[t][h * D + d] * keys[s][h * D + d];
        scores[s] = dot * scale;
        max = Math.max(max, scores[s]);
      }
      let total = 0;
      for (let s = 0; s < visible; s++) total += scores[s] = Math.exp(scores[s] - max);
      for (let s = 0; s < visible; s++) {
        const p = scores[s] / total;
        for (let d = 0; d < D; d++) y[t * E + h * D + d] += p * values[s][h * D + d];
      }
    }
  }
  return applyDense(y, T, layer.attnOut);
}

function mlp(act: Activation, layer: Layer, x: Float64Array, T: number): Float64Array {
  const h = applyDense(x, T, layer.fc);
  for (let i = 0; i < h.length; i++) h[i] = act(h[i]);
  return applyDense(h, T, layer.proj);
}

const add = (a: Float64Array, b: Float64Array): Float64Array => a.map((v, i) => v + b[i]);

// ---------------------------------------------------------------------------------------------------------------------
// The model

export class ReferenceModel {
  readonly hparams: ReferenceHparams;
  private readonly weights: Weights;
  private readonly act: Activation;

  constructor(config: RawConfig, tensors: RawTensors) {
    this.hparams = readHparams(config);
    this.act = activationFunction(this.hparams.activation);
    this.weights = this.hparams.family === 'gpt2' ? gpt2Weights(config, this.hparams, tensors) : neoxWeights(config, this.hparams, tensors);
  }

  newCache(): KvCache {
    const perLayer = () => Array.from({ length: this.hparams.layers }, () => [] as Float64Array[]);
    return { keys: perLayer(), values: perLayer(), length: 0 };
  }

  /**
   * Runs `ids` at the positions after those already in `cache` (appending their keys and values) and returns the
   * logits: [ids.length, V] row-major, or only the last row [V] when `lastOnly`.
   */
  forward(ids: readonly number[], cache: KvCache = this.newCache(), lastOnly = false): Float64Array {
    const hp = this.hparams;
    const { hidden: E, vocabSize: V } = hp;
    const w = this.weights;
    const T = ids.length;
    if (T === 0) throw new Error('reference model: no tokens to run');
    if (cache.length + T > hp.maxPositions) throw new Error(`reference model: ${cache.length + T} positions exceed the model's ${hp.maxPositions}`);

    let x: Float64Array = new Float64Array(T * E);
    for (let t = 0; t < T; t++) {
      const id = ids[t];
      if (!Number.isInteger(id) || id < 0 || id >= V) throw new Error(`reference model: token id ${id} is outside [0, ${V})`);
      for (let i = 0; i < E; i++) {
        x[t * E + i] = w.tokenEmbedding[id * E + i] + (w.positionEmbedding ? w.positionEmbedding[(cache.length + t) * E + i] : 0);
      }
    }

    for (let l = 0; l < hp.layers; l++) {
      const layer = w.layers[l];
      if (hp.parallelResidual) {
        const a = attention(hp, l, layer, layerNorm(x, T, layer.ln1, hp.layerNormEps), T, cache);
        const m = mlp(this.act, layer, layerNorm(x, T, layer.ln2, hp.layerNormEps), T);
        x = x.map((v, i) => v + a[i] + m[i]);
      } else {
        x = add(x, attention(hp, l, layer, layerNorm(x, T, layer.ln1, hp.layerNormEps), T, cache));
        x = add(x, mlp(this.act, layer, layerNorm(x, T, layer.ln2, hp.layerNormEps), T));
      }
    }
    cache.length += T;

    const first = lastOnly ? T - 1 : 0;
    const h = layerNorm(x.subarray(first * E), T - first, w.finalNorm, hp.layerNormEps);
    const logits = new Float64Array((T - first) * V);
    for (let t = 0; t < T - first; t++) {
      const hr = h.subarray(t * E, (t + 1) * E);
      for (let v = 0; v < V; v++) {
        const wr = w.lmHead.subarray(v * E, (v + 1) * E);
        let s = 0;
        for (let i = 0; i < E; i++) s += hr[i] * wr[i];
        logits[t * V + v] = s;
      }
    }
    return logits;
  }

  /** Greedy decoding with the KV cache: argmax at each step (ties → lowest id), and each step's top-1 − top-2 gap. */
  greedy(promptIds: readonly number[], n: number): { ids: number[]; margins: number[] } {
    const cache = this.newCache();
    let logits = this.forward(promptIds, cache, true);
    const ids: number[] = [];
    const margins: number[] = [];
    for (let step = 0; step < n; step++) {
      const { index, margin } = top1(logits);
      ids.push(index);
      margins.push(margin);
      if (step + 1 < n) logits = this.forward([index], cache, true);
    }
    return { ids, margins };
  }
}

/** Index of the largest value (the lowest such index on ties) and its lead over the runner-up. */
export function top1(values: ArrayLike<number>): { index: number; margin: number } {
  let index = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[index]) index = i;
  let second = -Infinity;
  for (let i = 0; i < values.length; i++) if (i !== index && values[i] > second) second = values[i];
  return { index, margin: values[index] - second };
}

/** Logits for every position of `ids`: [ids.length, V] row-major. */
export function referenceLogits(config: RawConfig, tensors: RawTensors, ids: readonly number[]): Float64Array {
  return new ReferenceModel(config, tensors).forward(ids);
}

/** Greedy continuation of `promptIds` by `n` tokens (KV cache; ties → lowest id). */
export function referenceGreedy(config: RawConfig, tensors: RawTensors, promptIds: readonly number[], n: number): number[] {
  return new ReferenceModel(config, tensors).greedy(promptIds, n).ids;
}
