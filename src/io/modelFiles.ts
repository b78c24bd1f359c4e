// A model in the Hugging Face layout (config.json, model.safetensors or shards, tokenizer files), wherever it lives.
// Node folders are in nodeModelFiles.ts; the browser's sources (Hub URLs, picked files) implement the same interface.
import { type ByteSource, blobSource, bytesSource } from './byteSource.ts';
import { ConfigError } from '../errors.ts';

export interface ModelFiles {
  /** What to call the model in messages (a folder path, a Hub id, a URL). */
  readonly name: string;
  has(file: string): Promise<boolean>;
  /** The file's text; throws a typed error naming the file when it is missing. */
  text(file: string): Promise<string>;
  /** Random access to the file's bytes. */
  open(file: string): Promise<ByteSource>;
}

/** A model held in memory (tests, random-weight benchmark models, files a page already has). */
export function memoryModelFiles(name: string, files: Record<string, string | Uint8Array>): ModelFiles {
  const bytesOf = (file: string): Uint8Array => {
    const value = files[file];
    if (value === undefined) throw new ConfigError(`${name}: ${file} is missing`);
    return typeof value === 'string' ? new TextEncoder().encode(value) : value;
  };
  return {
    name,
    async has(file) {
      return Object.hasOwn(files, file);
    },
    async text(file) {
      return new TextDecoder().decode(bytesOf(file));
    },
    async open(file) {
      return bytesSource(file, bytesOf(file));
    },
  };
}

/**
 * A model from files the user picked or dropped (a folder or loose files): matched by file name, so a dropped folder
 * "gpt2/config.json" serves "config.json". Reads slice the File, so weights are never read whole.
 */
export function fileListModelFiles(files: readonly File[], name = 'local files'): ModelFiles {
  const byName = new Map(files.map((f) => [f.name, f]));
  const get = (file: string): File => {
    const f = byName.get(file);
    if (!f) throw new ConfigError(`${name}: ${file} is missing; pick the model's folder or its config.json, model.safetensors and tokenizer files`);
    return f;
  };
  return {
    name,
    async has(file) {
      return byName.has(file);
    },
    async text(file) {
      return get(file).text();
    },
    async open(file) {
      return blobSource(file, get(file));
    },
  };
}
