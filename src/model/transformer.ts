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
import { COPY_DST, COPY_SRC, createStorageBuffer, MAP_READ } from '../gpu/buffers.ts';
import type { KernelCall } from '../gpu/kernel.ts';
import type { PagedKvCache } from '../kv/pagedKvCache.ts';
import { InvalidRequestError } from '../errors.ts';
import { embedding } from '../kernels/embedding.ts';
import { layerNorm } from '../kernels/layerNorm.ts';
import { LinearCall, residualEpilogueFits } from '../kernels/matmul.ts';
import { gelu } from '../kernels/gelu.ts';
import { residualAdd } from '../kernels/residualAdd.ts';
import { createRopeTables, rope, type RopeTables } from '../kernels/rope.ts';
import { kvWrite } from '../kernels/kvWrite.ts';
import { attention, attentionDecodeRows, attentionScratchBytes, type AttentionCall } from '../kernels/attention.ts';
import type { BlockCopy } from '../kv/blockManager.ts';
import { OutputHead, type HeadOutput, type HeadResult, type RowSampling } from './outputHead.ts';

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
  /** KV blocks to copy (all layers) before the step: copy-on-write of shared blocks. */
  copies?: readonly BlockCopy[];
}

export type StepOutput = HeadOutput;

/**
 * One call site of a step, for `bench --profile` (src/bench/profile.ts): `encode` adds its dispatch to a pass, for the
 * step given to `profileSites`; `occurrences` is how often a greedy decode step runs it (layer sites: once per layer;
 * 0 for sites that run only when a row samples or has a repetition penalty).
 */
export interface ProfileSite {
  /** The call site, layer number folded as in bench --proxy: "L* qkv". */
  label: string;
  occurrences: number;
  encode(pass: GPUComputePassEncoder): void;
}

export interface StepResult extends HeadResult {
  /** GPU time of the step from timestamp queries, where the adapter has them. */
  gpuMs?: number;
  /** Kernel dispatches and queue submits the step took. */
  dispatches: number;
  submits: number;
}

export interface PlanLimits {
  /** Most tokens in one step (prompt chunk size). */
  maxTokens: number;
  /** Most sequences in one step. */
  maxSequences: number;
  /** Most logit rows computed in one pass; more are done in several passes. */
  maxLogitRows: number;
  /**
   * Time each step on the GPU with timestamp queries (where the adapter has them). Off by default: the timer is read
   * back with the step's ids (one mapAsync), but a step that reads nothing back (a prefill chunk) then waits for it.
   */
  gpuTiming?: boolean;
  /**
   * Apply GELU and the residual adds in the linear layers' epilogues (default true: 3 dispatches fewer per GPT-2
   * layer, 2 per NeoX layer). False runs gelu.wgsl and add.wgsl as separate passes: the reference, with the same bits.
   */
  fuseEpilogues?: boolean;
}

interface LayerCalls {
  ln1: KernelCall;
  qkv: LinearCall;
  rope?: KernelCall;
  kvWrite: KernelCall;
  attention: AttentionCall;
  attnOut: LinearCall;
  ln2: KernelCall;
  mlpUp: LinearCall;
  /** Absent where mlp up applies GELU in its epilogue. */
  gelu?: KernelCall;
  mlpDown: LinearCall;
  /** Absent where the attention projection adds into x in its epilogue (GPT-2 only: NeoX's MLP reads x first). */
  addAttn?: KernelCall;
  /** Absent where mlp down adds into x in its epilogue. */
  addMlp?: KernelCall;
}

export class TransformerPlan {
  // Step inputs.
  private readonly tokens: GPUBuffer; // (maxTokens) vec4<u32>: id, position, sequence, unused
  private readonly blockTables: GPUBuffer; // (maxSequences, maxBlocksPerSequence) u32
  private readonly hostTokens: Uint32Array<ArrayBuffer>; // (maxTokens, 4): what upload() writes to `tokens`
  private readonly hostTables: Uint32Array<ArrayBuffer>; // (maxSequences, maxBlocksPerSequence): what upload() writes to `blockTables`
  // Activations, sized for maxTokens rows.
  private readonly x: GPUBuffer; // (T, C) residual stream
  private readonly xn: GPUBuffer; // (T, C) normalized input of a sublayer
  private readonly qkv: GPUBuffer; // (T, 3C)
  private readonly attnOut: GPUBuffer; // (T, C) attention output before its projection
  private readonly attnProj: GPUBuffer; // (T, C)
  private readonly hidden: GPUBuffer; // (T, I) MLP hidden
  private readonly mlpOut: GPUBuffer; // (T, C)
  private readonly blockScratch: GPUBuffer; // (B, C): WebGPU cannot copy within one buffer, so block copies go through it
  private readonly attnPartials: GPUBuffer; // (R, H, ceil(contextLength / 64), D + 2) decode attention tile partials, all layers
  private readonly ropeTables?: RopeTables;
  private readonly head: OutputHead;
  private readonly timing?: { queries: GPUQuerySet; resolved: GPUBuffer; staging: GPUBuffer };

  private readonly embed: KernelCall;
  private readonly layers: LayerCalls[];
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
    this.maxBlocksPerSequence = Math.ceil(config.contextLength / kv.blockSize);
    this.hostTokens = new Uint32Array(T * 4);
    this.hostTables = new Uint32Array(limits.maxSequences * this.maxBlocksPerSequence);
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
      this.blockScratch = buffer('block copy scratch', kv.blockSize * C * 4);
      // Decode-path attention rows (R): as many as fit one binding, at most ATTENTION_DECODE_MAX_ROWS; more go to prefill.
      const decodeRows = attentionDecodeRows(gpu.limits.maxStorageBufferBindingSize, H, D, config.contextLength);
      this.attnPartials = buffer('attention partials', attentionScratchBytes(decodeRows, H, D, config.contextLength));
      if (gpu.features.timestampQuery && limits.gpuTiming) {
        this.timing = {
          queries: own(gpu.device.createQuerySet({ type: 'timestamp', count: 2 })),
          resolved: own(gpu.device.createBuffer({ label: 'timestamps', size: 16, usage: 0x200 /* QUERY_RESOLVE */ | COPY_SRC })),
          staging: own(gpu.device.createBuffer({ label: 'timestamps read-back', size: 16, usage: MAP_READ | COPY_DST })),
        };
      }
      if (config.positions.kind === 'rotary') {
        this.ropeTables = createRopeTables(gpu, config.contextLength, config.positions.rotaryDims, config.positions.base);
        own(this.ropeTables.cos);
        own(this.ropeTables.sin);
      }

      const eps = config.layerNormEps;
      const f16 = weights.matrixFormat === 'f16';
      // GPT-2 adds learned absolute position embeddings here; NeoX encodes positions by rotating q and k (below).
      this.embed = own(embedding(gpu, 'embed', {
        tokens: this.tokens,
        wte: weights.tokenEmbedding,
        wpe: weights.positionEmbedding,
        x: this.x,
        channels: C,
        vocab: V,
        positions: weights.positionEmbedding ? config.contextLength : 1,
        tablesF16: f16,
      }));
      const paged = { tokens: this.tokens, blockTables: this.blockTables, channels: C, blockSize: kv.blockSize, maxBlocksPerSequence: this.maxBlocksPerSequence };
      // Fusions: mlp up applies GELU; mlp down adds into x (in NeoX after the attention's add, as unfused); GPT-2's
      // attention projection adds into x too, but not NeoX's, whose MLP must read x before the attention is added.
      const fuse = limits.fuseEpilogues !== false;
      const fuseMlpDown = fuse && residualEpilogueFits(I);
      const fuseAttnOut = fuse && !config.parallelResidual && residualEpilogueFits(C);
      const residual = { kind: 'residual' } as const;
      this.layers = weights.layers.map((w, l) => ({
        ln1: own(layerNorm(gpu, `L${l} ln1`, { x: this.x, gamma: w.ln1.weight, beta: w.ln1.bias, y: this.xn, channels: C, eps })),
        qkv: own(new LinearCall(gpu, `L${l} qkv`, { x: this.xn, w: w.qkv.weight, bias: w.qkv.bias, y: this.qkv, inFeatures: C, outFeatures: 3 * C, weightF16: f16 })),
        rope: this.ropeTables && own(rope(gpu, `L${l} rope`, { qkv: this.qkv, tokens: this.tokens, tables: this.ropeTables, channels: C, numHeads: H, headDim: D })),
        kvWrite: own(kvWrite(gpu, `L${l} kv write`, { ...paged, qkv: this.qkv, kCache: kv.keys[l], vCache: kv.values[l], numBlocks: kv.numBlocks })),
        attention: own(attention(gpu, `L${l} attention`, { ...paged, qkv: this.qkv, kCache: kv.keys[l], vCache: kv.values[l], out: this.attnOut, partials: this.attnPartials, numHeads: H, headDim: D, scale: config.attentionScale(l), maxPositions: config.contextLength, decodeMaxRows: decodeRows, hostTokens: this.hostTokens })),
        attnOut: own(new LinearCall(gpu, `L${l} attn proj`, { x: this.attnOut, w: w.attnOut.weight, bias: w.attnOut.bias, ...(fuseAttnOut ? { y: this.x, epilogue: residual } : { y: this.attnProj }), inFeatures: C, outFeatures: C, weightF16: f16 })),
        ln2: own(layerNorm(gpu, `L${l} ln2`, { x: this.x, gamma: w.ln2.weight, beta: w.ln2.bias, y: this.xn, channels: C, eps })),
        mlpUp: own(new LinearCall(gpu, `L${l} mlp up`, { x: this.xn, w: w.mlpUp.weight, bias: w.mlpUp.bias, y: this.hidden, inFeatures: C, outFeatures: I, weightF16: f16, ...(fuse ? { epilogue: { kind: 'gelu', activation: config.activation } as const } : {}) })),
        gelu: fuse ? undefined : own(gelu(gpu, `L${l} gelu`, { h: this.hidden, features: I, activation: config.activation })),
        mlpDown: own(new LinearCall(gpu, `L${l} mlp down`, { x: this.hidden, w: w.mlpDown.weight, bias: w.mlpDown.bias, ...(fuseMlpDown ? { y: this.x, epilogue: residual } : { y: this.mlpOut }), inFeatures: I, outFeatures: C, weightF16: f16 })),
        addAttn: fuseAttnOut ? undefined : own(residualAdd(gpu, `L${l} +attn`, { x: this.x, r: this.attnProj, channels: C })),
        addMlp: fuseMlpDown ? undefined : own(residualAdd(gpu, `L${l} +mlp`, { x: this.x, r: this.mlpOut, channels: C })),
      }));
      this.head = own(new OutputHead(gpu, config, weights, limits.maxLogitRows));
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /**
   * Runs one step: every token through every layer (storing its KV), then the output head for `step.logitRows`.
   * Resolves once the GPU is done; throws typed errors for bad input and GPU failures. `logits` output may cover more
   * rows than one head pass holds (a whole prompt); it then takes several passes.
   */
  async run(step: Step, output: StepOutput): Promise<StepResult> {
    this.validate(step, output);
    const counters = { ...this.gpu.counters };
    this.upload(step);
    const T = step.tokens.length;
    const encoder = this.gpu.device.createCommandEncoder({ label: 'step' });
    for (const copy of step.copies ?? []) this.encodeBlockCopy(encoder, copy);
    const rows = step.logitRows;
    // GPU time of the step: from the start of the layers pass to the end of the first head pass (or of the layers).
    const querySet = this.timing?.queries;
    const pass = encoder.beginComputePass({
      label: 'layers',
      timestampWrites: querySet && { querySet, beginningOfPassWriteIndex: 0, ...(rows.length === 0 ? { endOfPassWriteIndex: 1 } : {}) },
    });
    this.embed.encode(pass, T);
    const maxPosition = maxPositionOf(step);
    for (const layer of this.layers) this.encodeLayer(pass, layer, T, maxPosition);
    pass.end();

    const result: StepResult = { dispatches: 0, submits: 0 };
    if (rows.length === 0) {
      // A prefill chunk that only fills the cache: nothing to read back, but wait so errors surface here.
      if (this.timing) {
        this.encodeTimestampResolve(encoder, this.timing.staging, 0);
        this.submit(encoder);
        result.gpuMs = gpuMsOf(await this.readBack(this.timing.staging, 16), 0);
      } else {
        this.submit(encoder);
        await this.gpu.device.queue.onSubmittedWorkDone();
      }
    } else {
      const V = this.config.vocabSize;
      const per = this.head.maxRows;
      if (output.kind === 'logits') result.logits = new Float32Array(rows.length * V);
      // The first head pass shares the layers' command buffer; more passes only for `logits` of a long prompt.
      for (let first = 0; first < rows.length; first += per) {
        const chunk = first === 0 ? encoder : this.gpu.device.createCommandEncoder({ label: 'head' });
        const timestampWrites = first === 0 && querySet ? { querySet, endOfPassWriteIndex: 1 } : undefined;
        const { bytes, read } = this.head.encode(chunk, this.x, rows.slice(first, first + per), output, timestampWrites);
        // The timer travels in the head's read-back, right after its data: one mapAsync per step, not two.
        const timed = first === 0 && this.timing !== undefined;
        if (timed) this.encodeTimestampResolve(chunk, this.head.staging, timerOffset(bytes));
        this.submit(chunk);
        const data = await this.readBack(this.head.staging, timed ? timerOffset(bytes) + 16 : bytes);
        if (timed) result.gpuMs = gpuMsOf(data, timerOffset(bytes));
        const part = read(data);
        if (result.logits) result.logits.set(part.logits!, first * V);
        else Object.assign(result, part);
      }
    }
    this.gpu.throwIfFailed();
    result.dispatches = this.gpu.counters.dispatches - counters.dispatches;
    result.submits = this.gpu.counters.submits - counters.submits;
    return result;
  }

  /**
   * The call sites of one step, each to be encoded on its own (bench --profile): the embedding, layer 0's sites (all
   * layers are alike: `occurrences` counts them), the head's for `sampling.length` rows. Uploads the step's tokens and
   * block tables, so attention reads every key of each sequence's table; the KV contents are whatever the blocks hold.
   */
  profileSites(step: Step, sampling: readonly RowSampling[]): ProfileSite[] {
    this.validate(step, { kind: 'sample', rows: sampling });
    this.upload(step);
    const T = step.tokens.length;
    const n = this.layers.length;
    const l = this.layers[0];
    const site = (label: string, occurrences: number, call: { encode(pass: GPUComputePassEncoder, rows: number): void } | undefined): ProfileSite[] =>
      call ? [{ label, occurrences, encode: (pass) => call.encode(pass, T) }] : [];
    // Attention with the grid a real step of these rows gets (sized by their largest position).
    const maxPosition = maxPositionOf(step);
    const attentionSite: ProfileSite = { label: 'L* attention', occurrences: n, encode: (pass) => l.attention.encode(pass, T, 'auto', maxPosition) };
    return [
      ...site('embed', 1, this.embed),
      ...site('L* ln1', n, l.ln1),
      ...site('L* qkv', n, l.qkv),
      ...site('L* rope', n, l.rope),
      ...site('L* kv write', n, l.kvWrite),
      attentionSite,
      ...site('L* attn proj', n, l.attnOut),
      ...site('L* +attn', n, l.addAttn),
      ...site('L* ln2', n, l.ln2),
      ...site('L* mlp up', n, l.mlpUp),
      ...site('L* gelu', n, l.gelu),
      ...site('L* mlp down', n, l.mlpDown),
      ...site('L* +mlp', n, l.addMlp),
      ...this.head.profileSites(sampling),
    ];
  }

  private submit(encoder: GPUCommandEncoder): void {
    this.gpu.device.queue.submit([encoder.finish()]);
    this.gpu.counters.submits++;
  }

  /** Resolves the step's two timestamps and copies them (16 bytes) into `staging` at `offset`. */
  private encodeTimestampResolve(encoder: GPUCommandEncoder, staging: GPUBuffer, offset: number): void {
    if (!this.timing) return;
    encoder.resolveQuerySet(this.timing.queries, 0, 2, this.timing.resolved, 0);
    encoder.copyBufferToBuffer(this.timing.resolved, 0, staging, offset, 16);
  }

  /** Copies one KV block in every layer (keys and values), through the scratch buffer. */
  private encodeBlockCopy(encoder: GPUCommandEncoder, { from, to }: BlockCopy): void {
    const bytes = this.kv.blockSize * this.config.hiddenSize * 4;
    for (const pool of [...this.kv.keys, ...this.kv.values]) {
      encoder.copyBufferToBuffer(pool, from * bytes, this.blockScratch, 0, bytes);
      encoder.copyBufferToBuffer(this.blockScratch, 0, pool, to * bytes, bytes);
    }
  }

  /** `maxPosition`: the step's largest token position, which sizes attention's decode grid. */
  private encodeLayer(pass: GPUComputePassEncoder, l: LayerCalls, T: number, maxPosition: number): void {
    // Attention branch: ln1 → qkv → (RoPE) → store k, v → attend over the cache → output projection.
    l.ln1.encode(pass, T);
    l.qkv.encode(pass, T);
    l.rope?.encode(pass, T);
    l.kvWrite.encode(pass, T);
    l.attention.encode(pass, T, 'auto', maxPosition);
    l.attnOut.encode(pass, T);
    if (this.config.parallelResidual) {
      // NeoX: the MLP reads ln2 of the same x the attention read, so x is updated only after ln2: x = (x + a) + m.
      l.ln2.encode(pass, T);
      l.mlpUp.encode(pass, T);
      l.gelu?.encode(pass, T);
      l.addAttn?.encode(pass, T);
      l.mlpDown.encode(pass, T); // adds into x itself when fused
      l.addMlp?.encode(pass, T);
    } else {
      // GPT-2: the MLP sees the residual stream after attention was added (by the projection itself when fused).
      l.addAttn?.encode(pass, T);
      l.ln2.encode(pass, T);
      l.mlpUp.encode(pass, T);
      l.gelu?.encode(pass, T);
      l.mlpDown.encode(pass, T);
      l.addMlp?.encode(pass, T);
    }
  }

  private async readBack(staging: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    try {
      await staging.mapAsync(0x01 /* GPUMapMode.READ */, 0, bytes);
    } catch (e) {
      throw this.gpu.failure(e);
    }
    const copy = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    return copy;
  }

  /** Writes the step's tokens and block tables through host arrays made once (no allocation per step). */
  private upload(step: Step): void {
    const tokens = this.hostTokens;
    step.tokens.forEach((t, i) => {
      tokens[i * 4] = t.id;
      tokens[i * 4 + 1] = t.position;
      tokens[i * 4 + 2] = t.sequence;
    });
    this.gpu.device.queue.writeBuffer(this.tokens, 0, tokens, 0, step.tokens.length * 4);
    const tables = this.hostTables;
    const width = this.maxBlocksPerSequence;
    step.blockTables.forEach((blocks, s) => {
      tables.set(blocks, s * width);
      tables.fill(0, s * width + blocks.length, (s + 1) * width);
    });
    if (step.blockTables.length > 0) this.gpu.device.queue.writeBuffer(this.blockTables, 0, tables, 0, step.blockTables.length * width);
  }

  /** Bad steps become typed errors here, before anything reaches the GPU. */
  private validate(step: Step, output: StepOutput): void {
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
    if (output.kind === 'sample' && output.rows.length !== step.logitRows.length) throw new InvalidRequestError('a sampling step needs one sampling setting per logit row');
    if (output.kind === 'sample' && step.logitRows.length > this.head.maxRows) throw new InvalidRequestError(`a sampling step holds at most ${this.head.maxRows} rows`);
    for (const c of step.copies ?? []) {
      if (![c.from, c.to].every((b) => Number.isInteger(b) && b >= 0 && b < this.kv.numBlocks) || c.from === c.to) throw new InvalidRequestError(`bad KV block copy ${c.from} → ${c.to}`);
    }
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
  }
}

/** The largest token position of a step (validated: ≥ 1 token, each position inside the context). */
export function maxPositionOf(step: Step): number {
  let max = 0;
  for (const t of step.tokens) if (t.position > max) max = t.position;
  return max;
}

/** Where the step's timestamps sit in the head's read-back: after `bytes` of head data, 8-byte aligned. */
function timerOffset(bytes: number): number {
  return Math.ceil(bytes / 8) * 8;
}

function gpuMsOf(data: ArrayBuffer, offset: number): number {
  const [begin, end] = new BigUint64Array(data, offset, 2);
  return Number(end - begin) / 1e6;
}
