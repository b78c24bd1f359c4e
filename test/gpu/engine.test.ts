// The engine end to end on the embedded demo model (a trained GPT-2 with the real tokenizer): reference greedy text,
// streaming, seeded sampling, cancellation, bad requests and a lost device.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { createNodeGpuContext } from '../../src/gpu/node.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { folderModelFiles } from '../../src/io/nodeModelFiles.ts';
import { DEFAULT_MODEL_DIR } from '../../src/node.ts';
import { ContextWindowExceededError, DeviceLostError, InvalidRequestError } from '../../src/errors.ts';

interface ReferenceGreedy {
  prompt: string;
  prompt_ids: number[];
  greedy_ids: number[];
  greedy_text: string;
}

const reference = JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'reference.json'), 'utf8'));

let gpu: GpuContext;
let engine: Engine;
beforeAll(async () => {
  gpu = await createNodeGpuContext({ onNotice: () => {} });
  engine = await Engine.load(gpu, await folderModelFiles(DEFAULT_MODEL_DIR));
});
afterAll(async () => {
  await engine?.dispose();
  gpu?.destroy();
});

const usedBlocks = () => engine.kvBlocksInUse;

describe('demo model', () => {
  it.each(reference.greedy.map((g: { prompt: string }) => [g.prompt, g]) as [string, ReferenceGreedy][])('greedy text for %j equals the reference', async (_prompt, g) => {
    const { prompt, prompt_ids: promptIds, greedy_ids: ids, greedy_text: text } = g;
    expect(engine.encode(prompt)).toEqual(promptIds);
    const stream = engine.generate(prompt, { greedy: true, maxNewTokens: ids.length });
    let streamed = '';
    for await (const chunk of stream) streamed += chunk.text;
    const result = await stream.result;
    expect(result.ids).toEqual(ids);
    expect(result.text).toBe(text);
    expect(streamed).toBe(text);
    expect(result.finishReason).toBe('length');
    expect(result.metrics.generatedTokens).toBe(ids.length);
    expect(result.metrics.ttftMs).toBeGreaterThan(0);
    expect(result.metrics.itlMs).toHaveLength(ids.length - 1);
    expect(usedBlocks()).toBe(0);
  });

  it('a seed reproduces a sampled generation; another seed gives another', async () => {
    const run = async (seed: number) => (await engine.generate('JULIET:', { temperature: 0.9, topK: 40, topP: 0.95, seed, maxNewTokens: 12 }).result).ids;
    const a = await run(11);
    expect(await run(11)).toEqual(a);
    expect(await run(12)).not.toEqual(a);
  });

  it('temperature 0 and top-k 1 are greedy', async () => {
    const greedy = (await engine.generate('ROMEO:', { greedy: true, maxNewTokens: 8 }).result).ids;
    expect((await engine.generate('ROMEO:', { temperature: 0, maxNewTokens: 8 }).result).ids).toEqual(greedy);
    expect((await engine.generate('ROMEO:', { temperature: 1.5, topK: 1, seed: 3, maxNewTokens: 8 }).result).ids).toEqual(greedy);
  });
});

describe('cancellation', () => {
  it('aborting the signal ends the request with finishReason abort and frees its blocks', async () => {
    const controller = new AbortController();
    const stream = engine.generate('ROMEO:', { greedy: true, maxNewTokens: 50, signal: controller.signal });
    let n = 0;
    for await (const _ of stream) if (++n === 3) controller.abort();
    const result = await stream.result;
    expect(result.finishReason).toBe('abort');
    expect(result.ids.length).toBeLessThan(50);
    expect(usedBlocks()).toBe(0);
  });

  it('breaking out of for-await cancels the request and frees its blocks', async () => {
    const stream = engine.generate('ROMEO:', { greedy: true, maxNewTokens: 50 });
    for await (const chunk of stream) if (chunk.index === 2) break;
    const result = await stream.result;
    expect(result.finishReason).toBe('abort');
    expect(usedBlocks()).toBe(0);
  });

  it('requests queue behind each other and each gets its own answer', async () => {
    const prompts = reference.greedy.map((g: { prompt: string }) => g.prompt);
    const results = await Promise.all(prompts.map((p: string) => engine.generate(p, { greedy: true, maxNewTokens: 10 }).result));
    results.forEach((r, i) => expect(r.ids).toEqual(reference.greedy[i].greedy_ids.slice(0, 10)));
  });
});

describe('bad requests', () => {
  it.each([
    ['an empty prompt', [], {}, InvalidRequestError, /empty/],
    ['a token id outside the vocabulary', [1, 50257], {}, InvalidRequestError, /50257.*vocabulary/],
    ['a negative token id', [-1], {}, InvalidRequestError, /vocabulary/],
    ['more tokens than the context window', [1, 2, 3], { maxNewTokens: 254 }, ContextWindowExceededError, /3 tokens.*254 new tokens.*256 tokens/],
    ['a negative temperature', [1], { temperature: -1 }, InvalidRequestError, /temperature/],
    ['top-p above 1', [1], { topP: 1.5 }, InvalidRequestError, /top-p/],
    ['greedy with a temperature', [1], { greedy: true, temperature: 0.5 }, InvalidRequestError, /greedy/],
    ['a fractional maxNewTokens', [1], { maxNewTokens: 2.5 }, InvalidRequestError, /maxNewTokens/],
  ] as const)('%s is a typed error naming the problem', async (_what, ids, options, type, message) => {
    const stream = engine.generate(ids, options);
    await expect(stream.result).rejects.toBeInstanceOf(type);
    await expect(stream.result).rejects.toThrow(message);
    expect(usedBlocks()).toBe(0);
  });

  it.each([
    ['a null prompt', null, {}, /prompt/],
    ['a numeric prompt', 42, {}, /prompt/],
    ['null options', [1], null, /options/],
    ['a numeric stop', [1], { stop: 5 }, /stop/],
  ] as const)('from plain JavaScript, %s is an InvalidRequestError, not a TypeError', async (_what, prompt, options, message) => {
    // Casts: these are the values a plain-JavaScript caller can pass.
    const stream = engine.generate(prompt as unknown as number[], options as unknown as object);
    await expect(stream.result).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(stream.result).rejects.toThrow(message);
    expect(usedBlocks()).toBe(0);
  });

  it('logits for ids outside the vocabulary is a typed error', async () => {
    await expect(engine.logits([5, 99999])).rejects.toBeInstanceOf(InvalidRequestError);
  });
});

describe('device loss', () => {
  it('a request on a lost device fails with DeviceLostError, and a new engine on a new device works', async () => {
    const lostGpu = await createNodeGpuContext({ onNotice: () => {} });
    const doomed = await Engine.load(lostGpu, await folderModelFiles(DEFAULT_MODEL_DIR));
    const stream = doomed.generate('ROMEO:', { greedy: true, maxNewTokens: 30 });
    let n = 0;
    const consume = (async () => {
      for await (const _ of stream) if (++n === 2) lostGpu.device.destroy();
    })();
    await expect(consume).rejects.toBeInstanceOf(DeviceLostError);
    await expect(stream.result).rejects.toBeInstanceOf(DeviceLostError);
    await expect(doomed.generate('ROMEO:', { greedy: true }).result).rejects.toBeInstanceOf(DeviceLostError);
    await doomed.dispose();

    const freshGpu = await createNodeGpuContext({ onNotice: () => {} });
    const fresh = await Engine.load(freshGpu, await folderModelFiles(DEFAULT_MODEL_DIR));
    expect((await fresh.generate('ROMEO:', { greedy: true, maxNewTokens: 5 }).result).ids).toEqual(reference.greedy[0].greedy_ids.slice(0, 5));
    await fresh.dispose();
    freshGpu.destroy();
  });
});
