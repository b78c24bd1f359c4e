// `bench --proxy`: hardware-independent figures of one decode step, measured by wrapping the WebGPU objects the engine
// uses (no engine code changes): dispatches, submits, read-back waits (mapAsync), writeBuffer calls, bind groups
// created and bytes bound per decode step, at batch 1 and 16; host ms per decode step with a null GPU; bytes bound
// per step against the floor (weights once + the KV of the context once).
// Per call site (a KernelCall's bind-group label, the layer number folded: "L* qkv"): dispatches and workgroups
// launched per step; the threads per workgroup are in the WGSL, not visible through the API.
//
// Counts per decode step = the difference between two identical runs that differ only in the number of new tokens
// (A and B), divided by B − A: prefill, warm-up and request set-up cancel out, whatever they cost. Host ms per step =
// the median gap between two tokens of a stream in null-GPU runs (each gap is one decode step).
//
// Null GPU: after a real warm-up, `queue.submit` becomes a no-op. mapAsync stays real: with nothing submitted it
// waits on no GPU work, so what it costs is the host's own round trip through Dawn, which a real step also pays.
// The ids read back are then the last real ones (always inside the vocabulary), so the engine keeps stepping. The
// host ms per step is therefore encoding + validation + scheduling + the empty read-back: what the CPU spends on a
// step when the GPU takes no time. It depends on the machine and its load; compare only runs on one machine.
//
// Bytes bound: each dispatch adds the byte ranges of every buffer in its bind group. It is an upper bound on what the
// kernel reads and writes; the KV pool buffers (labels "kv keys/values layer …") are bound whole, though a kernel
// reads only the blocks of its sequences, so they are reported apart from the rest.
import type { Engine } from '../engine.ts';
import { UsageError } from '../errors.ts';

export interface ProxyCounts {
  dispatches: number;
  submits: number;
  mapAsyncs: number;
  writeBuffers: number;
  bindGroups: number;
  /** Compute passes that bound anything (counted at their first setBindGroup). */
  computePasses: number;
  /** Bytes of every non-KV-pool binding, summed over dispatches. */
  boundBytes: number;
  /** Bytes of KV-pool bindings (whole per-layer pools), summed over dispatches. */
  kvPoolBoundBytes: number;
}

/** Per call site; workgroups only (their size is in the WGSL, not visible through the API). */
export interface SiteCounts {
  dispatches: number;
  workgroups: number;
}

const zero = (): ProxyCounts => ({ dispatches: 0, submits: 0, mapAsyncs: 0, writeBuffers: 0, bindGroups: 0, computePasses: 0, boundBytes: 0, kvPoolBoundBytes: 0 });

type Restore = () => void;

/** The WebGPU classes whose prototypes GpuCounter wraps (browser globals, or the `webgpu` package's `globals`). */
export interface WebGpuClasses {
  GPUDevice: { prototype: GPUDevice };
  GPUQueue: { prototype: GPUQueue };
  GPUBuffer: { prototype: GPUBuffer };
  GPUComputePassEncoder: { prototype: GPUComputePassEncoder };
}

/** Dawn's classes in Node (the `webgpu` package, loaded on demand so this module needs no WebGPU at import time). */
export async function dawnClasses(): Promise<WebGpuClasses> {
  return ((await import('webgpu')) as unknown as { globals: WebGpuClasses }).globals;
}

/**
 * Wraps the prototypes of the WebGPU classes to count what passes through them, for every device in this realm, until
 * dispose(). Install it before the engine loads: bind groups are made at load, and their byte ranges are learnt only
 * when they are created. `nullGpu` drops submits (see the header).
 */
export class GpuCounter {
  readonly counts: ProxyCounts = zero();
  /** By call site (the bind group's label, layer number folded: "L* qkv"): dispatches and workgroups launched. */
  readonly sites = new Map<string, SiteCounts>();
  nullGpu = false;
  private readonly restores: Restore[] = [];
  private readonly groupBytes = new WeakMap<object, { bytes: number; kv: number; site: string }>();
  private readonly passGroups = new WeakMap<object, Map<number, { bytes: number; kv: number; site: string }>>();

  constructor(classes: WebGpuClasses) {
    const self = this;
    const patch = <T extends object, K extends keyof T>(proto: T, key: K, make: (original: T[K]) => T[K]) => {
      const original = proto[key];
      proto[key] = make(original);
      this.restores.push(() => (proto[key] = original));
    };
    type Fn = (this: unknown, ...args: unknown[]) => unknown;
    patch(classes.GPUQueue.prototype, 'submit', (submit) => function (this: GPUQueue, buffers: Iterable<GPUCommandBuffer>) {
      self.counts.submits++;
      if (!self.nullGpu) submit.call(this, buffers);
    });
    patch(classes.GPUQueue.prototype, 'writeBuffer', (write) => function (this: GPUQueue, ...args: unknown[]) {
      self.counts.writeBuffers++;
      return (write as unknown as Fn).apply(this, args);
    } as GPUQueue['writeBuffer']);
    patch(classes.GPUBuffer.prototype, 'mapAsync', (mapAsync) => function (this: GPUBuffer, ...args: unknown[]) {
      self.counts.mapAsyncs++;
      return (mapAsync as unknown as Fn).apply(this, args) as Promise<undefined>;
    } as GPUBuffer['mapAsync']);
    patch(classes.GPUDevice.prototype, 'createBindGroup', (create) => function (this: GPUDevice, descriptor: GPUBindGroupDescriptor) {
      self.counts.bindGroups++;
      const group = create.call(this, descriptor);
      self.groupBytes.set(group, { ...boundBytes(descriptor), site: (descriptor.label ?? '').replace(/^L\d+ /, 'L* ') || '(unlabelled)' });
      return group;
    });
    const pass = classes.GPUComputePassEncoder.prototype;
    patch(pass, 'setBindGroup', (set) => function (this: GPUComputePassEncoder, ...args: unknown[]) {
      const [index, group] = args as [number, GPUBindGroup | null];
      let groups = self.passGroups.get(this);
      if (!groups) {
        self.passGroups.set(this, (groups = new Map()));
        self.counts.computePasses++;
      }
      groups.set(index, (group && self.groupBytes.get(group)) || { bytes: 0, kv: 0, site: '(unknown)' });
      return (set as unknown as Fn).apply(this, args);
    } as GPUComputePassEncoder['setBindGroup']);
    patch(pass, 'dispatchWorkgroups', (dispatch) => function (this: GPUComputePassEncoder, x: number, y?: number, z?: number) {
      self.counts.dispatches++;
      for (const b of self.passGroups.get(this)?.values() ?? []) {
        self.counts.boundBytes += b.bytes;
        self.counts.kvPoolBoundBytes += b.kv;
      }
      const site = self.passGroups.get(this)?.get(0)?.site ?? '(unknown)';
      const c = self.sites.get(site) ?? { dispatches: 0, workgroups: 0 };
      c.dispatches++;
      c.workgroups += x * (y ?? 1) * (z ?? 1);
      self.sites.set(site, c);
      return dispatch.call(this, x, y, z);
    });
  }

  snapshot(): ProxyCounts {
    return { ...this.counts };
  }

  siteSnapshot(): Map<string, SiteCounts> {
    return new Map([...this.sites].map(([k, v]) => [k, { ...v }]));
  }

  dispose(): void {
    for (const r of this.restores.reverse()) r();
    this.restores.length = 0;
  }
}

function boundBytes(descriptor: GPUBindGroupDescriptor): { bytes: number; kv: number } {
  let bytes = 0;
  let kv = 0;
  for (const entry of descriptor.entries) {
    const r = entry.resource as GPUBufferBinding | GPUBuffer;
    const buffer = 'buffer' in r ? r.buffer : (r as GPUBuffer);
    if (!buffer || typeof buffer.size !== 'number') continue; // samplers, textures: none in this engine
    const offset = 'buffer' in r ? (r.offset ?? 0) : 0;
    const size = 'buffer' in r && r.size !== undefined ? r.size : buffer.size - offset;
    if (/^kv (keys|values) layer /.test(buffer.label)) kv += size;
    else bytes += size;
  }
  return { bytes, kv };
}

export interface ProxyPoint {
  batch: number;
  /** Per decode step (differences of two runs / decode steps between them). */
  perStep: ProxyCounts;
  /** Per call site, per decode step (summed over layers). */
  sites: Record<string, SiteCounts>;
  /** Host ms per decode step with submit dropped: p50 of the gaps between tokens over `repetitions` runs of newTokensB. */
  nullGpuHostMs: number;
  /** Context positions per sequence in the measured steps (mean). */
  contextPositions: number;
  /** Weights once + the KV of every sequence's context once, per step (bytes). */
  floorBytes: number;
}

export interface ProxyRecord {
  format: 'gpt-webgpu-proxy/1';
  createdAt: string;
  model: { name: string; layers: number; hidden: number; vocab: number; weightFormat: string; weightBytes: number };
  adapter: string;
  method: { promptLength: number; newTokensA: number; newTokensB: number; repetitions: number };
  points: ProxyPoint[];
}

export interface ProxyOptions {
  batches?: number[];
  promptLength?: number;
  newTokensA?: number;
  newTokensB?: number;
  repetitions?: number;
  onProgress?: (message: string) => void;
}

/** Measures the proxy figures on a loaded, idle engine, counting through `counter` (installed before the load). */
export async function runProxy(engine: Engine, counter: GpuCounter, options: ProxyOptions = {}): Promise<ProxyRecord> {
  const batches = options.batches ?? [1, 16];
  const promptLength = options.promptLength ?? 16;
  const A = options.newTokensA ?? 4;
  const B = options.newTokensB ?? 20;
  const repetitions = options.repetitions ?? 3;
  if (!(B > A && A >= 1)) throw new UsageError(`proxy needs newTokensB > newTokensA >= 1, got ${A}, ${B}`);
  const { config, info } = engine;
  let seed = 1;
  const prompt = () => Array.from({ length: promptLength }, (_, i) => (seed * 7919 + i * 104729) % config.vocabSize);
  const generateAll = async (batch: number, newTokens: number) => {
    seed++;
    const streams = Array.from({ length: batch }, () => engine.generate(prompt(), { greedy: true, maxNewTokens: newTokens, stopAtEos: false }));
    return await Promise.all(streams.map((s) => s.result));
  };
  const points: ProxyPoint[] = [];
  for (const requested of batches) {
    const batch = Math.min(requested, info.maxSequences);
    options.onProgress?.(`batch ${batch}: counting`);
    await generateAll(batch, A); // warm-up: pipelines, first-use allocations
    const diff = async (newTokens: number) => {
      const before = counter.snapshot();
      const sitesBefore = counter.siteSnapshot();
      const t0 = performance.now();
      await generateAll(batch, newTokens);
      const ms = performance.now() - t0;
      const after = counter.snapshot();
      const sites = new Map([...counter.siteSnapshot()].map(([k, v]) => {
        const b = sitesBefore.get(k) ?? { dispatches: 0, workgroups: 0 };
        return [k, { dispatches: v.dispatches - b.dispatches, workgroups: v.workgroups - b.workgroups }];
      }));
      return { ms, sites, counts: Object.fromEntries(Object.keys(after).map((k) => [k, after[k as keyof ProxyCounts] - before[k as keyof ProxyCounts]])) as unknown as ProxyCounts };
    };
    const a = await diff(A);
    const b = await diff(B);
    const steps = B - A;
    const perStep = Object.fromEntries(Object.keys(a.counts).map((k) => [k, (b.counts[k as keyof ProxyCounts] - a.counts[k as keyof ProxyCounts]) / steps])) as unknown as ProxyCounts;
    const sites: Record<string, SiteCounts> = {};
    for (const [k, v] of b.sites) {
      const w = a.sites.get(k) ?? { dispatches: 0, workgroups: 0 };
      const d = { dispatches: (v.dispatches - w.dispatches) / steps, workgroups: (v.workgroups - w.workgroups) / steps };
      if (d.dispatches > 0) sites[k] = d;
    }
    options.onProgress?.(`batch ${batch}: host time with a null GPU`);
    counter.nullGpu = true;
    // Each gap between two tokens of a stream is one whole decode step (the loop, the encoding, the read-back), and
    // every stream gets its token in the same step: stream 0's gaps are the steps. Their median over the runs, not a
    // difference of two run times, which the machine's noise can turn negative.
    const hostMs: number[] = [];
    try {
      for (let r = 0; r < repetitions; r++) hostMs.push(...(await generateAll(batch, B))[0].metrics.itlMs);
    } finally {
      counter.nullGpu = false;
    }
    // Run once more on the real GPU so the engine's state (its last read-back ids) is real again.
    await generateAll(batch, 2);
    const contextPositions = promptLength + (A + B) / 2;
    const kvPerPosition = 2 * config.numLayers * config.hiddenSize * 4; // f32 K and V, every layer
    points.push({ batch, perStep, sites, nullGpuHostMs: median(hostMs), contextPositions, floorBytes: info.weightBytes + batch * contextPositions * kvPerPosition });
  }
  return {
    format: 'gpt-webgpu-proxy/1',
    createdAt: new Date().toISOString(),
    model: { name: info.model.replace(/^.*[/\\]/, ''), layers: config.numLayers, hidden: config.hiddenSize, vocab: config.vocabSize, weightFormat: info.weightFormat, weightBytes: info.weightBytes },
    adapter: info.adapter.device || info.adapter.description || info.adapter.vendor,
    method: { promptLength, newTokensA: A, newTokensB: B, repetitions },
    points,
  };
}

function median(values: number[]): number {
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The record as a markdown table (one row per batch size). */
export function describeProxy(record: ProxyRecord): string {
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  const lines = [
    `model ${record.model.name} (${record.model.layers} layers × ${record.model.hidden}, ${record.model.weightFormat} weights ${mib(record.model.weightBytes)} MiB), adapter ${record.adapter}`,
    `per decode step = (run with ${record.method.newTokensB} new tokens − run with ${record.method.newTokensA}) / ${record.method.newTokensB - record.method.newTokensA}; prompt ${record.method.promptLength} tokens; null-GPU host ms = p50 of the inter-token gaps (one per decode step) over ${record.method.repetitions} runs of ${record.method.newTokensB} tokens`,
    '',
    '| batch | dispatches | submits | mapAsync | writeBuffer | bind groups | passes | host ms (null GPU) | bound MiB (non-KV) | KV-pool bound MiB | floor MiB | bound / floor |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  for (const p of record.points) {
    const c = p.perStep;
    lines.push(`| ${p.batch} | ${c.dispatches} | ${c.submits} | ${c.mapAsyncs} | ${c.writeBuffers} | ${c.bindGroups} | ${c.computePasses} | ${p.nullGpuHostMs.toFixed(2)} | ${mib(c.boundBytes)} | ${mib(c.kvPoolBoundBytes)} | ${mib(p.floorBytes)} | ${(c.boundBytes / p.floorBytes).toFixed(2)} |`);
  }
  lines.push('', '| call site (per decode step) | ' + record.points.map((p) => `batch ${p.batch}: dispatches / workgroups`).join(' | ') + ' |');
  lines.push('|---|' + record.points.map(() => '---:|').join(''));
  const names = [...new Set(record.points.flatMap((p) => Object.keys(p.sites)))];
  for (const n of names) lines.push(`| ${n} | ` + record.points.map((p) => (p.sites[n] ? `${p.sites[n].dispatches} / ${p.sites[n].workgroups}` : '—')).join(' | ') + ' |');
  return lines.join('\n');
}
