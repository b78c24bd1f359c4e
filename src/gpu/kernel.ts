// The small machinery every kernel module shares: compile a WGSL template once per device and variant, and bind it to
// buffers as a `KernelCall` that encodes one dispatch for a given number of rows (and, where a call site takes one, a
// second size, its extent).
//
// Binding convention of every shader in shaders/: @binding(0) is the kernel's uniform params struct, @binding(1..n) are
// the storage buffers in the order the kernel module passes them. A pipeline's name is its file's name without
// `.wgsl` (test/unit/kernelParams.test.ts relies on it to see that every shader's params are checked).
//
// Params fields carry the WGSL member names; a KernelCall compares them (names, order, types) with the struct its
// pipeline's source declares when it is built, so a field written in the wrong place fails loudly instead of giving
// wrong numbers (uniformLayout.ts).
import type { GpuContext } from './context.ts';
import { preprocessWgsl, type ShaderDefines } from './shader.ts';
import { COPY_DST, UNIFORM } from './buffers.ts';
import { checkUniformFields, parseUniformStruct, type UniformField, type UniformScalar } from './uniformLayout.ts';

const pipelineCache = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();

/** What each pipeline's WGSL declares at @binding(0), read once when the pipeline is made. */
const pipelineUniforms = new WeakMap<GPUComputePipeline, { name: string; fields: UniformField[] | undefined }>();

/** The compiled pipeline for `template` with `defines`, made once per device and variant. */
export function computePipeline(gpu: GpuContext, name: string, template: string, defines: ShaderDefines = {}): GPUComputePipeline {
  let cache = pipelineCache.get(gpu.device);
  if (!cache) pipelineCache.set(gpu.device, (cache = new Map()));
  const key = `${name}|${JSON.stringify(defines)}`;
  let pipeline = cache.get(key);
  if (!pipeline) {
    const code = preprocessWgsl(template, defines, name);
    const fields = parseUniformStruct(code, name);
    const module = gpu.device.createShaderModule({ label: name, code });
    pipeline = gpu.device.createComputePipeline({ label: name, layout: 'auto', compute: { module, entryPoint: 'main' } });
    pipelineUniforms.set(pipeline, { name, fields });
    cache.set(key, pipeline);
  }
  return pipeline;
}

/** Bytes of every call site's uniform buffer: room for 16 scalar fields. */
const PARAMS_BYTES = 64;

/**
 * Packs a uniform struct field by field (u32 / i32 / f32, 4 bytes each), padded to 16 bytes as WGSL requires. Each
 * field is named as in the shader's struct, so the order and types can be checked against it (`fields`).
 */
export class Params {
  private readonly view = new DataView(new ArrayBuffer(PARAMS_BYTES));
  private readonly list: UniformField[] = [];
  u32(name: string, value: number): this {
    this.field(name, 'u32', value, Number.isInteger(value) && value >= 0 && value <= 0xffffffff);
    this.view.setUint32(this.list.length * 4 - 4, value, true);
    return this;
  }
  i32(name: string, value: number): this {
    this.field(name, 'i32', value, Number.isInteger(value) && value >= -0x80000000 && value <= 0x7fffffff);
    this.view.setInt32(this.list.length * 4 - 4, value, true);
    return this;
  }
  f32(name: string, value: number): this {
    this.field(name, 'f32', value, typeof value === 'number');
    this.view.setFloat32(this.list.length * 4 - 4, value, true);
    return this;
  }
  /** The fields written so far, in order. */
  get fields(): readonly UniformField[] {
    return this.list;
  }
  bytes(): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.view.buffer, 0, Math.max(16, Math.ceil((this.list.length * 4) / 16) * 16));
  }
  // A u32 given -1 or 2³² would wrap silently (DataView does), which is the kind of wrong number this class exists to stop.
  private field(name: string, type: UniformScalar, value: number, fits: boolean): void {
    if (!fits) throw new Error(`uniform field ${name}: ${value} is out of range for ${type}`);
    if ((this.list.length + 1) * 4 > PARAMS_BYTES) throw new Error(`uniform field ${name}: params hold at most ${PARAMS_BYTES / 4} fields`);
    this.list.push({ name, type });
  }
}

export interface DispatchPlan {
  params: Params;
  /** Workgroups in x, y, z. */
  grid: readonly [number, number?, number?];
}

/**
 * One call site of a kernel: its pipeline, its own uniform buffer and a bind group made once. `encode(pass, rows,
 * extent?)` recomputes the plan only when (rows, extent) changes, and rewrites the uniform only when the plan's bytes
 * differ from what it holds (decode steps repeat the same shapes, so a decode step costs a dispatch and nothing else per
 * call). `extent` is a second size some call sites take besides the row count (attention: the step's largest position,
 * which sizes its grid but not its params); `plan` must depend on (rows, extent) alone.
 * A call is encoded at most once per submit: its uniform holds one value at a time.
 */
export class KernelCall {
  private readonly uniform: GPUBuffer;
  private readonly bindGroup: GPUBindGroup;
  private lastRows: number | undefined;
  private lastExtent: number | undefined;
  /** (16 fields) what the uniform buffer holds now; `written` bytes of it are valid (0: nothing written yet). */
  private readonly held = new Uint8Array(PARAMS_BYTES);
  private written = 0;
  private grid: readonly [number, number, number] = [0, 0, 0];

  constructor(
    private readonly gpu: GpuContext,
    readonly label: string,
    private readonly pipeline: GPUComputePipeline,
    buffers: readonly GPUBuffer[],
    private readonly plan: (rows: number, extent?: number) => DispatchPlan,
  ) {
    checkParams(label, pipeline, plan);
    this.uniform = gpu.device.createBuffer({ label: `${label} params`, size: PARAMS_BYTES, usage: UNIFORM | COPY_DST });
    this.bindGroup = gpu.device.createBindGroup({
      label,
      layout: pipeline.getBindGroupLayout(0),
      entries: [{ binding: 0, resource: { buffer: this.uniform } }, ...buffers.map((buffer, i) => ({ binding: i + 1, resource: { buffer } }))],
    });
  }

  encode(pass: GPUComputePassEncoder, rows: number, extent?: number): void {
    if (rows !== this.lastRows || extent !== this.lastExtent) {
      const { params, grid } = this.plan(rows, extent);
      const [x, y = 1, z = 1] = grid;
      const max = this.gpu.limits.maxComputeWorkgroupsPerDimension;
      if (x > max || y > max || z > max) throw new Error(`${this.label}: grid ${x}×${y}×${z} exceeds ${max} workgroups per dimension`);
      const bytes = params.bytes();
      if (!this.holds(bytes)) {
        this.gpu.device.queue.writeBuffer(this.uniform, 0, bytes);
        this.held.set(bytes);
        this.written = bytes.length;
      }
      this.grid = [x, y, z];
      this.lastRows = rows;
      this.lastExtent = extent;
    }
    const [x, y, z] = this.grid;
    if (x === 0 || y === 0 || z === 0) return;
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, this.bindGroup);
    pass.dispatchWorkgroups(x, y, z);
    this.gpu.counters.dispatches++;
  }

  /** Whether the uniform buffer already holds exactly `bytes` (a plan whose grid changed but whose params did not). */
  private holds(bytes: Uint8Array): boolean {
    if (bytes.length !== this.written) return false;
    for (let i = 0; i < bytes.length; i++) if (bytes[i] !== this.held[i]) return false;
    return true;
  }

  destroy(): void {
    this.uniform.destroy();
  }
}

/**
 * Throws unless the params `plan` writes match the struct the pipeline's shader declares. Once per call site, on the
 * params for one row and no extent: a plan's fields must not depend on the row count or the extent (only their values do).
 */
function checkParams(label: string, pipeline: GPUComputePipeline, plan: (rows: number, extent?: number) => DispatchPlan): void {
  const uniform = pipelineUniforms.get(pipeline);
  if (!uniform) throw new Error(`${label}: pipeline ${pipeline.label} was not made by computePipeline, so its params cannot be checked`);
  const written = plan(1).params.fields;
  if (!uniform.fields) {
    if (written.length > 0) throw new Error(`${label}: shader ${uniform.name}: the module writes uniform params, but the shader has no var<uniform> at @binding(0)`);
    return;
  }
  checkUniformFields(`${label}: shader ${uniform.name}`, uniform.fields, written);
}

export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}
