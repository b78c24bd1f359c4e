// CPU twin of shaders/sample.wgsl, written from the semantics in the shader's header (a sort of the whole row and
// BigInt sums), not from its radix select, so a test compares two derivations that must agree bit for bit: the
// generator word, the fixed-point weights, the kept set and the drawn id. `sampleFromLogitsRef` is the twin of the
// kernel's version 2, which computes the weights from logits and a temperature itself.
import { topPFixed } from '../../src/kernels/sample.ts';

const M32 = 0xffffffffn;

/** Philox-4x32-10 (Salmon et al. 2011; Random123's philox4x32 with 10 rounds), with BigInt products. */
export function philox4x32(counter: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = counter.map(BigInt);
  let [k0, k1] = key.map(BigInt);
  for (let r = 0; r < 10; r++) {
    const p0 = 0xd2511f53n * c0;
    const p1 = 0xcd9e8d57n * c2;
    [c0, c1, c2, c3] = [(p1 >> 32n) ^ c1 ^ k0, p1 & M32, (p0 >> 32n) ^ c3 ^ k1, p0 & M32];
    k0 = (k0 + 0x9e3779b9n) & M32;
    k1 = (k1 + 0xbb67ae85n) & M32;
  }
  return [c0, c1, c2, c3].map(Number);
}

/** The sampler's random word for token `index` of stream `stream` under `seed`. */
export function randomBits(seed: number, stream: number, index: number): number {
  return philox4x32([index, stream, 0, 0], [seed, 0])[0];
}

/** The uniform in [0, 1) the draw uses: the word's top 24 bits. */
export function uniform24(bits: number): number {
  return (bits >>> 8) / 2 ** 24;
}

export interface SampleRef {
  /** The drawn id; 0 when no probability is positive. */
  id: number;
  /** The row held a NaN or ±Inf. */
  nonFinite: boolean;
  /** The kept ids, ascending, with their fixed-point weights (for the statistical tests). */
  kept: number[];
  weights: bigint[];
}

/** Fixed-point weight of a positive f32 bit pattern: floor(p / 2^(eTop - 166)). */
export function weightRef(bits: number, eTop: number): bigint {
  const e = bits >>> 23;
  const m = BigInt(e === 0 ? bits & 0x7fffff : (bits & 0x7fffff) | 0x800000);
  const shift = Math.max(e, 1) - eTop + 16;
  return shift >= 0 ? m << BigInt(shift) : m >> BigInt(-shift);
}

/** What the kernel draws for one row of probabilities. */
export function sampleRef(probs: Float32Array, topK: number, topP: number, seed: number, index: number): SampleRef {
  const bits = new Uint32Array(Float32Array.from(probs).buffer);
  if (bits.some((b) => (b & 0x7f800000) === 0x7f800000)) return { id: 0, nonFinite: true, kept: [], weights: [] };
  // p > 0 and finite: sign clear, not zero (negative values and -0 are never drawn)
  const positive = Array.from(bits.keys()).filter((i) => bits[i] !== 0 && bits[i] < 0x80000000);
  if (positive.length === 0) return { id: 0, nonFinite: false, kept: [], weights: [] };
  const eTop = Math.max(Math.max(...positive.map((i) => bits[i])) >>> 23, 1);
  const w = (i: number) => weightRef(bits[i], eTop);
  let rank = positive.sort((a, b) => bits[b] - bits[a] || a - b);
  if (topK > 0) rank = rank.slice(0, topK);
  const p24 = BigInt(topPFixed(topP));
  if (p24 < 1n << 24n) {
    const total = rank.reduce((s, i) => s + w(i), 0n);
    const need = (p24 * total + (1n << 24n) - 1n) >> 24n;
    let running = 0n;
    let n = 0;
    while (running < need) running += w(rank[n++]);
    rank = rank.slice(0, n);
  }
  const kept = rank.sort((a, b) => a - b);
  const weights = kept.map(w);
  const total = weights.reduce((s, x) => s + x, 0n);
  const target = (BigInt(randomBits(seed, 0, index) >>> 8) * total) >> 24n;
  let running = 0n;
  for (const [n, id] of kept.entries()) {
    running += weights[n];
    if (running > target) return { id, nonFinite: false, kept, weights };
  }
  throw new Error('unreachable: the target is below the kept weight');
}

/**
 * The weights sample.wgsl's version 2 computes from a row of (penalized) logits, as softmax.wgsl does:
 * p = f32(exp(f32(f32(l - max) · f32(1/τ)))), max = the largest non-NaN logit, at least -3e38 (the kernel takes it from
 * argmax, whose scan skips NaN). `exp` defaults to Math.exp rounded to f32; WGSL lets a GPU's exp be off by
 * 3 + 2·|x| ulp (what `sampleFromLogitsRef` perturbs by to see whether a draw depends on that rounding).
 */
export function weightsFromLogits(logits: Float32Array, temperature: number, exp: (x: number, i: number) => number = Math.exp): Float32Array {
  let max = -3e38;
  for (const l of logits) if (l > max) max = l;
  max = Math.fround(max);
  const invT = Math.fround(1 / temperature);
  return Float32Array.from(logits, (l, i) => exp(Math.fround(Math.fround(l - max) * invT), i));
}

/**
 * What sample.wgsl's version 2 draws for one row of logits (temperature τ > 0), through `weightsFromLogits` and
 * `sampleRef`. `stable`: the same id and kept set come out when every exp is moved within WGSL's accuracy bound
 * (two seeded perturbations), so a GPU whose exp rounds differently must still agree; where it is false the draw sits
 * within that rounding of a boundary, and only a bit-exact comparison with the GPU's own weights (the softmax.wgsl
 * chain) decides.
 */
export function sampleFromLogitsRef(logits: Float32Array, temperature: number, topK: number, topP: number, seed: number, index: number): SampleRef & { stable: boolean } {
  const ref = sampleRef(weightsFromLogits(logits, temperature), topK, topP, seed, index);
  let stable = true;
  for (const salt of [1, 2]) {
    if (!stable || ref.nonFinite) break;
    const jitter = (x: number, i: number) => {
      let h = Math.imul(i ^ Math.imul(salt, 0x9e3779b9), 0x85ebca6b); // a cheap integer hash (murmur3's finalizer)
      h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
      const u = ((h ^ (h >>> 16)) >>> 0) / 2 ** 31 - 1; // in [-1, 1)
      return Number.isFinite(x) ? Math.exp(x) * (1 + u * (3 + 2 * Math.abs(x)) * 2 ** -24) : Math.exp(x); // exp(-Inf) = 0 exactly
    };
    const moved = sampleRef(weightsFromLogits(logits, temperature, jitter), topK, topP, seed, index);
    stable = moved.id === ref.id && moved.kept.length === ref.kept.length && moved.kept.every((id, n) => id === ref.kept[n]);
  }
  return { ...ref, stable };
}
