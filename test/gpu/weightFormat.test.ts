// Weight matrices packed as f16 on the GPU (two per u32, unpacked in the kernels): lossless for F16 checkpoints,
// checked against the float64 reference on the rounded weights for F32 checkpoints, half the memory either way.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { createNodeGpuContext } from '../../src/gpu/node.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { folderModelFiles } from '../../src/io/nodeModelFiles.ts';
import { memoryModelFiles } from '../../src/io/modelFiles.ts';
import { decodeToFloat32, encodeFloats } from '../../src/io/dtype.ts';
import { referenceLogits, type RawTensor } from '../reference/cpuModel.ts';
import { loadCheckpointFiles, loadCheckpointTensors } from '../support/checkpoint.ts';
import { makeRandomCheckpoint } from '../support/randomModel.ts';
import { expectGreedyMatch, expectLogitsMatch, readFixture } from '../support/fixtures.ts';

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await createNodeGpuContext({ onNotice: () => {} });
});
afterAll(() => gpu?.destroy());

/** The checkpoint's 2-D tensors rounded to f16, as the engine stores them in f16 format (norms and biases stay f32). */
function roundMatrices(tensors: Map<string, RawTensor>): Map<string, RawTensor> {
  const out = new Map<string, RawTensor>();
  for (const [name, t] of tensors) {
    const matrix = t.shape.length === 2 && !/\.(bias|masked_bias)$/.test(name);
    out.set(name, matrix ? { shape: t.shape, data: Float64Array.from(decodeToFloat32('F16', encodeFloats('F16', t.data))) } : t);
  }
  return out;
}

describe('f16 weight matrices', () => {
  it('auto picks f16 for an F16 checkpoint, and the logits are bit-identical to f32 (no information lost), in half the memory', async () => {
    const fixture = readFixture('gpt2-tiny-f16');
    const auto = await Engine.load(gpu, await folderModelFiles(fixture.dir));
    const f32 = await Engine.load(gpu, await folderModelFiles(fixture.dir), { weightFormat: 'f32' });
    try {
      expect(auto.info.weightFormat).toBe('f16');
      expect(f32.info.weightFormat).toBe('f32');
      const a = await auto.logits(fixture.promptIds);
      expect(Buffer.from(a.buffer).equals(Buffer.from((await f32.logits(fixture.promptIds)).buffer))).toBe(true);
      expectLogitsMatch(a, fixture.logits, 'gpt2-tiny-f16 as f16');
      expect(auto.info.weightBytes).toBeLessThan(f32.info.weightBytes * 0.52);
    } finally {
      await auto.dispose();
      await f32.dispose();
    }
  });

  it.each(['gpt2-tiny', 'neox-tiny'])('an F32 checkpoint (%s) forced to f16 matches the reference on the rounded weights', async (name) => {
    // Tolerance: the fixture bar (max |Δ| ≤ 2e-3, relative L2 ≤ 1e-4) against the float64 model of the f16-rounded
    // weights, which is exactly the function the engine computes; rounding the weights themselves moves the logits
    // by more than that, so comparing with the unrounded model would measure the format, not the engine.
    const fixture = readFixture(name);
    const { config, tensors } = await loadCheckpointTensors(fixture.dir);
    const want = referenceLogits(config, roundMatrices(tensors), fixture.promptIds);
    const engine = await Engine.load(gpu, await folderModelFiles(fixture.dir), { weightFormat: 'f16' });
    try {
      expect(engine.info.weightFormat).toBe('f16');
      const got = await engine.logits(fixture.promptIds);
      const { maxAbs } = expectLogitsMatch(got, want, `${name} as f16`);
      console.log(`${name} as f16: max |Δ| ${maxAbs.toExponential(2)} vs the rounded-weight reference`);
      expect(engine.info.dtype).toBe('F32');
    } finally {
      await engine.dispose();
    }
  });

  it('BF16 and odd-sized NeoX matrices pack and regroup correctly as f16', async () => {
    const model = makeRandomCheckpoint({ family: 'gpt_neox', vocabSize: 301, hidden: 36, layers: 2, heads: 3, positions: 32, intermediate: 77, dtype: 'BF16', seed: 4, rotaryPct: 0.5 });
    const { config, tensors } = await loadCheckpointFiles(model.files);
    const prompt = [5, 17, 300, 42, 0, 7, 99];
    const engine = await Engine.load(gpu, memoryModelFiles('bf16', model.files), { weightFormat: 'f16' });
    try {
      expectLogitsMatch(await engine.logits(prompt), referenceLogits(config, roundMatrices(tensors), prompt), 'bf16 as f16');
    } finally {
      await engine.dispose();
    }
  });

  it('an F16 checkpoint runs as f16 by default and gives the reference greedy continuation', async () => {
    const fixture = readFixture('gpt2-tiny-f16');
    const engine = await Engine.load(gpu, await folderModelFiles(fixture.dir));
    try {
      const ids = (await engine.generate(fixture.promptIds, { greedy: true, maxNewTokens: fixture.greedyIds.length, stopAtEos: false }).result).ids;
      expectGreedyMatch(ids, fixture.greedyIds, fixture.greedyMargins, 'gpt2-tiny-f16 greedy as f16');
    } finally {
      await engine.dispose();
    }
  });
});
