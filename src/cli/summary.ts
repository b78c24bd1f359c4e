// One-line latency summaries for people: time to first token, inter-token latency percentiles, throughput.
import type { GenerationResult } from '../scheduler/generationStream.ts';

/** The p-th percentile (0–100) of `values` by linear interpolation between closest ranks (numpy's default). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
}

export function summarizeLatency(result: GenerationResult): string {
  const m = result.metrics;
  const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');
  const decodeSeconds = m.itlMs.reduce((a, b) => a + b, 0) / 1000;
  const rate = decodeSeconds > 0 ? `${(m.itlMs.length / decodeSeconds).toFixed(1)} tok/s` : 'n/a';
  return (
    `TTFT ${ms(m.ttftMs)} | ITL p50 ${ms(percentile(m.itlMs, 50))} p90 ${ms(percentile(m.itlMs, 90))} | decode ${rate} | ` +
    `${m.generatedTokens} tokens (${result.finishReason}), prompt ${m.promptTokens} tokens`
  );
}
