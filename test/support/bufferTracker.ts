// Counts GPU buffers: wraps `device.createBuffer` so a test can tell which buffers made in a window were never destroyed
// (a load that fails half-way, an engine after dispose()). Works on Dawn's device objects in Node, whose methods are
// ordinary writable properties.
import type { GpuContext } from '../../src/gpu/context.ts';

export interface BufferTracker {
  /** Labels of the buffers created since `trackBuffers` that are not destroyed yet. */
  live(): string[];
  /** How many buffers were created since `trackBuffers`. */
  readonly created: number;
  /** Puts the device's own createBuffer back. */
  stop(): void;
}

export function trackBuffers(gpu: GpuContext): BufferTracker {
  const device = gpu.device as GPUDevice & { createBuffer: GPUDevice['createBuffer'] };
  const hadOwn = Object.hasOwn(device, 'createBuffer');
  const original = device.createBuffer;
  const live = new Map<GPUBuffer, string>();
  let created = 0;
  device.createBuffer = function (this: GPUDevice, descriptor: GPUBufferDescriptor): GPUBuffer {
    const buffer = original.call(this, descriptor);
    created++;
    live.set(buffer, descriptor.label ?? '(no label)');
    const destroy = buffer.destroy;
    buffer.destroy = function (this: GPUBuffer) {
      live.delete(buffer);
      return destroy.call(this);
    };
    return buffer;
  };
  return {
    live: () => [...live.values()],
    get created() {
      return created;
    },
    stop() {
      if (hadOwn) device.createBuffer = original;
      else delete (device as Partial<GPUDevice>).createBuffer;
    },
  };
}
