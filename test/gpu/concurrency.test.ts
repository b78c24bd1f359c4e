// Many requests at once on the real engine: batched results equal solo results (batch invariance) under prefix
// sharing, preemption and chunked prefill; aborts free everything; a long prompt does not stall running decodes.
// Runs in Node (Dawn) and in Chromium (vitest.config.ts), so batch invariance is checked on both WebGPU implementations.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine, type EngineOptions } from '../../src/engine.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { memoryModelFiles } from '../../src/io/modelFiles.ts';
import { createTestGpuContext, projectModelFiles } from '../support/platform.ts';
import { makeRandomCheckpoint } from '../support/randomModel.ts';
import { seededRandom } from '../support/compare.ts';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await createTestGpuContext();
});
afterAll(() => gpu?.destroy());

const demo = async (options: EngineOptions = {}) => Engine.load(gpu, await projectModelFiles('models/gpt2-shakespeare'), options);

// Eight prompts of different lengths; the first two share a prefix of more than two 16-token blocks.
const SHARED = 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved';
const PROMPTS = [
  `${SHARED} rather to die than to famish?`,
  `${SHARED} to go to the Capitol?`,
  'ROMEO:',
  'JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?',
  'To be, or not to be',
  'KING RICHARD III:\nNow is the winter of our discontent',
  'Friends, Romans, countrymen, lend me your ears;',
  'MENENIUS:\nWhat work',
];
const NEW_TOKENS = 24;

async function soloOutputs(engine: Engine, prompts: string[], maxNewTokens: number): Promise<number[][]> {
  const out: number[][] = [];
  for (const p of prompts) out.push((await engine.generate(p, { greedy: true, maxNewTokens }).result).ids);
  return out;
}

describe('eight prompts at once on the demo model', () => {
  let solo: number[][];
  beforeAll(async () => {
    const engine = await demo();
    try {
      expect(engine.encode(SHARED).length).toBeGreaterThan(32);
      solo = await soloOutputs(engine, PROMPTS, NEW_TOKENS);
    } finally {
      await engine.dispose();
    }
  });

  it('give exactly what each gives alone, and reuse the shared prefix', async () => {
    const engine = await demo();
    try {
      const results = await Promise.all(PROMPTS.map((p) => engine.generate(p, { greedy: true, maxNewTokens: NEW_TOKENS }).result));
      results.forEach((r, i) => expect(r.ids, PROMPTS[i]).toEqual(solo[i]));
      const summary = engine.summary();
      expect(summary.kv.reusedPrefixBlocks).toBeGreaterThan(0);
      expect(results[1].metrics.cachedPromptTokens).toBeGreaterThanOrEqual(32);
      expect(summary.steps.decode).toBeLessThan(PROMPTS.length * NEW_TOKENS); // decodes were batched
      expect(engine.kvBlocksInUse).toBe(0);
    } finally {
      await engine.dispose();
    }
  });

  it('with --kv-blocks 12 --block-size 16, where they cannot all fit: preemption, and still exactly the solo outputs', async () => {
    const engine = await demo({ kvBlocks: 12, blockSize: 16 });
    try {
      const results = await Promise.all(PROMPTS.map((p) => engine.generate(p, { greedy: true, maxNewTokens: NEW_TOKENS }).result));
      results.forEach((r, i) => expect(r.ids, PROMPTS[i]).toEqual(solo[i]));
      const summary = engine.summary();
      expect(summary.preemptions).toBeGreaterThan(0);
      expect(summary.kv.peakBlocksUsed).toBeLessThanOrEqual(12);
      expect(summary.kv.reusedPrefixBlocks).toBeGreaterThan(0);
      expect(engine.kvBlocksInUse).toBe(0);
    } finally {
      await engine.dispose();
    }
  });

  it('a long prompt arriving while others decode does not stall them for its whole prefill', async () => {
    const engine = await demo({ maxBatchTokens: 24 });
    try {
      const a = engine.generate('ROMEO:', { greedy: true, maxNewTokens: 60 });
      const times: number[] = [];
      let longSubmitted = 0;
      let longStream: ReturnType<Engine['generate']> | undefined;
      for await (const _ of a) {
        times.push(performance.now());
        if (times.length === 8) {
          longSubmitted = performance.now();
          longStream = engine.generate(PROMPTS.slice(0, 4).join('\n') + '\n' + PROMPTS.slice(4).join('\n'), { greedy: true, maxNewTokens: 1 });
        }
      }
      const long = await longStream!.result;
      const longFirstToken = longSubmitted + long.metrics.ttftMs;
      const gaps = (from: number, to: number) => times.slice(1).map((t, i) => ({ t, gap: t - times[i] })).filter(({ t }) => t > from && t <= to).map(({ gap }) => gap);
      const before = gaps(0, longSubmitted);
      const during = gaps(longSubmitted, longFirstToken);
      const prefillMs = long.metrics.ttftMs;
      console.log(`ITL before the long prompt: max ${Math.max(...before).toFixed(0)} ms; during its ${long.metrics.promptTokens}-token prefill (${prefillMs.toFixed(0)} ms): ${during.map((g) => g.toFixed(0)).join(', ')} ms`);
      expect(long.metrics.promptTokens).toBeGreaterThan(4 * 24);
      // Tokens kept coming while the long prompt was prefilled in chunks…
      expect(during.length).toBeGreaterThanOrEqual(3);
      // …and no gap came anywhere near the whole prefill.
      expect(Math.max(...during)).toBeLessThan(prefillMs / 2);
    } finally {
      await engine.dispose();
    }
  });
});

describe('features that must not depend on the batch', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await demo({ maxBatchTokens: 16 });
  });
  afterAll(() => engine?.dispose());

  it('seeded sampling gives the same tokens alone and in a batch', async () => {
    const options = { temperature: 0.9, topK: 50, topP: 0.95, seed: 1234, maxNewTokens: 16 };
    const alone = (await engine.generate('JULIET:', options).result).ids;
    const batch = await Promise.all([
      engine.generate('ROMEO:', { greedy: true, maxNewTokens: 20 }).result,
      engine.generate('JULIET:', options).result,
      engine.generate('To be, or not to be', { temperature: 1.2, seed: 9, maxNewTokens: 10 }).result,
    ]);
    expect(batch[1].ids).toEqual(alone);
  });

  it('repetition penalty follows Hugging Face: divide positive, multiply negative logits of seen tokens, then argmax', async () => {
    const prompt = engine.encode('ROMEO:\nI will tell thee, I will tell thee');
    const penalty = 1.5;
    const out = (await engine.generate(prompt, { greedy: true, repetitionPenalty: penalty, maxNewTokens: 8 }).result).ids;
    const plain = (await engine.generate(prompt, { greedy: true, maxNewTokens: 8 }).result).ids;
    expect(out).not.toEqual(plain);
    const V = engine.config.vocabSize;
    for (let i = 0; i < out.length; i++) {
      const context = [...prompt, ...out.slice(0, i)];
      const logits = (await engine.logits(context)).subarray((context.length - 1) * V, context.length * V);
      for (const id of new Set(context)) logits[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty;
      let best = 0;
      for (let v = 1; v < V; v++) if (logits[v] > logits[best]) best = v;
      expect(out[i], `step ${i}`).toBe(best);
    }
  });

  it('stop strings end the request before the stop text, alone and in a batch', async () => {
    const full = await engine.generate('ROMEO:', { greedy: true, maxNewTokens: 30 }).result;
    const cut = full.text.indexOf('thee,');
    expect(cut).toBeGreaterThan(0);
    const [stopped] = await Promise.all([engine.generate('ROMEO:', { greedy: true, maxNewTokens: 30, stop: ['thee,', 'never in this text'] }).result, engine.generate('JULIET:', { greedy: true, maxNewTokens: 30 }).result]);
    expect(stopped.finishReason).toBe('stop');
    expect(stopped.text).toBe(full.text.slice(0, cut));
    const streamed: string[] = [];
    for await (const c of engine.generate('ROMEO:', { greedy: true, maxNewTokens: 30, stop: 'thee,' })) streamed.push(c.text);
    expect(streamed.join('')).toBe(full.text.slice(0, cut));
  });

  it('a fully cached prompt (whole blocks) is served from the cache with copy-on-write of its last block', async () => {
    const prompt = engine.encode(SHARED).slice(0, 32); // exactly two blocks of 16
    const first = await engine.generate(prompt, { greedy: true, maxNewTokens: 6 }).result;
    const again = await engine.generate(prompt, { greedy: true, maxNewTokens: 6 }).result;
    expect(again.ids).toEqual(first.ids);
    expect(again.metrics.cachedPromptTokens).toBe(31);
    // and the cached blocks were not corrupted by the second request's writes
    expect((await engine.generate(prompt, { greedy: true, maxNewTokens: 6 }).result).ids).toEqual(first.ids);
    expect(engine.kvBlocksInUse).toBe(0);
  });

  it('per-request metrics follow their definitions', async () => {
    const results = await Promise.all(['ROMEO:', 'JULIET:', 'To be'].map((p) => engine.generate(p, { greedy: true, maxNewTokens: 6 }).result));
    for (const r of results) {
      const m = r.metrics;
      expect(m.queueMs).toBeGreaterThanOrEqual(0);
      expect(m.ttftMs).toBeGreaterThanOrEqual(m.queueMs);
      expect(m.e2eMs).toBeGreaterThanOrEqual(m.ttftMs);
      expect(m.itlMs).toHaveLength(m.generatedTokens - 1);
      expect(m.tpotMs).toBeCloseTo(m.itlMs.reduce((a, b) => a + b, 0) / m.itlMs.length, 6);
      expect(m.generatedTokens).toBe(6);
      expect(m.promptTokens).toBe(engine.encode(['ROMEO:', 'JULIET:', 'To be'][results.indexOf(r)]).length);
    }
    const s = engine.summary();
    expect(s.requests).toBeGreaterThanOrEqual(3);
    expect(s.ttftMs.p50).toBeLessThanOrEqual(s.ttftMs.p90);
    expect(s.ttftMs.p90).toBeLessThanOrEqual(s.ttftMs.p99);
    expect(s.steps.prefill).toBeGreaterThan(0);
    expect(s.decodeTokensPerSecond).toBeGreaterThan(0);
    expect(s.prefillTokensPerSecond).toBeGreaterThan(0);
    // Off by default (gpuTiming): no timer, whatever the adapter has.
    expect(s.gpuMsPerStep).toBeUndefined();
  });

  it('with gpuTiming, GPU ms per step come with the same tokens, where the adapter has timestamp queries', async () => {
    const timed = await demo({ gpuTiming: true });
    try {
      // A 40-token prompt with 16-token chunks: prefill-only steps (timer read alone) and steps with a head (timer
      // read with the ids).
      const prompt = engine.encode(SHARED).slice(0, 40);
      const options = { greedy: true, maxNewTokens: 5 } as const;
      const chunked = await Engine.load(gpu, await projectModelFiles('models/gpt2-shakespeare'), { gpuTiming: true, maxBatchTokens: 16 });
      try {
        const [plain, withTimer, withChunks] = await Promise.all([engine.generate(prompt, options).result, timed.generate(prompt, options).result, chunked.generate(prompt, options).result]);
        expect(withTimer.ids).toEqual(plain.ids);
        expect(withChunks.ids).toEqual(plain.ids);
        for (const s of [timed.summary(), chunked.summary()]) {
          if (gpu.features.timestampQuery) {
            for (const kind of ['prefill', 'decode'] as const) {
              expect(Number.isFinite(s.gpuMsPerStep![kind].p50)).toBe(true);
              expect(s.gpuMsPerStep![kind].p50).toBeGreaterThanOrEqual(0);
            }
          } else {
            expect(s.gpuMsPerStep).toBeUndefined();
          }
        }
        console.log(`gpuTiming: timestamp-query ${gpu.features.timestampQuery}, ${JSON.stringify(chunked.summary().gpuMsPerStep)}`);
      } finally {
        await chunked.dispose();
      }
    } finally {
      await timed.dispose();
    }
  });
});

describe('random submit and abort streams', () => {
  it('leave no KV block allocated, and every request that was not aborted gets its solo output', async () => {
    const model = makeRandomCheckpoint({ family: 'gpt2', vocabSize: 300, hidden: 32, layers: 2, heads: 2, positions: 96, dtype: 'F32', seed: 5 });
    const engine = await Engine.load(gpu, memoryModelFiles('random', model.files), { kvBlocks: 10, blockSize: 4, maxBatchTokens: 12, maxSequences: 6 });
    try {
      const rand = seededRandom(2024);
      const int = (lo: number, hi: number) => lo + Math.floor(((rand() + 1) / 2) * (hi - lo + 1));
      const prompts = Array.from({ length: 24 }, () => Array.from({ length: int(1, 20) }, () => int(0, 299)));
      // a few shared prefixes
      prompts[5] = [...prompts[4].slice(0, 8), 1, 2, 3];
      prompts[9] = [...prompts[4]];
      const maxNew = prompts.map(() => int(1, 12));
      const solo: number[][] = [];
      for (let i = 0; i < prompts.length; i++) solo.push((await engine.generate(prompts[i], { greedy: true, maxNewTokens: maxNew[i], stopAtEos: false }).result).ids);

      const jobs: Promise<void>[] = [];
      let aborted = 0;
      for (let i = 0; i < prompts.length; i++) {
        const mode = int(0, 3); // 0, 1: run to the end; 2: abort after a random delay; 3: break out of for-await
        const controller = new AbortController();
        const stream = engine.generate(prompts[i], { greedy: true, maxNewTokens: maxNew[i], stopAtEos: false, signal: controller.signal });
        if (mode === 2) setTimeout(() => controller.abort(), int(0, 400));
        jobs.push(
          (async () => {
            const seen: number[] = [];
            for await (const chunk of stream) {
              seen.push(chunk.tokenId);
              if (mode === 3 && seen.length >= Math.min(2, maxNew[i])) break;
            }
            const r = await stream.result;
            if (r.finishReason === 'abort') {
              aborted++;
              expect(solo[i].slice(0, r.ids.length)).toEqual(r.ids);
            } else {
              expect(r.ids, `request ${i}`).toEqual(solo[i]);
            }
          })(),
        );
        if (int(0, 2) === 0) await new Promise((resolve) => setTimeout(resolve, int(0, 80)));
      }
      await Promise.all(jobs);
      expect(aborted).toBeGreaterThan(0);
      expect(engine.kvBlocksInUse).toBe(0);
    } finally {
      await engine.dispose();
    }
  });
});
