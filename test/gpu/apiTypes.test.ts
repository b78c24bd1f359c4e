// The public API called from plain JavaScript with wrongly-typed values (issue 10 §2): whatever comes in, what comes
// out is a result or a GptWebGpuError subclass, never a bare TypeError / RangeError from deep inside. One engine on a
// tiny random model is shared by every case, so the walk stays fast.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { GptWebGpuError } from '../../src/errors.ts';
import { cachedModelFiles, hubBaseUrl, modelBaseUrl } from '../../src/io/cachedModelFiles.ts';
import { parseConfig, parseConfigText } from '../../src/io/config.ts';
import { memoryModelFiles } from '../../src/io/modelFiles.ts';
import { Tokenizer } from '../../src/tokenizer/index.ts';
import { runBenchmark, parseBenchRecord } from '../../src/bench/benchmark.ts';
import { useGpu } from '../support/gpu.ts';
import { makeRandomCheckpoint } from '../support/randomModel.ts';

const g = useGpu();

/** Values a plain-JavaScript caller may pass where something else is expected. */
const WRONG: unknown[] = [null, undefined, 42, '42', NaN, -1, 1.5, {}, [], Symbol('s'), () => 1, 1e300, -Infinity, Infinity, true, '', [null], [1.5], ['a'], { length: 3 }, 2 ** 53];

const show = (v: unknown) => (typeof v === 'symbol' ? v.toString() : typeof v === 'function' ? 'a function' : JSON.stringify(v) ?? String(v));

/** Calls that threw something other than a GptWebGpuError in the current test; each test ends by expecting none. */
let untyped: string[] = [];
beforeEach(() => {
  untyped = [];
});
afterEach(() => {
  expect(untyped).toEqual([]);
});

/** Runs `call` (sync or async); success or a GptWebGpuError is fine, anything else is recorded in `untyped`. */
async function expectTypedOrSuccess(what: string, call: () => unknown): Promise<void> {
  let error: unknown;
  try {
    const out = call();
    if (out && typeof (out as { then?: unknown }).then === 'function') await out;
    if (out && typeof out === 'object' && 'result' in out) await (out as { result: Promise<unknown> }).result;
  } catch (e) {
    error = e;
  }
  if (error !== undefined && !(error instanceof GptWebGpuError)) untyped.push(`${what}: ${String(error)}`);
}

const model = makeRandomCheckpoint({ family: 'gpt2', vocabSize: 64, hidden: 32, layers: 1, heads: 2, positions: 32, dtype: 'F32', seed: 8 });
let engine: Engine;

beforeAll(async () => {
  engine = await Engine.load(g.gpu, memoryModelFiles('tiny', model.files), { kvBlocks: 16, blockSize: 4 });
});
afterAll(async () => engine?.dispose());

describe('public API with wrongly-typed values', () => {
  it('Engine.generate: the prompt and every option', async () => {
    for (const v of WRONG) {
      await expectTypedOrSuccess(`generate(${show(v)})`, () => engine.generate(v as never, { maxNewTokens: 1 }));
      await expectTypedOrSuccess(`generate([1], ${show(v)})`, () => engine.generate([1], v as never));
      for (const key of ['maxNewTokens', 'repetitionPenalty', 'stop', 'stopAtEos', 'keepLastTokens', 'signal', 'greedy', 'temperature', 'topK', 'topP', 'seed']) {
        await expectTypedOrSuccess(`generate([1], {${key}: ${show(v)}})`, () => engine.generate([1, 2], { maxNewTokens: 1, [key]: v } as never));
      }
    }
    expect(engine.kvBlocksInUse).toBe(0);
  });

  it('Engine.logits and Engine.encode', async () => {
    for (const v of WRONG) {
      await expectTypedOrSuccess(`logits(${show(v)})`, () => engine.logits(v as never));
      await expectTypedOrSuccess(`logits([1], ${show(v)})`, () => engine.logits([1], v as never));
      await expectTypedOrSuccess(`logits([1], {lastOnly: ${show(v)}})`, () => engine.logits([1], { lastOnly: v } as never));
      await expectTypedOrSuccess(`encode(${show(v)})`, () => engine.encode(v as never));
    }
  });

  it('Engine.load options', async () => {
    for (const v of WRONG) {
      for (const key of ['blockSize', 'kvBlocks', 'kvMemoryBytes', 'maxBatchTokens', 'maxSequences', 'weightFormat', 'onProgress']) {
        await expectTypedOrSuccess(`load({${key}: ${show(v)}})`, async () => {
          const loaded = await Engine.load(g.gpu, memoryModelFiles('tiny', model.files), { kvBlocks: 8, [key]: v } as never);
          await loaded.dispose();
        });
      }
      await expectTypedOrSuccess(`load(options ${show(v)})`, async () => (await Engine.load(g.gpu, memoryModelFiles('tiny', model.files), v as never)).dispose());
    }
  });

  it('Tokenizer, config parsing, model URLs, cachedModelFiles, bench functions', async () => {
    const tokenizer = Tokenizer.fromVocabAndMerges(JSON.stringify({ a: 0, b: 1, ab: 2 }), '#version: 0.2\na b\n');
    for (const v of WRONG) {
      await expectTypedOrSuccess(`tokenizer.encode(${show(v)})`, () => tokenizer.encode(v as never));
      await expectTypedOrSuccess(`tokenizer.decode(${show(v)})`, () => tokenizer.decode(v as never));
      await expectTypedOrSuccess(`Tokenizer.fromTokenizerJson(${show(v)})`, () => Tokenizer.fromTokenizerJson(v as never));
      await expectTypedOrSuccess(`Tokenizer.fromVocabAndMerges(${show(v)})`, () => Tokenizer.fromVocabAndMerges(v as never, v as never));
      await expectTypedOrSuccess(`parseConfig(${show(v)})`, () => parseConfig(v as never));
      await expectTypedOrSuccess(`parseConfigText(${show(v)})`, () => parseConfigText(v as never));
      await expectTypedOrSuccess(`modelBaseUrl(${show(v)})`, () => modelBaseUrl(v as never));
      await expectTypedOrSuccess(`hubBaseUrl(${show(v)})`, () => hubBaseUrl(v as never));
      await expectTypedOrSuccess(`cachedModelFiles(${show(v)})`, () => cachedModelFiles(v as never));
      await expectTypedOrSuccess(`parseBenchRecord(${show(v)})`, () => parseBenchRecord(v));
      await expectTypedOrSuccess(`runBenchmark(engine, ${show(v)})`, () => runBenchmark(engine, v as never));
    }
  });
});
