// Hardening: out-of-memory while building an engine, a device lost with many requests in flight, over-long prompts,
// and a 1,000-operation stress test of submits and every kind of cancellation against the real engine.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { createNodeGpuContext } from '../../src/gpu/node.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { memoryModelFiles } from '../../src/io/modelFiles.ts';
import { folderModelFiles } from '../../src/io/nodeModelFiles.ts';
import { DEFAULT_MODEL_DIR } from '../../src/node.ts';
import { ContextWindowExceededError, DeviceLostError, OutOfMemoryError } from '../../src/errors.ts';
import { makeRandomCheckpoint } from '../support/randomModel.ts';
import { trackBuffers } from '../support/bufferTracker.ts';
import { seededRandom } from '../support/compare.ts';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await createNodeGpuContext({ onNotice: () => {} });
});
afterAll(() => gpu?.destroy());

const tiny = makeRandomCheckpoint({ family: 'gpt2', vocabSize: 300, hidden: 32, layers: 2, heads: 2, positions: 128, dtype: 'F32', seed: 11 });
const loadTiny = (options = {}) => Engine.load(gpu, memoryModelFiles('tiny', tiny.files), options);

describe('out of memory', () => {
  // A real out-of-memory error cannot be provoked safely on a shared CI machine, so the device's error scope is made to
  // report one for the Nth allocation phase; everything after that is the engine's own handling.
  it.each([
    [1, /model weights/],
    [2, /KV pool.*lower kvBlocks/],
    [3, /activation buffers/],
  ])('an allocation failure in phase %i is a typed error with the sizes, and leaves nothing behind', async (phase, message) => {
    const tracker = trackBuffers(gpu);
    const device = gpu.device as GPUDevice & { popErrorScope: GPUDevice['popErrorScope'] };
    const original = device.popErrorScope;
    let scopes = 0;
    device.popErrorScope = async function (this: GPUDevice) {
      const real = await original.call(this);
      return ++scopes === phase ? ({ message: 'simulated out of memory' } as GPUError) : real;
    };
    try {
      const error = await loadTiny().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OutOfMemoryError);
      expect(String((error as Error).message)).toMatch(message);
      expect(String((error as Error).message)).toMatch(/MiB needed, [\d.]+ MiB already allocated/);
      expect(tracker.live(), 'buffers left by the failed load').toEqual([]);
    } finally {
      delete (device as Partial<GPUDevice>).popErrorScope;
      if (device.popErrorScope !== original) device.popErrorScope = original;
      tracker.stop();
    }
    const engine = await loadTiny();
    expect((await engine.generate([1, 2, 3], { greedy: true, maxNewTokens: 3 }).result).ids).toHaveLength(3);
    await engine.dispose();
  });
});

describe('device loss', () => {
  it('every request in flight or queued ends with DeviceLostError; a new engine on a new device works', async () => {
    const doomedGpu = await createNodeGpuContext({ onNotice: () => {} });
    const engine = await Engine.load(doomedGpu, memoryModelFiles('tiny', tiny.files), { maxSequences: 2 });
    const streams = Array.from({ length: 5 }, (_, i) => engine.generate([1 + i, 2, 3], { greedy: true, maxNewTokens: 40, stopAtEos: false }));
    let seen = 0;
    for await (const _ of streams[0]) if (++seen === 3) break; // (this one is cancelled instead)
    const running = streams.slice(1);
    await new Promise((resolve) => setTimeout(resolve, 5));
    doomedGpu.device.destroy();
    for (const s of running) await expect(s.result).rejects.toBeInstanceOf(DeviceLostError);
    await expect(engine.generate([1], { maxNewTokens: 2 }).result).rejects.toBeInstanceOf(DeviceLostError);
    await expect(engine.logits([1, 2])).rejects.toBeInstanceOf(DeviceLostError);
    await engine.dispose();
    const fresh = await createNodeGpuContext({ onNotice: () => {} });
    const again = await Engine.load(fresh, memoryModelFiles('tiny', tiny.files));
    expect((await again.generate([1, 2, 3], { greedy: true, maxNewTokens: 4 }).result).ids).toHaveLength(4);
    await again.dispose();
    fresh.destroy();
  });
});

describe('prompts longer than the context', () => {
  it('fail with both numbers, or keep the last tokens when asked', async () => {
    const engine = await Engine.load(gpu, await folderModelFiles(DEFAULT_MODEL_DIR));
    try {
      const long = Array.from({ length: 300 }, (_, i) => 100 + (i % 50));
      const error = await engine.generate(long, { maxNewTokens: 10 }).result.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ContextWindowExceededError);
      expect(String((error as Error).message)).toMatch(/300 tokens and 10 new tokens.*256 tokens.*keepLastTokens/);
      const kept = await engine.generate(long, { maxNewTokens: 10, greedy: true, keepLastTokens: true }).result;
      const explicit = await engine.generate(long.slice(-246), { maxNewTokens: 10, greedy: true }).result;
      expect(kept.metrics.promptTokens).toBe(246);
      expect(kept.ids).toEqual(explicit.ids);
      await expect(engine.generate([1], { maxNewTokens: 256 }).result).rejects.toBeInstanceOf(ContextWindowExceededError);
    } finally {
      await engine.dispose();
    }
  });
});

describe('stress', () => {
  it('1,000 random submits, aborts mid-prefill and mid-decode and broken loops leave no block used, give solo outputs, and keep memory flat', async () => {
    const engine = await loadTiny({ kvBlocks: 24, blockSize: 4, maxBatchTokens: 16, maxSequences: 8 });
    const tracker = trackBuffers(gpu);
    try {
      const rand = seededRandom(99);
      const int = (lo: number, hi: number) => lo + Math.floor(((rand() + 1) / 2) * (hi - lo + 1));
      // A fixed menu of requests (some sharing prefixes, some with long prompts that prefill over several steps).
      const menu = Array.from({ length: 30 }, (_, i) => {
        const length = i % 5 === 0 ? int(30, 60) : int(1, 12);
        return { prompt: Array.from({ length }, () => int(0, 299)), maxNewTokens: int(1, 10) };
      });
      menu[1].prompt = [...menu[0].prompt.slice(0, 20), 7, 7];
      const solo: number[][] = [];
      for (const m of menu) solo.push((await engine.generate(m.prompt, { greedy: true, maxNewTokens: m.maxNewTokens, stopAtEos: false }).result).ids);

      const counts = { finished: 0, aborted: 0, abortedBeforeFirstToken: 0, broke: 0 };
      const round = async (operations: number) => {
        const jobs: Promise<void>[] = [];
        for (let op = 0; op < operations; op++) {
          const pick = int(0, menu.length - 1);
          const { prompt, maxNewTokens } = menu[pick];
          const mode = int(0, 5); // 0-2 run to the end; 3 abort at once or soon (mid-queue / mid-prefill); 4 abort after a token (mid-decode); 5 break
          const controller = new AbortController();
          const stream = engine.generate(prompt, { greedy: true, maxNewTokens, stopAtEos: false, signal: controller.signal });
          if (mode === 3) {
            if (int(0, 1) === 0) controller.abort();
            else setTimeout(() => controller.abort(), int(0, 15));
          }
          jobs.push(
            (async () => {
              const ids: number[] = [];
              for await (const chunk of stream) {
                ids.push(chunk.tokenId);
                if (mode === 4 && ids.length === 1) controller.abort();
                if (mode === 5 && ids.length === 1) {
                  counts.broke++;
                  break;
                }
              }
              const r = await stream.result;
              if (r.finishReason === 'abort') {
                counts.aborted++;
                if (r.ids.length === 0) counts.abortedBeforeFirstToken++;
                expect(solo[pick].slice(0, r.ids.length)).toEqual(r.ids);
              } else {
                counts.finished++;
                expect(r.ids, `menu item ${pick}`).toEqual(solo[pick]);
              }
            })(),
          );
          if (int(0, 3) === 0) await new Promise((resolve) => setTimeout(resolve, int(0, 4)));
        }
        await Promise.all(jobs);
        expect(engine.kvBlocksInUse).toBe(0);
      };

      await round(340);
      const liveAfterFirst = tracker.live().length;
      const heapAfterFirst = process.memoryUsage().heapUsed;
      await round(330);
      await round(330);
      expect(counts.finished + counts.aborted).toBe(1000);
      expect(counts.finished).toBeGreaterThan(300);
      expect(counts.aborted).toBeGreaterThan(100);
      expect(counts.abortedBeforeFirstToken).toBeGreaterThan(10);
      expect(counts.broke).toBeGreaterThan(50);
      // Memory is flat: no GPU buffers accumulate across rounds, and the JS heap does not grow without bound.
      expect(tracker.live().length).toBe(liveAfterFirst);
      expect(process.memoryUsage().heapUsed).toBeLessThan(heapAfterFirst + 64 * 2 ** 20);
      console.log(`stress: ${counts.finished} finished, ${counts.aborted} aborted (${counts.abortedBeforeFirstToken} before their first token), ${counts.broke} broke out of for-await; preemptions ${engine.summary().preemptions}`);
    } finally {
      tracker.stop();
      await engine.dispose();
    }
  });
});
