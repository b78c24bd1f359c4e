// One-line latency summaries for people: time to first token, inter-token latency percentiles, throughput.
import type { GenerationResult } from '../scheduler/generationStream.ts';
import { percentile, type EngineSummary } from '../scheduler/metrics.ts';
import type { BenchRecord } from '../bench/benchmark.ts';

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

export function summarizeEngine(s: EngineSummary): string {
  const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)}` : 'n/a');
  return (
    `${s.requests} request(s): TTFT p50/p90/p99 ${ms(s.ttftMs.p50)}/${ms(s.ttftMs.p90)}/${ms(s.ttftMs.p99)} ms | ` +
    `ITL p50/p90/p99 ${ms(s.itlMs.p50)}/${ms(s.itlMs.p90)}/${ms(s.itlMs.p99)} ms | ` +
    `prefill ${s.prefillTokensPerSecond.toFixed(0)} tok/s, decode ${s.decodeTokensPerSecond.toFixed(1)} tok/s | ` +
    `steps ${s.steps.prefill} prefill + ${s.steps.decode} decode, ${s.preemptions} preemption(s) | ` +
    `KV ${s.kv.peakBlocksUsed}/${s.kv.totalBlocks} blocks of ${s.kv.blockSize} at peak, ${s.kv.reusedPrefixBlocks} reused from the prefix cache`
  );
}

/** The benchmark record as a small table for people. */
export function describeBench(r: BenchRecord): string {
  const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
  const lines = [
    `${r.label} | ${r.model.name} (${r.model.family}, ${r.model.layers}×${r.model.hidden}, ${r.model.dtype}, ${r.model.weightFormat ?? 'f32'} on the GPU) | ${r.createdAt}`,
    `weights ${(r.model.weightBytes / 2 ** 20).toFixed(1)} MiB, KV pool ${(r.model.kvBytes / 2 ** 20).toFixed(1)} MiB | ` +
      `per decode step: ${f(r.summary.dispatchesPerStep.decode, 0)} dispatches, ${f(r.summary.submitsPerStep.decode, 1)} submits` +
      (r.summary.gpuMsPerStep ? ` | GPU ms per decode step p50 ${f(r.summary.gpuMsPerStep.decode.p50, 3)}` : ''),
    'prompt tokens   TTFT p50 ms   ITL p50 ms   prefill tok/s',
    ...r.latency.map((p) => `${String(p.promptLength).padStart(13)}   ${f(p.ttftMs.p50).padStart(11)}   ${f(p.itlMs.p50).padStart(10)}   ${f(p.prefillTokensPerSecond, 0).padStart(13)}`),
    'streams   ITL p50 ms   ITL p90 ms   decode tok/s (all streams)',
    ...r.throughput.map((p) => `${String(p.concurrency).padStart(7)}   ${f(p.itlMs.p50).padStart(10)}   ${f(p.itlMs.p90).padStart(10)}   ${f(p.decodeTokensPerSecond).padStart(12)}`),
  ];
  return lines.join('\n');
}
