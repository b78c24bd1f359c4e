// Sampling: option checks, the seeded generator, and top-k / top-p semantics against hand-built distributions.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { planSampling, Rng, sampleToken } from '../../src/sampling/sampler.ts';
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

describe('sampleToken', () => {
  const probs = Float32Array.from([0.05, 0.4, 0.1, 0.3, 0.15]); // order by probability: 1, 3, 4, 2, 0

  const frequencies = (topK: number, topP: number, draws = 40000) => {
    const rng = new Rng(7);
    const counts = new Array(probs.length).fill(0);
    for (let i = 0; i < draws; i++) counts[sampleToken(probs, topK, topP, rng)]++;
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
    const f = frequencies(0, 0.5);
    expect(f[0] + f[2] + f[4]).toBe(0);
    expect(Math.abs(f[1] - 0.4 / 0.7)).toBeLessThan(0.01);
    // p below the top probability keeps only the top token
    expect(frequencies(0, 0.1, 1000)[1]).toBe(1);
    // 0.4 + 0.3 + 0.15 = 0.85 ≥ 0.8: three tokens
    const g = frequencies(0, 0.8);
    expect(g[0] + g[2]).toBe(0);
    expect(g[4]).toBeGreaterThan(0.1);
  });

  it('top-k then top-p, as Hugging Face applies them', () => {
    const f = frequencies(3, 0.6); // top-3 = {1, 3, 4}; cumulative 0.4, 0.7 → {1, 3}
    expect(f[4] + f[0] + f[2]).toBe(0);
  });

  it('always returns a token with positive probability (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 50 }), fc.nat(10), fc.double({ min: 0.01, max: 1 }), fc.nat(), (raw, topK, topP, seed) => {
        const p = Float32Array.from(raw);
        const id = sampleToken(p, topK, topP, new Rng(seed));
        expect(id).toBeGreaterThanOrEqual(0);
        expect(id).toBeLessThan(p.length);
        if (p.some((x) => x > 0)) expect(p[id]).toBeGreaterThan(0);
      }),
    );
  });
});
