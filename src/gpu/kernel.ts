// The small machinery every kernel module shares: compile a WGSL template once per device and variant, and bind it to
// buffers as a `KernelCall` that encodes one dispatch for a given number of rows.
//
// Binding convention of every shader in shaders/: @binding(0) is the kernel's uniform params struct, @binding(1..n) are
// the storage buffers in the order the kernel module passes them.
import type { GpuContext } from './context.ts';
import { preprocessWgsl, type ShaderDefines } from './shader.ts';
import { COPY_DST, UNIFORM } from './buffers.ts';

const pipelineCache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** The compiled pipeline for `template` with `defines`, made once per device and variant. */
export function computePipeline(gpu: GpuContext, name: string, template: string, defines: ShaderDefines = {}): GPUComputePipeline {
  let cache = pipelineCache.get(gpu.device);
  if (!cache) pipelineCache.set(gpu.device, (cache = new Map()));
  const key = `${name}|${JSON.stringify(defines)}`;
  let pipeline = cache.get(key);
  if (!pipeline) {
    const module = gpu.device.createShaderModule({ label: name, code: preprocessWgsl(template, defines, name) });
    pipeline = gpu.device.createComputePipeline({ label: name, layout: 'auto', compute: { module, entryPoint: 'main' } });
    cache.set(key, pipeline);
  }
  return pipeline;
}

/** Packs a uniform struct field by field (u32 / i32 / f32, 4 bytes each), padded to 16 bytes as WGSL requires. */
export class Params {
  private readonly view = new DataView(new ArrayBuffer(64));
  private length = 0;
  u32(value: number): this {
    this.view.setUint32(this.length, value, true);
    this.length += 4;
    return this;
  }
  f32(value: number): this {
    this.view.setFloat32(this.length, value, true);
    this.length += 4;
    return this;
  }
  bytes(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.view.buffer, 0, Math.max(16, Math.ceil(this.length / 16) * 16));
  }
}

export interface DispatchPlan {
  params: Params;
  /** Workgroups in x, y, z. */
  grid: readonly [number, number?, number?];
}

/**
 * One call site of a kernel: its pipeline, its own uniform buffer and a bind group made once. `encode(pass, rows)`
 * recomputes and rewrites the params only when the row count changes (decode steps repeat the same shapes, so a decode
 * step costs a dispatch and nothing else per call). `plan` must depend on `rows` alone.
 * A call is encoded at most once per submit: its uniform holds one value at a time.
 */
export class KernelCall {
  private readonly uniform: GPUBuffer;
  private readonly bindGroup: GPUBindGroup;
  private lastRows: number | undefined;
  private grid: readonly [number, number, number] = [0, 0, 0];

  constructor(
    private readonly gpu: GpuContext,
    readonly label: string,
    private readonly pipeline: GPUComputePipeline,
    buffers: readonly GPUBuffer[],
    private readonly plan: (rows: number) => DispatchPlan,
  ) {
    this.uniform = gpu.device.createBuffer({ label: `${label} params`, size: 64, usage: UNIFORM | COPY_DST });
    this.bindGroup = gpu.device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: this.uniform } }, ...buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } }))],
    });
  }

  encode(pass: GPUComputePassEncoder, rows: number): void {
    if (rows !== this.lastRows) {
      const { params, grid } = this.plan(rows);
      const [x, y = 1, z = 1] = grid;
      const max = this.gpu.limits.maxComputeWorkgroupsPerDimension;
      if (x > max || y > max || z > max) throw new Error(`${this.label}: grid ${x}×${y}×${z} exceeds ${max} workgroups per dimension`);
      this.gpu.device.queue.writeBuffer(this.uniform, 0, params.bytes());
      this.grid = [x, y, z];
      this.lastRows = rows;
    }
    const [x, y, z] = this.grid;
    if (x === 0 || y === 0 || z === 0) return;
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.gpu.counters.dispatches++;
  }

  destroy(): void {
    this.uniform.destroy();
  }
}

export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}
