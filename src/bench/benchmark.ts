// The benchmark protocol and its result record, shared by the CLI (`bench --json`) and the browser's benchmark mode,
// so a server GPU run in Node and a laptop run in a browser land in the same compare view.
//
// Protocol (fixed, so records are comparable):
//   A. Latency by prompt length: one request at a time; for each prompt length and repetition, a prompt of that many
//      tokens and `newTokens` new tokens. Gives TTFT by prompt length and single-stream ITL.
//   B. Throughput by concurrency: for each level c, c requests submitted together (prompt of `concurrencyPromptLength`
//      tokens each) and `newTokens` new tokens each. Gives ITL under load and total decode tokens/s.
// Prompts are seeded random token ids, distinct for every request, so the prefix cache never shortcuts a prefill.
// Generation is greedy (or, with `sampling`, sampled with a distinct seed per request, so a run replays) with
// end-of-sequence ignored, so every request produces exactly `newTokens` tokens.
import type { Engine } from '../engine.ts';
import type { AdapterSummary } from '../gpu/context.ts';
import type { GenerationMetrics } from '../scheduler/generationStream.ts';
import { percentiles, type EngineSummary, type Percentiles } from '../scheduler/metrics.ts';
import { Rng } from '../sampling/sampler.ts';
import { InvalidRequestError } from '../errors.ts';
import { optionsObject } from '../requestTypes.ts';

export const BENCH_FORMAT = 'gpt-webgpu-bench/1';

export interface BenchProtocol {
  promptLengths: number[];
  newTokens: number;
  repetitions: number;
  concurrency: number[];
  concurrencyPromptLength: number;
  seed: number;
  /** Absent: greedy. Otherwise every request samples with these settings (request n's seed: seed + n). */
  sampling?: { temperature: number; topK?: number; topP?: number };
}

export const DEFAULT_PROTOCOL: BenchProtocol = {
  promptLengths: [1, 32, 128],
  newTokens: 32,
  repetitions: 3,
  concurrency: [1, 4, 16],
  concurrencyPromptLength: 16,
  seed: 1,
};

export interface LatencyPoint {
  promptLength: number;
  ttftMs: Percentiles;
  itlMs: Percentiles;
  /** Prompt tokens per second of TTFT. */
  prefillTokensPerSecond: number;
}

export interface ConcurrencyPoint {
  concurrency: number;
  ttftMs: Percentiles;
  itlMs: Percentiles;
  /**
   * Generated tokens of all streams per second of wall-clock time, from submission to the last token (so prefill
   * counts). Not `summary.decodeTokensPerSecond`, which is the engine's rate inside decode steps only.
   */
  decodeTokensPerSecond: number;
}

export interface BenchRecord {
  format: typeof BENCH_FORMAT;
  createdAt: string;
  /** Free-form label (defaults to the adapter and runtime). */
  label: string;
  environment: { runtime: 'node' | 'browser'; userAgent?: string; nodeVersion?: string; platform?: string };
  adapter: AdapterSummary & { features: string[]; limits: Record<string, number> };
  model: { name: string; family: string; layers: number; hidden: number; heads: number; vocab: number; contextLength: number; parameters: number; dtype: string; weightFormat: string; weightBytes: number; kvBytes: number };
  protocol: BenchProtocol;
  latency: LatencyPoint[];
  throughput: ConcurrencyPoint[];
  /** Every inter-token gap measured, in ms (for distribution charts). */
  itlSamplesMs: number[];
  summary: EngineSummary;
  /** Every request's metrics, by phase. */
  requests: { phase: 'latency' | 'throughput'; promptLength: number; concurrency: number; metrics: GenerationMetrics }[];
}

export interface BenchOptions {
  protocol?: Partial<BenchProtocol>;
  label?: string;
  environment: BenchRecord['environment'];
  onProgress?: (message: string, fraction: number) => void;
  signal?: AbortSignal;
}

/** Runs the protocol on `engine` and returns the record. */
export async function runBenchmark(engine: Engine, options: BenchOptions): Promise<BenchRecord> {
  options = optionsObject(options, 'the benchmark options');
  const protocol = { ...DEFAULT_PROTOCOL, ...options.protocol };
  const context = engine.config.contextLength;
  const fit = (length: number) => Math.max(1, Math.min(length, context - protocol.newTokens));
  const rng = new Rng(protocol.seed);
  const randomPrompt = (length: number) => Array.from({ length }, () => Math.floor(rng.next() * engine.config.vocabSize));
  let requestCount = 0;
  const generation = () =>
    ({
      ...(protocol.sampling ? { ...protocol.sampling, seed: (protocol.seed + requestCount++) >>> 0 } : { greedy: true }),
      maxNewTokens: protocol.newTokens,
      stopAtEos: false,
      signal: options.signal,
    }) as const;
  const requests: BenchRecord['requests'] = [];
  const total = protocol.promptLengths.length * protocol.repetitions + protocol.concurrency.length;
  let done = 0;
  const progress = (message: string) => options.onProgress?.(message, done / total);

  // Warm-up (one short request), then the engine's figures start afresh: the record covers the protocol only.
  await engine.generate(randomPrompt(fit(8)), { ...generation(), maxNewTokens: 2 }).result;
  engine.resetMetrics();

  const latency: LatencyPoint[] = [];
  for (const requested of protocol.promptLengths) {
    const promptLength = fit(requested);
    const metrics: GenerationMetrics[] = [];
    for (let r = 0; r < protocol.repetitions; r++) {
      progress(`prompt of ${promptLength} ${promptLength === 1 ? 'token' : 'tokens'}, run ${r + 1}/${protocol.repetitions}`);
      const m = (await engine.generate(randomPrompt(promptLength), generation()).result).metrics;
      metrics.push(m);
      requests.push({ phase: 'latency', promptLength, concurrency: 1, metrics: m });
      done++;
    }
    const ttfts = metrics.map((m) => m.ttftMs);
    latency.push({
      promptLength,
      ttftMs: percentiles(ttfts),
      itlMs: percentiles(metrics.flatMap((m) => m.itlMs)),
      prefillTokensPerSecond: (promptLength / (ttfts.reduce((a, b) => a + b, 0) / ttfts.length)) * 1000,
    });
  }

  const throughput: ConcurrencyPoint[] = [];
  for (const requested of protocol.concurrency) {
    const concurrency = Math.min(requested, engine.info.maxSequences);
    progress(`${concurrency} concurrent ${concurrency === 1 ? 'stream' : 'streams'}`);
    const promptLength = fit(protocol.concurrencyPromptLength);
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: concurrency }, () => engine.generate(randomPrompt(promptLength), generation()).result));
    const seconds = (performance.now() - started) / 1000;
    for (const r of results) requests.push({ phase: 'throughput', promptLength, concurrency, metrics: r.metrics });
    throughput.push({
      concurrency,
      ttftMs: percentiles(results.map((r) => r.metrics.ttftMs)),
      itlMs: percentiles(results.flatMap((r) => r.metrics.itlMs)),
      decodeTokensPerSecond: results.reduce((n, r) => n + r.ids.length, 0) / seconds,
    });
    done++;
  }
  progress('done');

  const info = engine.info;
  const limits = engine.gpu.limits as unknown as Record<string, number>;
  return {
    format: BENCH_FORMAT,
    createdAt: new Date().toISOString(),
    label: options.label ?? `${info.adapter.device || info.adapter.description || info.adapter.vendor} (${options.environment.runtime})`,
    environment: options.environment,
    adapter: {
      ...info.adapter,
      features: [...engine.gpu.device.features].sort(),
      limits: Object.fromEntries(['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage'].map((k) => [k, limits[k]])),
    },
    model: {
      name: displayName(info.model),
      family: info.family,
      layers: engine.config.numLayers,
      hidden: engine.config.hiddenSize,
      heads: engine.config.numHeads,
      vocab: engine.config.vocabSize,
      contextLength: context,
      parameters: info.parameters,
      dtype: info.dtype,
      weightFormat: info.weightFormat,
      weightBytes: info.weightBytes,
      kvBytes: info.kvBytes,
    },
    protocol,
    latency,
    throughput,
    itlSamplesMs: requests.flatMap((r) => r.metrics.itlMs),
    summary: engine.summary(),
    requests,
  };
}

/** A model's name for people and records: "org/name" for Hub URLs, the last part of any other URL or path (so records
 *  carry no machine paths). */
export function displayName(model: string): string {
  const hub = /\/\/[^/]+\/([^/]+\/[^/]+)\/resolve\//.exec(model);
  if (hub) return hub[1];
  const trimmed = model.replace(/[/\\]+$/, '');
  return trimmed.split(/[/\\]/).pop() || trimmed;
}

/** Checks that `value` is a benchmark record (for the compare view's file loader); throws with what is wrong. */
export function parseBenchRecord(value: unknown, name = 'record'): BenchRecord {
  const r = value as Partial<BenchRecord> | null;
  if (!r || typeof r !== 'object') throw new InvalidRequestError(`${name} is not a JSON object`);
  if (r.format !== BENCH_FORMAT) {
    throw new InvalidRequestError(`${name} is not a gpt-webgpu benchmark record (${r.format === undefined ? 'it has no "format" field' : `format ${JSON.stringify(r.format)}`}; expected ${BENCH_FORMAT})`);
  }
  for (const key of ['adapter', 'model', 'protocol', 'latency', 'throughput', 'summary'] as const) {
    if (r[key] === undefined) throw new InvalidRequestError(`${name} has no "${key}"`);
  }
  return r as BenchRecord;
}
