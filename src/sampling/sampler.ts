// The sampling options of a request, checked and completed into a plan. The choice itself runs on the GPU: greedy
// (shaders/argmax.wgsl), or repetition penalty → temperature → top-k → top-p → a draw keyed by (seed, token index)
// (shaders/sample.wgsl, whose header defines the semantics, as Hugging Face's logits processors; the CPU twin is
// test/reference/sampling.ts). Also a small seeded generator for the benchmark's prompts.
import { InvalidRequestError } from '../errors.ts';
import { describeValue } from '../requestTypes.ts';

export interface SamplingOptions {
  /** Always take the most likely token (the default when no sampling option is given). */
  greedy?: boolean;
  /** > 0; 1 leaves the distribution as it is. */
  temperature?: number;
  /** Keep the k most likely tokens (0 or undefined: no limit). */
  topK?: number;
  /** Keep the most likely tokens up to cumulative probability p, in (0, 1]. */
  topP?: number;
  /** Seed of the sampling generator (an unsigned 32-bit integer). */
  seed?: number;
}

export type SamplingPlan = { greedy: true } | { greedy: false; temperature: number; topK: number; topP: number; seed: number };

/** Checks the options and fills defaults; nonsense values become InvalidRequestError. */
export function planSampling(o: SamplingOptions): SamplingPlan {
  const sampling = o.temperature !== undefined || o.topK !== undefined || o.topP !== undefined;
  if (o.greedy && sampling) throw new InvalidRequestError('greedy decoding takes no temperature, top-k or top-p; drop one or the other');
  if (o.temperature !== undefined && !(Number.isFinite(o.temperature) && o.temperature >= 0)) {
    throw new InvalidRequestError(`temperature must be a number ≥ 0, got ${describeValue(o.temperature)}`);
  }
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) throw new InvalidRequestError(`top-k must be an integer ≥ 0, got ${describeValue(o.topK)}`);
  if (o.topP !== undefined && !(typeof o.topP === 'number' && o.topP > 0 && o.topP <= 1)) throw new InvalidRequestError(`top-p must be in (0, 1], got ${describeValue(o.topP)}`);
  if (o.seed !== undefined && !(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff)) {
    throw new InvalidRequestError(`seed must be an integer from 0 to 4294967295, got ${describeValue(o.seed)}`);
  }
  // Temperature 0 is the limit of sampling: greedy (as most serving APIs treat it).
  if (!sampling || o.greedy || o.temperature === 0 || o.topK === 1) return { greedy: true };
  return { greedy: false, temperature: o.temperature ?? 1, topK: o.topK ?? 0, topP: o.topP ?? 1, seed: o.seed ?? (Math.random() * 2 ** 32) >>> 0 };
}

/** xoshiro128** seeded through splitmix32: small, fast, and the same sequence in every JS engine (the benchmark's prompts). */
export class Rng {
  private s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** Uniform in [0, 1). */
  next(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result / 4294967296;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
