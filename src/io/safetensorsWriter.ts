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
  // Entries, then fromEntries: it defines own properties, so a name such as "__proto__" stays a key of the JSON (an
  // assignment would set the object's prototype and the tensor would vanish from the header).
  const entries: [string, unknown][] = [];
  if (metadata) entries.push(['__metadata__', metadata]);
  let offset = 0;
  for (const t of tensors) {
    entries.push([t.name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] }]);
    offset += t.data.byteLength;
  }
  const encoded = new TextEncoder().encode(JSON.stringify(Object.fromEntries(entries)));
  // Pad the UTF-8 bytes, not the UTF-16 string: they differ in length as soon as a name is not ASCII.
  const jsonBytes = new Uint8Array(encoded.byteLength + ((8 - (encoded.byteLength % 8)) % 8)).fill(0x20);
  jsonBytes.set(encoded);
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
