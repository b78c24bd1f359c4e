// `bench --ceiling` (also part of `bench --profile`): what the adapter itself allows, measured through the same WebGPU
// device the engine uses, so the engine's figures can be read against it. The essence of scripts/gpu/ceiling.mjs
// (which stays as the shared kit's verbatim copy), with the engine's timing method:
//   - copy bandwidth: a WGSL kernel copying a buffer of vec4<f32> (each byte read once and written once), and
//     copyBufferToBuffer of the same buffer; GB/s counts bytes read + written, the convention of STREAM copy;
//   - the dependent tiny-dispatch gap: many one-workgroup dispatches writing the same buffer in one compute pass, so
//     each waits for the one before, as a decode step's dispatches do; µs per dispatch;
//   - the submit → read-back round trip: one tiny dispatch, a 4-byte copy and mapAsync, p10/p50/p90 of wall time.
// GPU times come from timestamp queries around the repeats where the adapter has `timestamp-query`, else from the
// wall time of submit → onSubmittedWorkDone (each figure says which: `method`). Repeats amortize the timestamp quantum
// (Chromium rounds to 100 µs without its unsafe flag) and, for wall time, the submit's own cost.
import type { GpuContext } from '../gpu/context.ts';
import { COPY_DST, COPY_SRC, MAP_READ, STORAGE } from '../gpu/buffers.ts';

export type TimingMethod = 'timestamps' | 'wall';

export interface CeilingRecord {
  format: 'gpt-webgpu-ceiling/1';
  createdAt: string;
  adapter: string;
  /** How the GPU times below were taken. */
  method: TimingMethod;
  /** Bytes of the copied buffer (each copy reads and writes this many). */
  copyBytes: number;
  /** Read + written GB/s of the WGSL copy kernel. */
  wgslCopyGBps: number;
  /** Read + written GB/s of copyBufferToBuffer. */
  bufferCopyGBps: number;
  /** µs per dependent one-workgroup dispatch in one pass. */
  dispatchGapUs: number;
  /** Wall µs of submit → mapAsync of 4 bytes after one tiny dispatch; always wall time. */
  roundTripUs: { p10: number; p50: number; p90: number };
}

export interface CeilingOptions {
  /** Bytes of the copied buffer; default 256 MiB on hardware, 32 MiB on a software adapter, capped by the limits. */
  copyBytes?: number;
  /** Copies timed (default 20; 4 on a software adapter). */
  copyRepeats?: number;
  /** Tiny dispatches timed (default 2000; 200 on a software adapter). */
  dispatches?: number;
  /** Round trips (default 100; 20 on a software adapter). */
  roundTrips?: number;
}

const COPY_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;
// 2-D grid: the copy may need more than 65,535 workgroups of 256.
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {
  let i = g.x + g.y * n.x * 256u;
  if (i < arrayLength(&src)) { dst[i] = src[i]; }
}`;

const TINY_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> a: array<f32>;
// Read-modify-write of the same words: each dispatch depends on the previous one.
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>) { a[g.x] = a[g.x] + 1.0; }`;

/**
 * Times `encode` (which records `repeats` units of work into the encoder, inside `timestampWrites` where given) and
 * returns ms per repeat: GPU time between the timestamps, or wall time of submit → done.
 */
export class GpuTimer {
  readonly method: TimingMethod;
  private readonly timing?: { queries: GPUQuerySet; resolved: GPUBuffer; staging: GPUBuffer };

  constructor(private readonly gpu: GpuContext) {
    this.method = gpu.features.timestampQuery ? 'timestamps' : 'wall';
    if (this.method === 'timestamps') {
      this.timing = {
        queries: gpu.device.createQuerySet({ type: 'timestamp', count: 2 }),
        resolved: gpu.device.createBuffer({ label: 'profile timestamps', size: 16, usage: 0x200 /* QUERY_RESOLVE */ | COPY_SRC }), // (2) u64
        staging: gpu.device.createBuffer({ label: 'profile timestamps read-back', size: 16, usage: MAP_READ | COPY_DST }), // (2) u64
      };
    }
  }

  /** Timestamp writes around a compute pass (undefined when timing by wall clock). */
  get passTimestamps(): GPUComputePassTimestampWrites | undefined {
    return this.timing && { querySet: this.timing.queries, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 };
  }

  /**
   * `encode` records the work into the encoder; with timestamps it must put `passTimestamps` on the one pass that
   * holds all of it (copyBufferToBuffer work is bracketed by two empty timed passes instead: see `encodeMarks`).
   */
  async msPer(repeats: number, encode: (encoder: GPUCommandEncoder) => void): Promise<number> {
    const device = this.gpu.device;
    const encoder = device.createCommandEncoder({ label: 'profile' });
    encode(encoder);
    if (this.timing) {
      encoder.resolveQuerySet(this.timing.queries, 0, 2, this.timing.resolved, 0);
      encoder.copyBufferToBuffer(this.timing.resolved, 0, this.timing.staging, 0, 16);
    }
    const commands = encoder.finish();
    const t0 = performance.now();
    device.queue.submit([commands]);
    await device.queue.onSubmittedWorkDone();
    const wallMs = performance.now() - t0;
    this.gpu.throwIfFailed();
    if (!this.timing) return wallMs / repeats;
    await this.timing.staging.mapAsync(0x01 /* GPUMapMode.READ */);
    const [begin, end] = new BigUint64Array(this.timing.staging.getMappedRange().slice(0));
    this.timing.staging.unmap();
    return Number(end - begin) / 1e6 / repeats;
  }

  /**
   * For work outside compute passes (copyBufferToBuffer): an empty pass writing the begin timestamp before it and one
   * writing the end timestamp after it.
   */
  encodeMarks(encoder: GPUCommandEncoder, body: () => void): void {
    if (this.timing) encoder.beginComputePass({ timestampWrites: { querySet: this.timing.queries, beginningOfPassWriteIndex: 0 } }).end();
    body();
    if (this.timing) encoder.beginComputePass({ timestampWrites: { querySet: this.timing.queries, endOfPassWriteIndex: 1 } }).end();
  }

  destroy(): void {
    this.timing?.queries.destroy();
    this.timing?.resolved.destroy();
    this.timing?.staging.destroy();
  }
}

export function adapterName(gpu: GpuContext): string {
  const a = gpu.adapter;
  return [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || a.description || 'unknown adapter';
}

/** Measures the ceilings on `gpu` (see the header). */
export async function runCeiling(gpu: GpuContext, options: CeilingOptions = {}): Promise<CeilingRecord> {
  const device = gpu.device;
  const soft = gpu.adapter.software;
  const limit = Math.min(gpu.limits.maxStorageBufferBindingSize, gpu.limits.maxBufferSize);
  const copyBytes = Math.floor(Math.min(options.copyBytes ?? (soft ? 32 : 256) * 2 ** 20, limit) / 16) * 16;
  const copyRepeats = options.copyRepeats ?? (soft ? 4 : 20);
  const dispatches = options.dispatches ?? (soft ? 200 : 2000);
  const roundTrips = options.roundTrips ?? (soft ? 20 : 100);
  const timer = new GpuTimer(gpu);
  const owned: { destroy(): void }[] = [timer];
  const buffer = (label: string, size: number, usage = STORAGE | COPY_SRC | COPY_DST) => {
    const b = device.createBuffer({ label, size, usage });
    owned.push(b);
    return b;
  };
  const pipeline = (label: string, code: string) => device.createComputePipeline({ label, layout: 'auto', compute: { module: device.createShaderModule({ label, code }), entryPoint: 'main' } });
  try {
    const src = buffer('ceiling copy source', copyBytes); // (copyBytes / 16) vec4<f32>
    const dst = buffer('ceiling copy destination', copyBytes); // (copyBytes / 16) vec4<f32>
    const copy = pipeline('ceiling copy', COPY_WGSL);
    const copyGroup = device.createBindGroup({ layout: copy.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: dst } }] });
    const groups = Math.ceil(copyBytes / 16 / 256);
    const gx = Math.min(groups, gpu.limits.maxComputeWorkgroupsPerDimension);
    const gy = Math.ceil(groups / gx);
    const wgslCopy = (repeats: number) => (encoder: GPUCommandEncoder) => {
      const pass = encoder.beginComputePass({ timestampWrites: timer.passTimestamps });
      pass.setPipeline(copy);
      pass.setBindGroup(0, copyGroup);
      for (let i = 0; i < repeats; i++) pass.dispatchWorkgroups(gx, gy);
      pass.end();
    };
    const bufferCopy = (repeats: number) => (encoder: GPUCommandEncoder) => timer.encodeMarks(encoder, () => {
      for (let i = 0; i < repeats; i++) encoder.copyBufferToBuffer(src, 0, dst, 0, copyBytes);
    });
    await timer.msPer(1, wgslCopy(1)); // warm-up: first use of the pipeline and of the pages
    const wgslMs = await timer.msPer(copyRepeats, wgslCopy(copyRepeats));
    await timer.msPer(1, bufferCopy(1));
    const bufferMs = await timer.msPer(copyRepeats, bufferCopy(copyRepeats));
    const gbps = (ms: number) => (2 * copyBytes) / (ms * 1e6);

    const words = buffer('ceiling tiny dispatch target', 256); // (64) f32
    const tiny = pipeline('ceiling tiny dispatch', TINY_WGSL);
    const tinyGroup = device.createBindGroup({ layout: tiny.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: words } }] });
    const tinyPass = (repeats: number, timestampWrites?: GPUComputePassTimestampWrites) => (encoder: GPUCommandEncoder) => {
      const pass = encoder.beginComputePass({ timestampWrites });
      pass.setPipeline(tiny);
      pass.setBindGroup(0, tinyGroup);
      for (let i = 0; i < repeats; i++) pass.dispatchWorkgroups(1);
      pass.end();
    };
    await timer.msPer(1, tinyPass(1, timer.passTimestamps));
    const gapMs = await timer.msPer(dispatches, tinyPass(dispatches, timer.passTimestamps));

    const readBack = buffer('ceiling read-back', 4, MAP_READ | COPY_DST); // (1) f32
    const trips: number[] = [];
    for (let i = 0; i < roundTrips; i++) {
      const t0 = performance.now();
      const encoder = device.createCommandEncoder();
      tinyPass(1)(encoder);
      encoder.copyBufferToBuffer(words, 0, readBack, 0, 4);
      device.queue.submit([encoder.finish()]);
      await readBack.mapAsync(0x01 /* GPUMapMode.READ */);
      readBack.unmap();
      trips.push((performance.now() - t0) * 1000);
    }
    gpu.throwIfFailed();
    trips.sort((a, b) => a - b);
    const at = (q: number) => trips[Math.min(trips.length - 1, Math.floor(trips.length * q))];
    return {
      format: 'gpt-webgpu-ceiling/1',
      createdAt: new Date().toISOString(),
      adapter: adapterName(gpu),
      method: timer.method,
      copyBytes,
      wgslCopyGBps: gbps(wgslMs),
      bufferCopyGBps: gbps(bufferMs),
      dispatchGapUs: gapMs * 1000,
      roundTripUs: { p10: at(0.1), p50: at(0.5), p90: at(0.9) },
    };
  } finally {
    for (const o of owned) o.destroy();
  }
}

/** The record as a few lines for people. */
export function describeCeiling(c: CeilingRecord): string {
  const mib = (c.copyBytes / 2 ** 20).toFixed(0);
  return [
    `ceilings of ${c.adapter} (GPU times by ${c.method}):`,
    `  copy ${mib} MiB, read + written: WGSL kernel ${c.wgslCopyGBps.toFixed(1)} GB/s, copyBufferToBuffer ${c.bufferCopyGBps.toFixed(1)} GB/s`,
    `  dependent tiny-dispatch gap: ${c.dispatchGapUs.toFixed(2)} µs per dispatch`,
    `  submit → read-back round trip (wall): p10 ${c.roundTripUs.p10.toFixed(0)} / p50 ${c.roundTripUs.p50.toFixed(0)} / p90 ${c.roundTripUs.p90.toFixed(0)} µs`,
  ].join('\n');
}
