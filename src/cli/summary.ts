// One-line latency summaries for people: time to first token, inter-token latency percentiles, throughput.
// Two different decode rates exist and each is named for what it measures: a stream's own rate over wall-clock time
// (its tokens after the first, over the gaps between them, so queueing beside other streams counts) and the engine's
// rate inside decode steps (tokens of every stream, over the time the decode steps themselves took).
import type { GenerationResult } from '../scheduler/generationStream.ts';
import { percentile, type EngineSummary } from '../scheduler/metrics.ts';
import type { BenchRecord } from '../bench/benchmark.ts';

/** "1 token", "2 tokens". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

export function summarizeLatency(result: GenerationResult): string {
  const m = result.metrics;
  const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : 'n/a');
  const decodeSeconds = m.itlMs.reduce((a, b) => a + b, 0) / 1000;
  const rate = decodeSeconds > 0 ? `${(m.itlMs.length / decodeSeconds).toFixed(1)} tok/s` : 'n/a';
  const reason = result.finishReason;
  return (
    `TTFT ${ms(m.ttftMs)} | ITL p50 ${ms(percentile(m.itlMs, 50))} p90 ${ms(percentile(m.itlMs, 90))} | decode ${rate} (this stream, over wall-clock) | ` +
    `${plural(m.generatedTokens, 'token')} (${reason}), prompt of ${plural(m.promptTokens, 'token')}`
  );
}

export function summarizeEngine(s: EngineSummary): string {
  const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)}` : 'n/a');
  return (
    `${plural(s.requests, 'request')}: TTFT p50/p90/p99 ${ms(s.ttftMs.p50)}/${ms(s.ttftMs.p90)}/${ms(s.ttftMs.p99)} ms | ` +
    `ITL p50/p90/p99 ${ms(s.itlMs.p50)}/${ms(s.itlMs.p90)}/${ms(s.itlMs.p99)} ms | ` +
    `prefill ${s.prefillTokensPerSecond.toFixed(0)} tok/s, decode ${s.decodeTokensPerSecond.toFixed(1)} tok/s (all streams, inside decode steps) | ` +
    `steps ${s.steps.prefill} prefill + ${s.steps.decode} decode, ${plural(s.preemptions, 'preemption')} | ` +
    `KV ${s.kv.peakBlocksUsed}/${plural(s.kv.totalBlocks, 'block')} of ${s.kv.blockSize} at peak, ${s.kv.reusedPrefixBlocks} reused from the prefix cache`
  );
}

/** The benchmark record as a small table for people. */
function describeSampling(s: BenchRecord['protocol']['sampling']): string {
  if (!s) return 'greedy';
  return `sampled: temperature ${s.temperature}${s.topK ? `, top-k ${s.topK}` : ''}${s.topP !== undefined && s.topP < 1 ? `, top-p ${s.topP}` : ''}`;
}

export function describeBench(r: BenchRecord): string {
  const f = (v: number, digits = 1) => (Number.isFinite(v) ? v.toFixed(digits) : 'n/a');
  const lines = [
    `${r.label} | ${r.model.name} (${r.model.family}, ${r.model.layers}×${r.model.hidden}, ${r.model.dtype}, ${r.model.weightFormat ?? 'f32'} on the GPU) | ${describeSampling(r.protocol.sampling)} | ${r.createdAt}`,
    `weights ${(r.model.weightBytes / 2 ** 20).toFixed(1)} MiB, KV pool ${(r.model.kvBytes / 2 ** 20).toFixed(1)} MiB | ` +
      `per decode step: ${f(r.summary.dispatchesPerStep.decode, 0)} dispatches, ${f(r.summary.submitsPerStep.decode, 1)} submits` +
      (r.summary.gpuMsPerStep ? ` | GPU ms per decode step p50 ${f(r.summary.gpuMsPerStep.decode.p50, 3)}` : ''),
    'prompt tokens   TTFT p50 ms   ITL p50 ms   prefill tok/s',
    ...r.latency.map((p) => `${String(p.promptLength).padStart(13)}   ${f(p.ttftMs.p50).padStart(11)}   ${f(p.itlMs.p50).padStart(10)}   ${f(p.prefillTokensPerSecond, 0).padStart(13)}`),
    'streams   ITL p50 ms   ITL p90 ms   decode tok/s (all streams, submission to last token)',
    ...r.throughput.map((p) => `${String(p.concurrency).padStart(7)}   ${f(p.itlMs.p50).padStart(10)}   ${f(p.itlMs.p90).padStart(10)}   ${f(p.decodeTokensPerSecond).padStart(12)}`),
  ];
  return lines.join('\n');
}
