// Writes safetensors files: used to save converted weights, to build random-weight models in memory (benchmarks, tests)
// and to make malformed files on purpose (the validation tests). Same layout the reference crate writes: the JSON header
// padded with spaces to a multiple of 8 bytes, tensors packed in the order given.
import type { Dtype } from './safetensors.ts';

export interface TensorToWrite {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Raw little-endian element bytes. */
  readonly data: Uint8Array;
}

export function serializeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const jsonBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + jsonBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  out.set(jsonBytes, 8);
  let cursor = 8 + jsonBytes.byteLength;
  for (const t of tensors) {
    out.set(t.data, cursor);
    cursor += t.data.byteLength;
  }
  return out;
}
