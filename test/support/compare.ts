// Tolerance checks in the llm.c style: |got − want| ≤ atol + rtol · |want| per element; a failure lists the first
// mismatching indices with both values instead of a bare "not equal".
import { expect } from 'vitest';

export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol = 0, what = 'values'): void {
  expect(got.length, `${what}: length`).toBe(want.length);
  const bad: string[] = [];
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    const err = Math.abs(got[i] - want[i]);
    const ok = err <= atol + rtol * Math.abs(want[i]);
    if (!ok || Number.isNaN(got[i])) {
      if (bad.length < 5) bad.push(`[${i}] computed ${got[i]} vs answer ${want[i]} (|err| ${err.toExponential(2)})`);
      else if (bad.length === 5) bad.push('…');
    }
    if (err > worst) worst = err;
  }
  expect(bad, `${what}: max |err| ${worst.toExponential(2)}, tolerance ${atol} + ${rtol}·|ref|`).toEqual([]);
}

/** Deterministic uniform random numbers in [lo, hi) (mulberry32), so a failing case can be rerun. */
export function seededRandom(seed: number): (lo?: number, hi?: number) => number {
  let a = seed >>> 0;
  return (lo = -1, hi = 1) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return lo + (hi - lo) * u;
  };
}

export function randomArray(n: number, rand: (lo?: number, hi?: number) => number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rand(lo, hi);
  return out;
}

/** Bit-for-bit equality of two float arrays (the batch-invariance contract); a failure names the first differences. */
export function expectSameBits(a: Float32Array, b: Float32Array, what = 'values'): void {
  expect(b.length, `${what}: length`).toBe(a.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const diff: string[] = [];
  for (let i = 0; i < ua.length && diff.length < 5; i++) {
    if (ua[i] !== ub[i]) diff.push(`[${i}] ${a[i]} vs ${b[i]}`);
  }
  expect(diff, `${what}: not bit-identical`).toEqual([]);
}
