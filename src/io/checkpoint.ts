// Maps a Hugging Face checkpoint onto the engine's weight layout and streams it to the GPU.
//
// The engine has one layout for both families: every linear weight is (out, in) like PyTorch's Linear, the fused QKV
// projection's rows are [q of all heads | k of all heads | v of all heads], all in f32. Checkpoints differ from that in
// exactly the ways listed in test/fixtures/README.md, and each difference is undone here, where it is visible:
//   - GPT-2 uses Conv1D, which stores weights as (in, out): we have to transpose them.
//   - GPT-NeoX interleaves the fused QKV rows per head, [head0: q k v, head1: q k v, …]: we regroup them.
//   - Names come with or without the `transformer.` / `gpt_neox.` prefix; causal-mask buffers (attn.bias,
//     attn.masked_bias, rotary_emb.inv_freq) are not parameters and are skipped.
//   - F16 and BF16 are widened to f32 (exactly) on the way; tensors are read and uploaded in chunks, so a checkpoint
//     never has to fit in memory at once.
import { ModelFormatError } from '../errors.ts';
import type { GpuContext } from '../gpu/context.ts';
import { createStorageBuffer, UPLOAD_CHUNK_BYTES, writeChunked } from '../gpu/buffers.ts';
import type { ModelConfig } from './config.ts';
import { decodeToFloat32, encodeFloats, isFloatDtype } from './dtype.ts';
import type { ModelFiles } from './modelFiles.ts';
import { SafetensorsFile, type Dtype, type TensorInfo } from './safetensors.ts';
import { checkedShardNames } from './shardNames.ts';

export interface NormWeights {
  weight: GPUBuffer; // (C)
  bias: GPUBuffer; // (C)
}

export interface LinearWeights {
  weight: GPUBuffer; // (out, in)
  bias?: GPUBuffer; // (out)
}

export interface LayerWeights {
  ln1: NormWeights;
  qkv: LinearWeights; // (3C, C): [q heads | k heads | v heads]
  attnOut: LinearWeights; // (C, C)
  ln2: NormWeights;
  mlpUp: LinearWeights; // (I, C)
  mlpDown: LinearWeights; // (C, I)
}

export interface ModelWeights {
  tokenEmbedding: GPUBuffer; // (V, C)
  positionEmbedding?: GPUBuffer; // (P, C), GPT-2 only
  layers: LayerWeights[];
  finalNorm: NormWeights;
  lmHead: GPUBuffer; // (V, C); the same buffer as tokenEmbedding when tied
  /** Bytes of weights on the GPU. */
  bytes: number;
  /** Storage dtype(s) of the checkpoint's weights, e.g. "F16". */
  sourceDtype: string;
  /** How the matrices (embeddings, linear weights, LM head) sit on the GPU: f32, or f16 packed two per u32. Norms and
   *  biases are always f32. */
  matrixFormat: MatrixFormat;
  destroy(): void;
}

export type MatrixFormat = 'f32' | 'f16';

/** Engine tensors stored in the matrix format (the rest, norms and biases, are small and stay f32). */
export function isMatrix(name: string): boolean {
  return /^(embed\.(tokens|positions)|lmHead|layers\.\d+\.(qkv|attnOut|mlpUp|mlpDown)\.weight)$/.test(name);
}

export interface LoadProgress {
  tensor: string;
  loadedBytes: number;
  totalBytes: number;
}

type Transform = 'none' | 'transpose' | 'neoxQkvRows';

/** One engine tensor: where it comes from in the checkpoint and how it is reshaped on the way. */
export interface Recipe {
  source: string;
  /** Shape in the checkpoint. */
  shape: number[];
  transform: Transform;
}

/** Non-parameter buffers some checkpoints carry (causal masks, cached RoPE frequencies). */
const IGNORED = /(^|\.)(attn\.bias|attn\.masked_bias|attention\.bias|attention\.masked_bias|attention\.rotary_emb\.inv_freq)$/;

/** All tensors of a checkpoint (one file, or shards listed in model.safetensors.index.json). */
export class TensorIndex {
  private constructor(private readonly byName: Map<string, { file: SafetensorsFile; info: TensorInfo }>, readonly files: SafetensorsFile[]) {}

  static async open(files: ModelFiles): Promise<TensorIndex> {
    const names = (await files.has('model.safetensors')) ? ['model.safetensors'] : await shardNames(files);
    const opened: SafetensorsFile[] = [];
    const byName = new Map<string, { file: SafetensorsFile; info: TensorInfo }>();
    try {
      for (const name of names) {
        const file = await SafetensorsFile.open(await files.open(name));
        opened.push(file);
        for (const info of file.tensors.values()) {
          if (byName.has(info.name)) throw new ModelFormatError(`tensor ${info.name} appears in two shards of ${files.name}`);
          byName.set(info.name, { file, info });
        }
      }
    } catch (e) {
      await Promise.all(opened.map((f) => f.close()));
      throw e;
    }
    return new TensorIndex(byName, opened);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  get(name: string): { file: SafetensorsFile; info: TensorInfo } {
    const entry = this.byName.get(name);
    if (!entry) throw new ModelFormatError(`the checkpoint has no tensor ${name}`);
    return entry;
  }

  /**
   * Releases the files. After a successful load (`succeeded`), sources may complete what they still do (a download
   * finishing into the cache); after a failure, downloads stop at once rather than fetching a model that was refused.
   */
  async close(succeeded = false): Promise<void> {
    await Promise.all(this.files.map((f) => (succeeded ? f.finish() : f.close())));
  }
}

async function shardNames(files: ModelFiles): Promise<string[]> {
  const indexFile = 'model.safetensors.index.json';
  if (!(await files.has(indexFile))) {
    const hint = (await files.has('pytorch_model.bin')) ? ' (it has pytorch_model.bin: convert it to safetensors, this engine does not read pickle files)' : '';
    throw new ModelFormatError(`${files.name} has neither model.safetensors nor ${indexFile}${hint}`);
  }
  let weightMap: unknown;
  try {
    weightMap = (JSON.parse(await files.text(indexFile)) as { weight_map?: unknown }).weight_map;
  } catch (e) {
    throw new ModelFormatError(`${indexFile} is not valid JSON (${(e as Error).message})`);
  }
  if (!weightMap || typeof weightMap !== 'object') throw new ModelFormatError(`${indexFile} has no "weight_map" object`);
  return checkedShardNames(indexFile, weightMap);
}

/** The engine's tensors for this config, each with its source in the checkpoint. Keys are engine names. */
function recipes(config: ModelConfig, index: TensorIndex): Map<string, Recipe> {
  const { hiddenSize: C, intermediateSize: I, vocabSize: V, numLayers } = config;
  const out = new Map<string, Recipe>();
  const add = (name: string, source: string, shape: number[], transform: Transform = 'none') => out.set(name, { source, shape, transform });
  const norm = (name: string, source: string) => {
    add(`${name}.weight`, `${source}.weight`, [C]);
    add(`${name}.bias`, `${source}.bias`, [C]);
  };

  if (config.family === 'gpt2') {
    const p = prefix(index, ['transformer.', ''], 'wte.weight', 'GPT-2');
    add('embed.tokens', `${p}wte.weight`, [V, C]);
    add('embed.positions', `${p}wpe.weight`, [config.contextLength, C]);
    for (let l = 0; l < numLayers; l++) {
      const h = `${p}h.${l}`;
      norm(`layers.${l}.ln1`, `${h}.ln_1`);
      // Conv1D: (in, out) in the file, transposed to (out, in).
      add(`layers.${l}.qkv.weight`, `${h}.attn.c_attn.weight`, [C, 3 * C], 'transpose');
      add(`layers.${l}.qkv.bias`, `${h}.attn.c_attn.bias`, [3 * C]);
      add(`layers.${l}.attnOut.weight`, `${h}.attn.c_proj.weight`, [C, C], 'transpose');
      add(`layers.${l}.attnOut.bias`, `${h}.attn.c_proj.bias`, [C]);
      norm(`layers.${l}.ln2`, `${h}.ln_2`);
      add(`layers.${l}.mlpUp.weight`, `${h}.mlp.c_fc.weight`, [C, I], 'transpose');
      add(`layers.${l}.mlpUp.bias`, `${h}.mlp.c_fc.bias`, [I]);
      add(`layers.${l}.mlpDown.weight`, `${h}.mlp.c_proj.weight`, [I, C], 'transpose');
      add(`layers.${l}.mlpDown.bias`, `${h}.mlp.c_proj.bias`, [C]);
    }
    norm('finalNorm', `${p}ln_f`);
    if (!config.tiedEmbeddings) add('lmHead', 'lm_head.weight', [V, C]);
  } else {
    const p = prefix(index, ['gpt_neox.', ''], 'embed_in.weight', 'GPT-NeoX');
    add('embed.tokens', `${p}embed_in.weight`, [V, C]);
    for (let l = 0; l < numLayers; l++) {
      const h = `${p}layers.${l}`;
      norm(`layers.${l}.ln1`, `${h}.input_layernorm`);
      // Linear: already (out, in); only the fused QKV rows need regrouping.
      add(`layers.${l}.qkv.weight`, `${h}.attention.query_key_value.weight`, [3 * C, C], 'neoxQkvRows');
      add(`layers.${l}.attnOut.weight`, `${h}.attention.dense.weight`, [C, C]);
      if (config.attentionBias) {
        add(`layers.${l}.qkv.bias`, `${h}.attention.query_key_value.bias`, [3 * C], 'neoxQkvRows');
        add(`layers.${l}.attnOut.bias`, `${h}.attention.dense.bias`, [C]);
      }
      norm(`layers.${l}.ln2`, `${h}.post_attention_layernorm`);
      add(`layers.${l}.mlpUp.weight`, `${h}.mlp.dense_h_to_4h.weight`, [I, C]);
      add(`layers.${l}.mlpUp.bias`, `${h}.mlp.dense_h_to_4h.bias`, [I]);
      add(`layers.${l}.mlpDown.weight`, `${h}.mlp.dense_4h_to_h.weight`, [C, I]);
      add(`layers.${l}.mlpDown.bias`, `${h}.mlp.dense_4h_to_h.bias`, [C]);
    }
    norm('finalNorm', `${p}final_layer_norm`);
    if (!config.tiedEmbeddings) add('lmHead', 'embed_out.weight', [V, C]);
  }
  return out;
}

function prefix(index: TensorIndex, candidates: string[], probe: string, family: string): string {
  const found = candidates.find((p) => index.has(`${p}${probe}`));
  if (found === undefined) {
    throw new ModelFormatError(`no ${family} token embedding (${candidates.map((p) => p + probe).join(' or ')}) in the checkpoint; is config.json's model_type right?`);
  }
  return found;
}

/**
 * A config whose layer count cannot match the checkpoint fails here in O(1), before per-layer recipes are built
 * (n_layer: 1e9 would otherwise build billions of map entries): the last layer's first tensor must exist and the
 * next layer's must not, and the checkpoint must hold at least one tensor per layer.
 */
function checkLayerCount(config: ModelConfig, index: TensorIndex): void {
  const layerTensor =
    config.family === 'gpt2'
      ? (l: number) => `${prefix(index, ['transformer.', ''], 'wte.weight', 'GPT-2')}h.${l}.ln_1.weight`
      : (l: number) => `${prefix(index, ['gpt_neox.', ''], 'embed_in.weight', 'GPT-NeoX')}layers.${l}.input_layernorm.weight`;
  const L = config.numLayers;
  const field = config.family === 'gpt2' ? 'n_layer' : 'num_hidden_layers';
  let found = 0;
  while (found < 100_000 && index.has(layerTensor(found))) found++;
  if (L > index.names().length || !index.has(layerTensor(L - 1)) || index.has(layerTensor(L))) {
    throw new ModelFormatError(
      `config.json's ${field} is ${L}, but the checkpoint has ${found} layer(s) (${index.has(layerTensor(L - 1)) ? `it also holds tensor ${layerTensor(L)}` : `missing tensor ${layerTensor(L - 1)}`}); fix ${field} or use the matching weights`,
    );
  }
}

/** Checks names, shapes and dtypes of the whole checkpoint before anything is uploaded. */
function validate(config: ModelConfig, index: TensorIndex, plan: Map<string, Recipe>): void {
  const used = new Set<string>();
  for (const { source, shape } of plan.values()) {
    if (!index.has(source)) throw new ModelFormatError(`the checkpoint is missing tensor ${source}, which a ${config.family} model with this config.json needs`);
    const { info } = index.get(source);
    if (!isFloatDtype(info.dtype)) throw new ModelFormatError(`tensor ${source} is ${info.dtype}; weights must be F32, F16 or BF16`);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new ModelFormatError(`tensor ${source} has shape [${info.shape.join(', ')}] but config.json implies [${shape.join(', ')}]`);
    }
    used.add(source);
  }
  const tiedHead = config.family === 'gpt2' ? 'lm_head.weight' : 'embed_out.weight';
  const extra = index.names().filter((n) => !used.has(n) && !IGNORED.test(n) && !(config.tiedEmbeddings && n === tiedHead));
  if (extra.length > 0) {
    throw new ModelFormatError(
      `the checkpoint has ${extra.length} tensor(s) a ${config.family} model with this config.json does not use (${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''}); ` +
        'check num_hidden_layers / n_layer and model_type',
    );
  }
}

/** Validates the checkpoint against the config, then uploads every tensor in the engine's layout. */
/**
 * The engine tensors of this checkpoint and where each comes from, after checking every name, shape and dtype against
 * the config (pure: reads only headers). Throws ModelFormatError naming the first problem.
 */
export function planCheckpoint(config: ModelConfig, index: TensorIndex): Map<string, Recipe> {
  checkLayerCount(config, index);
  const plan = recipes(config, index);
  validate(config, index, plan);
  return plan;
}

/** Whether every matrix of the checkpoint is stored F16 (so packing it as f16 on the GPU loses nothing). */
export function matricesStoredF16(plan: Map<string, Recipe>, index: TensorIndex): boolean {
  return [...plan].every(([name, r]) => !isMatrix(name) || index.get(r.source).info.dtype === 'F16');
}

export async function loadWeights(gpu: GpuContext, config: ModelConfig, index: TensorIndex, format: MatrixFormat, onProgress?: (p: LoadProgress) => void): Promise<ModelWeights> {
  const plan = planCheckpoint(config, index);
  const totalBytes = [...plan.values()].reduce((n, r) => n + index.get(r.source).info.byteLength, 0);
  let loadedBytes = 0;
  const buffers = new Map<string, GPUBuffer>();
  const destroyAll = () => buffers.forEach((b) => b.destroy());
  // In file order: a streaming source (a download flowing into the GPU) can then be read front to back.
  const inFileOrder = [...plan].sort(([, a], [, b]) => {
    const [x, y] = [index.get(a.source), index.get(b.source)];
    return index.files.indexOf(x.file) - index.files.indexOf(y.file) || x.info.fileOffset - y.info.fileOffset;
  });
  try {
    for (const [name, recipe] of inFileOrder) {
      buffers.set(name, await uploadTensor(gpu, config, index, name, recipe, format === 'f16' && isMatrix(name), (bytes) => {
        loadedBytes += bytes;
        onProgress?.({ tensor: recipe.source, loadedBytes, totalBytes });
      }));
    }
  } catch (e) {
    destroyAll();
    throw e;
  }
  const get = (name: string) => buffers.get(name)!;
  const linear = (name: string): LinearWeights => ({ weight: get(`${name}.weight`), bias: buffers.get(`${name}.bias`) });
  const norm = (name: string): NormWeights => ({ weight: get(`${name}.weight`), bias: get(`${name}.bias`) });
  return {
    tokenEmbedding: get('embed.tokens'),
    positionEmbedding: buffers.get('embed.positions'),
    layers: Array.from({ length: config.numLayers }, (_, l) => ({
      ln1: norm(`layers.${l}.ln1`),
      qkv: linear(`layers.${l}.qkv`),
      attnOut: linear(`layers.${l}.attnOut`),
      ln2: norm(`layers.${l}.ln2`),
      mlpUp: linear(`layers.${l}.mlpUp`),
      mlpDown: linear(`layers.${l}.mlpDown`),
    })),
    finalNorm: norm('finalNorm'),
    lmHead: buffers.get('lmHead') ?? get('embed.tokens'),
    bytes: [...buffers.values()].reduce((n, b) => n + b.size, 0),
    sourceDtype: [...new Set([...plan.values()].map((r) => index.get(r.source).info.dtype))].sort().join('+'),
    matrixFormat: format,
    destroy: destroyAll,
  };
}

async function uploadTensor(gpu: GpuContext, config: ModelConfig, index: TensorIndex, name: string, recipe: Recipe, packF16: boolean, progress: (bytes: number) => void): Promise<GPUBuffer> {
  const { file, info } = index.get(recipe.source);
  const elements = recipe.shape.reduce((a, b) => a * b, 1);
  // f16 packs two values per u32: the buffer rounds up to whole words.
  const buffer = createStorageBuffer(gpu, `${name} (${recipe.source})`, packF16 ? Math.ceil(elements / 2) * 4 : elements * 4);
  // NaN or ±Inf weights would not fail anywhere later: argmax over NaN logits quietly picks id 0. Count them as the
  // values are converted (after conversion, so an F32 value too large for f16 counts too).
  let nonFinite = 0;
  const convert = (bytes: Uint8Array) => {
    const values = packF16 ? toHalfBits(info.dtype, bytes) : decodeToFloat32(info.dtype, bytes);
    nonFinite += countNonFinite(values);
    return values;
  };
  const targetBytesPerElement = packF16 ? 2 : 4;
  try {
    if (recipe.transform === 'none') {
      // Stream: each chunk is converted and written at its place; the tensor is never whole in memory. Chunks hold a
      // multiple of 4 elements, so every write lands on a 4-byte boundary as writeBuffer requires.
      const sourceBytesPerElement = info.byteLength / Math.max(1, elements);
      const maxSourceBytes = Math.floor(UPLOAD_CHUNK_BYTES / 16) * 4 * sourceBytesPerElement;
      for await (const { offset, bytes } of file.chunks(info.name, maxSourceBytes)) {
        writeChunked(gpu, buffer, (offset / sourceBytesPerElement) * targetBytesPerElement, padToWords(convert(bytes)));
        progress(bytes.byteLength);
      }
    } else {
      const values = convert(await file.read(info.name));
      const arranged = recipe.transform === 'transpose' ? transpose(values, recipe.shape[0], recipe.shape[1]) : regroupNeoxQkv(values, config.numHeads, config.headDim, recipe.shape.length === 2 ? recipe.shape[1] : 1);
      writeChunked(gpu, buffer, 0, padToWords(arranged));
      progress(info.byteLength);
    }
    if (nonFinite > 0) {
      throw new ModelFormatError(
        `tensor ${recipe.source} holds ${nonFinite} non-finite value(s) (NaN or ±Inf${packF16 ? ', or too large for f16' : ''}); the checkpoint is corrupt${packF16 ? ' (or try weightFormat "f32")' : ''}`,
      );
    }
  } catch (e) {
    buffer.destroy();
    throw e;
  }
  return buffer;
}

/** How many values are NaN or ±Inf (for f16 bit patterns: exponent bits all ones). */
function countNonFinite(values: Float32Array | Uint16Array): number {
  let n = 0;
  if (values instanceof Uint16Array) {
    for (let i = 0; i < values.length; i++) if ((values[i] & 0x7c00) === 0x7c00) n++;
  } else {
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) n++;
  }
  return n;
}

/** IEEE half-precision bit patterns of a float tensor: F16 as stored (no conversion), others rounded to nearest even. */
function toHalfBits(dtype: Dtype, bytes: Uint8Array): Uint16Array {
  if (dtype === 'F16') {
    const copy = bytes.slice();
    return new Uint16Array(copy.buffer, 0, copy.byteLength / 2);
  }
  const halves = encodeFloats('F16', decodeToFloat32(dtype, bytes));
  return new Uint16Array(halves.buffer, halves.byteOffset, halves.byteLength / 2);
}

/** The bytes of `values`, zero-padded to a multiple of 4 (an odd number of f16 values ends half-way through a word). */
function padToWords(values: Float32Array | Uint16Array): Uint8Array {
  const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  if (bytes.byteLength % 4 === 0) return bytes;
  const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  padded.set(bytes);
  return padded;
}

type Elements = Float32Array | Uint16Array;

/** (rows, cols) → (cols, rows). */
export function transpose<T extends Elements>(values: T, rows: number, cols: number): T {
  const out = emptyLike(values);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c];
  return out;
}

/**
 * GPT-NeoX fused QKV rows are grouped per head: row (h·3 + part)·D + d holds part ∈ {q, k, v} of head h.
 * The engine wants part-major rows, (part·H + h)·D + d, so q, k and v each form one contiguous (C, ·) block.
 * `width` is the row length (C for the weight, 1 for the bias).
 */
export function regroupNeoxQkv<T extends Elements>(values: T, numHeads: number, headDim: number, width: number): T {
  const out = emptyLike(values);
  for (let h = 0; h < numHeads; h++) {
    for (let part = 0; part < 3; part++) {
      const from = (h * 3 + part) * headDim * width;
      const to = (part * numHeads + h) * headDim * width;
      out.set(values.subarray(from, from + headDim * width), to);
    }
  }
  return out;
}

function emptyLike<T extends Elements>(values: T): T {
  return (values instanceof Float32Array ? new Float32Array(values.length) : new Uint16Array(values.length)) as T;
}
