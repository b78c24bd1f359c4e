// Loads a Hugging Face checkpoint (config.json + model.safetensors) for the CPU reference model: every tensor under its
// name in the file, decoded to float64, with the project's safetensors reader (not the engine's model loader).
import { bytesSource } from '../../src/io/byteSource.ts';
import type { ByteSource } from '../../src/io/byteSource.ts';
import { decodeToFloat32, isFloatDtype } from '../../src/io/dtype.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import type { Dtype } from '../../src/io/safetensors.ts';
import type { RawConfig, RawTensor } from '../reference/cpuModel.ts';

export interface CheckpointTensors {
  readonly config: RawConfig;
  readonly tensors: Map<string, RawTensor>;
}

/** Decodes one tensor's bytes to float64: F32/F16/BF16 exactly (via the project's decoder), F64, and integer/bool buffers. */
export function decodeToFloat64(dtype: Dtype, bytes: Uint8Array): Float64Array {
  if (isFloatDtype(dtype)) return Float64Array.from(decodeToFloat32(dtype, bytes));
  const copy = bytes.slice(); // aligned
  switch (dtype) {
    case 'F64':
      return new Float64Array(copy.buffer);
    case 'BOOL':
    case 'U8':
      return Float64Array.from(copy);
    case 'I8':
      return Float64Array.from(new Int8Array(copy.buffer));
    case 'I16':
      return Float64Array.from(new Int16Array(copy.buffer));
    case 'U16':
      return Float64Array.from(new Uint16Array(copy.buffer));
    case 'I32':
      return Float64Array.from(new Int32Array(copy.buffer));
    case 'U32':
      return Float64Array.from(new Uint32Array(copy.buffer));
    case 'I64':
      return Float64Array.from(new BigInt64Array(copy.buffer), Number);
    case 'U64':
      return Float64Array.from(new BigUint64Array(copy.buffer), Number);
    default:
      throw new Error(`checkpoint: cannot decode dtype ${dtype}`);
  }
}

/** Every tensor of a safetensors file, decoded to float64, by its stored name. */
export async function readSafetensorsTensors(source: ByteSource): Promise<Map<string, RawTensor>> {
  const file = await SafetensorsFile.open(source);
  try {
    const tensors = new Map<string, RawTensor>();
    for (const [name, info] of file.tensors) {
      tensors.set(name, { shape: [...info.shape], data: decodeToFloat64(info.dtype, await file.read(name)) });
    }
    return tensors;
  } finally {
    await file.close();
  }
}

/** A checkpoint folder holding config.json and model.safetensors (Node only: imported lazily so that the rest of this
 * module also serves the browser project's tests). */
export async function loadCheckpointTensors(dir: string): Promise<CheckpointTensors> {
  const { readFile } = await import('node:fs/promises');
  const { join } = await import('node:path');
  const { fileSource } = await import('../../src/io/nodeFileSource.ts');
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as RawConfig;
  const tensors = await readSafetensorsTensors(await fileSource(join(dir, 'model.safetensors')));
  return { config, tensors };
}

/** The same from files in memory (e.g. what `makeRandomCheckpoint` returns). */
export async function loadCheckpointFiles(files: { readonly 'config.json': string; readonly 'model.safetensors': Uint8Array }): Promise<CheckpointTensors> {
  const config = JSON.parse(files['config.json']) as RawConfig;
  const tensors = await readSafetensorsTensors(bytesSource('model.safetensors', files['model.safetensors']));
  return { config, tensors };
}
