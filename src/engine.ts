// The engine: a loaded model on a GPU device, with its tokenizer, KV cache and forward plan, serving generate() and
// logits() calls. Requests run one at a time here, in arrival order; each streams its tokens as they are chosen.
import { ContextWindowExceededError, InvalidRequestError, TokenizerError } from './errors.ts';
import type { GpuContext, AdapterSummary } from './gpu/context.ts';
import { parseConfigText, type ModelConfig } from './io/config.ts';
import { loadWeights, TensorIndex, type LoadProgress, type ModelWeights } from './io/checkpoint.ts';
import type { ModelFiles } from './io/modelFiles.ts';
import { blocksFor } from './kv/blockAllocator.ts';
import { DEFAULT_BLOCK_SIZE, PagedKvCache } from './kv/pagedKvCache.ts';
import { TransformerPlan, type Step, type StepOutput, type StepToken } from './model/transformer.ts';
import { planSampling, Rng, sampleToken, type SamplingOptions, type SamplingPlan } from './sampling/sampler.ts';
import { GenerationStream, type FinishReason, type GenerationResult } from './scheduler/generationStream.ts';
import { Tokenizer } from './tokenizer/index.ts';

export interface EngineOptions {
  /** Tokens per KV block (default 16). */
  blockSize?: number;
  /** Blocks in the KV pool (default: one full context window). */
  kvBlocks?: number;
  /** Most prompt tokens run in one forward pass; longer prompts are prefilled in chunks (default 256). */
  maxBatchTokens?: number;
  /** Called as weights stream to the GPU. */
  onProgress?: (progress: LoadProgress) => void;
}

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (default 64). */
  maxNewTokens?: number;
  /** Stop after the end-of-sequence token (default true). */
  stopAtEos?: boolean;
  /** Aborting ends the request at once with finishReason 'abort'. */
  signal?: AbortSignal;
}

export interface EngineInfo {
  model: string;
  family: ModelConfig['family'];
  adapter: AdapterSummary;
  weightBytes: number;
  kvBytes: number;
  kv: { blockSize: number; totalBlocks: number };
}

const DEFAULT_MAX_NEW_TOKENS = 64;
const DEFAULT_MAX_BATCH_TOKENS = 256;
/** Logit rows per head pass: bounds the (R, V) logits buffer (12.9 MB for GPT-2's vocabulary). */
const MAX_LOGIT_ROWS = 64;

export class Engine {
  /** Requests run one after another: each waits for the previous one to settle. */
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    readonly gpu: GpuContext,
    readonly name: string,
    readonly config: ModelConfig,
    readonly tokenizer: Tokenizer | undefined,
    private readonly weights: ModelWeights,
    private readonly kv: PagedKvCache,
    private readonly plan: TransformerPlan,
  ) {}

  /** Reads config, tokenizer and weights from `files` and builds everything on `gpu`. */
  static async load(gpu: GpuContext, files: ModelFiles, options: EngineOptions = {}): Promise<Engine> {
    const config = parseConfigText(await files.text('config.json'), `${files.name}/config.json`);
    const tokenizer = await loadTokenizer(files);
    const blockSize = positiveInteger(options.blockSize ?? DEFAULT_BLOCK_SIZE, 'blockSize');
    const kvBlocks = positiveInteger(options.kvBlocks ?? blocksFor(config.contextLength, blockSize), 'kvBlocks');
    const maxTokens = Math.min(positiveInteger(options.maxBatchTokens ?? DEFAULT_MAX_BATCH_TOKENS, 'maxBatchTokens'), config.contextLength);

    const index = await TensorIndex.open(files);
    let weights: ModelWeights | undefined;
    let kv: PagedKvCache | undefined;
    try {
      weights = await loadWeights(gpu, config, index, options.onProgress);
      kv = new PagedKvCache(gpu, { numLayers: config.numLayers, channels: config.hiddenSize, numBlocks: kvBlocks, blockSize });
      const plan = new TransformerPlan(gpu, config, weights, kv, { maxTokens, maxSequences: 1, maxLogitRows: Math.min(MAX_LOGIT_ROWS, maxTokens) });
      return new Engine(gpu, files.name, config, tokenizer, weights, kv, plan);
    } catch (e) {
      kv?.destroy();
      weights?.destroy();
      throw e;
    } finally {
      await index.close();
    }
  }

  get info(): EngineInfo {
    return {
      model: this.name,
      family: this.config.family,
      adapter: this.gpu.adapter,
      weightBytes: this.weights.bytes,
      kvBytes: this.kv.bytes,
      kv: { blockSize: this.kv.blockSize, totalBlocks: this.kv.numBlocks },
    };
  }

  /** Token ids of `text` with the model's tokenizer. */
  encode(text: string): number[] {
    return this.requireTokenizer().encode(text);
  }

  /**
   * Generates a continuation of `prompt` (text, or token ids). Iterate the returned stream for chunks as they come;
   * `stream.result` resolves with the ids, text, finish reason and metrics.
   */
  generate(prompt: string | readonly number[], options: GenerateOptions = {}): GenerationStream {
    const submitted = performance.now();
    const controller = new AbortController();
    const stream = new GenerationStream(() => controller.abort());
    options.signal?.addEventListener('abort', () => controller.abort(), { once: true });
    let promptIds: number[];
    let sampling: SamplingPlan;
    let maxNewTokens: number;
    try {
      this.checkUsable();
      promptIds = typeof prompt === 'string' ? this.encode(prompt) : [...prompt];
      sampling = planSampling(options);
      maxNewTokens = options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
      this.checkRequest(promptIds, maxNewTokens);
    } catch (e) {
      stream.fail(e);
      return stream;
    }
    const run = () =>
      this.runGeneration(promptIds, { sampling, maxNewTokens, stopAtEos: options.stopAtEos ?? true, signal: controller.signal, submitted }, stream).catch((e) =>
        stream.fail(e),
      );
    this.queue = this.queue.then(run, run);
    return stream;
  }

  /** Logits after every prompt token: a (P, V) row-major Float32Array, row i = next-token logits after token i. */
  async logits(ids: readonly number[]): Promise<Float32Array> {
    this.checkUsable();
    this.checkRequest([...ids], 0);
    const job = this.queue.then(async () => {
      const blocks = this.kv.allocator.allocate(blocksFor(ids.length, this.kv.blockSize));
      try {
        const out = new Float32Array(ids.length * this.config.vocabSize);
        const everyRow = (_start: number, length: number) => Array.from({ length }, (_, i) => i);
        for await (const { start, result } of this.prefill(ids, blocks, everyRow, { kind: 'logits' })) out.set(result, start * this.config.vocabSize);
        return out;
      } finally {
        this.kv.allocator.free(blocks);
      }
    });
    this.queue = job.catch(() => {});
    return job;
  }

  private async runGeneration(
    promptIds: number[],
    o: { sampling: SamplingPlan; maxNewTokens: number; stopAtEos: boolean; signal: AbortSignal; submitted: number },
    stream: GenerationStream,
  ): Promise<void> {
    const ids: number[] = [];
    const itlMs: number[] = [];
    let ttftMs = 0;
    let lastDelivery = 0;
    let finishReason: FinishReason = 'length';
    const decoder = this.tokenizer?.createStreamDecoder();
    const rng = o.sampling.greedy ? undefined : new Rng(o.sampling.seed);
    const output = o.sampling.greedy ? ({ kind: 'argmax' } as const) : ({ kind: 'probs', temperature: o.sampling.temperature } as const);
    const pick = (result: Uint32Array | Float32Array): number =>
      o.sampling.greedy ? (result as Uint32Array)[0] : sampleToken(result as Float32Array, o.sampling.topK, o.sampling.topP, rng!);
    const blocks: number[] = [];
    const deliver = (token: number) => {
      const now = performance.now();
      if (ids.length === 0) ttftMs = now - o.submitted;
      else itlMs.push(now - lastDelivery);
      lastDelivery = now;
      stream.push({ tokenId: token, text: decoder && this.hasText(token) ? decoder.push(token) : '', index: ids.length });
      ids.push(token);
    };

    try {
      if (o.maxNewTokens > 0 && !o.signal.aborted) {
        this.growBlocks(blocks, promptIds.length);
        let next = -1;
        const lastRow = (start: number, length: number) => (start + length === promptIds.length ? [length - 1] : []);
        for await (const { result } of this.prefill(promptIds, blocks, lastRow, output, o.signal)) if (result.length > 0) next = pick(result);
        while (!o.signal.aborted) {
          deliver(next);
          if (o.stopAtEos && next === this.config.eosTokenId) {
            finishReason = 'eos';
            break;
          }
          if (ids.length >= o.maxNewTokens) break;
          const position = promptIds.length + ids.length - 1;
          this.growBlocks(blocks, position + 1);
          next = pick(await this.plan.run(this.singleSequenceStep([{ id: next, position, sequence: 0 }], blocks, [0]), output));
        }
      }
      if (o.signal.aborted) finishReason = 'abort';
    } finally {
      if (blocks.length > 0) this.kv.allocator.free(blocks);
    }
    const tail = decoder?.flush() ?? '';
    const text = this.tokenizer ? this.tokenizer.decode(ids.filter((id) => this.hasText(id))) : '';
    if (tail) stream.push({ tokenId: -1, text: tail, index: ids.length });
    stream.end({
      ids,
      text,
      finishReason,
      metrics: { promptTokens: promptIds.length, generatedTokens: ids.length, ttftMs, itlMs, e2eMs: performance.now() - o.submitted },
    });
  }

  /**
   * Runs the prompt through the model in chunks of at most maxTokens, filling the KV cache, and yields each chunk's
   * output for the rows `rowsOf(start, length)` names (chunk-relative).
   */
  private async *prefill(
    ids: readonly number[],
    blocks: readonly number[],
    rowsOf: (start: number, length: number) => number[],
    output: StepOutput,
    signal?: AbortSignal,
  ): AsyncGenerator<{ start: number; result: Uint32Array | Float32Array }> {
    const chunk = this.plan.limits.maxTokens;
    for (let start = 0; start < ids.length && !signal?.aborted; start += chunk) {
      const length = Math.min(chunk, ids.length - start);
      const tokens = Array.from({ length }, (_, i): StepToken => ({ id: ids[start + i], position: start + i, sequence: 0 }));
      yield { start, result: await this.plan.run(this.singleSequenceStep(tokens, blocks, rowsOf(start, length)), output) };
    }
  }

  private singleSequenceStep(tokens: StepToken[], blocks: readonly number[], logitRows: number[]): Step {
    return { tokens, blockTables: [blocks], logitRows };
  }

  /** Allocates blocks until `blocks` covers `tokens` positions. */
  private growBlocks(blocks: number[], tokens: number): void {
    const missing = blocksFor(tokens, this.kv.blockSize) - blocks.length;
    if (missing > 0) blocks.push(...this.kv.allocator.allocate(missing));
  }

  /**
   * Whether a generated id becomes text: special tokens (end of text) do not, and neither do ids past the tokenizer's
   * vocabulary, which models with a padded embedding (Pythia: 50304 rows, 50277 tokens) can still produce.
   */
  private hasText(id: number): boolean {
    return this.tokenizer !== undefined && !this.tokenizer.isSpecialToken(id) && this.tokenizer.idToToken(id) !== undefined;
  }

  private checkRequest(promptIds: number[], maxNewTokens: number): void {
    const { contextLength, vocabSize } = this.config;
    if (promptIds.length === 0) throw new InvalidRequestError('the prompt is empty; give at least one token');
    const bad = promptIds.find((id) => !Number.isInteger(id) || id < 0 || id >= vocabSize);
    if (bad !== undefined) throw new InvalidRequestError(`token id ${bad} is outside the model's vocabulary (0 … ${vocabSize - 1})`);
    if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new InvalidRequestError(`maxNewTokens must be an integer ≥ 0, got ${maxNewTokens}`);
    if (promptIds.length + maxNewTokens > contextLength) throw new ContextWindowExceededError(promptIds.length, maxNewTokens, contextLength);
    const needed = blocksFor(promptIds.length + maxNewTokens, this.kv.blockSize);
    if (needed > this.kv.numBlocks) {
      throw new InvalidRequestError(`the request needs ${needed} KV blocks but the pool has ${this.kv.numBlocks}; raise kvBlocks or shorten the request`);
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

  /** Frees the GPU memory of this engine (the device itself belongs to the caller). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue.catch(() => {});
    this.plan.destroy();
    this.kv.destroy();
    this.weights.destroy();
  }
}

async function loadTokenizer(files: ModelFiles): Promise<Tokenizer | undefined> {
  if (await files.has('tokenizer.json')) return Tokenizer.fromTokenizerJson(await files.text('tokenizer.json'));
  if ((await files.has('vocab.json')) && (await files.has('merges.txt'))) {
    return Tokenizer.fromVocabAndMerges(await files.text('vocab.json'), await files.text('merges.txt'));
  }
  return undefined;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) throw new InvalidRequestError(`${name} must be a positive integer, got ${value}`);
  return value;
}

export type { GenerationResult };
