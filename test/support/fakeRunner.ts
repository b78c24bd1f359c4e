// A deterministic fake "model", a fake step executor built on it, and a harness that drives the engine's REAL step loop
// (src/scheduler/stepLoop.ts: schedule → execute → commit → deliver / finish / abort) one turn at a time, without a GPU.
//
// The model's next token is a hash of the WHOLE history (every token, in order) modulo a small vocabulary, so a
// sequence's output is a pure function of its prompt: the "solo" output can be computed directly, independently of the
// scheduler. The executor keeps a simulated paged KV cache (physical block → token id stored in each slot), performs the
// step's block copies, writes every token through its sequence's block table, and computes each logit row's next token
// from the tokens READ BACK through the block table: a wrong table, a missed copy, a bad prefix reuse or a stale cached
// block changes the output. The harness submits requests as the engine does (ActiveRequest + GenerationStream), and
// checks every step against an independent model of the policy (FCFS queue, admission order, computed positions, step
// kinds, victims, block ownership) and every request's stream against the tokens the executor produced; a violation
// throws a `HarnessError` naming the step.
import { BlockPool, blocksFor } from '../../src/kv/blockPool.ts';
import { KvBlockManager } from '../../src/kv/blockManager.ts';
import type { Step as PlanStep, StepOutput, StepResult } from '../../src/model/transformer.ts';
import { GenerationStream, type GenerationChunk, type GenerationResult } from '../../src/scheduler/generationStream.ts';
import { ActiveRequest } from '../../src/scheduler/request.ts';
import { Scheduler, Sequence, type SchedulerConfig, type SchedulerOutput } from '../../src/scheduler/scheduler.ts';
import { StepLoop, type StepExecutor } from '../../src/scheduler/stepLoop.ts';

export const VOCAB = 61;

/** The fake model: next token after `history` (a hash of every token and its position). */
export function nextToken(history: readonly number[]): number {
  let h = 0x811c9dc5 ^ history.length;
  for (let i = 0; i < history.length; i++) {
    h = Math.imul(h ^ (history[i] + 0x9e37), 0x01000193);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h ^= h >>> 13;
  return (h >>> 0) % VOCAB;
}

/** What a request generates when it runs alone: iterate the model. */
export function soloOutput(prompt: readonly number[], maxNewTokens: number): number[] {
  const tokens = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < maxNewTokens; i++) {
    const t = nextToken(tokens);
    out.push(t);
    tokens.push(t);
  }
  return out;
}

export class HarnessError extends Error {}

/** The simulated KV cache: for each physical block, the token id whose "KV" each slot holds (−1: never written). */
export class FakeKv {
  readonly blocks = new Map<number, number[]>();
  constructor(readonly blockSize: number) {}

  private slotsOf(block: number): number[] {
    let s = this.blocks.get(block);
    if (!s) {
      s = new Array<number>(this.blockSize).fill(-1);
      this.blocks.set(block, s);
    }
    return s;
  }

  copy(from: number, to: number): void {
    this.blocks.set(to, [...this.slotsOf(from)]);
  }

  write(table: readonly number[], position: number, token: number): void {
    const block = table[Math.floor(position / this.blockSize)];
    if (block === undefined) throw new HarnessError(`position ${position} is outside the block table [${table.join(',')}]`);
    this.slotsOf(block)[position % this.blockSize] = token;
  }

  /** Tokens at positions 0 … count−1 as seen through `table`. */
  read(table: readonly number[], count: number): number[] {
    const out: number[] = [];
    for (let p = 0; p < count; p++) {
      const block = table[Math.floor(p / this.blockSize)];
      out.push(block === undefined ? -2 : this.slotsOf(block)[p % this.blockSize]);
    }
    return out;
  }
}

/** What a fake step may be told to get wrong: a row's logits, or its probabilities, reported as not finite. */
export type Poison = 'logits' | 'probabilities' | undefined;

export interface FakeExecutorHooks {
  /** Called as the step starts (the loop counts it as in flight). */
  beforeRun?(step: PlanStep): void;
  /** Called with the tokens row `sequence` of the step reads back at positions 0 … count − 1. */
  onRead?(sequence: number, seen: readonly number[]): void;
  /** Called with the result before it is returned. */
  afterRun?(step: PlanStep, result: StepResult): void;
  /** Which logit rows (given the history they read back) come out non-finite. */
  poison?(seen: readonly number[]): Poison;
}

/**
 * A `StepExecutor` over the fake model and a simulated paged KV cache. It sees only what the GPU plan sees (the
 * Step's tokens, block tables, logit rows and copies): each logit row's token is `nextToken` of what it reads back.
 * Rows with a temperature get one-hot probabilities on that token, so sampling picks it too.
 */
export class FakeExecutor implements StepExecutor {
  readonly kv: FakeKv;
  /** Steps run so far, and whether one is running now. */
  steps = 0;
  inFlight = false;

  constructor(
    blockSize: number,
    readonly hooks: FakeExecutorHooks = {},
  ) {
    this.kv = new FakeKv(blockSize);
  }

  async run(step: PlanStep, output: StepOutput): Promise<StepResult> {
    this.inFlight = true;
    try {
      // A real step takes time: whatever happens while it runs (aborts, new work) must wait for its end.
      await Promise.resolve();
      this.hooks.beforeRun?.(step);
      if (output.kind !== 'sample' || output.rows.length !== step.logitRows.length) throw new HarnessError(`the step asks for ${output.kind} output of ${step.logitRows.length} rows`);
      for (const copy of step.copies ?? []) this.kv.copy(copy.from, copy.to);
      for (const t of step.tokens) this.kv.write(step.blockTables[t.sequence], t.position, t.id);
      const R = step.logitRows.length;
      const result: StepResult = { ids: new Uint32Array(R), nonFinite: new Uint8Array(R), dispatches: 0, submits: 0 };
      // Sampled rows: the GPU draws on its own (outputHead.ts); the fake "draws" the model's one token.
      if (output.rows.some((r) => r.temperature > 0)) result.nonFiniteProbs = new Uint8Array(R);
      step.logitRows.forEach((row, i) => {
        const t = step.tokens[row];
        const seen = this.kv.read(step.blockTables[t.sequence], t.position + 1);
        this.hooks.onRead?.(t.sequence, seen);
        const id = nextToken(seen);
        result.ids![i] = id;
        const poison = this.hooks.poison?.(seen);
        if (poison === 'logits') result.nonFinite![i] = 1;
        if (poison === 'probabilities' && result.nonFiniteProbs) result.nonFiniteProbs[i] = 1;
      });
      this.steps++;
      this.hooks.afterRun?.(step, result);
      return result;
    } finally {
      this.inFlight = false;
    }
  }
}

/** A stream that records, synchronously, what the loop gave it. */
export class RecordingStream extends GenerationStream {
  readonly pushed: number[] = [];
  ended: GenerationResult | undefined;
  error: unknown;

  override push(chunk: GenerationChunk): void {
    this.pushed.push(chunk.tokenId);
    super.push(chunk);
  }

  override end(result: GenerationResult): void {
    this.ended = result;
    super.end(result);
  }

  override fail(error: unknown): void {
    this.error = error;
    super.fail(error);
  }
}

/** A request as Engine.generate() builds it: greedy, no EOS, no stop strings, so it ends after maxNewTokens. */
export function fakeRequest(loop: StepLoop, id: number, prompt: readonly number[], maxNewTokens: number, sampled = false): ActiveRequest & { stream: RecordingStream } {
  const stream = new RecordingStream(() => loop.abort(id));
  const sampling = sampled ? { greedy: false as const, temperature: 0.8, topK: 0, topP: 1, seed: id } : { greedy: true as const };
  const settings = { sampling, maxNewTokens, repetitionPenalty: 1, stopAtEos: false, stop: [] };
  return new ActiveRequest(new Sequence(id, prompt, prompt.length + maxNewTokens), settings, stream, undefined) as ActiveRequest & { stream: RecordingStream };
}

export interface Step {
  /** Step index (0-based). */
  index: number;
  out: SchedulerOutput;
  /** Running sequences before the step, oldest admission first (harness model). */
  runningBefore: number[];
  /** Waiting queue before the step (harness model). */
  waitingBefore: number[];
  /** Running sequences with exactly one token to run before the step. */
  decodeReadyBefore: number[];
  /** Tokens the executor produced for the step's sampling rows, by sequence. */
  produced: Map<number, number>;
  /** Tokens delivered by the step (requests still live at its end). */
  sampled: Map<number, number>;
}

export interface RequestSpec {
  id: number;
  prompt: number[];
  maxNewTokens: number;
  /** Step index at which the request is submitted (default 0). Requests arriving together are added in array order. */
  arriveAt?: number;
}

/** When an abort comes: between steps, or while the step runs (as it starts, or once its result is ready). */
export type AbortPhase = 'beforeSchedule' | 'beforeRun' | 'beforeCommit';

export interface AbortSpec {
  id: number;
  atStep: number;
  phase: AbortPhase;
}

export interface HarnessOptions extends SchedulerConfig {
  numBlocks: number;
  blockSize: number;
  /** Abort plan; an abort of a request not yet submitted or already finished does nothing. */
  aborts?: AbortSpec[];
  /** Steps after which the run is declared deadlocked (default: generous bound from the workload). */
  maxSteps?: number;
  /** Compare the KV read back through every chunk's table with the true tokens (default true). */
  strictKv?: boolean;
  /** Lets a test tamper with a step before it runs (to check that the harness notices). */
  tamper?: (out: SchedulerOutput, step: number) => void;
}

interface Model {
  spec: RequestSpec;
  /** Prompt + delivered outputs (the truth). */
  tokens: number[];
  output: number[];
  computed: number;
  state: 'pending' | 'waiting' | 'running' | 'finished' | 'aborted';
  /** Aborted while a step ran: the loop must end it right after that step. */
  abortPending: boolean;
  request?: ActiveRequest & { stream: RecordingStream };
  seq?: Sequence;
  admissions: number;
  preemptions: number;
}

export interface RunResult {
  steps: Step[];
  outputs: Map<number, number[]>;
  aborted: Set<number>;
  preemptions: number;
}

function fail(step: number, message: string): never {
  throw new HarnessError(`step ${step}: ${message}`);
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export class Harness {
  readonly pool: BlockPool;
  readonly blocks: KvBlockManager;
  readonly scheduler: Scheduler;
  readonly executor: FakeExecutor;
  /** The engine's own loop, run one turn per step. */
  readonly loop: StepLoop;
  readonly steps: Step[] = [];
  private readonly models = new Map<number, Model>();
  private readonly order: number[] = []; // request ids in spec order
  private waiting: number[] = [];
  private running: number[] = []; // admission order
  private prefillSinceDecode = 0;
  private stepIndex = 0;
  /** The harness model's view before the current turn, for checking the step the loop schedules in it. */
  private pendingBefore: { runningBefore: number[]; waitingBefore: number[]; decodeReadyBefore: number[]; prefillWanted: boolean; hadWork: boolean } | undefined;
  /** The step the loop is running (set when it schedules). */
  private current: Step | undefined;
  /** The first violation noticed inside the loop (which would otherwise just fail the requests with it). */
  private violation: HarnessError | undefined;
  readonly maxPrefill: number;

  constructor(
    readonly options: HarnessOptions,
    requests: RequestSpec[] = [],
  ) {
    this.pool = new BlockPool(options.numBlocks);
    this.blocks = new KvBlockManager(this.pool, options.blockSize);
    this.scheduler = new Scheduler(
      { maxBatchTokens: options.maxBatchTokens, maxSequences: options.maxSequences, maxPrefillStepsBetweenDecodes: options.maxPrefillStepsBetweenDecodes },
      this.blocks,
    );
    // Check each step as the loop schedules it, before the loop builds and runs it.
    const schedule = this.scheduler.schedule.bind(this.scheduler);
    this.scheduler.schedule = () => {
      const out = schedule();
      this.guard(() => this.scheduled(out));
      return out;
    };
    this.executor = new FakeExecutor(options.blockSize, {
      beforeRun: () => this.guard(() => this.applyAborts('beforeRun')),
      onRead: (row, seen) => this.guard(() => this.checkRead(row, seen)),
      afterRun: (step, result) => this.guard(() => this.produced(step, result)),
    });
    this.loop = new StepLoop(this.scheduler, this.executor, { autoRun: false });
    this.maxPrefill = options.maxPrefillStepsBetweenDecodes ?? 1;
    for (const r of requests) this.plan(r);
  }

  get kv(): FakeKv {
    return this.executor.kv;
  }

  /** Registers a request to be submitted at its arrival step. */
  plan(spec: RequestSpec): void {
    if (this.models.has(spec.id)) throw new HarnessError(`duplicate request id ${spec.id}`);
    this.models.set(spec.id, { spec, tokens: [...spec.prompt], output: [], computed: 0, state: 'pending', abortPending: false, admissions: 0, preemptions: 0 });
    this.order.push(spec.id);
  }

  get index(): number {
    return this.stepIndex;
  }

  model(id: number): Model {
    const m = this.models.get(id);
    if (!m) throw new HarnessError(`unknown request ${id}`);
    return m;
  }

  output(id: number): number[] {
    return [...this.model(id).output];
  }

  get waitingIds(): readonly number[] {
    return this.waiting;
  }

  get runningIds(): readonly number[] {
    return this.running;
  }

  /** Runs `f`, remembering a HarnessError it throws so that the loop catching it cannot hide it. */
  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      if (e instanceof HarnessError) this.violation ??= e;
      throw e;
    }
  }

  /** Submits every planned request whose arrival step has come, as Engine.generate() does. */
  private arrive(): void {
    for (const id of this.order) {
      const m = this.models.get(id)!;
      if (m.state !== 'pending' || (m.spec.arriveAt ?? 0) > this.stepIndex) continue;
      m.request = fakeRequest(this.loop, id, m.spec.prompt, m.spec.maxNewTokens);
      m.seq = m.request.seq;
      this.loop.submit(m.request);
      m.state = 'waiting';
      this.waiting.push(id);
    }
  }

  /** Aborts through the loop, as a caller does; between steps it takes effect at once, during one right after it. */
  abort(id: number): void {
    const m = this.models.get(id);
    if (!m || (m.state !== 'waiting' && m.state !== 'running') || m.abortPending) return;
    this.loop.abort(id);
    if (this.executor.inFlight) {
      m.abortPending = true;
      return;
    }
    this.checkAborted(this.stepIndex, m);
    this.checkBlocks('after abort');
  }

  private checkAborted(s: number, m: Model): void {
    const id = m.spec.id;
    if (this.scheduler.get(id) || this.loop.has(id)) fail(s, `aborted ${id} is still in the scheduler or the loop`);
    if (m.request!.stream.ended?.finishReason !== 'abort') fail(s, `aborted ${id} ended with ${m.request!.stream.ended?.finishReason ?? 'nothing'}`);
    if (!same(m.request!.stream.pushed, m.output)) fail(s, `aborted ${id} streamed [${m.request!.stream.pushed}], expected [${m.output}]`);
    m.state = 'aborted';
    m.abortPending = false;
    this.waiting = this.waiting.filter((x) => x !== id);
    this.running = this.running.filter((x) => x !== id);
  }

  /** `scheduler.makeRoom(n)` between steps (as logits() does), with the model following the preemptions. */
  makeRoom(n: number): number[] {
    const before = [...this.running];
    const preempted = this.scheduler.makeRoom(n);
    for (const id of preempted) {
      if (!before.includes(id)) throw new HarnessError(`makeRoom preempted ${id}, which was not running`);
      const m = this.model(id);
      this.running = this.running.filter((x) => x !== id);
      this.waiting.unshift(id);
      m.state = 'waiting';
      m.computed = 0;
      m.preemptions++;
    }
    this.checkBlocks('after makeRoom');
    return preempted;
  }

  private applyAborts(phase: AbortPhase): void {
    for (const a of this.options.aborts ?? []) if (a.atStep === this.stepIndex && a.phase === phase) this.abort(a.id);
  }

  get done(): boolean {
    return [...this.models.values()].every((m) => m.state === 'finished' || m.state === 'aborted');
  }

  private nextArrival(): number | undefined {
    let next: number | undefined;
    for (const m of this.models.values()) if (m.state === 'pending') next = Math.min(next ?? Infinity, m.spec.arriveAt ?? 0);
    return next;
  }

  /** Runs until every request finished or was aborted. */
  async run(): Promise<RunResult> {
    const totalTokens = [...this.models.values()].reduce((s, m) => s + m.spec.prompt.length + m.spec.maxNewTokens, 0);
    const lastArrival = Math.max(0, ...[...this.models.values()].map((m) => m.spec.arriveAt ?? 0));
    const maxSteps = this.options.maxSteps ?? lastArrival + 40 * totalTokens + 100;
    while (!this.done) {
      if (this.stepIndex > maxSteps) fail(this.stepIndex, `no progress after ${maxSteps} steps (deadlock or livelock)`);
      this.arrive();
      this.applyAborts('beforeSchedule');
      if (!this.scheduler.hasWork) {
        if (this.waiting.length + this.running.length > 0) fail(this.stepIndex, 'the scheduler says it has no work but requests are in flight');
        const next = this.nextArrival();
        if (next === undefined) break;
        this.stepIndex = Math.max(this.stepIndex + 1, next);
        continue;
      }
      await this.step();
    }
    this.checkBlocks('at the end');
    const outputs = new Map<number, number[]>();
    const aborted = new Set<number>();
    let preemptions = 0;
    for (const [id, m] of this.models) {
      outputs.set(id, [...m.output]);
      if (m.state === 'aborted') aborted.add(id);
      preemptions += m.preemptions;
    }
    return { steps: this.steps, outputs, aborted, preemptions };
  }

  /** One engine step: one turn of the real loop (schedule, run on the fake executor, commit, deliver, finish), checked. */
  async step(): Promise<Step> {
    const s = this.stepIndex;
    this.arrive();
    const remaining = (id: number) => this.model(id).tokens.length - this.model(id).computed;
    const runningBefore = [...this.running];
    const waitingBefore = [...this.waiting];
    const decodeReadyBefore = runningBefore.filter((id) => remaining(id) === 1);
    this.current = undefined;
    this.pendingBefore = { runningBefore, waitingBefore, decodeReadyBefore, prefillWanted: runningBefore.some((id) => remaining(id) > 1) || waitingBefore.length > 0, hadWork: this.scheduler.hasWork };
    await this.loop.turn();
    if (this.violation) throw this.violation;
    const record = this.current as Step | undefined;
    if (!record) fail(s, 'the loop ran no step');
    const { out } = record;

    for (const c of out.chunks) {
      const m = this.model(c.seq);
      if (m.state !== 'running' || m.abortPending) continue;
      m.computed = c.start + c.ids.length;
      if (c.sample) {
        const token = record.produced.get(c.seq);
        if (token === undefined) fail(s, `no token produced for ${c.seq}`);
        m.tokens.push(token);
        m.output.push(token);
        record.sampled.set(c.seq, token);
      }
      if (!same(m.seq!.output, m.output)) fail(s, `sequence ${c.seq} output [${m.seq!.output}] differs from the tokens produced [${m.output}]`);
      if (!same(m.request!.stream.pushed, m.output)) fail(s, `sequence ${c.seq} streamed [${m.request!.stream.pushed}], expected [${m.output}]`);
      if (m.seq!.computed !== m.computed) fail(s, `sequence ${c.seq} computed ${m.seq!.computed}, expected ${m.computed}`);
    }
    // Aborted while the step ran: the loop ends them right after it, without delivering the step's token.
    for (const m of this.models.values()) if (m.abortPending) this.checkAborted(s, m);
    for (const c of out.chunks) {
      const m = this.model(c.seq);
      if (m.state !== 'running') continue;
      const ended = m.request!.stream.ended;
      if (m.output.length >= m.spec.maxNewTokens) {
        if (this.scheduler.get(c.seq) || this.loop.has(c.seq)) fail(s, `${c.seq} has its ${m.output.length} tokens but was not finished`);
        if (ended?.finishReason !== 'length' || !same(ended.ids, m.output)) fail(s, `${c.seq} ended with ${ended?.finishReason} [${ended?.ids}], expected length [${m.output}]`);
        m.state = 'finished';
        this.running = this.running.filter((x) => x !== c.seq);
      } else if (ended || m.request!.stream.error !== undefined) fail(s, `${c.seq} ended after ${m.output.length} of ${m.spec.maxNewTokens} tokens`);
    }
    this.checkBlocks(`after step ${s}`);
    this.stepIndex++;
    return record;
  }

  /** The loop has just scheduled a step: check it against the policy model, before it runs. */
  private scheduled(out: SchedulerOutput): void {
    const s = this.stepIndex;
    const before = this.pendingBefore;
    if (!before || this.current) fail(s, 'the loop scheduled outside a harness step, or twice in one turn');
    const { runningBefore, waitingBefore, decodeReadyBefore, prefillWanted, hadWork } = before;
    const record: Step = { index: s, out, runningBefore, waitingBefore, decodeReadyBefore, produced: new Map(), sampled: new Map() };
    this.current = record;
    this.steps.push(record);

    if (hadWork && (out.kind === 'idle' || out.chunks.length === 0)) fail(s, `the scheduler has work but scheduled nothing (kind ${out.kind})`);
    this.checkComposition(s, out, runningBefore, decodeReadyBefore, prefillWanted);
    this.applyQueueModel(s, out);
    this.checkChunks(s, out);
    this.checkBlocks(`after schedule() of step ${s}`);
    if (out.kind === 'decode') this.prefillSinceDecode = 0;
    else if (out.kind === 'prefill') this.prefillSinceDecode++;
    this.options.tamper?.(out, s);
  }

  /** Strict KV: what row `sequence` of the step reads back is the truth of its sequence. */
  private checkRead(sequence: number, seen: readonly number[]): void {
    const s = this.stepIndex;
    const chunk = this.current!.out.chunks[sequence];
    if (!(this.options.strictKv ?? true)) return;
    const truth = this.model(chunk.seq).tokens.slice(0, seen.length);
    const bad = seen.findIndex((t, i) => t !== truth[i]);
    if (bad >= 0) fail(s, `${chunk.seq} reads token ${seen[bad]} at position ${bad} from the KV cache, expected ${truth[bad]}`);
  }

  /** The executor's result: row i is the i-th sampling chunk. */
  private produced(step: PlanStep, result: StepResult): void {
    const record = this.current!;
    const sampling = record.out.chunks.filter((c) => c.sample);
    if (sampling.length !== step.logitRows.length) fail(record.index, `${step.logitRows.length} logit rows for ${sampling.length} sampling chunks`);
    sampling.forEach((c, i) => record.produced.set(c.seq, result.ids![i]));
    this.applyAborts('beforeCommit');
  }

  private checkComposition(s: number, out: SchedulerOutput, runningBefore: number[], decodeReady: number[], prefillWanted: boolean): void {
    const { maxBatchTokens, maxSequences } = this.options;
    const ids = out.chunks.map((c) => c.seq);
    if (new Set(ids).size !== ids.length) fail(s, `a sequence has two chunks: [${ids}]`);
    const tokens = out.chunks.reduce((n, c) => n + c.ids.length, 0);
    if (out.numTokens !== tokens) fail(s, `numTokens ${out.numTokens} but the chunks hold ${tokens}`);
    if (out.chunks.some((c) => c.ids.length === 0)) fail(s, 'empty chunk');
    if (out.chunks.length > maxSequences) fail(s, `${out.chunks.length} chunks > maxSequences ${maxSequences}`);
    const preempted = new Set(out.preempted);
    const admitted = new Set(out.admitted);
    if (preempted.size !== out.preempted.length) fail(s, `a sequence preempted twice: [${out.preempted}]`);
    for (const id of out.preempted) if (!runningBefore.includes(id)) fail(s, `preempted ${id} was not running`);

    // Which kind of step the policy asks for.
    if (decodeReady.length === 0 && out.kind === 'decode') fail(s, 'decode step while no sequence was ready to decode');
    if (decodeReady.length > 0 && !prefillWanted && out.kind !== 'decode') fail(s, `only decodes were wanted but the step is ${out.kind}`);
    if (decodeReady.length > 0 && this.prefillSinceDecode >= this.maxPrefill && out.kind !== 'decode')
      fail(s, `${this.prefillSinceDecode} prefill steps in a row while [${decodeReady}] were ready to decode`);

    if (out.kind === 'decode') {
      if (out.admitted.length > 0) fail(s, 'a decode step admitted sequences');
      for (const c of out.chunks) if (c.ids.length !== 1 || !c.sample) fail(s, `decode chunk of ${c.seq} has ${c.ids.length} tokens (sample ${c.sample})`);
      const expected = decodeReady.filter((id) => !preempted.has(id)).sort((a, b) => a - b);
      const got = [...ids].sort((a, b) => a - b);
      if (!same(expected, got)) fail(s, `decode step runs [${got}] but the decoding sequences are [${expected}]`);
    } else if (out.kind === 'prefill') {
      if (out.numTokens > maxBatchTokens) fail(s, `prefill of ${out.numTokens} tokens > maxBatchTokens ${maxBatchTokens}`);
      for (const c of out.chunks) {
        if (admitted.has(c.seq)) continue;
        if (!runningBefore.includes(c.seq)) fail(s, `chunk for ${c.seq}, neither running nor admitted`);
        if (decodeReady.includes(c.seq)) fail(s, `prefill step mixes in the decode of ${c.seq}`);
        if (preempted.has(c.seq)) fail(s, `preempted ${c.seq} still has a chunk`);
      }
    }
    for (const id of out.admitted) if (!ids.includes(id)) fail(s, `admitted ${id} has no chunk`);

    // Victims: when V was preempted, every running sequence admitted after it was already in the step or preempted.
    const inStep = new Set(ids);
    for (const v of out.preempted) {
      const newer = runningBefore.slice(runningBefore.indexOf(v) + 1);
      const spared = newer.filter((w) => !inStep.has(w) && !preempted.has(w));
      if (spared.length > 0) fail(s, `preempted ${v} while newer running [${spared}] were neither in the step nor preempted`);
    }
  }

  /** FCFS queue model: preempted go to the front (newest first, so the oldest ends first), admissions take the front. */
  private applyQueueModel(s: number, out: SchedulerOutput): void {
    for (const id of out.preempted) {
      const m = this.model(id);
      this.running = this.running.filter((x) => x !== id);
      this.waiting.unshift(id);
      m.state = 'waiting';
      m.computed = 0;
      m.preemptions++;
    }
    const front = this.waiting.slice(0, out.admitted.length);
    if (!same(front, out.admitted)) fail(s, `admitted [${out.admitted}] but the front of the queue was [${front}] (FCFS)`);
    this.waiting = this.waiting.slice(out.admitted.length);
    for (const id of out.admitted) {
      const m = this.model(id);
      const chunk = out.chunks.find((c) => c.seq === id)!;
      m.state = 'running';
      m.admissions++;
      m.computed = chunk.start;
      this.running.push(id);
    }
    if (this.running.length > this.options.maxSequences) fail(s, `${this.running.length} running > maxSequences`);
  }

  private checkChunks(s: number, out: SchedulerOutput): void {
    const bs = this.options.blockSize;
    const admitted = new Set(out.admitted);
    let reusedMin = 0;
    let reusedMax = 0;
    const writeTargets = new Set<number>();
    for (const c of out.chunks) {
      const m = this.model(c.seq);
      if (m.state !== 'running') fail(s, `chunk for ${c.seq} in state ${m.state}`);
      const len = m.tokens.length;
      if (admitted.has(c.seq)) {
        if (c.start > len - 1) fail(s, `admitted ${c.seq} starts at ${c.start}, past its last token ${len - 1}`);
        if (c.start % bs !== 0 && c.start !== len - 1) fail(s, `admitted ${c.seq} starts at ${c.start}, not a block boundary`);
        reusedMin += Math.ceil(c.start / bs);
        reusedMax += c.start === len - 1 ? Math.floor(len / bs) : Math.ceil(c.start / bs);
      } else if (c.start !== m.computed) fail(s, `chunk of ${c.seq} starts at ${c.start} but ${m.computed} tokens are computed`);
      const end = c.start + c.ids.length;
      if (end > len) fail(s, `chunk of ${c.seq} runs to ${end} past its ${len} tokens`);
      if (!same(c.ids, m.tokens.slice(c.start, end))) fail(s, `chunk of ${c.seq} has ids [${c.ids}], expected [${m.tokens.slice(c.start, end)}]`);
      if (c.sample !== (end === len)) fail(s, `chunk of ${c.seq} has sample=${c.sample} but ends at ${end} of ${len}`);
      if (c.blockTable.length < blocksFor(end, bs)) fail(s, `table of ${c.seq} has ${c.blockTable.length} blocks for ${end} positions`);
      if (!same(c.blockTable, this.blocks.table(c.seq))) fail(s, `chunk table of ${c.seq} is not the manager's table`);
      if (new Set(c.blockTable).size !== c.blockTable.length) fail(s, `table of ${c.seq} repeats a block: [${c.blockTable}]`);
      // Copy-on-write guarantee: every block this chunk writes is private and not in the prefix cache.
      for (let b = Math.floor(c.start / bs); b <= Math.floor((end - 1) / bs); b++) {
        const block = c.blockTable[b];
        if (this.pool.refCount(block) !== 1) fail(s, `${c.seq} writes block ${block} (refcount ${this.pool.refCount(block)})`);
        if (this.pool.isRegistered(block)) fail(s, `${c.seq} writes block ${block}, which is in the prefix cache`);
        for (const other of out.chunks) if (other !== c && other.blockTable.includes(block)) fail(s, `${c.seq} writes block ${block}, which ${other.seq} reads`);
        writeTargets.add(block);
      }
    }
    if (out.reusedBlocks < reusedMin || out.reusedBlocks > reusedMax) fail(s, `reusedBlocks ${out.reusedBlocks}, expected within [${reusedMin}, ${reusedMax}]`);
    for (const copy of out.copies) {
      if (copy.from === copy.to) fail(s, `copy of block ${copy.from} onto itself`);
      if (!writeTargets.has(copy.to)) fail(s, `copy into block ${copy.to}, which no chunk writes`);
    }
  }

  /** Block ownership: refcounts are exactly the number of tables holding a block; waiting/finished hold nothing. */
  checkBlocks(when: string): void {
    const counts = new Map<number, number>();
    let holders = 0;
    for (const [id, m] of this.models) {
      const table = this.blocks.table(id);
      if (m.state !== 'running') {
        if (table.length > 0) throw new HarnessError(`${when}: ${m.state} sequence ${id} holds blocks [${table}]`);
        continue;
      }
      if (table.length > 0) holders++;
      if (table.length < blocksFor(m.computed, this.options.blockSize)) throw new HarnessError(`${when}: ${id} has ${m.computed} computed tokens but ${table.length} blocks`);
      for (const b of table) counts.set(b, (counts.get(b) ?? 0) + 1);
      if (m.seq!.status !== 'running') throw new HarnessError(`${when}: ${id} should be running, is ${m.seq!.status}`);
    }
    for (const id of this.waiting) if (this.model(id).seq!.status !== 'waiting') throw new HarnessError(`${when}: ${id} should be waiting`);
    for (let b = 0; b < this.options.numBlocks; b++) {
      if (this.pool.refCount(b) !== (counts.get(b) ?? 0)) throw new HarnessError(`${when}: block ${b} has refcount ${this.pool.refCount(b)} but ${counts.get(b) ?? 0} tables hold it`);
    }
    if (this.pool.usedCount !== counts.size) throw new HarnessError(`${when}: usedCount ${this.pool.usedCount}, ${counts.size} blocks held`);
    if (this.pool.freeCount !== this.options.numBlocks - counts.size) throw new HarnessError(`${when}: freeCount ${this.pool.freeCount}`);
    if (this.blocks.sequences !== holders) throw new HarnessError(`${when}: the manager has ${this.blocks.sequences} tables, ${holders} expected`);
    if (this.scheduler.numRunning !== this.running.length || this.scheduler.numWaiting !== this.waiting.length)
      throw new HarnessError(`${when}: scheduler has ${this.scheduler.numRunning} running / ${this.scheduler.numWaiting} waiting, model ${this.running.length} / ${this.waiting.length}`);
  }
}

/** Convenience: run `requests` to completion and return the result (throws HarnessError on any violation). */
export async function runWorkload(options: HarnessOptions, requests: RequestSpec[]): Promise<RunResult & { harness: Harness }> {
  const harness = new Harness(options, requests);
  return { ...(await harness.run()), harness };
}
