// Continuous batching: decides what each engine step runs. Pure bookkeeping (no GPU): `schedule()` returns a plain
// record that the engine executes and a test can inspect with a fake model; `commit()` applies the step's outcome.
//
// A sequence holds its prompt, its generated tokens and how many of those tokens already have KV in the cache
// ("computed"). It needs `tokens − computed` more tokens run through the model; the step that reaches its last token
// yields the next token's distribution.
//
// Policy, in the terms vLLM uses:
//   - Two kinds of step. A PREFILL step runs prompt chunks of one or more sequences, up to `maxBatchTokens` tokens;
//     long prompts are split over several steps. A DECODE step runs one token for every sequence that is decoding.
//   - Decodes never wait behind more than `maxPrefillStepsBetweenDecodes` (default 1) prefill steps: whenever a
//     sequence is ready to decode and that many prefill steps ran since the last decode step, the next step decodes.
//     So a decoding request waits at most one prefill chunk (≤ maxBatchTokens tokens) between two of its tokens.
//   - Admission is first come, first served: the oldest waiting request is admitted first, and nothing behind it is
//     admitted while it cannot be (no skipping). A request whose prompt prefix is being computed by another sequence
//     waits until that block is computed, then reuses it from the prefix cache instead of computing it again.
//   - When a running sequence needs a block and the pool has none, the most recently admitted running sequence that
//     was admitted after it and is not already in this step is preempted by recompute: its blocks are freed and it
//     goes back to the front of the waiting queue with its generated tokens, to be prefilled again later. If there is
//     no such sequence, the one asking is preempted itself, so older requests always keep their blocks. A request
//     that fits the pool alone therefore always finishes; one that can never fit is refused when it is submitted.
import { blocksFor } from '../kv/blockPool.ts';
import { type BlockCopy, KvBlockManager } from '../kv/blockManager.ts';
import { blockKeys } from '../kv/prefixHash.ts';

export interface SchedulerConfig {
  /** Most tokens in one prefill step. */
  maxBatchTokens: number;
  /** Most sequences running at once (and so in one step). */
  maxSequences: number;
  /** Prefill steps allowed in a row while some sequence is ready to decode. */
  maxPrefillStepsBetweenDecodes?: number;
}

export type SequenceStatus = 'waiting' | 'running' | 'finished';

export class Sequence {
  status: SequenceStatus = 'waiting';
  readonly output: number[] = [];
  /** Tokens (prompt, then output) whose KV is in the cache. */
  computed = 0;
  /** Prompt tokens whose prefill was skipped thanks to the prefix cache, over all admissions. */
  cachedTokens = 0;
  preemptions = 0;
  /** Order of the latest admission (larger = more recent), for choosing preemption victims. */
  admittedAt = -1;
  /** Prefix keys of the full blocks of `tokens()`, extended as tokens are added. */
  keys: string[] = [];

  constructor(
    readonly id: number,
    readonly prompt: readonly number[],
    /** Most tokens this sequence may ever hold (prompt + new tokens), to refuse what can never fit. */
    readonly maxTokens: number,
  ) {}

  tokens(): number[] {
    return [...this.prompt, ...this.output];
  }

  /** Tokens start … end − 1 of prompt + output, without building the whole list (a decode step needs one). */
  slice(start: number, end: number): number[] {
    const p = this.prompt.length;
    if (start >= p) return this.output.slice(start - p, end - p);
    return end <= p ? this.prompt.slice(start, end) : [...this.prompt.slice(start), ...this.output.slice(0, end - p)];
  }

  get length(): number {
    return this.prompt.length + this.output.length;
  }

  /** Tokens still to run through the model before the next token can be chosen. */
  get remaining(): number {
    return this.length - this.computed;
  }
}

/** One sequence's share of a step. */
export interface ScheduledChunk {
  seq: number;
  /** Token ids to run, at positions start … start + ids.length − 1. */
  ids: number[];
  start: number;
  /** Physical KV blocks of the sequence after this step's allocation. */
  blockTable: number[];
  /** Whether the chunk reaches the sequence's last token, so a next token is chosen from its last row. */
  sample: boolean;
}

export interface SchedulerOutput {
  kind: 'prefill' | 'decode' | 'idle';
  chunks: ScheduledChunk[];
  /** Block copies (copy-on-write) to perform before the step. */
  copies: BlockCopy[];
  /** Sequences admitted by this step (their first chunk is in it). */
  admitted: number[];
  /** Sequences preempted while making room for this step (back in the waiting queue). */
  preempted: number[];
  /** KV blocks taken from the prefix cache by this step's admissions (their prefill is skipped). */
  reusedBlocks: number;
  /** Tokens in the step. */
  numTokens: number;
}

export class Scheduler {
  private readonly waiting: Sequence[] = [];
  private readonly running: Sequence[] = []; // in admission order, oldest first
  private readonly byId = new Map<number, Sequence>();
  private prefillStepsSinceDecode = 0;
  private admissions = 0;
  readonly maxPrefillStepsBetweenDecodes: number;

  constructor(
    readonly config: SchedulerConfig,
    readonly blocks: KvBlockManager,
  ) {
    this.maxPrefillStepsBetweenDecodes = config.maxPrefillStepsBetweenDecodes ?? 1;
    for (const [name, value] of Object.entries({ maxBatchTokens: config.maxBatchTokens, maxSequences: config.maxSequences, maxPrefillStepsBetweenDecodes: this.maxPrefillStepsBetweenDecodes })) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${value}`);
    }
  }

  /** Blocks a sequence of `maxTokens` tokens needs at its longest; more than the pool means it can never run. */
  fitsAlone(maxTokens: number): boolean {
    return blocksFor(maxTokens, this.blocks.blockSize) <= this.blocks.pool.numBlocks;
  }

  add(seq: Sequence): void {
    if (this.byId.has(seq.id)) throw new Error(`sequence ${seq.id} was already added`);
    if (seq.prompt.length === 0) throw new RangeError(`sequence ${seq.id} has an empty prompt`);
    if (seq.maxTokens <= seq.prompt.length) throw new RangeError(`sequence ${seq.id} must be allowed at least one new token`);
    if (!this.fitsAlone(seq.maxTokens)) throw new RangeError(`sequence ${seq.id} can never fit the KV pool`);
    this.byId.set(seq.id, seq);
    this.waiting.push(seq);
  }

  get(id: number): Sequence | undefined {
    return this.byId.get(id);
  }

  get hasWork(): boolean {
    return this.waiting.length > 0 || this.running.length > 0;
  }

  get numWaiting(): number {
    return this.waiting.length;
  }

  get numRunning(): number {
    return this.running.length;
  }

  /** Decides the next step. Allocates (and copies) the blocks it needs; `commit` must follow once the step ran. */
  schedule(): SchedulerOutput {
    const decodeReady = this.running.some((s) => s.remaining === 1);
    const prefillWanted = this.running.some((s) => s.remaining > 1) || this.waiting.length > 0;
    const decodeFirst = decodeReady && (!prefillWanted || this.prefillStepsSinceDecode >= this.maxPrefillStepsBetweenDecodes);
    if (!decodeFirst && prefillWanted) {
      const out = this.schedulePrefill();
      if (out.chunks.length > 0) {
        this.prefillStepsSinceDecode++;
        return out;
      }
      // Nothing could be prefilled (no blocks for the next admission): decode what can be decoded, if anything.
      if (decodeReady) return this.scheduleDecode(out.preempted);
      return { ...out, kind: 'idle' };
    }
    if (decodeReady) return this.scheduleDecode([]);
    return emptyOutput('idle', []);
  }

  private schedulePrefill(): SchedulerOutput {
    const out = emptyOutput('prefill', []);
    const inStep = new Set<Sequence>();
    let budget = this.config.maxBatchTokens;

    // Running sequences part-way through their prompt first (oldest first), then admissions in arrival order.
    for (const seq of [...this.running]) {
      if (budget === 0) break;
      if (seq.status !== 'running' || seq.remaining <= 1) continue;
      const n = Math.min(seq.remaining, budget);
      if (!this.reserve(seq, n, inStep, out)) continue;
      budget -= this.addChunk(seq, n, inStep, out);
    }
    while (budget > 0 && this.waiting.length > 0 && this.running.length < this.config.maxSequences) {
      const seq = this.waiting[0];
      if (this.prefixPending(seq)) break;
      const cached = this.blocks.adoptCachedPrefix(seq.id, seq.tokens(), this.keysOf(seq));
      seq.computed = cached;
      const n = Math.min(seq.remaining, budget);
      if (!this.blocks.canAppend(seq.id, seq.computed, seq.computed + n)) {
        this.blocks.free(seq.id); // give back the adopted prefix; it stays cached for the next try
        seq.computed = 0;
        break;
      }
      this.waiting.shift();
      seq.status = 'running';
      seq.admittedAt = this.admissions++;
      seq.cachedTokens += cached;
      out.reusedBlocks += this.blocks.table(seq.id).length;
      this.running.push(seq);
      out.admitted.push(seq.id);
      out.copies.push(...this.blocks.append(seq.id, seq.computed, seq.computed + n));
      budget -= this.addChunk(seq, n, inStep, out);
    }
    return out;
  }

  private scheduleDecode(alreadyPreempted: number[]): SchedulerOutput {
    this.prefillStepsSinceDecode = 0;
    const out = emptyOutput('decode', alreadyPreempted);
    const inStep = new Set<Sequence>();
    for (const seq of [...this.running]) {
      if (seq.status !== 'running' || seq.remaining !== 1) continue;
      if (!this.reserve(seq, 1, inStep, out)) continue;
      this.addChunk(seq, 1, inStep, out);
    }
    if (out.chunks.length === 0) out.kind = 'idle';
    return out;
  }

  /**
   * Makes room for `n` more tokens of running `seq`, preempting the most recently admitted running sequences that are
   * not in this step; preempts `seq` itself when nothing else can give way. Returns whether `seq` can run.
   */
  private reserve(seq: Sequence, n: number, inStep: Set<Sequence>, out: SchedulerOutput): boolean {
    while (!this.blocks.canAppend(seq.id, seq.computed, seq.computed + n)) {
      const victim = [...this.running].reverse().find((s) => s.admittedAt > seq.admittedAt && !inStep.has(s));
      if (!victim) {
        this.preempt(seq, out);
        return false;
      }
      this.preempt(victim, out);
    }
    out.copies.push(...this.blocks.append(seq.id, seq.computed, seq.computed + n));
    return true;
  }

  private addChunk(seq: Sequence, n: number, inStep: Set<Sequence>, out: SchedulerOutput): number {
    out.chunks.push({
      seq: seq.id,
      ids: seq.slice(seq.computed, seq.computed + n),
      start: seq.computed,
      blockTable: [...this.blocks.table(seq.id)],
      sample: seq.computed + n === seq.length,
    });
    out.numTokens += n;
    inStep.add(seq);
    return n;
  }

  /**
   * Preempts running sequences, newest first, until `blocks` blocks are free (for work outside the scheduler, such as
   * a logits request). Returns the preempted ids.
   */
  makeRoom(blocks: number): number[] {
    const out = emptyOutput('idle', []);
    while (!this.blocks.pool.canAllocate(blocks) && this.running.length > 0) this.preempt(this.running[this.running.length - 1], out);
    return out.preempted;
  }

  /** Recompute-preemption: free the blocks, forget the computed KV, requeue first. */
  private preempt(seq: Sequence, out: SchedulerOutput): void {
    this.blocks.free(seq.id);
    this.running.splice(this.running.indexOf(seq), 1);
    seq.status = 'waiting';
    seq.computed = 0;
    seq.preemptions++;
    // Victims are taken newest first, so each goes in front of the ones preempted before it: the oldest ends up first.
    this.waiting.unshift(seq);
    out.preempted.push(seq.id);
  }

  /**
   * Applies a step's outcome: the chunks' tokens now have KV (their full blocks join the prefix cache) and each
   * sampling chunk's sequence gets its next token from `sampled`.
   */
  commit(out: SchedulerOutput, sampled: ReadonlyMap<number, number>): void {
    for (const chunk of out.chunks) {
      const seq = this.byId.get(chunk.seq);
      if (!seq || seq.status !== 'running') continue; // finished (aborted) while the step ran
      seq.computed = chunk.start + chunk.ids.length;
      const token = sampled.get(seq.id);
      if (chunk.sample && token !== undefined) seq.output.push(token);
      this.blocks.cacheComputed(seq.id, this.keysOf(seq), seq.computed);
    }
  }

  /** Ends a sequence (finished, stopped or aborted) and frees its blocks. */
  finish(id: number): void {
    const seq = this.byId.get(id);
    if (!seq) return;
    this.byId.delete(id);
    this.blocks.free(id);
    seq.status = 'finished';
    const w = this.waiting.indexOf(seq);
    if (w >= 0) this.waiting.splice(w, 1);
    const r = this.running.indexOf(seq);
    if (r >= 0) this.running.splice(r, 1);
  }

  /** Whether the next uncached full block of `seq`'s prompt is being computed right now by a running sequence. */
  private prefixPending(seq: Sequence): boolean {
    const keys = this.keysOf(seq);
    const next = keys.findIndex((k) => !this.blocks.pool.has(k));
    if (next < 0) return false;
    return this.running.some((other) => other.keys[next] === keys[next] && other.computed < (next + 1) * this.blocks.blockSize);
  }

  private keysOf(seq: Sequence): string[] {
    const full = Math.floor(seq.length / this.blocks.blockSize);
    if (seq.keys.length < full) seq.keys = blockKeys(seq.tokens(), this.blocks.blockSize, seq.keys.length, seq.keys);
    return seq.keys;
  }
}

function emptyOutput(kind: SchedulerOutput['kind'], preempted: number[]): SchedulerOutput {
  return { kind, chunks: [], copies: [], admitted: [], preempted: [...preempted], reusedBlocks: 0, numTokens: 0 };
}
