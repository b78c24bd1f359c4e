// The caller's side of one generation: an async iterable of chunks (`for await (const chunk of stream)`) plus a
// `result` promise. The engine pushes chunks as tokens are chosen; a caller that stops iterating (break, return, throw)
// cancels the request through `onCancel`, so abandoning a stream frees its KV blocks at once.

export interface GenerationChunk {
  /** The token chosen. */
  tokenId: number;
  /** Text that is safe to append now (never half a UTF-8 character; may be empty while bytes are held back). */
  text: string;
  /** 0 for the first generated token. */
  index: number;
}

export type FinishReason = 'length' | 'eos' | 'stop' | 'abort';

/** Per-request figures, with vLLM's definitions. */
export interface GenerationMetrics {
  promptTokens: number;
  generatedTokens: number;
  /** Prompt tokens whose prefill was skipped because their KV blocks were in the prefix cache. */
  cachedPromptTokens: number;
  /** Times this request was preempted (and later recomputed) to make room for others. */
  preemptions: number;
  /** From generate() to the first step that ran it. */
  queueMs: number;
  /** From generate() to the first token delivered. */
  ttftMs: number;
  /** Every gap between consecutive delivered tokens. */
  itlMs: number[];
  /** Mean time per output token after the first: (last − first token time) / (generated − 1). */
  tpotMs: number;
  /** From generate() to the end. */
  e2eMs: number;
}

export interface GenerationResult {
  ids: number[];
  text: string;
  finishReason: FinishReason;
  metrics: GenerationMetrics;
}

/** `C`: the chunk type (WorkerEngine's chunks also carry the worker-measured time of each token). */
export class GenerationStream<C extends GenerationChunk = GenerationChunk> implements AsyncIterable<C> {
  readonly result: Promise<GenerationResult>;
  private readonly chunks: C[] = [];
  private waiting: (() => void) | undefined;
  private finished = false;
  private failure: unknown;
  private settle!: { resolve: (r: GenerationResult) => void; reject: (e: unknown) => void };

  constructor(private readonly onCancel: () => void) {
    this.result = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // A caller that only iterates and never awaits `result` must not see an unhandled rejection.
    this.result.catch(() => {});
  }

  /** Engine side: a new chunk for the reader. */
  push(chunk: C): void {
    this.chunks.push(chunk);
    this.wake();
  }

  /** Engine side: the generation ended normally (any finish reason). */
  end(result: GenerationResult): void {
    this.finished = true;
    this.settle.resolve(result);
    this.wake();
  }

  /** Engine side: the generation failed; the reader's next step throws. */
  fail(error: unknown): void {
    this.finished = true;
    this.failure = error;
    this.settle.reject(error);
    this.wake();
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<C> {
    let completed = false;
    try {
      for (;;) {
        while (this.chunks.length > 0) yield this.chunks.shift()!;
        if (this.finished) {
          if (this.failure !== undefined) throw this.failure;
          completed = true;
          return;
        }
        await new Promise<void>((resolve) => (this.waiting = resolve));
      }
    } finally {
      // Leaving the loop early (break, return, an exception in the caller's body) cancels the request.
      if (!completed && !this.finished) this.onCancel();
    }
  }
}
