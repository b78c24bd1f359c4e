// The whole model against Hugging Face transformers: logits at every prompt position and the greedy continuation of
// each golden fixture (GPT-2 F32, GPT-2 F16 in the original OpenAI layout, GPT-NeoX with partial RoPE).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { expectGreedyMatch, expectLogitsMatch, type Fixture, FIXTURE_NAMES, fixturePath, loadFixture } from '../support/fixtures.ts';
import { createTestGpuContext, projectModelFiles } from '../support/platform.ts';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await createTestGpuContext();
});
afterAll(() => gpu?.destroy());

describe.each(FIXTURE_NAMES)('%s', (name) => {
  let fixture: Fixture;
  let engine: Engine;
  beforeAll(async () => {
    fixture = await loadFixture(name);
    engine = await Engine.load(gpu, await projectModelFiles(fixturePath(name)));
  });
  afterAll(() => engine?.dispose());

  it('logits at every prompt position match the reference', async () => {
    const logits = await engine.logits(fixture.promptIds);
    const { maxAbs, relL2 } = expectLogitsMatch(logits, fixture.logits, name);
    console.log(`${name}: logits maxAbs ${maxAbs.toExponential(2)} relL2 ${relL2.toExponential(2)}`);
  });

  it('the same logits when the prompt is prefilled in small chunks', async () => {
    const chunked = await Engine.load(gpu, await projectModelFiles(fixturePath(name)), { maxBatchTokens: 5, blockSize: 4 });
    try {
      expectLogitsMatch(await chunked.logits(fixture.promptIds), fixture.logits, `${name} chunked`);
    } finally {
      await chunked.dispose();
    }
  });

  it('greedy continuation matches the reference', async () => {
    const stream = engine.generate(fixture.promptIds, { greedy: true, maxNewTokens: fixture.greedyIds.length, stopAtEos: false });
    const streamed: number[] = [];
    for await (const chunk of stream) streamed.push(chunk.tokenId);
    const result = await stream.result;
    expect(streamed.filter((id) => id >= 0)).toEqual(result.ids);
    expectGreedyMatch(result.ids, fixture.greedyIds, fixture.greedyMargins, name);
    expect(result.metrics.itlMs).toHaveLength(result.ids.length - 1);
  });
});
