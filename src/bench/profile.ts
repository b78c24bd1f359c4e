// `bench --profile`: GPU time of each call site of a decode step, in the manner of llm.c's dev/cuda kernel harness.
// For each shape (M rows = sequences decoding together, each with `context` positions, so attention reads that many
// keys through real block tables), each call site of the step (TransformerPlan.profileSites: the embedding, layer 0's
// sites, the head's) is encoded `repeats` times in one compute pass, on the same buffers: the repeats are dependent,
// as the dispatches of a real step are, so time / repeats = the site's cost in a step (the gap between dependent
// dispatches + the kernel). With timestamp queries the pass is bracketed by two timestamp writes, so their quantum
// (up to 100 µs in Chromium) is divided by the repeats; without them (Node on llvmpipe) it is the wall time of submit →
// onSubmittedWorkDone around the repeats. Every figure carries its method ("timestamps" or "wall").
//
// Per-step totals are Σ over call sites of (µs per call × occurrences in a greedy decode step): the layers are alike,
// so layer 0's sites stand for all of them. Sites that run only when a row samples or has a repetition penalty
// (the draw, the penalty) are timed with occurrences 0. The kernel variant of each site (gemv / gemm, …) is read from what
// it binds (the bind group's label), so a site with a new variant is just another row of the table.
//
// The floor of a step: the bytes it must read at least (the weights once + the KV of every row's context once) at the
// measured WGSL copy bandwidth (ceiling.ts); the step's sum is reported as a percentage of it.
import type { Engine } from '../engine.ts';
import type { ProfileSite } from '../model/transformer.ts';
import { UsageError } from '../errors.ts';
import { adapterName, GpuTimer, runCeiling, type CeilingOptions, type CeilingRecord, type TimingMethod } from './ceiling.ts';
import { displayName } from './benchmark.ts';

export const PROFILE_FORMAT = 'gpt-webgpu-profile/1';

export interface SiteTiming {
  /** The call site, layer number folded: "L* qkv". */
  site: string;
  /** The shader of its dispatch (the pipeline's name: "gemv", "matmul", "attention", …). */
  kernel: string;
  /** The variant the site's bind group names ("gemv" / "gemm" for linear layers); absent for single-kernel sites. */
  variant?: string;
  /** Times a greedy decode step of this shape runs the site (0: only for sampling / penalized rows). */
  occurrences: number;
  /** Dispatches per call (1 for every site today) and workgroups launched per call. */
  dispatches: number;
  workgroups: number;
  /** GPU µs per call: the gap after the previous dependent dispatch + the kernel. */
  usPerCall: number;
}

export interface ProfilePoint {
  rows: number;
  context: number;
  method: TimingMethod;
  sites: SiteTiming[];
  /** Σ usPerCall × occurrences / 1000: the GPU time of a greedy decode step of this shape. */
  stepMs: number;
  /** Σ dispatches × occurrences: dispatches per greedy decode step. */
  dispatches: number;
  /** stepMs / rows. */
  msPerToken: number;
  /** Weights once + every row's KV (context positions, all layers, K and V) once. */
  floorBytes: number;
  /** floorBytes at the ceiling's WGSL copy bandwidth (absent without a ceiling). */
  floorMs?: number;
  /** stepMs / floorMs × 100. */
  stepPercentOfFloor?: number;
}

export interface ProfileRecord {
  format: typeof PROFILE_FORMAT;
  createdAt: string;
  model: { name: string; layers: number; hidden: number; vocab: number; weightFormat: string; weightBytes: number };
  adapter: string;
  method: { timing: TimingMethod; repeats: number; note: string };
  ceiling?: CeilingRecord;
  points: ProfilePoint[];
}

export interface ProfileOptions {
  /** Row counts M (default 1, 16). */
  rows?: number[];
  /** Context positions per row (default 128, 1000; capped by nothing: the engine refuses what its model cannot hold). */
  contexts?: number[];
  /** Dependent repeats per site (default 200; 10 on a software adapter). */
  repeats?: number;
  /** Measure the ceiling first (default) with these options, take a given one, or none (false). */
  ceiling?: CeilingOptions | CeilingRecord | false;
  onProgress?: (message: string) => void;
}

/** What a site binds and launches, learnt by encoding it into a pass that only records (nothing reaches the GPU). */
function inspect(engine: Engine, site: ProfileSite): Pick<SiteTiming, 'kernel' | 'variant' | 'dispatches' | 'workgroups'> {
  let pipeline = '';
  let group = '';
  const seen: { kernel: string; group: string; workgroups: number }[] = [];
  const recorder = {
    setPipeline: (p: GPUComputePipeline) => void (pipeline = p.label),
    setBindGroup: (_index: number, g: GPUBindGroup | null) => void (group = g?.label ?? ''),
    dispatchWorkgroups: (x: number, y = 1, z = 1) => void seen.push({ kernel: pipeline, group, workgroups: x * y * z }),
  } as unknown as GPUComputePassEncoder;
  const counters = { ...engine.gpu.counters };
  site.encode(recorder); // also writes the site's uniform for this row count, which the timed passes then use
  Object.assign(engine.gpu.counters, counters);
  const kernel = [...new Set(seen.map((s) => s.kernel))].join('+') || '(none)';
  // KernelCall labels its bind group "<site> (<variant>)" where a site has several kernels (LinearCall: gemv / gemm).
  const variant = [...new Set(seen.flatMap((s) => /\(([^)]+)\)$/.exec(s.group)?.[1] ?? []))].join('+');
  return { kernel, ...(variant ? { variant } : {}), dispatches: seen.length, workgroups: seen.reduce((n, s) => n + s.workgroups, 0) };
}

/** Profiles every call site of a decode step on an idle engine, for each rows × contexts shape. */
export async function runProfile(engine: Engine, options: ProfileOptions = {}): Promise<ProfileRecord> {
  const gpu = engine.gpu;
  const rowsList = options.rows ?? [1, 16];
  const contexts = options.contexts ?? [128, 1000];
  const repeats = options.repeats ?? (gpu.adapter.software ? 10 : 200);
  if (!Number.isInteger(repeats) || repeats < 1) throw new UsageError(`profile repeats must be an integer ≥ 1, got ${repeats}`);
  const { config, info } = engine;
  let ceiling: CeilingRecord | undefined;
  if (options.ceiling && 'format' in options.ceiling) ceiling = options.ceiling;
  else if (options.ceiling !== false) {
    options.onProgress?.('ceilings: copy bandwidth, dispatch gap, round trip');
    ceiling = await runCeiling(gpu, options.ceiling);
  }
  const timer = new GpuTimer(gpu);
  const points: ProfilePoint[] = [];
  try {
    for (const rows of rowsList) {
      for (const context of contexts) {
        options.onProgress?.(`M = ${rows}, context ${context}`);
        const sites = await engine.profile(rows, context, async (calls) => {
          const out: SiteTiming[] = [];
          for (const site of calls) {
            const seen = inspect(engine, site);
            const pass = (n: number) => (encoder: GPUCommandEncoder) => {
              const p = encoder.beginComputePass({ label: `profile ${site.label}`, timestampWrites: timer.passTimestamps });
              for (let i = 0; i < n; i++) site.encode(p);
              p.end();
            };
            await timer.msPer(1, pass(1)); // warm-up
            const ms = await timer.msPer(repeats, pass(repeats));
            out.push({ site: site.label, ...seen, occurrences: site.occurrences, usPerCall: ms * 1000 });
          }
          return out;
        });
        const stepMs = sites.reduce((n, s) => n + (s.usPerCall * s.occurrences) / 1000, 0);
        const kvPerPosition = 2 * config.numLayers * config.hiddenSize * 4; // f32 K and V, every layer
        const floorBytes = info.weightBytes + rows * context * kvPerPosition;
        const floorMs = ceiling ? floorBytes / (ceiling.wgslCopyGBps * 1e6) : undefined;
        points.push({
          rows,
          context,
          method: timer.method,
          sites,
          stepMs,
          dispatches: sites.reduce((n, s) => n + s.dispatches * s.occurrences, 0),
          msPerToken: stepMs / rows,
          floorBytes,
          ...(floorMs !== undefined ? { floorMs, stepPercentOfFloor: (stepMs / floorMs) * 100 } : {}),
        });
      }
    }
  } finally {
    timer.destroy();
  }
  return {
    format: PROFILE_FORMAT,
    createdAt: new Date().toISOString(),
    model: { name: displayName(info.model), layers: config.numLayers, hidden: config.hiddenSize, vocab: config.vocabSize, weightFormat: info.weightFormat, weightBytes: info.weightBytes },
    adapter: adapterName(gpu),
    method: {
      timing: timer.method,
      repeats,
      note: 'µs per call = time of `repeats` dependent dispatches of the site in one pass / repeats (gap + kernel); step = Σ sites × occurrences per greedy decode step, layer sites timed on layer 0',
    },
    ...(ceiling ? { ceiling } : {}),
    points,
  };
}

/** The record as a markdown table: one row per call site and variant, one column per shape. */
export function describeProfile(record: ProfileRecord): string {
  const points = record.points;
  const key = (s: SiteTiming) => (s.variant ? `${s.site} (${s.variant})` : s.site);
  const order = [...new Set(points.flatMap((p) => p.sites.map((s) => s.site)))];
  const rows = new Map<string, { site: string; occurrences: Set<number>; cells: (string | undefined)[] }>();
  points.forEach((p, i) => {
    for (const s of p.sites) {
      const row = rows.get(key(s)) ?? { site: s.site, occurrences: new Set(), cells: points.map(() => undefined) };
      row.occurrences.add(s.occurrences);
      row.cells[i] = s.usPerCall.toFixed(s.usPerCall < 100 ? 2 : 1);
      rows.set(key(s), row);
    }
  });
  // A site's variants are adjacent rows, in the step's order of sites.
  const sorted = [...rows].sort(([, a], [, b]) => order.indexOf(a.site) - order.indexOf(b.site));
  const m = record.model;
  const lines = [
    `profile of ${m.name} (${m.layers} layers × ${m.hidden}, ${m.weightFormat} weights ${(m.weightBytes / 2 ** 20).toFixed(1)} MiB) on ${record.adapter}`,
    `GPU µs per call (gap + kernel) by ${record.method.timing}: ${record.method.repeats} dependent repeats of one dispatch in one pass, divided by ${record.method.repeats}`,
    `step = Σ over call sites of µs per call × occurrences per greedy decode step (layer sites timed on layer 0, × ${m.layers} layers); × 0: only when sampling / penalizing`,
    '',
    `| call site | × per step | ${points.map((p) => `M=${p.rows} ctx ${p.context}`).join(' | ')} |`,
    `|---|---:|${points.map(() => '---:|').join('')}`,
  ];
  for (const [name, row] of sorted) lines.push(`| ${name} | ${[...row.occurrences].join('/')} | ${row.cells.map((c) => c ?? '—').join(' | ')} |`);
  const line = (label: string, cell: (p: ProfilePoint) => string) => lines.push(`| **${label}** | | ${points.map(cell).join(' | ')} |`);
  line('step ms (Σ)', (p) => p.stepMs.toFixed(3));
  line('dispatches per step', (p) => String(p.dispatches));
  line('ms per token', (p) => p.msPerToken.toFixed(3));
  line('floor MiB (weights + KV)', (p) => (p.floorBytes / 2 ** 20).toFixed(1));
  if (record.ceiling) {
    line(`floor ms at ${record.ceiling.wgslCopyGBps.toFixed(1)} GB/s`, (p) => (p.floorMs ?? 0).toFixed(3));
    line('step % of floor', (p) => `${(p.stepPercentOfFloor ?? 0).toFixed(0)}%`);
  }
  return lines.join('\n');
}
