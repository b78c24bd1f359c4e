// One-line latency summaries for people: time to first token, inter-token latency percentiles, throughput.
import type { GenerationResult } from '../scheduler/generationStream.ts';
import { percentile, type EngineSummary } from '../scheduler/metrics.ts';

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
