// Random-weight benchmark models built on the GPU: the shapes are GPT-2's, the values seeded noise (never zeros, the
// intended spread, reproducible), and an engine runs on them.
import { describe, expect, it } from 'vitest';
import { Engine, parameterCount } from '../../src/engine.ts';
import { randomModelConfig, randomWeights, RANDOM_MODEL_NAMES } from '../../src/model/randomWeights.ts';
import { readBack } from '../../src/gpu/buffers.ts';
import { decodeToFloat32 } from '../../src/io/dtype.ts';
import type { ModelConfig } from '../../src/io/config.ts';
import { useGpu } from '../support/gpu.ts';

const g = useGpu();

describe('random GPT-2 models', () => {
  it('have the published GPT-2 shapes', () => {
    expect(RANDOM_MODEL_NAMES).toEqual(['gpt2-124m-random', 'gpt2-355m-random', 'gpt2-774m-random', 'gpt2-1.5b-random']);
    const params = (c: ModelConfig) => c.vocabSize * c.hiddenSize + c.contextLength * c.hiddenSize + c.numLayers * (12 * c.hiddenSize ** 2 + 13 * c.hiddenSize) + 2 * c.hiddenSize;
    expect(RANDOM_MODEL_NAMES.map((n) => Math.round(params(randomModelConfig(n)) / 1e6))).toEqual([124, 355, 774, 1558]);
    // The engine's own count, against GPT-2 124M's published parameter count.
    expect(parameterCount(randomModelConfig('gpt2-124m-random'))).toBe(124_439_808);
  });

  it('are seeded noise with the intended spread, never zeros, and an engine generates on them', async () => {
    const config: ModelConfig = { ...randomModelConfig('gpt2-124m-random'), vocabSize: 501, hiddenSize: 48, numHeads: 4, headDim: 12, numLayers: 2, intermediateSize: 192, contextLength: 64, attentionScale: () => 1 / Math.sqrt(12) };
    const a = await randomWeights(g.gpu, config, 7);
    const b = await randomWeights(g.gpu, config, 7);
    const c = await randomWeights(g.gpu, config, 8);
    const read = async (buffer: GPUBuffer) => new Float32Array(await readBack(g.gpu, buffer, buffer.size));
    const wte = await read(a.tokenEmbedding);
    expect(wte.length).toBe(501 * 48);
    const mean = wte.reduce((s, v) => s + v, 0) / wte.length;
    const std = Math.sqrt(wte.reduce((s, v) => s + (v - mean) ** 2, 0) / wte.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(std).toBeGreaterThan(0.018);
    expect(std).toBeLessThan(0.022);
    expect(new Set(wte).size).toBeGreaterThan(wte.length * 0.99);
    expect(Array.from(await read(b.tokenEmbedding))).toEqual(Array.from(wte));
    expect(Array.from(await read(c.tokenEmbedding))).not.toEqual(Array.from(wte));
    const gamma = await read(a.layers[0].ln1.weight);
    expect(Math.min(...gamma)).toBeGreaterThan(0.8);
    b.destroy();
    c.destroy();

    const engine = await Engine.fromWeights(g.gpu, { name: 'random', config, weights: a });
    const r1 = await engine.generate([1, 2, 3], { greedy: true, maxNewTokens: 8, stopAtEos: false }).result;
    const r2 = await engine.generate([1, 2, 3], { greedy: true, maxNewTokens: 8, stopAtEos: false }).result;
    expect(r1.ids).toHaveLength(8);
    expect(r2.ids).toEqual(r1.ids);
    const logits = await engine.logits([5, 6, 7]);
    expect(logits.every(Number.isFinite)).toBe(true);
    expect(new Set(logits).size).toBeGreaterThan(100);
    await engine.dispose();

    // f16 packing: two values per word, same spread once unpacked, and the engine runs on it.
    const half = await randomWeights(g.gpu, config, 7, 'f16');
    const words = new Uint8Array(await readBack(g.gpu, half.tokenEmbedding, half.tokenEmbedding.size));
    expect(words.byteLength).toBe(Math.ceil((501 * 48) / 2) * 4);
    const values = decodeToFloat32('F16', words).subarray(0, 501 * 48);
    const halfStd = Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
    expect(halfStd).toBeGreaterThan(0.018);
    expect(halfStd).toBeLessThan(0.022);
    const packed = await Engine.fromWeights(g.gpu, { name: 'random f16', config, weights: half });
    expect(packed.info.weightFormat).toBe('f16');
    expect((await packed.generate([1, 2, 3], { greedy: true, maxNewTokens: 4, stopAtEos: false }).result).ids).toHaveLength(4);
    await packed.dispose();
  });
});
