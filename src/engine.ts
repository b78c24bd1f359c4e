// The engine: a loaded model on a GPU device, with its tokenizer, paged KV cache, forward plan and scheduler.
// It loads and sizes everything, checks the arguments of generate() and logits(), and hands the requests to its step
// loop (src/scheduler/stepLoop.ts), which runs engine steps while there is work, each chosen by the scheduler (a
// prefill chunk or a batched decode) and executed by the forward plan, and streams every new token to its caller.
import { ContextWindowExceededError, GpuLimitError, InvalidRequestError, TokenizerError } from './errors.ts';
import { formatBytes } from './gpu/buffers.ts';
import type { AdapterSummary, GpuContext } from './gpu/context.ts';
import { parseConfigText, type ModelConfig } from './io/config.ts';
import { loadWeights, matricesStoredF16, planCheckpoint, TensorIndex, type LoadProgress, type MatrixFormat, type ModelWeights } from './io/checkpoint.ts';
import { requiredText, type ModelFiles } from './io/modelFiles.ts';
import { loadTokenizerFiles } from './io/tokenizerFiles.ts';
import { BlockPool, blocksFor } from './kv/blockPool.ts';
import { KvBlockManager } from './kv/blockManager.ts';
import { DEFAULT_BLOCK_SIZE, PagedKvCache } from './kv/pagedKvCache.ts';
import { TransformerPlan, type ProfileSite, type Step, type StepToken } from './model/transformer.ts';
import { GEMV_MAX_ROWS } from './kernels/matmul.ts';
import { planSampling, type SamplingOptions } from './sampling/sampler.ts';
import { describeValue, optionalFunction, optionalSignal, optionsObject } from './requestTypes.ts';
import { GenerationStream } from './scheduler/generationStream.ts';
import type { RowSampling } from './model/outputHead.ts';
import type { EngineSummary } from './scheduler/metrics.ts';
import { ActiveRequest } from './scheduler/request.ts';
import { Scheduler, Sequence } from './scheduler/scheduler.ts';
import { StepLoop } from './scheduler/stepLoop.ts';
import { Tokenizer } from './tokenizer/index.ts';

export interface EngineOptions {
  /** Tokens per KV block (default 16). */
  blockSize?: number;
  /** Blocks in the KV pool (default: what `kvMemoryBytes` holds, capped at maxSequences full contexts). */
  kvBlocks?: number;
  /** Memory for the KV pool when kvBlocks is not given (default 256 MiB). */
  kvMemoryBytes?: number;
  /** Most tokens in one prefill step; longer prompts are prefilled in chunks (default 256). */
  maxBatchTokens?: number;
  /** Most requests running at once (default 16). */
  maxSequences?: number;
  /** Called as weights stream to the GPU. */
  onProgress?: (progress: LoadProgress) => void;
  /**
   * How weight matrices sit on the GPU: "f32", or "f16" packed two per u32 (half the memory and bandwidth; f32 math).
   * "auto" (the default) picks f16 when the checkpoint stores them in F16, which loses nothing, or when f32 would
   * not fit the adapter; f32 otherwise.
   */
  weightFormat?: 'auto' | MatrixFormat;
  /**
   * Measure each step's GPU time with timestamp queries, where the adapter has them (summary().gpuMsPerStep). Off by
   * default: the timer rides along with the step's read-back, but it adds GPU work and a wait to prefill-only steps.
   */
  gpuTiming?: boolean;
  /**
   * Apply GELU and the residual adds in the linear layers' epilogues (default true). False runs them as separate
   * passes: the reference path, which gives the same bits (for tests and profiling).
   */
  fuseEpilogues?: boolean;
}

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (default: 64, or what is left of the context window). */
  maxNewTokens?: number;
  /** > 0; 1 (the default) means none. Penalizes every token already in the prompt or the output (as Hugging Face). */
  repetitionPenalty?: number;
  /** Generation ends when the text contains one of these; the returned text stops before it. */
  stop?: string | readonly string[];
  /** Stop after the end-of-sequence token (default true). */
  stopAtEos?: boolean;
  /**
   * When the prompt and maxNewTokens do not fit the context window, keep the prompt's last tokens (as many as fit)
   * instead of failing with ContextWindowExceededError (default false).
   */
  keepLastTokens?: boolean;
  /** Aborting ends the request at once with finishReason 'abort' and frees its KV blocks. */
  signal?: AbortSignal;
}

export interface EngineInfo {
  model: string;
  family: ModelConfig['family'];
  adapter: AdapterSummary;
  /** Storage dtype of the checkpoint ("F32", "F16", "BF16"). */
  dtype: string;
  /** How the weight matrices sit on the GPU: "f32", or "f16" packed two per u32. */
  weightFormat: MatrixFormat;
  /** Number of parameters (weights and biases). */
  parameters: number;
  weightBytes: number;
  kvBytes: number;
  kv: { blockSize: number; totalBlocks: number };
  maxSequences: number;
  maxBatchTokens: number;
}

const DEFAULT_MAX_NEW_TOKENS = 64;
const DEFAULT_MAX_BATCH_TOKENS = 256;
const DEFAULT_MAX_SEQUENCES = 16;
const DEFAULT_KV_MEMORY = 256 * 2 ** 20;
/** Rows per output-head pass: bounds the (R, V) logits buffer (12.9 MB for GPT-2's vocabulary). */
const MAX_LOGIT_ROWS = 64;

export class Engine {
  /** Owns the requests in flight and runs the steps; the plan is its executor. */
  private readonly loop: StepLoop;
  private disposed = false;

  private constructor(
    readonly gpu: GpuContext,
    readonly name: string,
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer | undefined,
    private readonly weights: ModelWeights,
    private readonly kv: PagedKvCache,
    private readonly plan: TransformerPlan,
    private readonly blocks: KvBlockManager,
    private readonly scheduler: Scheduler,
  ) {
    this.loop = new StepLoop(scheduler, plan);
  }

  /** Reads config, tokenizer and weights from `files` and builds everything on `gpu`. */
  static async load(gpu: GpuContext, files: ModelFiles, options: EngineOptions = {}): Promise<Engine> {
    options = checkEngineOptions(options);
    const config = parseConfigText(await requiredText(files, 'config.json'), `${files.name}/config.json`);
    const tokenizer = await loadTokenizerFiles(files);
    const requested = options.weightFormat ?? 'auto';
    if (!['auto', 'f32', 'f16'].includes(requested)) throw new InvalidRequestError(`weightFormat must be "auto", "f32" or "f16", got ${JSON.stringify(requested)}`);
    const sizes = engineSizes(config, options);
    // Before any weight is downloaded: a model that cannot fit this adapter's limits in the most compact format it may
    // use fails now, with the reason.
    checkAdapterLimits(gpu, config, files.name, sizes, requested === 'f32' ? 'f32' : 'f16');
    const index = await TensorIndex.open(files);
    let weights: ModelWeights | undefined;
    try {
      // auto: f16 when the checkpoint stores its matrices in F16 (lossless), or when f32 would not fit the adapter.
      const format = requested !== 'auto' ? requested : matricesStoredF16(planCheckpoint(config, index), index) || !fitsAdapter(gpu, config, sizes, 'f32') ? 'f16' : 'f32';
      checkAdapterLimits(gpu, config, files.name, sizes, format);
      const bytes = 4 * [...index.names()].reduce((n, name) => n + index.get(name).info.shape.reduce((a, b) => a * b, 1), 0);
      weights = await gpu.allocating('the model weights', bytes, 0, 'choose a smaller model, or close other GPU work', () => loadWeights(gpu, config, index, format, options.onProgress), (w) => w.destroy());
    } finally {
      await index.close(weights !== undefined);
    }
    const engine = await Engine.fromWeights(gpu, { name: files.name, config, tokenizer, weights }, options);
    // Only now may a source record what this load learned (e.g. files the cache should remember as absent).
    await files.finish?.();
    return engine;
  }

  /** An engine over weights already on the GPU (e.g. random-weight benchmark models); it takes ownership of them. */
  static async fromWeights(gpu: GpuContext, model: { name: string; config: ModelConfig; tokenizer?: Tokenizer; weights: ModelWeights }, options: EngineOptions = {}): Promise<Engine> {
    const { config, weights } = model;
    let sizes: EngineSizes;
    try {
      options = checkEngineOptions(options);
      sizes = engineSizes(config, options);
    } catch (e) {
      weights.destroy();
      throw e;
    }
    let kv: PagedKvCache | undefined;
    try {
      checkAdapterLimits(gpu, config, model.name, sizes, weights.matrixFormat);
      const kvBytes = 2 * config.numLayers * sizes.kvBlocks * sizes.blockSize * config.hiddenSize * 4;
      kv = await gpu.allocating('the KV pool', kvBytes, weights.bytes, 'lower kvBlocks or kvMemoryBytes', () => new PagedKvCache(gpu, { numLayers: config.numLayers, channels: config.hiddenSize, numBlocks: sizes.kvBlocks, blockSize: sizes.blockSize }), (made) => made.destroy());
      const kvCache = kv;
      const { hiddenSize: C, intermediateSize: I, vocabSize: V } = config;
      const activationBytes = 4 * (sizes.maxBatchTokens * (8 * C + I) + 3 * sizes.maxLogitRows * V);
      const plan = await gpu.allocating('activation buffers', activationBytes, weights.bytes + kvBytes, 'lower maxBatchTokens or maxSequences', () => new TransformerPlan(gpu, config, weights, kvCache, { maxTokens: sizes.maxBatchTokens, maxSequences: sizes.maxSequences, maxLogitRows: sizes.maxLogitRows, gpuTiming: options.gpuTiming === true, fuseEpilogues: options.fuseEpilogues !== false }), (made) => made.destroy());
      const blocks = new KvBlockManager(new BlockPool(sizes.kvBlocks), sizes.blockSize);
      const scheduler = new Scheduler({ maxBatchTokens: sizes.maxBatchTokens, maxSequences: sizes.maxSequences }, blocks);
      const engine = new Engine(gpu, model.name, config, model.tokenizer, weights, kv, plan, blocks, scheduler);
      await engine.warmUp();
      return engine;
    } catch (e) {
      kv?.destroy();
      weights.destroy();
      throw e;
    }
  }

  /**
   * Runs every kernel once (a prefill-sized step through the GEMM, a decode-sized one through the GEMV, greedy and
   * sampled rows with a penalty): drivers compile pipelines on first use, which would otherwise land in the first
   * request's TTFT. Not counted in the metrics.
   */
  private async warmUp(): Promise<void> {
    const id = this.loop.newId();
    const length = Math.min(this.config.contextLength, GEMV_MAX_ROWS + 1, this.plan.limits.maxTokens);
    this.blocks.append(id, 0, length);
    try {
      const table = [this.blocks.table(id)];
      const tokens = Array.from({ length }, (_, i): StepToken => ({ id: 0, position: i, sequence: 0 }));
      const rows = tokens.length > 1 ? [0, 1] : [0];
      const sampling: RowSampling[] = rows.map((r) => ({ temperature: r, topK: 40, topP: 0.9, seed: 0, tokenIndex: 0, repetitionPenalty: 1 + r, history: [0] }));
      await this.plan.run({ tokens, blockTables: table, logitRows: rows }, { kind: 'sample', rows: sampling });
      await this.plan.run({ tokens: tokens.slice(0, 1), blockTables: table, logitRows: [0] }, { kind: 'sample', rows: sampling.slice(0, 1) });
    } finally {
      this.blocks.free(id);
      this.blocks.pool.resetPeak();
    }
  }

  get info(): EngineInfo {
    return {
      model: this.name,
      family: this.config.family,
      adapter: this.gpu.adapter,
      dtype: this.weights.sourceDtype,
      weightFormat: this.weights.matrixFormat,
      parameters: parameterCount(this.config),
      weightBytes: this.weights.bytes,
      kvBytes: this.kv.bytes,
      kv: { blockSize: this.kv.blockSize, totalBlocks: this.kv.numBlocks },
      maxSequences: this.scheduler.config.maxSequences,
      maxBatchTokens: this.scheduler.config.maxBatchTokens,
    };
  }

  /** Starts the figures of `summary()` afresh (e.g. before a benchmark); requests in flight are counted when they end. */
  resetMetrics(): void {
    this.loop.resetMetrics();
    this.blocks.pool.resetPeak();
  }

  /** Latency percentiles, throughput, step counts, preemptions and KV use since load (or resetMetrics()). */
  summary(): EngineSummary {
    return this.loop.metrics.summary({ blockSize: this.kv.blockSize, totalBlocks: this.kv.numBlocks, peakBlocksUsed: this.blocks.pool.peakUsed });
  }

  /** KV blocks held by requests right now (0 once everything has finished). */
  get kvBlocksInUse(): number {
    return this.blocks.pool.usedCount;
  }

  /** Token ids of `text` with the model's tokenizer. */
  encode(text: string): number[] {
    return this.requireTokenizer().encode(text);
  }

  /**
   * Generates a continuation of `prompt` (text, or token ids). Iterate the returned stream for chunks as they come;
   * `stream.result` resolves with the ids, text, finish reason and metrics. Calls may overlap: they share the GPU
   * through the scheduler, and each gets exactly the tokens it would get alone.
   */
  generate(prompt: string | readonly number[], options: GenerateOptions = {}): GenerationStream {
    const id = this.loop.newId();
    const stream = new GenerationStream(() => this.loop.abort(id));
    let request: ActiveRequest;
    try {
      this.checkUsable();
      // Plain-JavaScript callers can pass anything: wrong types get a typed error, not a TypeError from a spread.
      if (typeof prompt !== 'string' && !Array.isArray(prompt)) throw new InvalidRequestError(`the prompt must be a string or an array of token ids, got ${prompt === null ? 'null' : typeof prompt}`);
      options = optionsObject(options, "generate's options");
      optionalSignal(options.signal);
      if (options.stop !== undefined && typeof options.stop !== 'string' && !Array.isArray(options.stop)) throw new InvalidRequestError(`stop must be a string or an array of strings, got ${typeof options.stop}`);
      let promptIds = typeof prompt === 'string' ? this.encode(prompt) : [...prompt];
      this.checkPrompt(promptIds);
      const context = this.config.contextLength;
      const maxNewTokens = options.maxNewTokens ?? Math.min(DEFAULT_MAX_NEW_TOKENS, Math.max(1, context - promptIds.length));
      if (options.keepLastTokens && promptIds.length + maxNewTokens > context && Number.isInteger(maxNewTokens) && maxNewTokens >= 0 && maxNewTokens < context) {
        promptIds = promptIds.slice(promptIds.length - (context - maxNewTokens));
      }
      this.checkLength(promptIds.length, maxNewTokens);
      const repetitionPenalty = options.repetitionPenalty ?? 1;
      if (!(Number.isFinite(repetitionPenalty) && repetitionPenalty > 0)) throw new InvalidRequestError(`repetitionPenalty must be a number > 0, got ${describeValue(repetitionPenalty)}`);
      const stop = typeof options.stop === 'string' ? [options.stop] : [...(options.stop ?? [])];
      if (stop.some((s) => typeof s !== 'string' || s.length === 0)) throw new InvalidRequestError('stop strings must be non-empty strings');
      if (stop.length > 0 && !this.tokenizer) throw new TokenizerError(`${this.name} has no tokenizer, so stop strings cannot be matched; remove them`);
      const settings = { sampling: planSampling(options), maxNewTokens, repetitionPenalty, stopAtEos: options.stopAtEos ?? true, eosTokenId: this.config.eosTokenId, stop };
      request = new ActiveRequest(new Sequence(id, promptIds, promptIds.length + maxNewTokens), settings, stream, this.tokenizer);
    } catch (e) {
      stream.fail(e);
      return stream;
    }
    if (options.signal?.aborted) {
      request.end('abort');
      return stream;
    }
    options.signal?.addEventListener('abort', () => this.loop.abort(id), { once: true });
    if (request.settings.maxNewTokens === 0) {
      request.end('length');
      return stream;
    }
    this.loop.submit(request);
    return stream;
  }

  /**
   * Logits after every prompt token: a (P, V) row-major Float32Array, row i = next-token logits after token i; with
   * `lastOnly`, only the last row (V): the next-token distribution, without reading back P − 1 rows nobody needs.
   */
  logits(ids: readonly number[], options: { lastOnly?: boolean } = {}): Promise<Float32Array> {
    try {
      this.checkUsable();
      if (!Array.isArray(ids)) throw new InvalidRequestError(`logits() takes an array of token ids, got ${describeValue(ids)}`);
      options = optionsObject(options, "logits' options");
      this.checkPrompt([...ids]);
      this.checkLength(ids.length, 0);
    } catch (e) {
      return Promise.reject(e);
    }
    const lastOnly = options.lastOnly === true;
    return this.loop.runExclusive(() => this.computeLogits(ids, lastOnly));
  }

  /**
   * For bench --profile (src/bench/profile.ts): `use` gets the plan's call sites set up as one decode step of `rows`
   * sequences of `context` positions each (the new token at position context − 1, so attention reads `context` keys),
   * on KV blocks taken from the pool for the time of `use`, distinct per sequence. Runs between steps with the plan to
   * itself, like logits(). The blocks hold whatever they held: the sites are for timing, their results are no answer.
   * Each row samples (temperature 1) with a repetition penalty over `context` ids, so the head's optional sites are set up.
   */
  profile<T>(rows: number, context: number, use: (sites: readonly ProfileSite[]) => Promise<T>): Promise<T> {
    try {
      this.checkUsable();
      const { maxSequences } = this.scheduler.config;
      if (!Number.isInteger(rows) || rows < 1 || rows > maxSequences) throw new InvalidRequestError(`a profiled step needs 1 to ${maxSequences} rows (maxSequences), got ${describeValue(rows)}`);
      if (!Number.isInteger(context) || context < 1 || context > this.config.contextLength) {
        throw new InvalidRequestError(`a profiled context needs 1 to ${this.config.contextLength} positions (the model's context window), got ${describeValue(context)}`);
      }
      const needed = rows * blocksFor(context, this.kv.blockSize);
      if (needed > this.kv.numBlocks) throw new InvalidRequestError(`${rows} rows of ${context} positions need ${needed} KV blocks but the pool has ${this.kv.numBlocks}; raise kvBlocks`);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.loop.runExclusive(async () => {
      const seqs = Array.from({ length: rows }, () => this.loop.newId());
      try {
        this.scheduler.makeRoom(rows * blocksFor(context, this.kv.blockSize));
        for (const seq of seqs) this.blocks.append(seq, 0, context);
        const V = this.config.vocabSize;
        const history = Array.from({ length: Math.min(context, V) }, (_, i) => i);
        const sampling: RowSampling[] = seqs.map(() => ({ temperature: 1, topK: 40, topP: 0.9, seed: 1, tokenIndex: 0, repetitionPenalty: 1.1, history }));
        const tokens = seqs.map((_, row): StepToken => ({ id: row % V, position: context - 1, sequence: row }));
        const step: Step = { tokens, blockTables: seqs.map((seq) => this.blocks.table(seq)), logitRows: tokens.map((_, i) => i) };
        return await use(this.plan.profileSites(step, sampling));
      } finally {
        for (const seq of seqs) this.blocks.free(seq);
      }
    });
  }

  private async computeLogits(ids: readonly number[], lastOnly: boolean): Promise<Float32Array> {
    const seq = this.loop.newId();
    // Runs between steps with the plan to itself; if running requests hold the blocks it needs, they are preempted
    // (by recompute, as when the pool runs out) and resume afterwards.
    this.scheduler.makeRoom(blocksFor(ids.length, this.kv.blockSize));
    this.blocks.append(seq, 0, ids.length);
    try {
      const V = this.config.vocabSize;
      const out = new Float32Array((lastOnly ? 1 : ids.length) * V);
      const chunk = this.plan.limits.maxTokens;
      for (let start = 0; start < ids.length; start += chunk) {
        const length = Math.min(chunk, ids.length - start);
        const last = start + length === ids.length;
        const tokens = Array.from({ length }, (_, i): StepToken => ({ id: ids[start + i], position: start + i, sequence: 0 }));
        const logitRows = lastOnly ? (last ? [length - 1] : []) : tokens.map((_, i) => i);
        const step: Step = { tokens, blockTables: [this.blocks.table(seq)], logitRows };
        const logits = (await this.plan.run(step, { kind: 'logits' })).logits!;
        if (logitRows.length > 0) out.set(logits, lastOnly ? 0 : start * V);
      }
      return out;
    } finally {
      this.blocks.free(seq);
    }
  }

  private checkPrompt(promptIds: number[]): void {
    const { vocabSize } = this.config;
    if (promptIds.length === 0) throw new InvalidRequestError('the prompt is empty; give at least one token');
    const bad = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad !== undefined) throw new InvalidRequestError(`token id ${describeValue(bad)} is outside the model's vocabulary (0 … ${vocabSize - 1})`);
  }

  private checkLength(promptTokens: number, maxNewTokens: number): void {
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new InvalidRequestError(`maxNewTokens must be an integer ≥ 0, got ${describeValue(maxNewTokens)}`);
    if (promptTokens + maxNewTokens > this.config.contextLength) throw new ContextWindowExceededError(promptTokens, maxNewTokens, this.config.contextLength);
    if (!this.scheduler.fitsAlone(promptTokens + maxNewTokens)) {
      const needed = blocksFor(promptTokens + maxNewTokens, this.kv.blockSize);
      throw new InvalidRequestError(
        `the request needs ${needed} KV blocks (${promptTokens} + ${maxNewTokens} tokens) but the pool has ${this.kv.numBlocks}; raise kvBlocks or shorten the request`,
      );
    }
  }

  private checkUsable(): void {
    if (this.disposed) throw new InvalidRequestError('this engine was disposed; load a new one');
    this.gpu.throwIfFailed();
  }

  private requireTokenizer(): Tokenizer {
    if (!this.tokenizer) {
      throw new TokenizerError(`${this.name} has no tokenizer files (tokenizer.json, or vocab.json + merges.txt); give token ids instead of text`);
    }
    return this.tokenizer;
  }

  /** Aborts what is in flight and frees the GPU memory of this engine (the device itself belongs to the caller). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.loop.abortAll();
    await this.loop.settled();
    this.plan.destroy();
    this.kv.destroy();
    this.weights.destroy();
  }
}

export interface EngineSizes {
  blockSize: number;
  maxSequences: number;
  maxBatchTokens: number;
  maxLogitRows: number;
  kvBlocks: number;
}

/** The options object itself and its callback, as plain JavaScript may pass anything (the sizes: engineSizes). */
function checkEngineOptions(options: EngineOptions): EngineOptions {
  const checked = optionsObject(options, 'the engine options');
  optionalFunction(checked.onProgress, 'onProgress');
  return checked;
}

/** The engine's buffer sizes from the options and their defaults, each checked. */
export function engineSizes(config: ModelConfig, options: EngineOptions): EngineSizes {
  const blockSize = positiveInteger(options.blockSize ?? DEFAULT_BLOCK_SIZE, 'blockSize');
  const maxSequences = positiveInteger(options.maxSequences ?? DEFAULT_MAX_SEQUENCES, 'maxSequences');
  // A decode step holds one token per sequence, so the token budget is at least maxSequences.
  const maxBatchTokens = Math.min(Math.max(positiveInteger(options.maxBatchTokens ?? DEFAULT_MAX_BATCH_TOKENS, 'maxBatchTokens'), maxSequences), config.contextLength * maxSequences);
  const kvBlocks = positiveInteger(options.kvBlocks ?? defaultKvBlocks(config, blockSize, maxSequences, options.kvMemoryBytes == null ? DEFAULT_KV_MEMORY : positiveInteger(options.kvMemoryBytes, 'kvMemoryBytes')), 'kvBlocks');
  const maxLogitRows = Math.max(maxSequences, Math.min(MAX_LOGIT_ROWS, maxBatchTokens));
  return { blockSize, maxSequences, maxBatchTokens, maxLogitRows, kvBlocks };
}

/** The largest buffers the engine will create for this model, with the remedy for each. */
function largestBuffers(config: ModelConfig, o: EngineSizes, format: MatrixFormat): [string, number, string][] {
  const { vocabSize: V, hiddenSize: C, intermediateSize: I } = config;
  const matrix = format === 'f16' ? 2 : 4;
  const bigger = 'choose a smaller model, or a GPU and browser with larger limits';
  return [
    [`the token embedding (vocabulary × width, ${format})`, V * C * matrix, bigger],
    [`an MLP weight (${format})`, I * C * matrix, bigger],
    ['the MLP activations of one prefill step', o.maxBatchTokens * I * 4, 'lower maxBatchTokens'],
    ['the logits of one output pass', o.maxLogitRows * V * 4, 'lower maxSequences or maxBatchTokens'],
    ['one layer of the KV pool', o.kvBlocks * o.blockSize * C * 4, 'lower kvBlocks (or kvMemoryBytes)'],
  ];
}

function fitsAdapter(gpu: GpuContext, config: ModelConfig, o: EngineSizes, format: MatrixFormat): boolean {
  return largestBuffers(config, o, format).every(([, bytes]) => bytes <= gpu.limits.maxStorageBufferBindingSize);
}

/** Refuses, with the reason, a model whose buffers would exceed the adapter's storage-binding limit. */
function checkAdapterLimits(gpu: GpuContext, config: ModelConfig, model: string, o: EngineSizes, format: MatrixFormat): void {
  const binding = gpu.limits.maxStorageBufferBindingSize;
  for (const [what, bytes, remedy] of largestBuffers(config, o, format)) {
    if (bytes > binding) {
      throw new GpuLimitError(
        `${model} needs ${formatBytes(bytes)} for ${what}, over this adapter's maxStorageBufferBindingSize of ${formatBytes(binding)} ` +
          `(${gpu.adapter.device || gpu.adapter.description || gpu.adapter.vendor}); ${remedy}`,
      );
    }
  }
}

/** Weights and biases of a model with this config (the tied head counted once). */
export function parameterCount(c: ModelConfig): number {
  const { hiddenSize: C, intermediateSize: I, vocabSize: V } = c;
  const attentionBiases = c.attentionBias ? 4 * C : 0;
  const layer = 4 * C + 4 * C * C + attentionBiases + 2 * I * C + I + C;
  return V * C + (c.positions.kind === 'learned' ? c.contextLength * C : 0) + c.numLayers * layer + 2 * C + (c.tiedEmbeddings ? 0 : V * C);
}

/** KV blocks for a memory budget: never more than maxSequences full contexts, never over one binding per layer. */
function defaultKvBlocks(config: ModelConfig, blockSize: number, maxSequences: number, memoryBytes: number): number {
  const bytesPerBlock = 2 * config.numLayers * blockSize * config.hiddenSize * 4;
  const budget = Math.floor(memoryBytes / bytesPerBlock);
  return Math.max(1, Math.min(budget, maxSequences * blocksFor(config.contextLength, blockSize)));
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidRequestError(`${name} must be a positive integer, got ${describeValue(value)}`);
  return value;
}
