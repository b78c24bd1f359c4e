// Sampling: option checks, the benchmark's seeded generator, the draw generator against published vectors, and the
// top-k / top-p semantics of the GPU sampler's CPU twin against hand-built distributions.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planSampling, Rng } from '../../src/sampling/sampler.ts';
import { philox4x32, randomBits, sampleRef, uniform24 } from '../reference/sampling.ts';
import { InvalidRequestError } from '../../src/errors.ts';

describe('planSampling', () => {
  it('is greedy by default, with temperature 0, and with top-k 1', () => {
    expect(planSampling({})).toEqual({ greedy: true });
    expect(planSampling({ greedy: true })).toEqual({ greedy: true });
    expect(planSampling({ temperature: 0 })).toEqual({ greedy: true });
    expect(planSampling({ topK: 1, temperature: 2 })).toEqual({ greedy: true });
  });

  it('fills defaults for sampling', () => {
    expect(planSampling({ temperature: 0.7, seed: 5 })).toEqual({ greedy: false, temperature: 0.7, topK: 0, topP: 1, seed: 5 });
    expect(planSampling({ topP: 0.9, seed: 1 })).toMatchObject({ greedy: false, temperature: 1, topP: 0.9 });
  });

  it.each([
    [{ temperature: -0.1 }, /temperature/],
    [{ temperature: Number.NaN }, /temperature/],
    [{ topK: -1 }, /top-k/],
    [{ topK: 2.5 }, /top-k/],
    [{ topP: 0 }, /top-p/],
    [{ topP: 1.01 }, /top-p/],
    [{ seed: -1 }, /seed/],
    [{ seed: 2 ** 32 }, /seed/],
    [{ greedy: true, topP: 0.5 }, /greedy/],
  ])('%j is rejected', (options, message) => {
    expect(() => planSampling(options)).toThrow(InvalidRequestError);
    expect(() => planSampling(options)).toThrow(message);
  });
});

describe('Rng', () => {
  it('is deterministic per seed, uniform in [0, 1), and seeds differ', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const xs = Array.from({ length: 20000 }, () => a.next());
    expect(Array.from({ length: 20000 }, () => b.next())).toEqual(xs);
    expect(Array.from({ length: 5 }, () => c.next())).not.toEqual(xs.slice(0, 5));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    // ten equal bins each hold about a tenth
    const bins = new Array(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]++;
    for (const n of bins) expect(Math.abs(n - 2000)).toBeLessThan(200);
  });
});

describe('Philox-4x32-10 (the draw generator, CPU twin)', () => {
  // Random123's published known-answer vectors (kat_vectors), not values from this code.
  it.each([
    [[0, 0, 0, 0], [0, 0], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]],
    [[0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]],
    [[0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0], [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]],
  ])('counter %j key %j', (counter, key, want) => {
    expect(philox4x32(counter, key)).toEqual(want);
  });

  it('keys the word by seed, stream and token index; uniforms are 24-bit, in [0, 1)', () => {
    const a = randomBits(42, 0, 7);
    expect(randomBits(42, 0, 7)).toBe(a);
    expect(new Set([a, randomBits(43, 0, 7), randomBits(42, 1, 7), randomBits(42, 0, 8)]).size).toBe(4);
    const xs = Array.from({ length: 20000 }, (_, i) => uniform24(randomBits(5, 0, i)));
    expect(xs.every((x) => x >= 0 && x < 1 && Number.isInteger(x * 2 ** 24))).toBe(true);
    const bins = new Array(10).fill(0);
    for (const x of xs) bins[Math.floor(x * 10)]++;
    for (const n of bins) expect(Math.abs(n - 2000)).toBeLessThan(200);
  });
});

describe('the sampling semantics (CPU twin of shaders/sample.wgsl)', () => {
  const probs = Float32Array.from([0.05, 0.4, 0.1, 0.3, 0.15]); // order by probability: 1, 3, 4, 2, 0

  const frequencies = (topK: number, topP: number, draws = 40000) => {
    const counts = new Array(probs.length).fill(0);
    for (let i = 0; i < draws; i++) counts[sampleRef(probs, topK, topP, 7, i).id]++;
    return counts.map((c) => c / draws);
  };

  it('without filters follows the distribution', () => {
    frequencies(0, 1).forEach((f, i) => expect(Math.abs(f - probs[i])).toBeLessThan(0.01));
  });

  it('top-k keeps the k most likely, renormalized', () => {
    const f = frequencies(2, 1);
    expect(f[0] + f[2] + f[4]).toBe(0);
    expect(Math.abs(f[1] - 0.4 / 0.7)).toBeLessThan(0.01);
    expect(Math.abs(f[3] - 0.3 / 0.7)).toBeLessThan(0.01);
  });

  it('top-p keeps the smallest most-likely set reaching p (the token that crosses p included)', () => {
    // 0.4 < 0.5 ≤ 0.4 + 0.3: tokens 1 and 3
    expect(sampleRef(probs, 0, 0.5, 1, 0).kept).toEqual([1, 3]);
    expect(Math.abs(frequencies(0, 0.5)[1] - 0.4 / 0.7)).toBeLessThan(0.01);
    // p below the top probability keeps only the top token
    expect(frequencies(0, 0.1, 1000)[1]).toBe(1);
    // 0.4 + 0.3 + 0.15 = 0.85 ≥ 0.8: three tokens
    expect(sampleRef(probs, 0, 0.8, 1, 0).kept).toEqual([1, 3, 4]);
  });

  it('top-k then top-p, with p relative to the top-k set (renormalized, as Hugging Face applies it)', () => {
    // top-3 = {1, 3, 4}, mass 0.85; 0.6 · 0.85 = 0.51: 0.4 < 0.51 ≤ 0.7 → {1, 3}
    expect(sampleRef(probs, 3, 0.6, 1, 0).kept).toEqual([1, 3]);
    // top-2 = {1, 3}, mass 0.7; 0.9 · 0.7 = 0.63 > 0.4 → both
    expect(sampleRef(probs, 2, 0.9, 1, 0).kept).toEqual([1, 3]);
    // 0.5 · 0.7 = 0.35 ≤ 0.4 → token 1 alone
    expect(sampleRef(probs, 2, 0.5, 1, 0).kept).toEqual([1]);
  });

  it('ties go to the lower id; zeros, negatives and -0 are never kept; NaN / ±Inf are flagged', () => {
    expect(sampleRef(Float32Array.from([0.2, 0.3, 0.3, 0.2]), 1, 1, 1, 0).kept).toEqual([1]);
    expect(sampleRef(Float32Array.from([0.2, 0.3, 0.3, 0.2]), 3, 1, 1, 0).kept).toEqual([0, 1, 2]);
    expect(sampleRef(Float32Array.from([0, -0.5, -0, 0.25]), 0, 1, 1, 0).kept).toEqual([3]);
    expect(sampleRef(new Float32Array(3), 0, 1, 1, 0)).toMatchObject({ id: 0, nonFinite: false });
    for (const bad of [NaN, Infinity, -Infinity]) expect(sampleRef(Float32Array.from([0.5, bad]), 0, 1, 1, 0).nonFinite).toBe(true);
  });

  it('always returns a kept token of positive probability, the same for the same (seed, index) (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 50 }), fc.nat(10), fc.double({ min: 0.01, max: 1, noNaN: true }), fc.nat(), fc.nat(), (raw, topK, topP, seed, index) => {
        const p = Float32Array.from(raw);
        const { id, kept } = sampleRef(p, topK, topP, seed >>> 0, index);
        expect(sampleRef(p, topK, topP, seed >>> 0, index).id).toBe(id);
        expect(id).toBeGreaterThanOrEqual(0);
        expect(id).toBeLessThan(p.length);
        if (p.some((x) => x > 0)) {
          expect(p[id]).toBeGreaterThan(0);
          expect(kept).toContain(id);
          if (topK > 0) expect(kept.length).toBeLessThanOrEqual(topK);
        }
      }),
    );
  });
});
