// Re-serializing safetensors checkpoints with surgical edits (drop, reshape, add or retype a tensor), for the loader's
// error-path tests. Tensors are read back with the project's reader and written with its writer, bytes untouched unless
// an edit says otherwise, so the file stays valid safetensors and only the model-level problem remains.
import { bytesSource } from '../../src/io/byteSource.ts';
import type { ByteSource } from '../../src/io/byteSource.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { serializeSafetensors } from '../../src/io/safetensorsWriter.ts';
import type { TensorToWrite } from '../../src/io/safetensorsWriter.ts';
import type { ModelFiles } from '../../src/io/modelFiles.ts';

/** Every tensor of a safetensors file, in file order, with its raw bytes (copied). */
export async function readRawTensors(bytes: Uint8Array): Promise<TensorToWrite[]> {
  const file = await SafetensorsFile.open(bytesSource('model.safetensors', bytes));
  try {
    const out: TensorToWrite[] = [];
    for (const info of file.header.tensors) {
      out.push({ name: info.name, dtype: info.dtype, shape: [...info.shape], data: (await file.read(info.name)).slice() });
    }
    return out;
  } finally {
    await file.close();
  }
}

/** `tensors` through `edit` (return a new list), serialized again. */
export async function editSafetensors(bytes: Uint8Array, edit: (tensors: TensorToWrite[]) => TensorToWrite[]): Promise<Uint8Array> {
  return serializeSafetensors(edit(await readRawTensors(bytes)), { format: 'pt' });
}

/** Raises if `name` is not among `tensors` (so an edit never silently does nothing). */
export function requireTensor(tensors: readonly TensorToWrite[], name: string): TensorToWrite {
  const found = tensors.find((t) => t.name === name);
  if (!found) throw new Error(`checkpointEdits: no tensor ${name} (have ${tensors.map((t) => t.name).join(', ')})`);
  return found;
}

export function dropTensor(name: string): (tensors: TensorToWrite[]) => TensorToWrite[] {
  return (tensors) => {
    requireTensor(tensors, name);
    return tensors.filter((t) => t.name !== name);
  };
}

export function replaceTensor(name: string, make: (old: TensorToWrite) => TensorToWrite): (tensors: TensorToWrite[]) => TensorToWrite[] {
  return (tensors) => {
    requireTensor(tensors, name);
    return tensors.map((t) => (t.name === name ? make(t) : t));
  };
}

export const addTensor = (extra: TensorToWrite) => (tensors: TensorToWrite[]) => [...tensors, extra];

/**
 * `files` whose byte sources are counted: `opened` / `closed` tell whether a loader released every file it opened,
 * and `failAfterReads` makes the n-th data read of model.safetensors (after the two header reads) throw, to break a
 * load in the middle of the upload.
 */
export function instrumentedModelFiles(
  name: string,
  files: Record<string, string | Uint8Array>,
  options: { failAfterReads?: number } = {},
): ModelFiles & { readonly stats: { opened: number; closed: number; reads: number } } {
  const stats = { opened: 0, closed: 0, reads: 0 };
  const bytesOf = (file: string): Uint8Array => {
    const value = files[file];
    if (value === undefined) throw new Error(`${name}: ${file} is missing`);
    return typeof value === 'string' ? new TextEncoder().encode(value) : value;
  };
  return {
    name,
    stats,
    async has(file) {
      return Object.hasOwn(files, file);
    },
    async text(file) {
      return new TextDecoder().decode(bytesOf(file));
    },
    async open(file): Promise<ByteSource> {
      const inner = bytesSource(file, bytesOf(file));
      stats.opened++;
      let reads = 0;
      return {
        name: inner.name,
        size: inner.size,
        async read(offset, length) {
          stats.reads++;
          reads++;
          if (options.failAfterReads !== undefined && reads > 2 + options.failAfterReads) throw new Error(`injected read failure at offset ${offset}`);
          return inner.read(offset, length);
        },
        async close() {
          stats.closed++;
        },
      };
    },
  };
}
