// Sampling on the GPU (shaders/sample.wgsl): top-k, top-p and a counter-based draw per row, so only one token id per
// row comes back. Version 1 reads the row's weights from a probabilities buffer (softmax.wgsl's output); version 2, the
// engine's, computes them from the penalized logits, argmax's ids and 1/τ as it reads them, with softmax.wgsl's
// expression, so it draws what version 1 draws after softmax.wgsl without that pass. Its exact semantics are in the
// shader's header; the CPU twin is test/reference/sampling.ts.
import template from '../../shaders/sample.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

/** Version 2's inputs: the weights are exp((logit - max) · invTemperature), computed in the kernel. */
export interface SampleFromLogits {
  logits: GPUBuffer; // (R, V) f32, after the repetition penalty
  argmaxIds: GPUBuffer; // (R) u32: argmax.wgsl's output for these logits (id | NON_FINITE_FLAG): the row max's index
  invTemperature: GPUBuffer; // (R) f32, 1/τ per row, as softmax.wgsl reads it
}

interface SampleCommon {
  settings: GPUBuffer; // (R, SAMPLE_SETTINGS_WORDS) u32: active, top_k, top_p (24-bit fraction), seed, token index
  drawn: GPUBuffer; // (R) u32: id | NON_FINITE_FLAG
  vocab: number; // V
  /** Test variant (version 1 only): write the generator's raw word for each row's (seed, index) instead of sampling. */
  bitsOnly?: boolean;
}

/** Exactly one input: `probs` (version 1: (R, V) f32 non-negative weights, e.g. softmax.wgsl's) or `fromLogits`. */
export type SampleArgs = SampleCommon & ({ probs: GPUBuffer; fromLogits?: undefined } | { probs?: undefined; fromLogits: SampleFromLogits });

/** u32 words of one row's settings (struct RowSettings). */
export const SAMPLE_SETTINGS_WORDS = 5;

/** What the shader means by top-p: p as a 24-bit fraction, rounded up, so p = 1 is exactly 2^24 (no top-p). */
export function topPFixed(topP: number): number {
  return Math.min(2 ** 24, Math.max(1, Math.ceil(topP * 2 ** 24)));
}

/** One row's settings as the shader reads them; `active` false marks a greedy row the kernel skips. */
export interface SampleRow {
  active: boolean;
  topK: number;
  topP: number;
  seed: number;
  tokenIndex: number;
}

export function packSampleSettings(rows: readonly SampleRow[]): Uint32Array<ArrayBuffer> {
  const out = new Uint32Array(Math.max(1, rows.length) * SAMPLE_SETTINGS_WORDS);
  rows.forEach((r, i) => out.set([r.active ? 1 : 0, r.topK, topPFixed(r.topP), r.seed >>> 0, r.tokenIndex], i * SAMPLE_SETTINGS_WORDS));
  return out;
}

export function sample(gpu: GpuContext, label: string, a: SampleArgs): KernelCall {
  const f = a.fromLogits;
  if (f && a.bitsOnly) throw new Error(`${label}: the bits-only variant reads no logits; pass probs`);
  const pipeline = computePipeline(gpu, 'sample', template, { BITS_ONLY: a.bitsOnly === true, FROM_LOGITS: f !== undefined });
  const buffers = a.fromLogits ? [a.fromLogits.logits, a.settings, a.drawn, a.fromLogits.argmaxIds, a.fromLogits.invTemperature] : [a.probs, a.settings, a.drawn];
  return new KernelCall(gpu, label, pipeline, buffers, (rows) => ({
    params: new Params().u32('rows', rows).u32('vocab', a.vocab),
    grid: [rows],
  }));
}
