// Sampling on the GPU (shaders/sample.wgsl): top-k, top-p and a counter-based draw per row of probabilities, so only
// one token id per row comes back. Its exact semantics are in the shader's header; the CPU twin is
// test/reference/sampling.ts.
import template from '../../shaders/sample.wgsl?raw';
import type { GpuContext } from '../gpu/context.ts';
import { computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

export interface SampleArgs {
  probs: GPUBuffer; // (R, V) f32, softmaxed with the row's temperature
  settings: GPUBuffer; // (R, SAMPLE_SETTINGS_WORDS) u32: active, top_k, top_p (24-bit fraction), seed, token index
  drawn: GPUBuffer; // (R) u32: id | NON_FINITE_FLAG
  vocab: number; // V
  /** Test variant: write the generator's raw word for each row's (seed, index) instead of sampling. */
  bitsOnly?: boolean;
}

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
  const pipeline = computePipeline(gpu, 'sample', template, { BITS_ONLY: a.bitsOnly === true });
  return new KernelCall(gpu, label, pipeline, [a.probs, a.settings, a.drawn], (rows) => ({
    params: new Params().u32('rows', rows).u32('vocab', a.vocab),
    grid: [rows],
  }));
}
