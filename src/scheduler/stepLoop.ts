// The engine's step loop, as vLLM's EngineCore: it owns the requests in flight, their pending aborts and the exclusive
// jobs (work that needs the executor to itself, such as logits()), and runs schedule → execute → commit while there is
// work. Each step: the scheduler picks the chunks, the executor (the GPU forward plan, or a fake in the unit tests)
// runs them and returns each sampling row's head output, and the loop turns every row into a token for its request or
// the error that ends it, commits the step to the scheduler, streams the tokens and finishes what is done.
// It knows nothing about devices, weights or argument checking: Engine builds it, validates requests and delegates.
import { NumericalError } from '../errors.ts';
import type { RowSampling } from '../model/outputHead.ts';
import type { Step, StepOutput, StepResult, StepToken } from '../model/transformer.ts';
import type { FinishReason } from './generationStream.ts';
import { MetricsRecorder } from './metrics.ts';
import type { ActiveRequest } from './request.ts';
import type { Scheduler, SchedulerOutput } from './scheduler.ts';

/** Runs one step: TransformerPlan on the GPU; a fake model in the unit tests. */
export interface StepExecutor {
  run(step: Step, output: StepOutput): Promise<StepResult>;
}

export interface StepLoopOptions {
  /**
   * false: nothing runs until the caller calls `turn()` (a test that checks the state between steps); true (the
   * default): submitting work starts a background loop that runs turns until there is nothing left.
   */
  autoRun?: boolean;
}

/** What the rows of one step gave: a token for each request that goes on, an error for each that fails. */
export interface RowOutcomes {
  sampled: Map<number, number>;
  failed: Map<number, NumericalError>;
}

export class StepLoop {
  private readonly requests = new Map<number, ActiveRequest>();
  private readonly pendingAborts = new Set<number>();
  /** Work that needs the executor to itself, run between steps in the order it came. */
  private readonly exclusive: (() => Promise<void>)[] = [];
  private loop: Promise<void> | undefined;
  private stepInFlight = false;
  private nextId = 0;
  private readonly autoRun: boolean;
  private recorder = new MetricsRecorder();

  constructor(
    readonly scheduler: Scheduler,
    private readonly executor: StepExecutor,
    options: StepLoopOptions = {},
  ) {
    this.autoRun = options.autoRun ?? true;
  }

  /** Latency, throughput and step figures of what ran since construction or resetMetrics(). */
  get metrics(): MetricsRecorder {
    return this.recorder;
  }

  /** Starts the figures afresh; requests in flight are counted when they end. */
  resetMetrics(): void {
    this.recorder = new MetricsRecorder();
  }

  /** A fresh sequence id (requests, and the private sequences of warm-up and logits()). */
  newId(): number {
    return this.nextId++;
  }

  /** Requests in flight (submitted, not yet finished, failed or aborted). */
  get size(): number {
    return this.requests.size;
  }

  has(id: number): boolean {
    return this.requests.has(id);
  }

  /** Queues a validated request (its sequence id must be unused) and starts the loop. */
  submit(request: ActiveRequest): void {
    this.scheduler.add(request.seq);
    this.requests.set(request.seq.id, request);
    this.kick();
  }

  /** Runs `job` between steps with the executor to itself; resolves or rejects with it. */
  runExclusive<T>(job: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.exclusive.push(() => job().then(resolve, reject));
      this.kick();
    });
  }

  /** Aborts take effect at once when no step is running, else right after the running step. */
  abort(id: number): void {
    if (!this.requests.has(id)) return;
    this.pendingAborts.add(id);
    if (!this.stepInFlight) this.applyAborts();
  }

  abortAll(): void {
    for (const id of [...this.requests.keys()]) this.abort(id);
  }

  /** Resolves once the background loop has stopped (nothing left to run). */
  async settled(): Promise<void> {
    while (this.loop) await this.loop.catch(() => {});
  }

  /** Starts the background loop if it is not running. */
  private kick(): void {
    if (!this.autoRun || this.loop) return;
    this.loop = this.runLoop().finally(() => {
      this.loop = undefined;
      if (this.scheduler.hasWork || this.exclusive.length > 0) this.kick();
    });
  }

  private async runLoop(): Promise<void> {
    // Start after the caller's synchronous code: requests submitted together (a loop of generate() calls) are then
    // all waiting when the first step is scheduled, and share it.
    await Promise.resolve();
    while (await this.turn());
  }

  /**
   * One turn of the loop: pending aborts, then the next exclusive job or one scheduled step. Returns false when there
   * was nothing to run, or when the step failed (every request in flight then fails with the error).
   */
  async turn(): Promise<boolean> {
    this.applyAborts();
    const job = this.exclusive.shift();
    if (job) {
      await job();
      return true;
    }
    if (!this.scheduler.hasWork) return false;
    try {
      const out = this.scheduler.schedule();
      if (out.kind === 'idle') throw new Error('internal error: the scheduler has work but scheduled nothing');
      await this.runStep(out);
      return true;
    } catch (e) {
      this.failAll(e);
      return false;
    }
  }

  /** Translates a scheduled step for the executor, runs it, and hands each row's outcome to its request. */
  private async runStep(out: SchedulerOutput): Promise<void> {
    for (const id of out.admitted) this.requests.get(id)?.markAdmitted();
    const tokens: StepToken[] = [];
    const logitRows: number[] = [];
    const sampling: RowSampling[] = [];
    out.chunks.forEach((chunk, row) => {
      chunk.ids.forEach((id, i) => tokens.push({ id, position: chunk.start + i, sequence: row }));
      if (chunk.sample) {
        logitRows.push(tokens.length - 1);
        sampling.push(this.requests.get(chunk.seq)!.rowSampling());
      }
    });
    const step: Step = { tokens, blockTables: out.chunks.map((c) => c.blockTable), logitRows, copies: out.copies };
    const started = performance.now();
    this.stepInFlight = true;
    let result;
    try {
      result = await this.executor.run(step, { kind: 'sample', rows: sampling });
    } finally {
      this.stepInFlight = false;
    }
    this.recorder.recordStep(out, performance.now() - started, result);

    const { sampled, failed } = this.rowOutcomes(out, result);
    this.scheduler.commit(out, sampled);
    for (const [seq, error] of failed) this.failOne(seq, error);
    for (const [seq, token] of sampled) {
      const request = this.requests.get(seq)!;
      const reason = request.deliver(token);
      if (reason) this.finish(seq, reason);
    }
    // Requests aborted while the step ran end now, before anything else can see them.
    this.applyAborts();
  }

  /**
   * The per-row result handling, in one place: sampling row i (the i-th chunk with `sample`) gives its request the
   * next token, or a NumericalError when its logits or probabilities are not finite. Rows of requests that ended or
   * were aborted while the step ran give nothing.
   */
  private rowOutcomes(out: SchedulerOutput, result: StepResult): RowOutcomes {
    const sampled = new Map<number, number>();
    const failed = new Map<number, NumericalError>();
    out.chunks.filter((c) => c.sample).forEach((chunk, i) => {
      const request = this.requests.get(chunk.seq);
      if (!request || this.pendingAborts.has(chunk.seq)) return;
      // A row whose logits overflowed has no answer: that request fails, the rest of the batch goes on.
      const position = chunk.start + chunk.ids.length - 1;
      const step = request.seq.output.length;
      if (result.nonFinite![i]) return void failed.set(chunk.seq, new NumericalError(step, position, 'logits'));
      if (result.nonFiniteProbs?.[i]) return void failed.set(chunk.seq, new NumericalError(step, position, 'probabilities'));
      // The GPU chose the token: the argmax for greedy rows, the seeded draw for sampled rows (outputHead.ts).
      sampled.set(chunk.seq, result.ids![i]);
    });
    return { sampled, failed };
  }

  private finish(id: number, reason: FinishReason): void {
    const request = this.requests.get(id);
    this.requests.delete(id);
    this.pendingAborts.delete(id);
    this.scheduler.finish(id);
    if (request) this.recorder.recordRequest(request.end(reason).metrics);
  }

  private applyAborts(): void {
    for (const id of [...this.pendingAborts]) this.finish(id, 'abort');
  }

  /** Ends one request with `error` (its KV blocks are freed); the others go on. */
  private failOne(id: number, error: unknown): void {
    const request = this.requests.get(id);
    this.requests.delete(id);
    this.pendingAborts.delete(id);
    this.scheduler.finish(id);
    request?.fail(error);
  }

  /** A step that throws (e.g. DeviceLostError) ends every request in flight with its error. */
  private failAll(error: unknown): void {
    for (const [id, request] of this.requests) {
      this.scheduler.finish(id);
      request.fail(error);
    }
    this.requests.clear();
    this.pendingAborts.clear();
  }
}
