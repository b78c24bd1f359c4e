// One GPU device and what the engine needs to know about it: which optional features it has, its limits, what kind of
// adapter it is, and the errors it raised. Works on any `GPU` object: the browser's `navigator.gpu` or Dawn's in Node
// (see node.ts). Device loss and uncaptured errors turn into typed errors that the next read-back throws, so a broken
// device can never produce a silently wrong answer.
import { DeviceLostError, GpuError, OutOfMemoryError, WebGpuUnavailableError } from '../errors.ts';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A software rasterizer (Mesa llvmpipe, SwiftShader, a fallback adapter): correct, but slow. */
  software: boolean;
  /** 'core' or 'compatibility' (OpenGL ES backends only offer compatibility). */
  featureLevel: 'core' | 'compatibility';
}

export interface GpuFeatures {
  subgroups: boolean;
  shaderF16: boolean;
  timestampQuery: boolean;
}

/** Limits we raise from the WebGPU defaults to what the adapter offers: the defaults are too small for real checkpoints. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupsPerDimension',
] as const;

export class GpuContext {
  /** Work recorded on this device so far (kernel dispatches, queue submits): benchmarks report them per step. */
  readonly counters = { dispatches: 0, submits: 0 };
  private pendingError: Error | undefined;
  private lostError: DeviceLostError | undefined;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterSummary,
    readonly features: GpuFeatures,
  ) {
    device.addEventListener('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      const kind = error instanceof GPUOutOfMemoryError ? 'out-of-memory' : error instanceof GPUValidationError ? 'validation' : error instanceof GPUInternalError ? 'internal' : 'unknown';
      this.pendingError ??= new GpuError(kind, error.message);
    });
    void device.lost.then((info) => {
      // reason 'destroyed' is our own dispose(); anything else is a real loss that in-flight work must hear about.
      this.lostError ??= new DeviceLostError(
        info.reason === 'destroyed'
          ? 'the GPU device was destroyed; create a new engine to continue'
          : `the GPU device was lost (${info.message || 'no reason given'}); create a new engine to continue`,
      );
    });
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  get isLost(): boolean {
    return this.lostError !== undefined;
  }

  /** Throws the device-lost or the first uncaptured error seen since the last check. Called after every read-back. */
  throwIfFailed(): void {
    if (this.lostError) throw this.lostError;
    const error = this.pendingError;
    if (error) {
      this.pendingError = undefined;
      throw error;
    }
  }

  /** Wraps a failed `mapAsync` (which is how a lost device shows itself mid-request) in the typed error. */
  failure(cause: unknown): Error {
    if (this.lostError) return this.lostError;
    if (cause instanceof Error && /lost|destroyed/i.test(cause.message)) {
      return new DeviceLostError(`the GPU device was lost (${cause.message}); create a new engine to continue`);
    }
    return cause instanceof Error ? cause : new Error(String(cause));
  }

  /**
   * Runs `create` (which allocates about `bytes` of GPU memory) inside an out-of-memory error scope. WebGPU reports a
   * failed allocation only asynchronously; when it does, `destroy` undoes what `create` made and OutOfMemoryError says
   * what could not be allocated.
   */
  async allocating<T>(what: string, bytes: number, allocatedBefore: number, remedy: string, create: () => T | Promise<T>, destroy: (made: T) => void): Promise<T> {
    this.device.pushErrorScope('out-of-memory');
    let made: T;
    try {
      made = await create();
    } catch (e) {
      await this.device.popErrorScope();
      throw e;
    }
    const error = await this.device.popErrorScope();
    if (error) {
      destroy(made);
      throw new OutOfMemoryError(what, bytes, allocatedBefore, remedy);
    }
    return made;
  }

  destroy(): void {
    this.device.destroy();
  }
}

export interface RequestGpuOptions {
  powerPreference?: GPUPowerPreference;
  featureLevel?: 'core' | 'compatibility';
  /** Accept a fallback/software adapter (true in Node's software path and the headless-browser tests). */
  allowSoftware?: boolean;
}

/** Picks an adapter from `gpu`, requests its features and raised limits, and wraps the device. */
export async function requestGpuContext(gpu: GPU, options: RequestGpuOptions = {}): Promise<GpuContext> {
  const featureLevel = options.featureLevel ?? 'core';
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance', featureLevel });
  if (!adapter) throw new WebGpuUnavailableError('no WebGPU adapter is available; update the GPU driver or the browser, or enable WebGPU');
  const summary = summarizeAdapter(adapter, featureLevel);
  if (summary.software && options.allowSoftware === false) {
    throw new WebGpuUnavailableError(`only a software adapter (${summary.device || summary.description}) is available`);
  }
  const wanted: GPUFeatureName[] = ['subgroups', 'shader-f16', 'timestamp-query'];
  const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of RAISED_LIMITS) {
    const value = (adapter.limits as unknown as Record<string, number | undefined>)[name];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'gpt-webgpu' });
  } catch (e) {
    throw new WebGpuUnavailableError(`the WebGPU adapter refused to create a device: ${(e as Error).message}`);
  }
  return new GpuContext(device, summary, {
    subgroups: device.features.has('subgroups'),
    shaderF16: device.features.has('shader-f16'),
    timestampQuery: device.features.has('timestamp-query'),
  });
}

function summarizeAdapter(adapter: GPUAdapter, featureLevel: 'core' | 'compatibility'): AdapterSummary {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  const isFallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: isFallback || /llvmpipe|lavapipe|swiftshader|softpipe|software/.test(text),
    featureLevel,
  };
}
