// A GpuContext over a stand-in GPUDevice that runs nothing: enough of WebGPU for kernel modules to build their
// pipelines and KernelCalls and to encode dispatches, so tests can see what the modules hand to WebGPU (each
// pipeline's WGSL, each uniform write, each grid) on a machine without any GPU.
import { GpuContext } from '../../src/gpu/context.ts';

export interface FakePipeline {
  readonly label: string;
  /** The preprocessed WGSL the pipeline was compiled from. */
  readonly code: string;
}

export interface FakeGpu {
  readonly gpu: GpuContext;
  /** Every pipeline made, in order. */
  readonly pipelines: FakePipeline[];
  /** Bytes last written to each buffer, by the buffer's label. */
  readonly writes: Map<string, Uint8Array>;
  /** The dispatches encoded on `pass`, as the pipeline label and the grid. */
  readonly dispatches: { pipeline: string; grid: [number, number, number] }[];
  /** A compute pass that records into `dispatches`. */
  readonly pass: GPUComputePassEncoder;
}

const LIMITS = {
  maxBufferSize: 2 ** 32,
  maxStorageBufferBindingSize: 2 ** 31,
  maxComputeWorkgroupsPerDimension: 65535,
} as Partial<GPUSupportedLimits> as GPUSupportedLimits;

export function fakeGpu(): FakeGpu {
  const pipelines: FakePipeline[] = [];
  const writes = new Map<string, Uint8Array>();
  const dispatches: FakeGpu['dispatches'] = [];
  let current = '';
  const pass = {
    setPipeline: (p: GPUComputePipeline) => void (current = p.label),
    setBindGroup: () => undefined,
    dispatchWorkgroups: (x: number, y = 1, z = 1) => void dispatches.push({ pipeline: current, grid: [x, y, z] }),
    end: () => undefined,
  } as unknown as GPUComputePassEncoder;
  const device = {
    limits: LIMITS,
    lost: new Promise<never>(() => undefined),
    addEventListener: () => undefined,
    createShaderModule: ({ label, code }: GPUShaderModuleDescriptor) => ({ label, code }),
    createComputePipeline: ({ label, compute }: GPUComputePipelineDescriptor) => {
      const pipeline = { label: label ?? '', code: (compute.module as unknown as { code: string }).code, getBindGroupLayout: () => ({}) };
      pipelines.push(pipeline);
      return pipeline;
    },
    createBuffer: ({ label, size }: GPUBufferDescriptor) => ({ label: label ?? '', size, destroy: () => undefined }),
    createBindGroup: () => ({}),
    createCommandEncoder: () => ({ beginComputePass: () => pass, finish: () => ({}) }),
    queue: {
      writeBuffer: (buffer: GPUBuffer, _offset: number, data: ArrayBufferView) => {
        writes.set(buffer.label, new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)));
      },
      submit: () => undefined,
      onSubmittedWorkDone: async () => undefined,
    },
  } as unknown as GPUDevice;
  const adapter = { vendor: 'none', architecture: 'none', device: 'fake', description: 'no GPU', software: true, featureLevel: 'core' } as const;
  const gpu = new GpuContext(device, adapter, { subgroups: false, shaderF16: false, timestampQuery: false });
  return { gpu, pipelines, writes, dispatches, pass };
}

/** A stand-in storage buffer for kernel arguments. */
export function fakeBuffer(label: string): GPUBuffer {
  return { label, size: 4, destroy: () => undefined } as unknown as GPUBuffer;
}
