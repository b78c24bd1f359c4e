// A model from the Hugging Face Hub (or any base URL in its layout) downloaded into a folder on disk (Node only), so
// the CLI's `--model org/name` loads like a local folder and a second run needs no network.
//
// The same rules as the browser's Cache API: only complete files count. Each file is written to `name.part` and
// renamed to `name` only when its body ended with exactly Content-Length bytes (when the answer is not compressed), so an interrupted, stalled or short download
// leaves no file that a later run would trust (the next run starts that file again). Optional files the server does
// not have (404) are remembered in `.absent.json`, so a cached model is complete without asking the server again.
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DownloadError, ModelFormatError } from '../errors.ts';
import { modelBaseUrl } from './cachedModelFiles.ts';
import { isHtmlPage } from './modelFiles.ts';
import { decodedLength, DEFAULT_IDLE_TIMEOUT_MS, fetchWithDeadline, guardedBody, type FetchLike } from './httpFetch.ts';
import { checkedShardNames, fileUrlUnderBase } from './shardNames.ts';

export interface DiskDownloadProgress {
  file: string;
  /** Bytes of this file written so far, and its size (0 when the server did not say). */
  loaded: number;
  total: number;
  done: boolean;
}

export interface DiskDownloadOptions {
  /** Where models are kept (default: defaultCacheDir()). */
  cacheDir?: string;
  /** The Hub endpoint for model ids (default https://huggingface.co/). */
  hub?: string;
  fetch?: FetchLike;
  onProgress?: (progress: DiskDownloadProgress) => void;
  signal?: AbortSignal;
  /** No headers, or no new bytes, for this long ends the download with a DownloadError (default 30000 ms). */
  idleTimeoutMs?: number;
}

/** $XDG_CACHE_HOME/gpt-webgpu, or ~/.cache/gpt-webgpu. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.XDG_CACHE_HOME ? join(env.XDG_CACHE_HOME, 'gpt-webgpu') : join(homedir(), '.cache', 'gpt-webgpu');
}

const ABSENT_FILE = '.absent.json';

/**
 * The folder of `source` (a Hub id like openai-community/gpt2, or an http(s) base URL) under the cache, named so a
 * person can tell models apart, with a hash of the full base URL so two endpoints never share a folder.
 */
export function modelCacheFolder(source: string, cacheDir: string, hub?: string): string {
  const base = modelBaseUrl(source, hub);
  const readable = source.replace(/^https?:\/\//i, '').replace(/[^A-Za-z0-9._-]+/g, '--').replace(/^[-.]+|[-.]+$/g, '').slice(0, 80);
  return join(cacheDir, `${readable || 'model'}-${createHash('sha256').update(base).digest('hex').slice(0, 12)}`);
}

/** Downloads what the loader needs (config, weights, tokenizer files) into the cache; returns the model's folder. */
export async function downloadModelToDisk(source: string, options: DiskDownloadOptions = {}): Promise<string> {
  const base = modelBaseUrl(source, options.hub);
  const folder = modelCacheFolder(source, options.cacheDir ?? defaultCacheDir(), options.hub);
  await mkdir(folder, { recursive: true });
  const absentPath = join(folder, ABSENT_FILE);
  const absent = new Set<string>(await readFile(absentPath, 'utf8').then((t) => JSON.parse(t) as string[], () => []));
  const fetchFn = options.fetch ?? ((u: string, i?: RequestInit) => fetch(u, i));
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;

  /** Makes sure `file` is on disk (true) or known to be absent (false); a required file that is absent throws. */
  const ensure = async (file: string, required: boolean): Promise<boolean> => {
    const path = join(folder, file);
    if (await stat(path).then((s) => s.isFile(), () => false)) return true;
    if (!required && absent.has(file)) return false;
    const url = fileUrlUnderBase(file, base);
    const { response, abort } = await fetchWithDeadline(url, { fetch: fetchFn, idleMs, signal: options.signal });
    // A site with an SPA fallback answers a missing file with its index.html and 200: no model file is HTML.
    const html = isHtmlPage('', response.headers.get('content-type'));
    if (response.status === 404 || (response.ok && html)) {
      await response.body?.cancel();
      if (required) throw new DownloadError(`${url} was not found (${html ? 'the server answered with an HTML page' : 'HTTP 404'}); check the model id or URL`);
      absent.add(file);
      await writeFile(absentPath, JSON.stringify([...absent].sort()));
      return false;
    }
    if (!response.ok || !response.body) throw new DownloadError(`fetching ${url} failed with HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    // A compressed answer (fetch decodes it) has no usable length: then the byte count is not checked.
    const length = decodedLength(response);
    const total = Number.isFinite(length) ? length : undefined;
    const part = `${path}.part`;
    const handle = await open(part, 'w');
    let loaded = 0;
    try {
      // Guarded: a stall, or a body short of (or past) its Content-Length, is a DownloadError naming the URL.
      const reader = guardedBody(response.body, url, total, idleMs, abort, () => !!options.signal?.aborted).getReader();
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        await handle.write(chunk.value);
        loaded += chunk.value.length;
        options.onProgress?.({ file, loaded, total: total ?? 0, done: false });
      }
    } catch (e) {
      await handle.close();
      await rm(part, { force: true });
      throw e;
    }
    await handle.close();
    await rename(part, path);
    options.onProgress?.({ file, loaded, total: total ?? loaded, done: true });
    return true;
  };

  await ensure('config.json', true);
  if (!(await ensure('model.safetensors', false))) {
    const indexFile = 'model.safetensors.index.json';
    if (!(await ensure(indexFile, false))) throw new DownloadError(`${base} has neither model.safetensors nor ${indexFile}; this engine reads safetensors checkpoints`);
    let weightMap: unknown;
    try {
      weightMap = (JSON.parse(await readFile(join(folder, indexFile), 'utf8')) as { weight_map?: unknown }).weight_map;
    } catch {
      throw new ModelFormatError(`${indexFile} of ${base} is not valid JSON`);
    }
    if (weightMap === null || typeof weightMap !== 'object') throw new ModelFormatError(`${indexFile} of ${base} has no "weight_map" object`);
    for (const shard of checkedShardNames(indexFile, weightMap)) await ensure(shard, true);
  }
  if (!(await ensure('tokenizer.json', false))) {
    await ensure('vocab.json', false);
    await ensure('merges.txt', false);
  }
  return folder;
}
