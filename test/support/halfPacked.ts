// f16 test weights as the loader stores them: values rounded to f16 (what the kernels compute with) and the same
// values packed two per u32, padded to whole words (what the GPU buffer holds).
import { decodeToFloat32, encodeFloats } from '../../src/io/dtype.ts';

export function halfPacked(values: Float32Array): { rounded: Float32Array; packed: Uint32Array } {
  const bytes = encodeFloats('F16', values);
  const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
  padded.set(bytes);
  return { rounded: decodeToFloat32('F16', bytes), packed: new Uint32Array(padded.buffer) };
}
