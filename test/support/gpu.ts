// The GPU test fixture: one device per test file (platform.ts: Dawn in Node, or the browser's WebGPU), every test
// wrapped in error scopes that must come back empty, and buffers made through `track` destroyed after each test.
// There is no skip: a machine without any WebGPU adapter fails these tests, as it should.
import { afterAll, afterEach, beforeAll, beforeEach, expect } from 'vitest';
import type { GpuContext } from '../../src/gpu/context.ts';
import { createStorageBuffer, readBack, writeChunked } from '../../src/gpu/buffers.ts';
import { createTestGpuContext } from './platform.ts';

export interface GpuFixture {
  readonly gpu: GpuContext;
  /** A storage buffer destroyed after the current test. */
  buffer(label: string, byteSize: number): GPUBuffer;
  /** A storage buffer holding `data`, destroyed after the current test. */
  upload(label: string, data: Float32Array | Uint32Array): GPUBuffer;
  readF32(buffer: GPUBuffer, count: number): Promise<Float32Array>;
  readU32(buffer: GPUBuffer, count: number): Promise<Uint32Array>;
  /** Encodes `body` in one compute pass and submits it. */
  run(body: (pass: GPUComputePassEncoder) => void): void;
}

export function useGpu(): GpuFixture {
  let gpu: GpuContext | undefined;
  const created: GPUBuffer[] = [];
  beforeAll(async () => {
    gpu = await createTestGpuContext();
  });
  afterAll(() => gpu?.destroy());
  beforeEach(() => {
    for (const filter of ['validation', 'out-of-memory', 'internal'] as const) gpu!.device.pushErrorScope(filter);
  });
  afterEach(async () => {
    const errors = [];
    for (let i = 0; i < 3; i++) errors.push(await gpu!.device.popErrorScope());
    for (const b of created.splice(0)) b.destroy();
    expect(errors.filter(Boolean).map((e) => e!.message)).toEqual([]);
    gpu!.throwIfFailed();
  });
  const self: GpuFixture = {
    get gpu() {
      if (!gpu) throw new Error('GPU fixture used outside a test');
      return gpu;
    },
    buffer(label, byteSize) {
      const b = createStorageBuffer(self.gpu, label, byteSize);
      created.push(b);
      return b;
    },
    upload(label, data) {
      const b = self.buffer(label, data.byteLength);
      writeChunked(self.gpu, b, 0, data);
      return b;
    },
    async readF32(buffer, count) {
      return new Float32Array(await readBack(self.gpu, buffer, count * 4));
    },
    async readU32(buffer, count) {
      return new Uint32Array(await readBack(self.gpu, buffer, count * 4));
    },
    run(body) {
      const encoder = self.gpu.device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      body(pass);
      pass.end();
      self.gpu.device.queue.submit([encoder.finish()]);
    },
  };
  return self;
}
