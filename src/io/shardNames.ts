// A model repository is untrusted input: the shard names its model.safetensors.index.json lists must never reach a
// file or a URL outside the model. Every source (a folder, HTTP / the Hub, files picked in a browser) gets its shard
// names through `checkedShardNames`, before anything is opened or fetched; the HTTP source also checks each URL it
// builds with `fileUrlUnderBase` (defence in depth: a name that slipped past would still not leave the base URL).
import { ModelFormatError } from '../errors.ts';

/**
 * A shard name is a plain file name: letters, digits, `.`, `_`, `-` (what Hugging Face writes, e.g.
 * `model-00001-of-00002.safetensors`), ending in `.safetensors`, not starting with a dot. That rules out `/`, `\`,
 * `..`, drive letters (`C:`), URL schemes, `%2F` and other percent escapes, NUL and every other control character.
 */
const PLAIN_SHARD_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*\.safetensors$/;

/** Longest shard name accepted; real ones are about 35 characters, and file systems stop at 255 bytes. */
const MAX_NAME_LENGTH = 200;

/** Why `name` is not a plain shard file name, or undefined when it is one. */
export function shardNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string') return `is ${name === null ? 'null' : typeof name}, not a file name`;
  if (name.length > MAX_NAME_LENGTH) return `is longer than ${MAX_NAME_LENGTH} characters`;
  if (!name.endsWith('.safetensors')) return 'does not end in .safetensors';
  if (!PLAIN_SHARD_NAME.test(name) || name.includes('..')) return 'is not a plain file name (only letters, digits, ".", "_" and "-"; no folders, "..", URL schemes or escapes)';
  return undefined;
}

/**
 * The distinct shard files of a `weight_map` (tensor name → shard file name), sorted; throws ModelFormatError naming
 * `indexFile` and the first bad entry. Keys are read with Object.keys, so `__proto__` is just a tensor name.
 */
/** Most distinct shard files an index may name: real checkpoints have a few dozen; each shard is a file opened or fetched. */
export const MAX_SHARDS = 10_000;

export function checkedShardNames(indexFile: string, weightMap: object): string[] {
  if (Array.isArray(weightMap)) throw new ModelFormatError(`${indexFile}: "weight_map" must be an object (tensor name → shard file), not an array`);
  const names = new Set<string>();
  for (const tensor of Object.keys(weightMap)) {
    const shard: unknown = (weightMap as Record<string, unknown>)[tensor];
    const problem = shardNameProblem(shard);
    if (problem !== undefined) {
      throw new ModelFormatError(`${indexFile}: the shard of tensor ${JSON.stringify(tensor)}, ${JSON.stringify(shard) ?? String(shard)}, ${problem}; the index may only name .safetensors files beside it`);
    }
    names.add(shard as string);
    if (names.size > MAX_SHARDS) throw new ModelFormatError(`${indexFile}: "weight_map" names more than ${MAX_SHARDS} distinct shard files; a real checkpoint has a few dozen`);
  }
  if (names.size === 0) throw new ModelFormatError(`${indexFile}: "weight_map" lists no shards`);
  return [...names].sort();
}

/**
 * The URL of `file` under `base` (which ends in "/"); throws ModelFormatError when the result would leave the base
 * (another host, another repository, a query that changes the resource). Redirects the server answers with are not
 * affected: this checks only the URLs we build.
 */
export function fileUrlUnderBase(file: string, base: string): string {
  // Compare normalized forms: a base typed as "HTTPS://Host/m/" resolves to "https://host/m/…".
  base = new URL(base).href;
  const url = new URL(file, base).href;
  const rest = url.startsWith(base) ? url.slice(base.length) : undefined;
  if (rest === undefined || rest !== file || /[/\\?#%]/.test(rest)) {
    throw new ModelFormatError(`the file name ${JSON.stringify(file)} would leave the model's base URL ${base} (it resolves to ${url}); a model may only name files beside it`);
  }
  return url;
}
