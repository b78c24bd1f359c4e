// Buffer creation, chunked uploads and read-backs. Large uploads go in pieces: on the software adapters a single
// 64 MiB queue.writeBuffer aborts Dawn in Node, while 16 MiB pieces work (../docs or FACTS: measured on this project).
import { GpuLimitError } from '../errors.ts';
import type { GpuContext } from './context.ts';

export const UPLOAD_CHUNK_BYTES = 16 * 1024 * 1024;

export const STORAGE = 0x80; // GPUBufferUsage.STORAGE, as a constant so modules need no WebGPU global at import time
export const COPY_SRC = 0x04;
export const COPY_DST = 0x08;
export const UNIFORM = 0x40;
export const MAP_READ = 0x01;

/** A storage buffer that can be written from the CPU and copied from; size rounded up to 4 bytes (at least 4). */
export function createStorageBuffer(gpu: GpuContext, label: string, byteSize: number): GPUBuffer {
  const size = Math.max(4, Math.ceil(byteSize / 4) * 4);
  if (size > gpu.limits.maxBufferSize) {
    throw new GpuLimitError(`${label} needs a ${formatBytes(size)} buffer, over this adapter's maxBufferSize of ${formatBytes(gpu.limits.maxBufferSize)}`);
  }
  if (size > gpu.limits.maxStorageBufferBindingSize) {
    throw new GpuLimitError(
      `${label} needs a ${formatBytes(size)} storage binding, over this adapter's maxStorageBufferBindingSize of ` +
        `${formatBytes(gpu.limits.maxStorageBufferBindingSize)}; use a smaller model or a GPU/browser with larger limits`,
    );
  }
  return gpu.device.createBuffer({ label, size, usage: STORAGE | COPY_SRC | COPY_DST });
}

/** Writes `data` into `buffer` at `byteOffset` in pieces of at most UPLOAD_CHUNK_BYTES. */
export function writeChunked(gpu: GpuContext, buffer: GPUBuffer, byteOffset: number, data: ArrayBufferView): void {
  const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength); // never shared memory here
  for (let at = 0; at < bytes.byteLength; at += UPLOAD_CHUNK_BYTES) {
    const piece = bytes.subarray(at, Math.min(at + UPLOAD_CHUNK_BYTES, bytes.byteLength));
    gpu.device.queue.writeBuffer(buffer, byteOffset + at, piece);
  }
}

/** A storage buffer holding `data` (f32 or u32 elements). */
export function uploadBuffer(gpu: GpuContext, label: string, data: Float32Array | Uint32Array | Int32Array): GPUBuffer {
  const buffer = createStorageBuffer(gpu, label, data.byteLength);
  writeChunked(gpu, buffer, 0, data);
  return buffer;
}

/** Copies `byteSize` bytes of `source` (from `byteOffset`) to the CPU after all submitted work; throws typed errors. */
export async function readBack(gpu: GpuContext, source: GPUBuffer, byteSize: number, byteOffset = 0): Promise<ArrayBuffer> {
  const size = Math.ceil(byteSize / 4) * 4;
  const staging = gpu.device.createBuffer({ label: 'read-back', size: Math.max(4, size), usage: MAP_READ | COPY_DST });
  try {
    const encoder = gpu.device.createCommandEncoder({ label: 'read-back' });
    encoder.copyBufferToBuffer(source, byteOffset, staging, 0, size);
    gpu.device.queue.submit([encoder.finish()]);
    try {
      await staging.mapAsync(0x01 /* GPUMapMode.READ */);
    } catch (e) {
      throw gpu.failure(e);
    }
    gpu.throwIfFailed();
    return staging.getMappedRange().slice(0, byteSize);
  } finally {
    staging.destroy();
  }
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}
