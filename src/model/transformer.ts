// The forward pass of GPT-2 and GPT-NeoX as a plan of kernel calls, built once per model and replayed every step.
//
// A step is any set of tokens from any sequences: a whole prompt, a prompt chunk, one new token per running sequence,
// or a mix. Each token carries its position and its sequence's row in the step's block tables; kv_write stores its key
// and value in the paged cache, and attention reads each sequence's keys through its block table. So prefill, chunked
// prefill and batched decode are the same code, and the scheduler decides what goes into a step.
//
//   x = wte[ids] (+ wpe[positions])                                   (T, C)
//   for each layer:
//     a = attention(ln1(x))             qkv = ln1(x)·Wqkvᵀ, RoPE on q,k (NeoX), append k,v to the cache, attend, ·Woᵀ
//     GPT-2 / sequential:  x = x + a;  x = x + mlp(ln2(x))
//     NeoX parallel:       x = x + a + mlp(ln2(x))          (both branches read the same x)
//     mlp(h) = gelu(h·Wupᵀ)·Wdownᵀ
//   logits = ln_f(x[rows]) · Wlmᵀ                                       (R, V), only for the rows asked for
//
// The families differ in three places (positions, RoPE, residual form), each a branch below with its reason.
import type { ModelConfig } from '../io/config.ts';
import type { ModelWeights } from '../io/checkpoint.ts';
import type { GpuContext } from '../gpu/context.ts';
import { COPY_DST, createStorageBuffer, MAP_READ } from '../gpu/buffers.ts';
import type { KernelCall } from '../gpu/kernel.ts';
import type { PagedKvCache } from '../kv/pagedKvCache.ts';
import { InvalidRequestError } from '../errors.ts';
import { embedding } from '../kernels/embedding.ts';
import { layerNorm } from '../kernels/layerNorm.ts';
import { LinearCall } from '../kernels/matmul.ts';
import { gelu } from '../kernels/gelu.ts';
import { residualAdd } from '../kernels/residualAdd.ts';
import { createRopeTables, rope, type RopeTables } from '../kernels/rope.ts';
import { kvWrite } from '../kernels/kvWrite.ts';
import { attention } from '../kernels/attention.ts';
import { argmax } from '../kernels/argmax.ts';
import { SoftmaxCall } from '../kernels/softmax.ts';

export interface StepToken {
  id: number;
  position: number;
  /** Row of this token's sequence in `Step.blockTables`. */
  sequence: number;
}

export interface Step {
  tokens: readonly StepToken[];
  /** Physical KV block ids of each sequence in the step, in logical order; they must cover every token's position. */
  blockTables: readonly (readonly number[])[];
  /** Token rows (indices into `tokens`) whose next-token distribution is wanted, in the order results come back. */
  logitRows: readonly number[];
}

/** What comes back for each logit row: the argmax id, the softmax probabilities, or the raw logits. */
export type StepOutput = { kind: 'argmax' } | { kind: 'probs'; temperature: number } | { kind: 'logits' };

export interface PlanLimits {
  /** Most tokens in one step (prompt chunk size). */
  maxTokens: number;
  /** Most sequences in one step. */
  maxSequences: number;
  /** Most logit rows computed in one pass; more are done in several passes. */
  maxLogitRows: number;
}

interface LayerCalls {
  ln1: KernelCall;
  qkv: LinearCall;
  rope?: KernelCall;
  kvWrite: KernelCall;
  attention: KernelCall;
  attnOut: LinearCall;
  ln2: KernelCall;
  mlpUp: LinearCall;
  gelu: KernelCall;
  mlpDown: LinearCall;
  addAttn: KernelCall;
  addMlp: KernelCall;
}

export class TransformerPlan {
  // Step inputs.
  private readonly tokens: GPUBuffer; // (maxTokens) vec4<u32>: id, position, sequence, unused
  private readonly blockTables: GPUBuffer; // (maxSequences, maxBlocksPerSequence) u32
  // Activations, sized for maxTokens rows.
  private readonly x: GPUBuffer; // (T, C) residual stream
  private readonly xn: GPUBuffer; // (T, C) normalized input of a sublayer
  private readonly qkv: GPUBuffer; // (T, 3C)
  private readonly attnOut: GPUBuffer; // (T, C) attention output before its projection
  private readonly attnProj: GPUBuffer; // (T, C)
  private readonly hidden: GPUBuffer; // (T, I) MLP hidden
  private readonly mlpOut: GPUBuffer; // (T, C)
  // Head, sized for maxLogitRows rows.
  private readonly rows: GPUBuffer; // (R, C) residual rows that need logits
  private readonly rowsNorm: GPUBuffer; // (R, C)
  private readonly logits: GPUBuffer; // (R, V)
  private readonly probs: GPUBuffer; // (R, V)
  private readonly ids: GPUBuffer; // (R) u32
  private readonly staging: GPUBuffer; // MAP_READ, (R, V) f32
  private readonly ropeTables?: RopeTables;

  private readonly embed: KernelCall;
  private readonly layers: LayerCalls[];
  private readonly finalNorm: KernelCall;
  private readonly lmHead: LinearCall;
  private readonly argmaxCall: KernelCall;
  private readonly softmaxCall: SoftmaxCall;
  /** Everything this plan created on the GPU (buffers, kernel calls with their uniform buffers), for destroy(). */
  private readonly owned: { destroy(): void }[] = [];

  readonly maxBlocksPerSequence: number;

  constructor(
    private readonly gpu: GpuContext,
    readonly config: ModelConfig,
    weights: ModelWeights,
    readonly kv: PagedKvCache,
    readonly limits: PlanLimits,
  ) {
    const { hiddenSize: C, intermediateSize: I, vocabSize: V, numHeads: H, headDim: D } = config;
    const T = limits.maxTokens;
    const R = limits.maxLogitRows;
    this.maxBlocksPerSequence = Math.ceil(config.contextLength / kv.blockSize);
    // Each resource is recorded the moment it exists, so a failure half-way through leaves nothing behind.
    const own = <Resource extends { destroy(): void }>(resource: Resource): Resource => {
      this.owned.push(resource);
      return resource;
    };
    const buffer = (label: string, bytes: number) => own(createStorageBuffer(gpu, label, bytes));
    try {
      this.tokens = buffer('step tokens', T * 16);
      this.blockTables = buffer('block tables', limits.maxSequences * this.maxBlocksPerSequence * 4);
      this.x = buffer('x', T * C * 4);
      this.xn = buffer('x normalized', T * C * 4);
      this.qkv = buffer('qkv', T * 3 * C * 4);
      this.attnOut = buffer('attention out', T * C * 4);
      this.attnProj = buffer('attention projection', T * C * 4);
      this.hidden = buffer('mlp hidden', T * I * 4);
      this.mlpOut = buffer('mlp out', T * C * 4);
      this.rows = buffer('logit rows', R * C * 4);
      this.rowsNorm = buffer('logit rows normalized', R * C * 4);
      this.logits = buffer('logits', R * V * 4);
      this.probs = buffer('probabilities', R * V * 4);
      this.ids = buffer('argmax ids', R * 4);
      this.staging = own(gpu.device.createBuffer({ label: 'read-back staging', size: R * V * 4, usage: MAP_READ | COPY_DST }));
      if (config.positions.kind === 'rotary') {
        this.ropeTables = createRopeTables(gpu, config.contextLength, config.positions.rotaryDims, config.positions.base);
        own(this.ropeTables.cos);
        own(this.ropeTables.sin);
      }

      const eps = config.layerNormEps;
      // GPT-2 adds learned absolute position embeddings here; NeoX encodes positions by rotating q and k (below).
      this.embed = own(embedding(gpu, 'embed', {
        tokens: this.tokens,
        wte: weights.tokenEmbedding,
        wpe: weights.positionEmbedding,
        x: this.x,
        channels: C,
        vocab: V,
        positions: weights.positionEmbedding ? config.contextLength : 1,
      }));
      const paged = { tokens: this.tokens, blockTables: this.blockTables, channels: C, blockSize: kv.blockSize, maxBlocksPerSequence: this.maxBlocksPerSequence };
      this.layers = weights.layers.map((w, l) => ({
        ln1: own(layerNorm(gpu, `L${l} ln1`, { x: this.x, gamma: w.ln1.weight, beta: w.ln1.bias, y: this.xn, channels: C, eps })),
        qkv: own(new LinearCall(gpu, `L${l} qkv`, { x: this.xn, w: w.qkv.weight, bias: w.qkv.bias, y: this.qkv, inFeatures: C, outFeatures: 3 * C })),
        rope: this.ropeTables && own(rope(gpu, `L${l} rope`, { qkv: this.qkv, tokens: this.tokens, tables: this.ropeTables, channels: C, numHeads: H, headDim: D })),
        kvWrite: own(kvWrite(gpu, `L${l} kv write`, { ...paged, qkv: this.qkv, kCache: kv.keys[l], vCache: kv.values[l], numBlocks: kv.numBlocks })),
        attention: own(attention(gpu, `L${l} attention`, { ...paged, qkv: this.qkv, kCache: kv.keys[l], vCache: kv.values[l], out: this.attnOut, numHeads: H, headDim: D, scale: config.attentionScale(l) })),
        attnOut: own(new LinearCall(gpu, `L${l} attn proj`, { x: this.attnOut, w: w.attnOut.weight, bias: w.attnOut.bias, y: this.attnProj, inFeatures: C, outFeatures: C })),
        ln2: own(layerNorm(gpu, `L${l} ln2`, { x: this.x, gamma: w.ln2.weight, beta: w.ln2.bias, y: this.xn, channels: C, eps })),
        mlpUp: own(new LinearCall(gpu, `L${l} mlp up`, { x: this.xn, w: w.mlpUp.weight, bias: w.mlpUp.bias, y: this.hidden, inFeatures: C, outFeatures: I })),
        gelu: own(gelu(gpu, `L${l} gelu`, { h: this.hidden, features: I, activation: config.activation })),
        mlpDown: own(new LinearCall(gpu, `L${l} mlp down`, { x: this.hidden, w: w.mlpDown.weight, bias: w.mlpDown.bias, y: this.mlpOut, inFeatures: I, outFeatures: C })),
        addAttn: own(residualAdd(gpu, `L${l} +attn`, { x: this.x, r: this.attnProj, channels: C })),
        addMlp: own(residualAdd(gpu, `L${l} +mlp`, { x: this.x, r: this.mlpOut, channels: C })),
      }));
      this.finalNorm = own(layerNorm(gpu, 'ln_f', { x: this.rows, gamma: weights.finalNorm.weight, beta: weights.finalNorm.bias, y: this.rowsNorm, channels: C, eps }));
      this.lmHead = own(new LinearCall(gpu, 'lm head', { x: this.rowsNorm, w: weights.lmHead, y: this.logits, inFeatures: C, outFeatures: V }));
      this.argmaxCall = own(argmax(gpu, 'argmax', { logits: this.logits, ids: this.ids, vocab: V }));
      this.softmaxCall = own(new SoftmaxCall(gpu, 'softmax', { logits: this.logits, probs: this.probs, vocab: V }));
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /**
   * Runs one step and returns, for each logit row in order, the argmax id (Uint32Array of R) or R × V probabilities or
   * logits (Float32Array). Resolves after the GPU finished; throws typed errors for bad input and GPU failures.
   */
  async run(step: Step, output: StepOutput): Promise<Uint32Array | Float32Array> {
    this.validate(step);
    this.upload(step);
    const T = step.tokens.length;
    const encoder = this.gpu.device.createCommandEncoder({ label: 'step' });
    const pass = encoder.beginComputePass({ label: 'layers' });
    this.embed.encode(pass, T);
    for (const layer of this.layers) this.encodeLayer(pass, layer, T);
    pass.end();

    const R = step.logitRows.length;
    if (R === 0) {
      // A prefill chunk that only fills the cache: nothing to read back, but wait so errors surface here.
      this.gpu.device.queue.submit([encoder.finish()]);
      await this.gpu.device.queue.onSubmittedWorkDone();
      this.gpu.throwIfFailed();
      return output.kind === 'argmax' ? new Uint32Array(0) : new Float32Array(0);
    }
    const V = this.config.vocabSize;
    const result = output.kind === 'argmax' ? new Uint32Array(R) : new Float32Array(R * V);
    const source = output.kind === 'argmax' ? this.ids : output.kind === 'probs' ? this.probs : this.logits;
    // The head runs over the logit rows in passes of at most maxLogitRows (all prompt rows, for `logits`); the first
    // pass shares the layers' command buffer.
    for (let first = 0; first < R; first += this.limits.maxLogitRows) {
      const rows = step.logitRows.slice(first, first + this.limits.maxLogitRows);
      const head = first === 0 ? encoder : this.gpu.device.createCommandEncoder({ label: 'head' });
      this.encodeHead(head, rows, output);
      const bytes = rows.length * (output.kind === 'argmax' ? 1 : V) * 4;
      head.copyBufferToBuffer(source, 0, this.staging, 0, bytes);
      this.gpu.device.queue.submit([head.finish()]);
      const data = await this.readStaging(bytes);
      if (result instanceof Uint32Array) result.set(new Uint32Array(data), first);
      else result.set(new Float32Array(data), first * V);
    }
    this.gpu.throwIfFailed();
    return result;
  }

  private encodeLayer(pass: GPUComputePassEncoder, l: LayerCalls, T: number): void {
    // Attention branch: ln1 → qkv → (RoPE) → store k, v → attend over the cache → output projection.
    l.ln1.encode(pass, T);
    l.qkv.encode(pass, T);
    l.rope?.encode(pass, T);
    l.kvWrite.encode(pass, T);
    l.attention.encode(pass, T);
    l.attnOut.encode(pass, T);
    if (this.config.parallelResidual) {
      // NeoX: the MLP reads ln2 of the same x the attention read, so x is updated only after both branches.
      this.encodeMlp(pass, l, T);
      l.addAttn.encode(pass, T);
      l.addMlp.encode(pass, T);
    } else {
      // GPT-2: the MLP sees the residual stream after attention was added.
      l.addAttn.encode(pass, T);
      this.encodeMlp(pass, l, T);
      l.addMlp.encode(pass, T);
    }
  }

  private encodeMlp(pass: GPUComputePassEncoder, l: LayerCalls, T: number): void {
    l.ln2.encode(pass, T);
    l.mlpUp.encode(pass, T);
    l.gelu.encode(pass, T);
    l.mlpDown.encode(pass, T);
  }

  /** Gathers the rows that need logits, then ln_f → lm head → argmax or softmax. */
  private encodeHead(encoder: GPUCommandEncoder, rows: readonly number[], output: StepOutput): void {
    const rowBytes = this.config.hiddenSize * 4;
    rows.forEach((row, i) => encoder.copyBufferToBuffer(this.x, row * rowBytes, this.rows, i * rowBytes, rowBytes));
    const pass = encoder.beginComputePass({ label: 'head' });
    this.finalNorm.encode(pass, rows.length);
    this.lmHead.encode(pass, rows.length);
    if (output.kind === 'argmax') this.argmaxCall.encode(pass, rows.length);
    if (output.kind === 'probs') {
      this.softmaxCall.setTemperature(output.temperature);
      this.softmaxCall.encode(pass, rows.length);
    }
    pass.end();
  }

  private async readStaging(bytes: number): Promise<ArrayBuffer> {
    try {
      await this.staging.mapAsync(0x01 /* GPUMapMode.READ */, 0, bytes);
    } catch (e) {
      throw this.gpu.failure(e);
    }
    const copy = this.staging.getMappedRange(0, bytes).slice(0);
    this.staging.unmap();
    return copy;
  }

  private upload(step: Step): void {
    const tokens = new Uint32Array(step.tokens.length * 4);
    step.tokens.forEach((t, i) => tokens.set([t.id, t.position, t.sequence, 0], i * 4));
    this.gpu.device.queue.writeBuffer(this.tokens, 0, tokens);
    const tables = new Uint32Array(step.blockTables.length * this.maxBlocksPerSequence);
    step.blockTables.forEach((blocks, s) => tables.set(blocks, s * this.maxBlocksPerSequence));
    if (tables.length > 0) this.gpu.device.queue.writeBuffer(this.blockTables, 0, tables);
  }

  /** Bad steps become typed errors here, before anything reaches the GPU. */
  private validate(step: Step): void {
    const { maxTokens, maxSequences } = this.limits;
    const { vocabSize, contextLength } = this.config;
    if (step.tokens.length === 0 || step.tokens.length > maxTokens) throw new InvalidRequestError(`a step needs 1 to ${maxTokens} tokens, got ${step.tokens.length}`);
    if (step.blockTables.length > maxSequences) throw new InvalidRequestError(`a step holds at most ${maxSequences} sequences, got ${step.blockTables.length}`);
    for (const t of step.tokens) {
      if (!Number.isInteger(t.id) || t.id < 0 || t.id >= vocabSize) throw new InvalidRequestError(`token id ${t.id} is outside the vocabulary (0 … ${vocabSize - 1})`);
      if (!Number.isInteger(t.position) || t.position < 0 || t.position >= contextLength) {
        throw new InvalidRequestError(`position ${t.position} is outside the model's context window of ${contextLength} tokens`);
      }
      const table = step.blockTables[t.sequence];
      if (!table) throw new InvalidRequestError(`token refers to sequence row ${t.sequence}, but the step has ${step.blockTables.length}`);
      if (table.length <= Math.floor(t.position / this.kv.blockSize)) throw new InvalidRequestError(`sequence row ${t.sequence} has no KV block for position ${t.position}`);
    }
    for (const table of step.blockTables) {
      if (table.length > this.maxBlocksPerSequence) throw new InvalidRequestError(`a block table has ${table.length} blocks, more than the ${this.maxBlocksPerSequence} a sequence can use`);
      for (const b of table) if (!Number.isInteger(b) || b < 0 || b >= this.kv.numBlocks) throw new InvalidRequestError(`KV block ${b} is outside the pool of ${this.kv.numBlocks}`);
    }
    for (const r of step.logitRows) if (!Number.isInteger(r) || r < 0 || r >= step.tokens.length) throw new InvalidRequestError(`logit row ${r} is not a token of the step`);
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}
