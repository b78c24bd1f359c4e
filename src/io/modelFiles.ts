// A model in the Hugging Face layout (config.json, model.safetensors or shards, tokenizer files), wherever it lives.
// Node folders are in nodeModelFiles.ts; the browser's sources (Hub URLs, picked files) implement the same interface.
// Optional files (the tokenizer's) are read through `optionalText`, the one place that decides what counts as absent.
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
  /**
   * The load that read these files succeeded: a source may now record what it learned (the HTTP source writes its
   * "this file is absent" markers into the cache only then, so a failed load leaves no model that looks complete).
   */
  finish?(): Promise<void>;
}

/**
 * Whether a file's start (and, over HTTP, its content type) shows an HTML page rather than a model file. Vite's
 * servers and most static hosts answer a missing path with the site's index.html and status 200 (an "SPA fallback"),
 * so a 200 alone does not prove that tokenizer.json exists. No model file is HTML: config and tokenizer files are
 * JSON or text, weights are binary.
 */
export function isHtmlPage(start: string, contentType?: string | null): boolean {
  if (contentType && /^\s*text\/html\b/i.test(contentType)) return true;
  return /^[\s\uFEFF]*<(!doctype|html)[\s>]/i.test(start.slice(0, 1024));
}

/**
 * The text of an optional file, or undefined when it is absent: missing, or an HTML page served in its place. Every
 * source goes through here, so a folder, a URL and picked files agree on what is there.
 */
export async function optionalText(files: ModelFiles, file: string): Promise<string | undefined> {
  if (!(await files.has(file))) return undefined;
  const text = await files.text(file);
  return isHtmlPage(text) ? undefined : text;
}

/** The text of a required file; an HTML page in its place is the file missing, said as such (not "invalid JSON"). */
export async function requiredText(files: ModelFiles, file: string): Promise<string> {
  const text = await files.text(file);
  if (isHtmlPage(text)) {
    throw new ConfigError(`${files.name}: ${file} is missing (an HTML page came in its place, which is how many web servers answer a missing file); check the model's address`);
  }
  return text;
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
