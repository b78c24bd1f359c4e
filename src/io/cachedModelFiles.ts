// Model files over HTTP (a Hugging Face model id or any base URL serving the same layout), cached with the Cache API
// where there is one (browsers; in Node, or with cacheName null, files just stream), with download progress. Weights stream: the download is split in two, one branch into the cache and
// one straight into the loader (and so into GPU buffers), never held whole in memory.
//
// A cache entry is only ever a complete, verified file: the cache branch counts bytes against Content-Length and
// errors on a short or failed body, which makes Cache.put reject and store nothing; HTTP errors are never cached.
// (transformers.js keeps models in the Cache API the same way.)
import { ConfigError, DownloadError, GptWebGpuError } from '../errors.ts';

export { DownloadError };
import type { ByteSource } from './byteSource.ts';
import { isHtmlPage, type ModelFiles } from './modelFiles.ts';
import { StreamSource } from './streamSource.ts';
import { fileUrlUnderBase } from './shardNames.ts';
import { decodedLength, DEFAULT_IDLE_TIMEOUT_MS, fetchWithDeadline, guardedBody, type FetchLike } from './httpFetch.ts';

export { DEFAULT_IDLE_TIMEOUT_MS, type FetchLike };
import { optionsObject, requireString } from '../requestTypes.ts';

export const DEFAULT_CACHE_NAME = 'gpt-webgpu-models';

/**
 * The header of a cache entry that records "this file is absent" (a probed tokenizer.json the model does not have), so
 * a cached model loads with no network at all. Written only after a successful load, like the files themselves.
 */
export const ABSENT_HEADER = 'x-gpt-webgpu-absent';

/** Whether a cache entry is an absent-file marker. */
export function isAbsentMarker(response: Response): boolean {
  return response.headers.get(ABSENT_HEADER) === '1';
}


/** The base URL of a Hub model's files, e.g. https://huggingface.co/openai-community/gpt2/resolve/main/. */
export function hubBaseUrl(modelId: string, revision = 'main', endpoint = 'https://huggingface.co/'): string {
  [modelId, revision, endpoint].forEach((v, i) => requireString(v, ['the model id', 'the revision', 'the Hub endpoint'][i], ConfigError));
  return `${endpoint.endsWith('/') ? endpoint : `${endpoint}/`}${modelId}/resolve/${revision}/`;
}

export interface DownloadProgress {
  file: string;
  /** Bytes of this file received so far, and its size (0 when unknown). */
  loaded: number;
  total: number;
  /** Bytes per second over this file so far. */
  rate: number;
  /** Served from the Cache API (no network). */
  fromCache: boolean;
  done: boolean;
}

export interface CachedModelFilesOptions {
  /** Cache API cache name (default "gpt-webgpu-models"); null disables caching. */
  cacheName?: string | null;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
  fetch?: FetchLike;
  /** A Cache API implementation (default: globalThis.caches). */
  caches?: CacheStorage;
  /** The Hub endpoint for model ids (default https://huggingface.co/; a mirror, or a test server). */
  hub?: string;
  /**
   * A response whose headers, or whose next bytes, do not arrive for this long ends the download with a
   * DownloadError naming the URL (default 30000 ms): a stalled connection never hangs a load.
   */
  idleTimeoutMs?: number;
}

const HUB_ID = /^[\w-][\w.-]*(\/[\w-][\w.-]*)?$/;

/** Whether `source` is read as a Hugging Face model id ("org/name", or a legacy bare "gpt2"). */
export function isHubId(source: string): boolean {
  return HUB_ID.test(source) && !source.includes('..');
}

/**
 * The base URL of a model's files, from:
 * - an http(s) URL (used as is);
 * - a Hugging Face model id, "org/name" or a bare legacy id like "gpt2" (on `hubEndpoint`, default huggingface.co);
 * - a path on the current site: "./models/x", "../x", "/models/x", "models/x/" (a trailing slash or three or more
 *   segments), resolved against `pageUrl` (default: the page's location). Two bare segments ("models/x") read as a
 *   Hub id: write "./models/x" for the site path.
 */
export function modelBaseUrl(source: string, hubEndpoint = 'https://huggingface.co/', pageUrl: string | undefined = (globalThis as { location?: { href?: string } }).location?.href): string {
  if (typeof source !== 'string' || source.trim() === '') throw new ConfigError(`a model source must be a Hugging Face model id, a URL or a path, not ${JSON.stringify(source) ?? String(source)}`);
  const withSlash = source.endsWith('/') ? source : `${source}/`;
  if (/^https?:\/\//i.test(source)) return checkedUrl(withSlash, source);
  if (/^[a-z][a-z0-9+.-]*:/i.test(source)) throw new ConfigError(`"${source}" is not an http(s) URL; models load from http(s) URLs, Hugging Face model ids or paths on this site`);
  if (isHubId(source)) return checkedUrl(hubBaseUrl(source, 'main', hubEndpoint), source);
  const path = /^\.{0,2}\//.test(source) || source.endsWith('/') || source.split('/').length >= 3;
  if (!path || /\s/.test(source)) throw new ConfigError(`"${source}" is neither a Hugging Face model id (like openai-community/gpt2), an http(s) URL, nor a path like ./models/x`);
  if (!pageUrl) throw new ConfigError(`"${source}" is a relative path, but there is no page to resolve it against (no globalThis.location, e.g. in Node); pass an absolute http(s) URL`);
  return checkedUrl(withSlash, source, pageUrl);
}

function checkedUrl(url: string, source: string, base?: string): string {
  try {
    return new URL(url, base).href;
  } catch {
    throw new ConfigError(`"${source}" is not a valid model address${base ? ` relative to ${base}` : ''}; give a Hugging Face model id, an http(s) URL or a path`);
  }
}

/**
 * Model files from `source`: an http(s) base URL, a Hugging Face model id (on `options.hub`, default huggingface.co)
 * or a path on the current site (see modelBaseUrl).
 */
export function cachedModelFiles(source: string, options: CachedModelFilesOptions = {}): ModelFiles {
  requireString(source, 'the model source', ConfigError);
  options = optionsObject(options, 'the cachedModelFiles options', ConfigError);
  const base = modelBaseUrl(source, options.hub);
  // A 404 on a source read as a Hub id may have meant a site path: say how to write one.
  const hint = isHubId(source) && !/^https?:/i.test(source) ? ` (${JSON.stringify(source)} was read as a Hugging Face model id on ${options.hub ?? 'https://huggingface.co/'}; for a path on this site write "./${source}")` : '';
  const fetchFn = options.fetch ?? ((u: string, i?: RequestInit) => fetch(u, i));
  const cacheStorage = options.cacheName === null ? undefined : (options.caches ?? (globalThis as { caches?: CacheStorage }).caches);
  const cache = cacheStorage?.open(options.cacheName ?? DEFAULT_CACHE_NAME);
  const url = (file: string) => fileUrlUnderBase(file, base);
  const misses = new Set<string>();

  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;

  const fetchWithin = (file: string, method: 'GET' | 'HEAD', signal = options.signal) => fetchWithDeadline(url(file), { fetch: fetchFn, method, signal, idleMs });

  /** GET `file`: an HTTP error is a DownloadError; the body is guarded (stalls, short or long bodies). */
  const request = async (file: string, signal = options.signal, needSize = false): Promise<{ response: Response; body: ReadableStream<Uint8Array> | null; size: number }> => {
    const { response, abort } = await fetchWithin(file, 'GET', signal);
    if (!response.ok) throw new DownloadError(`fetching ${url(file)} failed with HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}${response.status === 404 && file === 'config.json' ? hint : ''}`);
    let size = decodedLength(response);
    // A compressed answer (vite preview gzips even weights) has no usable length; a HEAD usually still says the
    // file's own size, which weights need up front.
    if (needSize && !Number.isFinite(size)) size = await fetchWithin(file, 'HEAD', signal).then(({ response: head }) => (head.ok ? decodedLength(head) : NaN), () => NaN);
    const body = response.body && guardedBody(response.body, url(file), Number.isFinite(size) ? size : undefined, idleMs, abort, () => !!options.signal?.aborted);
    return { response, body, size };
  };

  /** The cached response for `file`, if any; 'absent' where the cache remembers that the model has no such file. */
  const cached = async (file: string): Promise<Response | 'absent' | undefined> => {
    const hit = cache ? ((await (await cache).match(url(file))) ?? undefined) : undefined;
    return hit && isAbsentMarker(hit) ? 'absent' : hit;
  };
  const absent = (file: string) => new DownloadError(`${url(file)} does not exist (the cache remembers it as absent); clear the model from the cache if it was added since`);

  /**
   * Fetches `file`; returns a body to read, a promise that settles when the cache holds it (or could not), and a way
   * to stop the download (for a load that failed: nothing is cached then).
   */
  const download = async (file: string): Promise<{ body: ReadableStream<Uint8Array>; size: number; stored: Promise<void>; stop: () => void; html: boolean }> => {
    const controller = new AbortController();
    options.signal?.addEventListener('abort', () => controller.abort(), { once: true });
    if (options.signal?.aborted) controller.abort();
    const stop = () => controller.abort();
    const { response, body, size } = await request(file, controller.signal, true);
    if (!body) throw new DownloadError(`${url(file)} returned no body`);
    if (isHtmlPage('', response.headers.get('content-type'))) return { body, size, stored: Promise.resolve(), stop, html: true };
    if (!cache) return { body, size: Number.isFinite(size) ? size : NaN, stored: Promise.resolve(), stop, html: false };
    // Both branches see the guarded body: a short, long, stalled or failed download errors both, so put() stores nothing.
    const [toLoader, verified] = body.tee();
    const headers = new Headers({ 'content-type': response.headers.get('content-type') ?? 'application/octet-stream' });
    if (Number.isFinite(size)) headers.set('content-length', String(size));
    const stored = (await cache).put(url(file), new Response(verified, { headers })).catch(() => {
      // A failed or short download is not cached; the loader's branch reports the failure to the caller.
    });
    return { body: toLoader, size: Number.isFinite(size) ? size : NaN, stored, stop, html: false };
  };

  const progress = (file: string, fromCache: boolean, total: number) => {
    const started = performance.now();
    return (loaded: number) => {
      const seconds = (performance.now() - started) / 1000;
      options.onProgress?.({ file, loaded, total: Number.isFinite(total) ? total : 0, rate: seconds > 0 ? loaded / seconds : 0, fromCache, done: Number.isFinite(total) && loaded >= total });
    };
  };

  return {
    name: base,
    async has(file) {
      if (misses.has(file)) return false;
      const hit = await cached(file);
      if (hit === 'absent') {
        misses.add(file);
        return false;
      }
      if (hit) return true;
      const { response } = await fetchWithin(file, 'HEAD');
      // A web server's fallback page for a missing path (index.html, status 200) is not the file.
      if (response.ok && isHtmlPage('', response.headers.get('content-type'))) {
        misses.add(file);
        return false;
      }
      if (response.ok) return true;
      // Only "not found" means absent; anything else (a server error, no access) must not pass for a missing file.
      if (response.status === 404) {
        misses.add(file);
        return false;
      }
      throw new DownloadError(`checking ${url(file)} failed with HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`);
    },
    async text(file) {
      const hit = await cached(file);
      if (hit === 'absent') throw absent(file);
      if (hit) return hit.text();
      // Text files are small: read them whole, then cache them only when they are not an HTML page sent in their place
      // (the caller's optionalText / requiredText then treats that page as the file missing).
      const { response, body } = await request(file);
      const bytes = await readAll(body);
      const text = new TextDecoder().decode(bytes);
      const type = response.headers.get('content-type');
      if (isHtmlPage(text, type)) {
        misses.add(file);
        return text;
      }
      if (cache) {
        const headers = new Headers({ 'content-type': type ?? 'application/octet-stream', 'content-length': String(bytes.byteLength) });
        await (await cache).put(url(file), new Response(bytes, { headers })).catch(() => {});
      }
      return text;
    },
    // The load succeeded: remember the files found absent, so the next load asks the network nothing.
    async finish() {
      if (!cache) return;
      const store = await cache;
      await Promise.all(
        [...misses].map((file) => store.put(url(file), new Response('', { headers: { [ABSENT_HEADER]: '1', 'content-length': '0' } })).catch(() => {})),
      );
    },
    async open(file): Promise<ByteSource> {
      const hit = await cached(file);
      if (hit === 'absent') throw absent(file);
      if (hit?.body) {
        const size = Number(hit.headers.get('content-length') ?? NaN);
        if (Number.isFinite(size)) return new StreamSource(hit.body, { name: file, size, onBytes: progress(file, true, size) });
      }
      const { body, size, stored, stop, html } = await download(file);
      if (html) {
        stop();
        throw new DownloadError(`${url(file)} is missing: the server sent an HTML page in its place (how many web servers answer a missing file)`);
      }
      if (!Number.isFinite(size)) {
        stop();
        throw new DownloadError(`${url(file)} has no Content-Length; the server must send it (or answer a HEAD with it) for weight files`);
      }
      const source = new StreamSource(body, { name: file, size, onBytes: progress(file, false, size) });
      return {
        name: source.name,
        size: source.size,
        read: async (offset, length) => {
          try {
            return await source.read(offset, length);
          } catch (e) {
            if (e instanceof GptWebGpuError) throw e;
            throw new DownloadError(`the download of ${url(file)} ${options.signal?.aborted ? 'was cancelled' : `failed (${(e as Error).message})`}`);
          }
        },
        // A failed load stops the download at once (and so caches nothing).
        close: async () => {
          stop();
          await source.close();
          await stored;
        },
        // A successful load may not have read trailing tensors it ignores: let the download finish into the cache.
        finish: async () => {
          await source.close();
          await stored;
        },
      };
    },
  };
}

/** The whole body of a (small) guarded response. */
async function readAll(body: ReadableStream<Uint8Array> | null): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let seen = 0;
  const reader = body?.getReader();
  while (reader) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    seen += value.byteLength;
  }
  const out = new Uint8Array(seen);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.byteLength;
  }
  return out;
}

/** Deletes every cached model file (the page's "clear cache"). */
export async function clearModelCache(cacheName = DEFAULT_CACHE_NAME, cacheStorage: CacheStorage | undefined = (globalThis as { caches?: CacheStorage }).caches): Promise<void> {
  await cacheStorage?.delete(cacheName);
}
