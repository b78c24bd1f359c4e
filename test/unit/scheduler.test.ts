// The Scheduler, driven by the engine's own step loop with a fake executor that simulates the paged KV cache
// (test/support/fakeRunner.ts), so commits, finishes and aborts take the engine's real paths: every step is checked
// against the policy (step kinds and budgets, FCFS, victims, copy-on-write, block ownership) and every output against
// the request's solo output, computed directly from the fake model. Expected traces below are derived by hand from
// the policy in scheduler.ts's header, never from the code under test.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BlockPool, blocksFor } from '../../src/kv/blockPool.ts';
import { KvBlockManager } from '../../src/kv/blockManager.ts';
import { Scheduler, Sequence, type SchedulerOutput } from '../../src/scheduler/scheduler.ts';
import { Harness, HarnessError, runWorkload, soloOutput, nextToken, VOCAB, type AbortSpec, type HarnessOptions, type RequestSpec, type Step } from '../support/fakeRunner.ts';

/** Deterministic pseudo-random tokens. */
function toks(seed: number, n: number, vocab = 50000): number[] {
  let x = seed * 2654435761 + 1;
  return Array.from({ length: n }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 8) % vocab;
  });
}

const req = (id: number, prompt: number[], maxNewTokens: number, arriveAt = 0): RequestSpec => ({ id, prompt, maxNewTokens, arriveAt });

/** Each chunk as [seq, start, length, sample]. */
const shape = (out: SchedulerOutput) => out.chunks.map((c) => [c.seq, c.start, c.ids.length, c.sample]);

function expectSolo(outputs: Map<number, number[]>, requests: RequestSpec[]): void {
  for (const r of requests) expect(outputs.get(r.id), `output of ${r.id}`).toEqual(soloOutput(r.prompt, r.maxNewTokens));
}

function firstAdmission(steps: Step[], id: number): number {
  return steps.findIndex((s) => s.out.admitted.includes(id));
}

describe('fake runner (self-checks)', () => {
  it('the fake model depends on every token and its position', async () => {
    const t = toks(1, 40);
    expect(nextToken(t)).toBe(nextToken([...t]));
    let changed = 0;
    for (let i = 0; i < t.length; i++) {
      const u = [...t];
      u[i] ^= 1;
      if (nextToken(u) !== nextToken(t)) changed++;
    }
    expect(changed).toBeGreaterThan(35);
    expect(nextToken([1, 2])).not.toBe(nextToken([2, 1]));
    const out = soloOutput(t, 20);
    expect(out).toHaveLength(20);
    expect(out.every((x) => Number.isInteger(x) && x >= 0 && x < VOCAB)).toBe(true);
    expect(new Set(out).size).toBeGreaterThan(5);
  });

  const cachedPromptScenario = async (tamper: HarnessOptions['tamper'], strictKv = true) => {
    const prompt = toks(2, 32);
    const requests = [req(0, prompt, 3), req(1, prompt, 5, 10)];
    return runWorkload({ numBlocks: 8, blockSize: 16, maxBatchTokens: 64, maxSequences: 4, tamper, strictKv }, requests);
  };

  it('notices a dropped block copy: the KV read back is wrong and so is the output', async () => {
    const dropCopies = (out: SchedulerOutput) => void out.copies.splice(0);
    await expect(cachedPromptScenario(dropCopies)).rejects.toThrow(HarnessError);
    await expect(cachedPromptScenario(dropCopies)).rejects.toThrow(/reads token \d+ at position 16 from the KV cache, expected/);
    const { outputs } = await cachedPromptScenario(dropCopies, false);
    expect(outputs.get(0)).toEqual(soloOutput(toks(2, 32), 3));
    expect(outputs.get(1)).not.toEqual(soloOutput(toks(2, 32), 5));
  });

  it('notices a wrong block table', async () => {
    const swap = (out: SchedulerOutput, step: number) => {
      const c = out.chunks[0];
      if (step === 0 && c.blockTable.length >= 2) [c.blockTable[0], c.blockTable[1]] = [c.blockTable[1], c.blockTable[0]];
    };
    await expect(cachedPromptScenario(swap)).rejects.toThrow(/reads token/);
    const { outputs } = await cachedPromptScenario(swap, false);
    expect(outputs.get(0)).not.toEqual(soloOutput(toks(2, 32), 3));
  });

  it('the scenario itself passes untampered', async () => {
    const { outputs, steps } = await cachedPromptScenario(undefined);
    expect(outputs.get(0)).toEqual(soloOutput(toks(2, 32), 3));
    expect(outputs.get(1)).toEqual(soloOutput(toks(2, 32), 5));
    expect(steps.some((s) => s.out.copies.length === 1)).toBe(true);
  });
});

describe('Scheduler: step composition', () => {
  it('follows the policy step by step on a small hand-worked trace', async () => {
    // block size 4, 10 tokens per prefill step; prompts of 7, 5 and 12 tokens
    const requests = [req(0, toks(3, 7), 3), req(1, toks(4, 5), 2), req(2, toks(5, 12), 2)];
    const { steps, outputs, harness } = await runWorkload({ numBlocks: 32, blockSize: 4, maxBatchTokens: 10, maxSequences: 4 }, requests);
    const trace = steps.map((s) => ({ kind: s.out.kind, chunks: shape(s.out), admitted: s.out.admitted }));
    expect(trace).toEqual([
      // r0 whole (7), r1 gets the 3 tokens left in the budget
      { kind: 'prefill', chunks: [[0, 0, 7, true], [1, 0, 3, false]], admitted: [0, 1] },
      // r0 is ready to decode and one prefill step ran: decode
      { kind: 'decode', chunks: [[0, 7, 1, true]], admitted: [] },
      // running prompt first (r1's last 2 tokens), then r2 admitted with the remaining 8 tokens of budget
      { kind: 'prefill', chunks: [[1, 3, 2, true], [2, 0, 8, false]], admitted: [2] },
      { kind: 'decode', chunks: [[0, 8, 1, true], [1, 5, 1, true]], admitted: [] },
      // r0 and r1 are done; r2 finishes its prompt
      { kind: 'prefill', chunks: [[2, 8, 4, true]], admitted: [] },
      { kind: 'decode', chunks: [[2, 12, 1, true]], admitted: [] },
    ]);
    expectSolo(outputs, requests);
    expect(harness.pool.usedCount).toBe(0);
  });

  it('prefill steps respect maxBatchTokens and maxSequences; decode steps run one token of every decoding sequence', async () => {
    const requests = Array.from({ length: 7 }, (_, i) => req(i, toks(10 + i, 5 + 7 * i), 4 + i, i));
    for (const [maxBatchTokens, maxSequences] of [[1, 1], [3, 2], [8, 3], [64, 7]]) {
      const { steps, outputs, harness } = await runWorkload({ numBlocks: 64, blockSize: 4, maxBatchTokens, maxSequences }, requests);
      for (const s of steps) {
        expect(s.out.chunks.length).toBeLessThanOrEqual(maxSequences);
        if (s.out.kind === 'prefill') expect(s.out.numTokens).toBeLessThanOrEqual(maxBatchTokens);
        if (s.out.kind === 'decode') {
          expect(s.out.chunks.every((c) => c.ids.length === 1)).toBe(true);
          expect(s.out.chunks.map((c) => c.seq).sort()).toEqual([...s.decodeReadyBefore].sort());
        }
      }
      expect(steps.some((s) => s.out.kind === 'prefill' && s.out.numTokens === maxBatchTokens)).toBe(true);
      expectSolo(outputs, requests);
      expect(harness.pool.usedCount).toBe(0);
    }
  });
});

describe('Scheduler: chunked prefill interleaved with decodes', () => {
  // A (4-token prompt) decodes while B's 64-token prompt is prefilled 16 tokens at a time.
  const requests = [req(0, toks(20, 4), 12), req(1, toks(21, 64), 2)];
  const options = { numBlocks: 64, blockSize: 16, maxBatchTokens: 16, maxSequences: 4 };

  it('with maxPrefillStepsBetweenDecodes = 1 (default), prefill and decode steps alternate', async () => {
    const { steps, outputs } = await runWorkload(options, requests);
    const P = 'prefill';
    const D = 'decode';
    expect(steps.map((s) => s.out.kind)).toEqual([P, D, P, D, P, D, P, D, P, D, D, D, D, D, D, D]);
    const bChunks = steps.flatMap((s) => s.out.chunks.filter((c) => c.seq === 1 && s.out.kind === 'prefill').map((c) => [c.start, c.ids.length]));
    expect(bChunks).toEqual([[0, 12], [12, 16], [28, 16], [44, 16], [60, 4]]);
    expectSolo(outputs, requests);
  });

  it('with maxPrefillStepsBetweenDecodes = 2, two prefill steps at most between decodes', async () => {
    const { steps, outputs } = await runWorkload({ ...options, maxPrefillStepsBetweenDecodes: 2 }, requests);
    const P = 'prefill';
    const D = 'decode';
    expect(steps.map((s) => s.out.kind)).toEqual([P, P, D, P, P, D, P, D, D, D, D, D, D, D, D, D]);
    // between two of A's tokens, at most 2 prefill steps
    let sinceA = 0;
    for (const s of steps) {
      if (s.sampled.has(0)) sinceA = 0;
      else if (s.out.kind === 'prefill') expect(++sinceA).toBeLessThanOrEqual(2);
    }
    expectSolo(outputs, requests);
  });

  it('a long prompt alone is split into maxBatchTokens chunks, then decodes', async () => {
    const long = [req(0, toks(22, 100), 3)];
    const { steps, outputs } = await runWorkload({ ...options, maxBatchTokens: 24 }, long);
    expect(steps.map((s) => shape(s.out)[0])).toEqual([
      [0, 0, 24, false],
      [0, 24, 24, false],
      [0, 48, 24, false],
      [0, 72, 24, false],
      [0, 96, 4, true],
      [0, 100, 1, true],
      [0, 101, 1, true],
    ]);
    expectSolo(outputs, long);
  });
});

describe('Scheduler: first come, first served', () => {
  it('a request that cannot be admitted blocks the ones behind it, even those that would fit', async () => {
    // 8 blocks of 4. r0 holds 4 blocks and grows to 7; r1 needs 5 at once; r2 would fit in 1 but must wait for r1.
    const requests = [req(0, toks(30, 16), 12), req(1, toks(31, 20), 4), req(2, toks(32, 2), 2)];
    const { steps, outputs, harness } = await runWorkload({ numBlocks: 8, blockSize: 4, maxBatchTokens: 64, maxSequences: 4 }, requests);
    expect(steps[0].out.admitted).toEqual([0]);
    const a1 = firstAdmission(steps, 1);
    const a2 = firstAdmission(steps, 2);
    expect(a1).toBeGreaterThan(1);
    expect(steps[a1].out.admitted).toEqual([1, 2]); // both as soon as r1 fits
    expect(a2).toBe(a1);
    // r2 could have been admitted earlier: there was a free block while it waited
    expect(steps.slice(1, a1).some((s) => s.out.chunks.every((c) => c.seq === 0))).toBe(true);
    expectSolo(outputs, requests);
    expect(harness.pool.usedCount).toBe(0);
  });

  it('admits in arrival order, one at a time with maxSequences = 1', async () => {
    const requests = [req(0, toks(33, 9), 3), req(1, toks(34, 3), 2), req(2, toks(35, 12), 2, 1), req(3, toks(36, 1), 3, 1), req(4, toks(37, 5), 1, 2)];
    const { steps, outputs } = await runWorkload({ numBlocks: 32, blockSize: 4, maxBatchTokens: 8, maxSequences: 1 }, requests);
    const order = steps.flatMap((s) => s.out.admitted);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    for (const s of steps) expect(new Set(s.out.chunks.map((c) => c.seq)).size).toBe(1);
    expectSolo(outputs, requests);
  });

  it('a request waiting for a prefix being computed holds back the queue behind it', async () => {
    const prefix = toks(38, 32);
    const requests = [req(0, [...prefix, 1, 2, 3, 4, 5], 4), req(1, [...prefix, 6, 7, 8, 9, 10], 4), req(2, toks(39, 3), 2)];
    const { steps, outputs } = await runWorkload({ numBlocks: 32, blockSize: 16, maxBatchTokens: 256, maxSequences: 4 }, requests);
    expect(steps[0].out.admitted).toEqual([0]);
    expect(steps[1].out.kind).toBe('decode');
    expect(steps[2].out.admitted).toEqual([1, 2]);
    expectSolo(outputs, requests);
  });
});

describe('Scheduler: prefix reuse', () => {
  const prefix = toks(40, 32);
  const pair = [req(0, [...prefix, 11, 12, 13, 14, 15], 6), req(1, [...prefix, 21, 22, 23, 24, 25], 6)];

  it('two requests sharing a 2-block prefix: the second waits for it, then reuses both blocks', async () => {
    const { steps, outputs, harness } = await runWorkload({ numBlocks: 32, blockSize: 16, maxBatchTokens: 256, maxSequences: 4 }, pair);
    expect(steps[0].out.admitted).toEqual([0]);
    expect(shape(steps[0].out)).toEqual([[0, 0, 37, true]]);
    const s = steps[firstAdmission(steps, 1)];
    expect(s.index).toBe(2); // after the decode step that follows the prefill
    expect(s.out.reusedBlocks).toBe(2);
    const chunk = s.out.chunks.find((c) => c.seq === 1)!;
    expect(chunk.start).toBe(32);
    expect(chunk.ids).toEqual([21, 22, 23, 24, 25]);
    const firstOf0 = steps[0].out.chunks[0].blockTable;
    expect(chunk.blockTable.slice(0, 2)).toEqual(firstOf0.slice(0, 2));
    expect(s.out.copies).toEqual([]);
    expect(harness.scheduler.get(1)?.cachedTokens ?? 32).toBe(32);
    expectSolo(outputs, pair);
    expect(harness.pool.usedCount).toBe(0);
  });

  it('with a chunked prefill, the second is admitted as soon as the whole shared prefix is computed', async () => {
    const { steps, outputs } = await runWorkload({ numBlocks: 32, blockSize: 16, maxBatchTokens: 16, maxSequences: 4 }, pair);
    expect(shape(steps[0].out)).toEqual([[0, 0, 16, false]]);
    expect(shape(steps[1].out)).toEqual([[0, 16, 16, false]]);
    // A's last 5 tokens and B's 5 tokens after the reused prefix share the third step
    expect(shape(steps[2].out)).toEqual([[0, 32, 5, true], [1, 32, 5, true]]);
    expect(steps[2].out.admitted).toEqual([1]);
    expect(steps[2].out.reusedBlocks).toBe(2);
    expectSolo(outputs, pair);
  });

  it('counts the reused tokens on the sequence', async () => {
    const h = new Harness({ numBlocks: 32, blockSize: 16, maxBatchTokens: 256, maxSequences: 4 }, pair);
    await h.step();
    await h.step();
    await h.step();
    expect(h.scheduler.get(1)!.cachedTokens).toBe(32);
    expect(h.scheduler.get(0)!.cachedTokens).toBe(0);
  });

  it('a fully cached prompt of exactly N blocks recomputes only its last token, on a copy of the last block', async () => {
    const prompt = toks(41, 32);
    const requests = [req(0, prompt, 3), req(1, prompt, 5, 10)];
    const { steps, outputs, harness } = await runWorkload({ numBlocks: 8, blockSize: 16, maxBatchTokens: 64, maxSequences: 4 }, requests);
    const tableOf0 = steps[0].out.chunks[0].blockTable;
    const s = steps[firstAdmission(steps, 1)];
    expect(s.out.reusedBlocks).toBe(2);
    expect(shape(s.out)).toEqual([[1, 31, 1, true]]);
    expect(s.out.chunks[0].ids).toEqual([prompt[31]]);
    expect(s.out.copies).toHaveLength(1);
    expect(s.out.copies[0].from).toBe(tableOf0[1]);
    expect(s.out.copies[0].to).toBe(s.out.chunks[0].blockTable[1]);
    expect(s.out.chunks[0].blockTable[0]).toBe(tableOf0[0]);
    expectSolo(outputs, requests);
    expect(harness.pool.usedCount).toBe(0);
  });

  it('the same while the first holder still runs (block shared, refcount 2)', async () => {
    const prompt = toks(42, 32);
    const requests = [req(0, prompt, 8), req(1, prompt, 5, 2)];
    const h = new Harness({ numBlocks: 8, blockSize: 16, maxBatchTokens: 64, maxSequences: 4 }, requests);
    await h.step(); // prefill 0
    await h.step(); // decode 0
    const s = await h.step(); // 1 arrives: its whole prompt is cached
    expect(s.out.admitted).toEqual([1]);
    expect(shape(s.out)).toEqual([[1, 31, 1, true]]);
    const t0 = h.blocks.table(0);
    expect(s.out.copies).toEqual([{ from: t0[1], to: s.out.chunks[0].blockTable[1] }]);
    expect(h.blocks.table(1)[0]).toBe(t0[0]);
    expect(h.pool.refCount(t0[0])).toBe(2);
    expect(h.pool.refCount(t0[1])).toBe(1);
    const { outputs } = await h.run();
    expectSolo(outputs, requests);
    expect(h.pool.usedCount).toBe(0);
  });

  it('waits for a prefix block that a decoding sequence completes, then reuses it', async () => {
    // A's 31-token prompt plus its first generated token fill 2 blocks; B's prompt starts with those 32 tokens.
    const a = toks(43, 31);
    const b = [...a, soloOutput(a, 1)[0], 7, 8, 9];
    const requests = [req(0, a, 4), req(1, b, 3)];
    const { steps, outputs } = await runWorkload({ numBlocks: 32, blockSize: 16, maxBatchTokens: 256, maxSequences: 4 }, requests);
    expect(steps[0].out.admitted).toEqual([0]);
    expect(shape(steps[1].out)).toEqual([[0, 31, 1, true]]); // position 31 completes block 1
    expect(steps[2].out.admitted).toEqual([1]);
    expect(steps[2].out.reusedBlocks).toBe(2);
    expect(steps[2].out.chunks.find((c) => c.seq === 1)!.start).toBe(32);
    expectSolo(outputs, requests);
  });

  it('reuses the prefix cache across requests that arrive after the first finished, until evicted', async () => {
    const prefix = toks(44, 48);
    const requests = [req(0, [...prefix, 1], 2), req(1, [...prefix, 2], 2, 5), req(2, toks(45, 60), 2, 10), req(3, [...prefix, 3], 2, 20)];
    // 6 blocks: r2 (62 tokens, 4 blocks) forces eviction of some of the 3 cached prefix blocks
    const { steps, outputs } = await runWorkload({ numBlocks: 6, blockSize: 16, maxBatchTokens: 256, maxSequences: 4 }, requests);
    expect(steps[firstAdmission(steps, 1)].out.reusedBlocks).toBe(3);
    expect(steps[firstAdmission(steps, 2)].out.reusedBlocks).toBe(0);
    const r3 = steps[firstAdmission(steps, 3)].out;
    // r2's 4 blocks take the 3 never-cached free blocks and evict one block of the cached prefix
    expect(r3.reusedBlocks).toBeLessThan(3);
    expect(r3.chunks[0].start).toBe(16 * r3.reusedBlocks);
    expectSolo(outputs, requests);
  });
});

describe('Scheduler: preemption', () => {
  it('8 prompts at once in 12 blocks of 16: the newest are preempted, recomputed, and all finish with their solo output', async () => {
    const requests = Array.from({ length: 8 }, (_, i) => req(i, toks(50 + i, 20), 20));
    const { steps, outputs, harness, preemptions } = await runWorkload({ numBlocks: 12, blockSize: 16, maxBatchTokens: 256, maxSequences: 8 }, requests);
    // 6 prompts of 2 blocks fill the pool; the 7th cannot be admitted
    expect(steps[0].out.admitted).toEqual([0, 1, 2, 3, 4, 5]);
    // at position 32 every running sequence needs a third block: 0 and 1 take r5's, 2 and 3 take r4's
    const first = steps.find((s) => s.out.preempted.length > 0)!;
    expect(first.out.kind).toBe('decode');
    expect(first.out.preempted).toEqual([5, 4]);
    expect(first.out.chunks.map((c) => c.seq)).toEqual([0, 1, 2, 3]);
    expect(first.out.chunks.every((c) => c.start === 32)).toBe(true);
    // requeued at the front, oldest first: 4 is admitted again before 5, and both before 6 and 7
    const later = steps.slice(first.index + 1).flatMap((s) => s.out.admitted);
    expect(later.slice(0, 2)).toEqual([4, 5]);
    expect(later.indexOf(6)).toBeGreaterThan(later.indexOf(5));
    expect(preemptions).toBeGreaterThanOrEqual(2);
    expect(harness.scheduler.get(4)).toBeUndefined(); // finished
    expectSolo(outputs, requests);
    expect(harness.pool.usedCount).toBe(0);
    expect(harness.pool.peakUsed).toBe(12);
    expect(steps.length).toBeLessThan(200);
  });

  it('the same with a shared 16-token prefix and chunked prefill', async () => {
    const prefix = toks(60, 16);
    const requests = Array.from({ length: 8 }, (_, i) => req(i, [...prefix, ...toks(61 + i, 4 + i)], 18));
    for (const maxBatchTokens of [7, 32, 256]) {
      const { outputs, harness, preemptions } = await runWorkload({ numBlocks: 12, blockSize: 16, maxBatchTokens, maxSequences: 8 }, requests);
      expect(preemptions).toBeGreaterThan(0);
      expectSolo(outputs, requests);
      expect(harness.pool.usedCount).toBe(0);
    }
  });

  it('a sequence preempts itself when every other running sequence is in the step, and resumes from the prefix cache', async () => {
    // 4 blocks of 4: A (6 tokens) and B (8 tokens) fill them; B's first decode needs a fifth.
    const requests = [req(0, toks(62, 6), 2), req(1, toks(63, 8), 3)];
    const { steps, outputs } = await runWorkload({ numBlocks: 4, blockSize: 4, maxBatchTokens: 64, maxSequences: 4 }, requests);
    expect(steps[0].out.admitted).toEqual([0, 1]);
    expect(steps[1].out.kind).toBe('decode');
    expect(shape(steps[1].out)).toEqual([[0, 6, 1, true]]);
    expect(steps[1].out.preempted).toEqual([1]);
    // B comes back: its two full blocks are still cached, only its sampled token is recomputed
    expect(steps[2].out.admitted).toEqual([1]);
    expect(steps[2].out.reusedBlocks).toBe(2);
    expect(shape(steps[2].out)).toEqual([[1, 8, 1, true]]);
    expectSolo(outputs, requests);
  });

  it('a newer prefilling sequence that runs out of blocks preempts itself, never an older decoding one', async () => {
    // 5 blocks of 4; O decodes while S's 16-token prompt is prefilled 4 tokens at a time; S's 4th chunk needs the
    // block O holds. O was admitted first, so S gives way (as vLLM does) and the step decodes O instead.
    const requests = [req(0, toks(64, 4), 10), req(1, toks(65, 16), 1)];
    const { steps, outputs } = await runWorkload({ numBlocks: 5, blockSize: 4, maxBatchTokens: 4, maxSequences: 4 }, requests);
    const s = steps.find((x) => x.out.preempted.length > 0)!;
    expect(s.index).toBe(8);
    expect(s.out.preempted).toEqual([1]);
    expect(s.out.kind).toBe('decode');
    expect(s.out.chunks.map((c) => c.seq)).toEqual([0]);
    expect(steps.flatMap((x) => x.out.preempted)).not.toContain(0);
    expectSolo(outputs, requests);
  });

  it('makeRoom(n) preempts the newest running sequences until n blocks are free', async () => {
    const requests = [req(0, toks(66, 8), 4), req(1, toks(67, 8), 4), req(2, toks(68, 8), 4)];
    const h = new Harness({ numBlocks: 12, blockSize: 4, maxBatchTokens: 64, maxSequences: 4 }, requests);
    await h.step();
    expect(h.runningIds).toEqual([0, 1, 2]);
    expect(h.pool.freeCount).toBe(6);
    expect(h.makeRoom(6)).toEqual([]);
    expect(h.makeRoom(7)).toEqual([2]);
    expect(h.pool.freeCount).toBe(8);
    expect(h.makeRoom(11)).toEqual([1, 0]);
    expect(h.pool.freeCount).toBe(12);
    expect(h.waitingIds).toEqual([0, 1, 2]);
    expect(h.scheduler.get(0)!.status).toBe('waiting');
    expect(h.scheduler.get(0)!.preemptions).toBe(1);
    expect(h.makeRoom(13)).toEqual([]); // nothing left to preempt
    const { outputs, steps } = await h.run();
    expect(steps.slice(1).flatMap((s) => s.out.admitted)).toEqual([0, 1, 2]);
    expectSolo(outputs, requests);
    expect(h.pool.usedCount).toBe(0);
  });

  it('refuses a request that can never fit the pool, and accepts one that exactly fits', async () => {
    const pool = new BlockPool(4);
    const s = new Scheduler({ maxBatchTokens: 64, maxSequences: 4 }, new KvBlockManager(pool, 16));
    expect(s.fitsAlone(64)).toBe(true);
    expect(s.fitsAlone(65)).toBe(false);
    expect(() => s.add(new Sequence(1, toks(70, 60), 65))).toThrow(RangeError);
    expect(s.hasWork).toBe(false);
    s.add(new Sequence(2, toks(70, 60), 64));
    expect(() => s.add(new Sequence(2, toks(71, 3), 5))).toThrow(/already/);
    expect(s.numWaiting).toBe(1);
  });

  it('a request that exactly fits runs alone, also when its whole prompt is cached (the copy needs the spare block)', async () => {
    const prompt = toks(72, 48);
    const requests = [req(0, prompt, 1), req(1, prompt, 16, 3), req(2, toks(73, 60), 4, 3)];
    const { outputs, harness, steps } = await runWorkload({ numBlocks: 4, blockSize: 16, maxBatchTokens: 64, maxSequences: 4 }, requests);
    expect(steps[firstAdmission(steps, 1)].out.copies).toHaveLength(1);
    expectSolo(outputs, requests);
    expect(harness.pool.usedCount).toBe(0);
  });
});

describe('Scheduler: aborts', () => {
  const requests = [req(0, toks(80, 10), 6), req(1, toks(81, 20), 6), req(2, toks(82, 5), 6)];
  const options = { numBlocks: 16, blockSize: 4, maxBatchTokens: 12, maxSequences: 4 };

  for (const phase of ['beforeRun', 'beforeCommit', 'beforeSchedule'] as const) {
    it(`an abort ${phase} frees the sequence (at once between steps, right after a running one); the others are unaffected`, async () => {
      for (let atStep = 0; atStep < 8; atStep++) {
        const aborts: AbortSpec[] = [{ id: 1, atStep, phase }];
        const { outputs, aborted, harness } = await runWorkload({ ...options, aborts }, requests);
        expectSolo(outputs, [requests[0], requests[2]]);
        const solo1 = soloOutput(requests[1].prompt, 6);
        if (aborted.has(1)) expect(solo1.slice(0, outputs.get(1)!.length)).toEqual(outputs.get(1));
        expect(harness.pool.usedCount).toBe(0);
      }
    });
  }

  it('commit ignores a chunk whose sequence finished after schedule()', async () => {
    const pool = new BlockPool(8);
    const s = new Scheduler({ maxBatchTokens: 64, maxSequences: 4 }, new KvBlockManager(pool, 4));
    const a = new Sequence(1, toks(83, 6), 10);
    const b = new Sequence(2, toks(84, 6), 10);
    s.add(a);
    s.add(b);
    const out = s.schedule();
    expect(out.chunks.map((c) => c.seq)).toEqual([1, 2]);
    s.finish(1);
    expect(a.status).toBe('finished');
    expect(pool.usedCount).toBe(2);
    s.commit(out, new Map([[1, 5], [2, 6]]));
    expect(a.output).toEqual([]);
    expect(a.computed).toBe(0);
    expect(b.output).toEqual([6]);
    expect(b.computed).toBe(6);
    expect(s.get(1)).toBeUndefined();
    expect(s.numRunning).toBe(1);
    expect(pool.usedCount).toBe(2);
    s.finish(1); // twice: nothing
    s.finish(42); // unknown: nothing
    s.finish(2);
    expect(pool.usedCount).toBe(0);
    expect(s.hasWork).toBe(false);
    expect(s.schedule().kind).toBe('idle');
  });

  it('commit ignores a chunk whose sequence is no longer running: preempted after schedule(), or finished and its id reused', async () => {
    const pool = new BlockPool(8);
    const s = new Scheduler({ maxBatchTokens: 64, maxSequences: 4 }, new KvBlockManager(pool, 4));
    const a = new Sequence(1, toks(86, 6), 10);
    const b = new Sequence(2, toks(87, 6), 10);
    s.add(a);
    s.add(b);
    const out = s.schedule();
    expect(s.makeRoom(8)).toEqual([2, 1]);
    s.finish(1);
    const again = new Sequence(1, toks(88, 3), 10);
    s.add(again);
    s.commit(out, new Map([[1, 5], [2, 6]]));
    expect(b.status).toBe('waiting');
    expect(b.output).toEqual([]);
    expect(b.computed).toBe(0);
    expect(again.output).toEqual([]);
    expect(again.computed).toBe(0);
    expect(pool.usedCount).toBe(0);
  });

  it('aborting a waiting request (never admitted, or requeued by preemption) removes it from the queue', async () => {
    const reqs = Array.from({ length: 8 }, (_, i) => req(i, toks(85 + i, 20), 20));
    const aborts: AbortSpec[] = [
      { id: 7, atStep: 1, phase: 'beforeSchedule' }, // waiting, never admitted
      { id: 5, atStep: 15, phase: 'beforeSchedule' }, // preempted at the first block boundary (see above), waiting
    ];
    const { outputs, aborted, steps, harness } = await runWorkload({ numBlocks: 12, blockSize: 16, maxBatchTokens: 256, maxSequences: 8, aborts }, reqs);
    expect([...aborted].sort()).toEqual([5, 7]);
    expect(steps.some((s) => s.out.admitted.includes(7))).toBe(false);
    expect(steps.slice(15).some((s) => s.out.admitted.includes(5))).toBe(false);
    expectSolo(outputs, reqs.filter((r) => r.id !== 5 && r.id !== 7));
    expect(harness.pool.usedCount).toBe(0);
  });
});

// ---- Random workloads ----

// More runs on demand (SCHEDULER_FC_RUNS=20000 npx vitest run test/unit/scheduler) when hunting for a rare failure.
const RUNS = Number(process.env.SCHEDULER_FC_RUNS ?? 0);

interface Workload {
  options: HarnessOptions;
  requests: RequestSpec[];
}

const workloadArb = (withAborts: boolean): fc.Arbitrary<Workload> =>
  fc
    .record({
      blockSize: fc.constantFrom(1, 2, 3, 4, 8, 16),
      maxBatchTokens: fc.integer({ min: 1, max: 48 }),
      maxSequences: fc.integer({ min: 1, max: 6 }),
      maxPrefill: fc.integer({ min: 1, max: 3 }),
      stems: fc.array(fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 0, maxLength: 40 }), { minLength: 1, maxLength: 3 }),
      requests: fc.array(
        fc.record({
          stem: fc.nat(),
          stemLength: fc.nat(),
          tail: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 12 }),
          maxNewTokens: fc.integer({ min: 1, max: 10 }),
          arriveAt: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 25 })),
          // continue an earlier request: its prompt and the first `continued` tokens it generates, then the tail
          continues: fc.option(fc.record({ from: fc.nat(), continued: fc.integer({ min: 1, max: 10 }) }), { freq: 4 }),
        }),
        { minLength: 1, maxLength: 8 },
      ),
      spareBlocks: fc.integer({ min: 0, max: 12 }),
      aborts: withAborts
        ? fc.array(fc.record({ pick: fc.nat(), atStep: fc.integer({ min: 0, max: 40 }), phase: fc.constantFrom('beforeSchedule' as const, 'beforeRun' as const, 'beforeCommit' as const) }), { maxLength: 5 })
        : fc.constant<{ pick: number; atStep: number; phase: AbortSpec['phase'] }[]>([]),
    })
    .map((w) => {
      const requests: RequestSpec[] = [];
      w.requests.forEach((r, id) => {
        const stem = w.stems[r.stem % w.stems.length];
        let prompt = [...stem.slice(0, r.stemLength % (stem.length + 1)), ...r.tail];
        if (r.continues && id > 0) {
          const base = requests[r.continues.from % id];
          prompt = [...base.prompt, ...soloOutput(base.prompt, r.continues.continued), ...r.tail];
        }
        if (prompt.length === 0) prompt = [id % 4];
        requests.push({ id, prompt, maxNewTokens: r.maxNewTokens, arriveAt: r.arriveAt });
      });
      const mostBlocks = Math.max(...requests.map((r) => blocksFor(r.prompt.length + r.maxNewTokens, w.blockSize)));
      const aborts = w.aborts.map((a) => ({ id: a.pick % requests.length, atStep: a.atStep, phase: a.phase }));
      return {
        options: { blockSize: w.blockSize, numBlocks: mostBlocks + w.spareBlocks, maxBatchTokens: w.maxBatchTokens, maxSequences: w.maxSequences, maxPrefillStepsBetweenDecodes: w.maxPrefill, aborts },
        requests,
      };
    });

describe('Scheduler: random workloads', () => {
  it('every request gets its solo output, whatever the batching, chunking, sharing and preemption; the pool ends empty', async () => {
    let preempted = 0;
    let reused = 0;
    let copies = 0;
    await fc.assert(
      fc.asyncProperty(workloadArb(false), async ({ options, requests }) => {
        const { outputs, harness, preemptions, steps } = await runWorkload(options, requests);
        expectSolo(outputs, requests);
        expect(harness.pool.usedCount).toBe(0);
        expect(harness.scheduler.hasWork).toBe(false);
        preempted += preemptions;
        reused += steps.reduce((n, s) => n + s.out.reusedBlocks, 0);
        copies += steps.reduce((n, s) => n + s.out.copies.length, 0);
      }),
      { numRuns: RUNS || 400 },
    );
    // the generator does reach the interesting paths
    expect(preempted).toBeGreaterThan(50);
    expect(reused).toBeGreaterThan(1000);
    expect(copies).toBeGreaterThan(20);
  });

  it('random submit/abort streams: survivors get their solo output, aborted ones a prefix of it, no block stays used', async () => {
    let abortedCount = 0;
    await fc.assert(
      fc.asyncProperty(workloadArb(true), async ({ options, requests }) => {
        const { outputs, aborted, harness } = await runWorkload(options, requests);
        for (const r of requests) {
          const solo = soloOutput(r.prompt, r.maxNewTokens);
          const got = outputs.get(r.id)!;
          if (aborted.has(r.id)) expect(solo.slice(0, got.length)).toEqual(got);
          else expect(got).toEqual(solo);
        }
        abortedCount += aborted.size;
        expect(harness.pool.usedCount).toBe(0);
        expect(harness.blocks.sequences).toBe(0);
      }),
      { numRuns: RUNS || 300 },
    );
    expect(abortedCount).toBeGreaterThan(60);
  });
});
