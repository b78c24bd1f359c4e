// Engine-wide figures for comparing runs and GPUs: latency percentiles over finished requests, throughput by step kind,
// preemptions, KV use and prefix reuse, and GPU time per step where the adapter has timestamp queries.
import type { GenerationMetrics } from './generationStream.ts';
import type { SchedulerOutput } from './scheduler.ts';

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
}

export interface EngineSummary {
  requests: number;
  ttftMs: Percentiles;
  itlMs: Percentiles;
  tpotMs: Percentiles;
  queueMs: Percentiles;
  /** Prompt tokens run per second of prefill steps. */
  prefillTokensPerSecond: number;
  /**
   * Generated tokens of all streams per second inside decode steps (the steps' own time, not wall-clock): not a
   * stream's rate over wall-clock, which also counts the prefill steps run between its tokens.
   */
  decodeTokensPerSecond: number;
  steps: { prefill: number; decode: number };
  /** Mean kernel dispatches and queue submits per step, by kind (what the launch chain costs). */
  dispatchesPerStep: { prefill: number; decode: number };
  submitsPerStep: { prefill: number; decode: number };
  preemptions: number;
  kv: { blockSize: number; totalBlocks: number; peakBlocksUsed: number; reusedPrefixBlocks: number };
  /** GPU time per step (layers and output head), by kind; only where the adapter has `timestamp-query`. */
  gpuMsPerStep?: { prefill: Percentiles; decode: Percentiles };
}

/** The p-th percentile (0–100) by linear interpolation between closest ranks (numpy's default); NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export function percentiles(values: readonly number[]): Percentiles {
  return { p50: percentile(values, 50), p90: percentile(values, 90), p99: percentile(values, 99) };
}

export class MetricsRecorder {
  private readonly finished: GenerationMetrics[] = [];
  private readonly steps = {
    prefill: { count: 0, tokens: 0, ms: 0, dispatches: 0, submits: 0, gpuMs: [] as number[] },
    decode: { count: 0, tokens: 0, ms: 0, dispatches: 0, submits: 0, gpuMs: [] as number[] },
  };
  private preemptions = 0;
  private reusedPrefixBlocks = 0;

  recordStep(out: SchedulerOutput, wallMs: number, work: { gpuMs?: number; dispatches: number; submits: number }): void {
    if (out.kind === 'idle') return;
    const s = this.steps[out.kind];
    s.count++;
    s.tokens += out.numTokens;
    s.ms += wallMs;
    s.dispatches += work.dispatches;
    s.submits += work.submits;
    if (work.gpuMs !== undefined) s.gpuMs.push(work.gpuMs);
    this.preemptions += out.preempted.length;
    this.reusedPrefixBlocks += out.reusedBlocks;
  }

  recordRequest(metrics: GenerationMetrics): void {
    this.finished.push(metrics);
  }

  summary(kv: { blockSize: number; totalBlocks: number; peakBlocksUsed: number }): EngineSummary {
    const all = (pick: (m: GenerationMetrics) => number | number[]) => this.finished.flatMap(pick).filter((v) => Number.isFinite(v));
    const { prefill, decode } = this.steps;
    return {
      requests: this.finished.length,
      ttftMs: percentiles(all((m) => m.ttftMs)),
      itlMs: percentiles(all((m) => m.itlMs)),
      tpotMs: percentiles(all((m) => m.tpotMs)),
      queueMs: percentiles(all((m) => m.queueMs)),
      prefillTokensPerSecond: prefill.ms > 0 ? (prefill.tokens / prefill.ms) * 1000 : 0,
      decodeTokensPerSecond: decode.ms > 0 ? (decode.tokens / decode.ms) * 1000 : 0,
      steps: { prefill: prefill.count, decode: decode.count },
      dispatchesPerStep: { prefill: prefill.count ? prefill.dispatches / prefill.count : 0, decode: decode.count ? decode.dispatches / decode.count : 0 },
      submitsPerStep: { prefill: prefill.count ? prefill.submits / prefill.count : 0, decode: decode.count ? decode.submits / decode.count : 0 },
      preemptions: this.preemptions,
      kv: { ...kv, reusedPrefixBlocks: this.reusedPrefixBlocks },
      ...(prefill.gpuMs.length + decode.gpuMs.length > 0 ? { gpuMsPerStep: { prefill: percentiles(prefill.gpuMs), decode: percentiles(decode.gpuMs) } } : {}),
    };
  }
}
