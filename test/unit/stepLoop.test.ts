// The engine's step loop (src/scheduler/stepLoop.ts) running on its own, as the engine runs it, with the fake executor
// of test/support/fakeRunner.ts: requests end with their solo output (computed directly from the fake model), and the
// paths the GPU tests can hardly reach are driven on purpose: an abort while a step runs, a row whose logits or
// probabilities are not finite, an executor that throws, exclusive jobs (logits()) between steps.
import { describe, expect, it } from 'vitest';
import { NumericalError } from '../../src/errors.ts';
import { BlockPool } from '../../src/kv/blockPool.ts';
import { KvBlockManager } from '../../src/kv/blockManager.ts';
import type { StepResult } from '../../src/model/transformer.ts';
import { Scheduler } from '../../src/scheduler/scheduler.ts';
import { StepLoop, type StepExecutor } from '../../src/scheduler/stepLoop.ts';
import { FakeExecutor, fakeRequest, soloOutput, VOCAB, type FakeExecutorHooks } from '../support/fakeRunner.ts';

const NUM_BLOCKS = 24;
const BLOCK_SIZE = 4;

/** Prompts that differ from their first token, so a hook can tell the requests apart by what a row reads back. */
const prompt = (first: number, n: number) => Array.from({ length: n }, (_, i) => (first + 7 * i) % VOCAB);
const startsWith = (seen: readonly number[], p: readonly number[]) => p.every((t, i) => seen[i] === t);

function setup(hooks: FakeExecutorHooks = {}, wrap?: (e: FakeExecutor) => StepExecutor) {
  const pool = new BlockPool(NUM_BLOCKS);
  const blocks = new KvBlockManager(pool, BLOCK_SIZE);
  const scheduler = new Scheduler({ maxBatchTokens: 8, maxSequences: 4 }, blocks);
  const executor = new FakeExecutor(BLOCK_SIZE, hooks);
  const loop = new StepLoop(scheduler, wrap ? wrap(executor) : executor);
  const submit = (id: number, p: number[], maxNewTokens: number, sampled = false) => {
    const request = fakeRequest(loop, id, p, maxNewTokens, sampled);
    loop.submit(request);
    return request.stream;
  };
  return { pool, blocks, scheduler, executor, loop, submit };
}

describe('StepLoop with a fake executor', () => {
  it('runs what is submitted to the end on its own; greedy and sampled rows both get the model token', async () => {
    const { pool, loop, submit } = setup();
    const ps = [prompt(1, 9), prompt(2, 3), prompt(3, 14)];
    const streams = ps.map((p, i) => submit(i, p, 6 + i, i === 1));
    const results = await Promise.all(streams.map((s) => s.result));
    results.forEach((r, i) => {
      expect(r.finishReason).toBe('length');
      expect(r.ids).toEqual(soloOutput(ps[i], 6 + i));
    });
    expect(streams.map((s) => s.pushed)).toEqual(results.map((r) => r.ids));
    expect(pool.usedCount).toBe(0);
    expect(loop.size).toBe(0);
    expect(loop.metrics.summary({ blockSize: BLOCK_SIZE, totalBlocks: NUM_BLOCKS, peakBlocksUsed: 0 }).requests).toBe(3);
  });

  it('an abort while a step runs keeps the blocks until the step ends, then frees them; that step gives it no token', async () => {
    const A = prompt(4, 10);
    const B = prompt(5, 6);
    const seen: { step: number; tableA: number; inScheduler: boolean }[] = [];
    let ctx!: ReturnType<typeof setup>;
    ctx = setup({
      beforeRun: () => {
        seen.push({ step: ctx.executor.steps, tableA: ctx.blocks.table(0).length, inScheduler: ctx.scheduler.get(0) !== undefined });
        if (ctx.executor.steps === 4) ctx.loop.abort(0);
      },
      afterRun: () => {
        if (ctx.executor.steps === 5) expect(ctx.blocks.table(0).length).toBeGreaterThan(0); // still held while it runs
      },
    });
    const a = ctx.submit(0, A, 20);
    const b = ctx.submit(1, B, 12);
    const ra = await a.result;
    expect(ra.finishReason).toBe('abort');
    expect((await b.result).ids).toEqual(soloOutput(B, 12));
    const before = seen.find((s) => s.step === 4)!;
    const after = seen.find((s) => s.step === 5)!;
    expect(before.inScheduler).toBe(true);
    expect(after).toEqual({ step: 5, tableA: 0, inScheduler: false });
    // Step 0 prefills 8 of A's 10 tokens; step 1 its last 2 (A's first token) and B's prompt; steps 2 and 3 decode
    // both (A's tokens 2 and 3); step 4, during which the abort came, gives A nothing.
    expect(ra.ids).toEqual(soloOutput(A, 3));
    expect(a.pushed).toEqual(ra.ids);
    expect(ctx.pool.usedCount).toBe(0);
  });

  it('a caller that stops reading mid-stream aborts its request, which frees its blocks; the others are unaffected', async () => {
    const { pool, blocks, loop, submit } = setup();
    const A = prompt(6, 7);
    const B = prompt(7, 5);
    const a = submit(0, A, 30);
    const b = submit(1, B, 10);
    const got: number[] = [];
    for await (const chunk of a) {
      got.push(chunk.tokenId);
      if (got.length === 3) break;
    }
    const ra = await a.result;
    expect(ra.finishReason).toBe('abort');
    expect(blocks.table(0)).toEqual([]);
    expect(loop.has(0)).toBe(false);
    expect(ra.ids.slice(0, 3)).toEqual(got);
    expect(ra.ids).toEqual(soloOutput(A, 30).slice(0, ra.ids.length));
    expect((await b.result).ids).toEqual(soloOutput(B, 10));
    expect(pool.usedCount).toBe(0);
  });

  it('a row whose logits are not finite fails only its request, with a NumericalError naming the token and position', async () => {
    const ps = [prompt(8, 5), prompt(9, 11), prompt(10, 2)];
    const { pool, submit } = setup({ poison: (seen) => (startsWith(seen, ps[1]) && seen.length === ps[1].length + 2 ? 'logits' : undefined) });
    const streams = ps.map((p, i) => submit(i, p, 6));
    const error = await streams[1].result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NumericalError);
    expect(error).toMatchObject({ step: 2, position: ps[1].length + 1, what: 'logits' });
    // it got the two tokens before the bad row
    expect(streams[1].pushed).toEqual(soloOutput(ps[1], 2));
    for (const i of [0, 2]) expect((await streams[i].result).ids).toEqual(soloOutput(ps[i], 6));
    expect(pool.usedCount).toBe(0);
  });

  it('a sampled row whose probabilities are not finite fails only its request', async () => {
    const ps = [prompt(11, 6), prompt(12, 4)];
    const { pool, submit } = setup({ poison: (seen) => (startsWith(seen, ps[0]) && seen.length === ps[0].length ? 'probabilities' : undefined) });
    const streams = [submit(0, ps[0], 5, true), submit(1, ps[1], 5, true)];
    const error = await streams[0].result.catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'NumericalError', step: 0, position: ps[0].length - 1, what: 'probabilities' });
    expect(streams[0].pushed).toEqual([]);
    expect((await streams[1].result).ids).toEqual(soloOutput(ps[1], 5));
    expect(pool.usedCount).toBe(0);
  });

  it('an executor that throws fails every request in flight with that error, frees their blocks, and the loop goes on after', async () => {
    const boom = new Error('device lost (fake)');
    let runs = 0;
    const { pool, loop, submit } = setup({}, (fake) => ({
      run: (step, output): Promise<StepResult> => (++runs === 3 ? Promise.reject(boom) : fake.run(step, output)),
    }));
    const streams = [submit(0, prompt(13, 9), 8), submit(1, prompt(14, 3), 8), submit(2, prompt(15, 12), 8)];
    for (const s of streams) await expect(s.result).rejects.toBe(boom);
    expect(pool.usedCount).toBe(0);
    expect(loop.size).toBe(0);
    // The engine refuses new work after a device loss (gpu.throwIfFailed); the loop itself is not stuck.
    const later = submit(3, prompt(16, 4), 3);
    expect((await later.result).ids).toEqual(soloOutput(prompt(16, 4), 3));
  });

  it('runs exclusive jobs between steps, never during one, in the order they came, and resolves each with its result', async () => {
    const events: string[] = [];
    let ctx!: ReturnType<typeof setup>;
    const job = (name: string) => async () => {
      events.push(`${name} start (in flight: ${ctx.executor.inFlight})`);
      await new Promise((resolve) => setTimeout(resolve, 1));
      events.push(`${name} end`);
      return name;
    };
    const jobs: Promise<string>[] = [];
    ctx = setup({
      beforeRun: () => {
        events.push(`step ${ctx.executor.steps}`);
        if (ctx.executor.steps === 2) jobs.push(ctx.loop.runExclusive(job('J2')), ctx.loop.runExclusive(job('J3')));
      },
    });
    const p = prompt(17, 5);
    const s = ctx.submit(0, p, 5);
    // queued with the request: runs first, before any step
    jobs.push(ctx.loop.runExclusive(job('J1')));
    expect((await s.result).ids).toEqual(soloOutput(p, 5));
    expect(await Promise.all(jobs)).toEqual(['J1', 'J2', 'J3']);
    expect(events.slice(0, 9)).toEqual([
      'J1 start (in flight: false)',
      'J1 end',
      'step 0',
      'step 1',
      'step 2',
      'J2 start (in flight: false)',
      'J2 end',
      'J3 start (in flight: false)',
      'J3 end',
    ]);
    expect(events[9]).toBe('step 3');
  });

  it('a job that fails rejects only its own promise; one that makes room (as logits() does) preempts, and the requests resume', async () => {
    const ps = [prompt(18, 9), prompt(19, 6)];
    let ctx!: ReturnType<typeof setup>;
    const freeDuringJob: number[] = [];
    let failing: Promise<unknown> | undefined;
    let room: Promise<number[]> | undefined;
    ctx = setup({
      beforeRun: () => {
        if (ctx.executor.steps !== 3) return;
        failing = ctx.loop.runExclusive(() => Promise.reject(new RangeError('job failed')));
        room = ctx.loop.runExclusive(async () => {
          const preempted = ctx.scheduler.makeRoom(NUM_BLOCKS);
          freeDuringJob.push(ctx.pool.freeCount);
          return preempted;
        });
      },
    });
    const streams = ps.map((p, i) => ctx.submit(i, p, 8));
    const results = await Promise.all(streams.map((s) => s.result));
    await expect(failing).rejects.toThrow('job failed');
    expect(await room).toEqual([1, 0]);
    expect(freeDuringJob).toEqual([NUM_BLOCKS]);
    results.forEach((r, i) => {
      expect(r.ids).toEqual(soloOutput(ps[i], 8));
      expect(r.metrics.preemptions).toBe(1);
    });
    expect(ctx.pool.usedCount).toBe(0);
  });
});
