// Builds random-weight GPT-2 / GPT-NeoX checkpoints in memory, in exactly the Hugging Face layouts (names, shapes,
// Conv1D [in, out] vs Linear [out, in], fused per-head NeoX qkv, optional buffers, config.json field styles), for
// tests that compare the engine with the CPU reference model on configurations the golden fixtures do not cover.
//
// Deterministic: one seeded PRNG (mulberry32) drives every value, in a fixed order. Scales are chosen so that every
// component matters and logits are not near-ties: dense weights ~N(0, 1/fan_in) (each sublayer contributes O(1) to the
// residual stream, attention scores have std ~1), biases ~N(0, 0.1²), LayerNorm weights ~1 + N(0, 0.2²), and token /
// position embeddings ~N(0, (3/√hidden)²) so logits have std ~3 (top-1 margins under 1e-3 are then rare, ~0.1% of steps).
import { encodeFloats } from '../../src/io/dtype.ts';
import type { FloatDtype } from '../../src/io/dtype.ts';
import { serializeSafetensors } from '../../src/io/safetensorsWriter.ts';
import type { TensorToWrite } from '../../src/io/safetensorsWriter.ts';

export interface RandomCheckpointOptions {
  readonly family: 'gpt2' | 'gpt_neox';
  readonly vocabSize: number;
  readonly hidden: number;
  readonly layers: number;
  readonly heads: number;
  /** GPT-2 n_positions (rows of wpe); NeoX max_position_embeddings. */
  readonly positions: number;
  /** MLP width; default 4 × hidden (GPT-2 writes n_inner: null then). */
  readonly intermediate?: number;
  readonly dtype: FloatDtype;
  readonly seed: number;
  /** GPT-2: keys under `transformer.` (save_pretrained; default true) or bare (the original OpenAI checkpoints). */
  readonly prefix?: boolean;
  /** Also store the non-parameter buffers real checkpoints carry (GPT-2 attn.bias / attn.masked_bias; NeoX attention.bias
   *  (BOOL), attention.masked_bias, attention.rotary_emb.inv_freq). Default false. */
  readonly extraBuffers?: boolean;
  /** tie_word_embeddings; default true for GPT-2 (no lm_head stored), false for NeoX (embed_out stored). */
  readonly tied?: boolean;
  /** NeoX use_parallel_residual; default true. */
  readonly parallelResidual?: boolean;
  /** NeoX fraction of each head rotated by RoPE; default 0.25. */
  readonly rotaryPct?: number;
  /** NeoX RoPE base; default 10000. */
  readonly ropeBase?: number;
  /** NeoX config.json RoPE fields: 'old' rotary_pct / rotary_emb_base (Pythia), 'mid' top-level partial_rotary_factor /
   *  rope_theta, 'new' rope_parameters {rope_type, rope_theta, partial_rotary_factor}. Default 'old'. */
  readonly configStyle?: 'old' | 'mid' | 'new';
  /** GPT-2 activation_function (default gelu_new) / NeoX hidden_act (default gelu). */
  readonly activation?: string;
  /** NeoX attention_bias: qkv and dense biases (default true). */
  readonly attentionBias?: boolean;
  /** GPT-2 scale_attn_by_inverse_layer_idx; default false. */
  readonly scaleAttnByInverseLayerIdx?: boolean;
  /** layer_norm_epsilon / layer_norm_eps; default 1e-5. */
  readonly layerNormEps?: number;
}

export interface RandomCheckpoint {
  readonly config: Record<string, unknown>;
  readonly files: { readonly 'config.json': string; readonly 'model.safetensors': Uint8Array };
}

/** mulberry32: a small, fast, well-mixed 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller) from a uniform source. */
function normalSource(uniform: () => number): () => number {
  return () => {
    const u = 1 - uniform(); // (0, 1]: log is finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}

const TORCH_DTYPE: Record<FloatDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export function makeRandomCheckpoint(options: RandomCheckpointOptions): RandomCheckpoint {
  const { family, vocabSize: V, hidden: E, layers: L, heads: H, positions: P, dtype } = options;
  if (E % H !== 0) throw new Error(`makeRandomCheckpoint: hidden ${E} is not a multiple of heads ${H}`);
  const I = options.intermediate ?? 4 * E;
  const normal = normalSource(mulberry32(options.seed));
  const tensors: TensorToWrite[] = [];

  const add = (name: string, shape: number[], fill: (i: number) => number): void => {
    const count = shape.reduce((n, d) => n * d, 1);
    const values = new Float64Array(count);
    for (let i = 0; i < count; i++) values[i] = fill(i);
    tensors.push({ name, dtype, shape, data: encodeFloats(dtype, values) });
  };
  const matrix = (name: string, shape: number[], fanIn: number) => add(name, shape, () => normal() / Math.sqrt(fanIn));
  const bias = (name: string, n: number) => add(name, [n], () => 0.1 * normal());
  const layerNorm = (name: string) => {
    add(`${name}.weight`, [E], () => 1 + 0.2 * normal());
    add(`${name}.bias`, [E], () => 0.1 * normal());
  };
  const embedding = (name: string, rows: number) => add(name, [rows, E], () => (3 / Math.sqrt(E)) * normal());
  const causalMask = (name: string, dt: 'BOOL' | FloatDtype) => {
    const mask = new Float64Array(P * P);
    for (let r = 0; r < P; r++) for (let c = 0; c <= r; c++) mask[r * P + c] = 1;
    tensors.push({ name, dtype: dt, shape: [1, 1, P, P], data: dt === 'BOOL' ? Uint8Array.from(mask) : encodeFloats(dt, mask) });
  };

  const eps = options.layerNormEps ?? 1e-5;
  let config: Record<string, unknown>;

  if (family === 'gpt2') {
    const tied = options.tied ?? true;
    const activation = options.activation ?? 'gelu_new';
    const p = (options.prefix ?? true) ? 'transformer.' : '';
    embedding(`${p}wte.weight`, V);
    embedding(`${p}wpe.weight`, P);
    for (let l = 0; l < L; l++) {
      const h = `${p}h.${l}`;
      layerNorm(`${h}.ln_1`);
      // Conv1D: weight [in, out]; c_attn's output is [q | k | v], each E wide.
      matrix(`${h}.attn.c_attn.weight`, [E, 3 * E], E);
      bias(`${h}.attn.c_attn.bias`, 3 * E);
      matrix(`${h}.attn.c_proj.weight`, [E, E], E);
      bias(`${h}.attn.c_proj.bias`, E);
      layerNorm(`${h}.ln_2`);
      matrix(`${h}.mlp.c_fc.weight`, [E, I], E);
      bias(`${h}.mlp.c_fc.bias`, I);
      matrix(`${h}.mlp.c_proj.weight`, [I, E], I);
      bias(`${h}.mlp.c_proj.bias`, E);
      if (options.extraBuffers) {
        causalMask(`${h}.attn.bias`, dtype);
        add(`${h}.attn.masked_bias`, [], () => -1e4);
      }
    }
    layerNorm(`${p}ln_f`);
    if (!tied) embedding('lm_head.weight', V);
    config = {
      activation_function: activation,
      architectures: ['GPT2LMHeadModel'],
      attn_pdrop: 0.1,
      bos_token_id: V - 1,
      embd_pdrop: 0.1,
      eos_token_id: V - 1,
      initializer_range: 0.02,
      layer_norm_epsilon: eps,
      model_type: 'gpt2',
      n_embd: E,
      n_head: H,
      n_inner: options.intermediate ?? null,
      n_layer: L,
      n_positions: P,
      reorder_and_upcast_attn: false,
      resid_pdrop: 0.1,
      scale_attn_by_inverse_layer_idx: options.scaleAttnByInverseLayerIdx ?? false,
      scale_attn_weights: true,
      tie_word_embeddings: tied,
      torch_dtype: TORCH_DTYPE[dtype],
      use_cache: true,
      vocab_size: V,
    };
  } else {
    const D = E / H;
    const tied = options.tied ?? false;
    const activation = options.activation ?? 'gelu';
    const attentionBias = options.attentionBias ?? true;
    const rotaryPct = options.rotaryPct ?? 0.25;
    const ropeBase = options.ropeBase ?? 10000;
    const rotaryNdims = Math.floor(D * rotaryPct);
    if (rotaryNdims % 2 !== 0) throw new Error(`makeRandomCheckpoint: rotary_ndims ${rotaryNdims} (head_dim ${D} × ${rotaryPct}) must be even`);
    const style = options.configStyle ?? 'old';
    embedding('gpt_neox.embed_in.weight', V);
    for (let l = 0; l < L; l++) {
      const h = `gpt_neox.layers.${l}`;
      layerNorm(`${h}.input_layernorm`);
      layerNorm(`${h}.post_attention_layernorm`);
      // Linear: weight [out, in]; query_key_value's rows are per head [q k v], each head_dim long.
      matrix(`${h}.attention.query_key_value.weight`, [3 * E, E], E);
      if (attentionBias) bias(`${h}.attention.query_key_value.bias`, 3 * E);
      matrix(`${h}.attention.dense.weight`, [E, E], E);
      if (attentionBias) bias(`${h}.attention.dense.bias`, E);
      matrix(`${h}.mlp.dense_h_to_4h.weight`, [I, E], E);
      bias(`${h}.mlp.dense_h_to_4h.bias`, I);
      matrix(`${h}.mlp.dense_4h_to_h.weight`, [E, I], I);
      bias(`${h}.mlp.dense_4h_to_h.bias`, E);
      if (options.extraBuffers) {
        causalMask(`${h}.attention.bias`, 'BOOL');
        tensors.push({ name: `${h}.attention.masked_bias`, dtype: 'F32', shape: [], data: encodeFloats('F32', [-1e9]) });
        const invFreq = Array.from({ length: rotaryNdims / 2 }, (_, i) => 1 / ropeBase ** ((2 * i) / rotaryNdims));
        tensors.push({ name: `${h}.attention.rotary_emb.inv_freq`, dtype: 'F32', shape: [rotaryNdims / 2], data: encodeFloats('F32', invFreq) });
      }
    }
    layerNorm('gpt_neox.final_layer_norm');
    if (!tied) embedding('embed_out.weight', V);
    const rope =
      style === 'old'
        ? { rotary_pct: rotaryPct, rotary_emb_base: ropeBase }
        : style === 'mid'
          ? { partial_rotary_factor: rotaryPct, rope_theta: ropeBase }
          : { rope_parameters: { rope_type: 'default', rope_theta: ropeBase, partial_rotary_factor: rotaryPct } };
    config = {
      architectures: ['GPTNeoXForCausalLM'],
      bos_token_id: 0,
      eos_token_id: 0,
      hidden_act: activation,
      hidden_size: E,
      initializer_range: 0.02,
      intermediate_size: I,
      layer_norm_eps: eps,
      max_position_embeddings: P,
      model_type: 'gpt_neox',
      num_attention_heads: H,
      num_hidden_layers: L,
      tie_word_embeddings: tied,
      torch_dtype: TORCH_DTYPE[dtype],
      use_cache: true,
      use_parallel_residual: options.parallelResidual ?? true,
      vocab_size: V,
      // Pythia-era configs predate attention_bias (transformers defaults it to true).
      ...(style !== 'old' || !attentionBias ? { attention_bias: attentionBias } : {}),
      ...rope,
    };
  }

  return {
    config,
    files: {
      'config.json': JSON.stringify(config, null, 2),
      'model.safetensors': serializeSafetensors(tensors, { format: 'pt' }),
    },
  };
}
