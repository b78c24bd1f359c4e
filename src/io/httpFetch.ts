// HTTP for model downloads, shared by the two caches (cachedModelFiles: the Cache API; nodeDiskCache: a folder on
// disk): a deadline for the response headers, a guarded body (a stall, a short or a long body is a DownloadError
// naming the URL and the byte counts, never a "malformed file" later), and the length of a possibly compressed body.
import { DownloadError, GptWebGpuError } from '../errors.ts';

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

/** No headers, or no new bytes, for this long ends a download (a stalled connection never hangs a load). */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

export interface DeadlineFetchOptions {
  fetch: FetchLike;
  idleMs: number;
  method?: 'GET' | 'HEAD';
  signal?: AbortSignal;
}

/** fetch with a deadline for the headers; the returned abort also stops the body. Every failure is a DownloadError. */
export async function fetchWithDeadline(url: string, options: DeadlineFetchOptions): Promise<{ response: Response; abort: () => void }> {
  const { signal, idleMs, method = 'GET' } = options;
  const inner = new AbortController();
  signal?.addEventListener('abort', () => inner.abort(), { once: true });
  if (signal?.aborted) inner.abort();
  let stalled = false;
  const timer = setTimeout(() => {
    stalled = true;
    inner.abort();
  }, idleMs);
  try {
    // A HEAD bypasses the HTTP cache: Chromium answers it from a stored GET of the same URL (a compressed one, whose
    // headers have no Content-Length), which is exactly the length we asked the server for.
    const init: RequestInit = method === 'GET' ? { signal: inner.signal } : { method, signal: inner.signal, cache: 'no-store' };
    return { response: await options.fetch(url, init), abort: () => inner.abort() };
  } catch (e) {
    if (stalled) throw new DownloadError(`no response from ${url} for ${seconds(idleMs)}; the server or the network stalled (retry, or raise idleTimeoutMs)`);
    if (signal?.aborted) throw new DownloadError(`the download of ${url} was cancelled`);
    throw new DownloadError(`could not fetch ${url} (${(e as Error).message}); check the address and the network`);
  } finally {
    clearTimeout(timer);
  }
}

/** The length of a response's decoded body: Content-Length, unless the body is compressed (then NaN, unknown). */
export function decodedLength(response: Response): number {
  const encoding = response.headers.get('content-encoding');
  if (encoding && encoding.trim().toLowerCase() !== 'identity') return NaN;
  const length = response.headers.get('content-length');
  return length === null || length.trim() === '' ? NaN : Number(length);
}

/**
 * A download's body, checked: no bytes for `idleMs` stops it (`abort`) with a DownloadError; a body that ends before
 * (or runs past) its Content-Length, or fails, is a DownloadError naming the URL and both byte counts. Every error
 * it raises is a DownloadError, so the loader never reports a cut download as a malformed file.
 */
export function guardedBody(body: ReadableStream<Uint8Array>, what: string, expected: number | undefined, idleMs: number, abort: () => void, cancelled: () => boolean): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let seen = 0;
  const of = () => (expected === undefined ? `${seen} bytes` : `${seen} of ${expected} bytes`);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stall = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DownloadError(`no data from ${what} for ${seconds(idleMs)} (after ${of()}); the server or the network stalled (retry, or raise idleTimeoutMs)`)), idleMs);
      });
      try {
        const { done, value } = await Promise.race([reader.read(), stall]);
        if (done) {
          if (expected !== undefined && seen !== expected) throw new DownloadError(`the download of ${what} was truncated: it ended after ${of()}; retry it`);
          controller.close();
          return;
        }
        seen += value.byteLength;
        if (expected !== undefined && seen > expected) throw new DownloadError(`${what} sent more than its Content-Length (${of()})`);
        controller.enqueue(value);
      } catch (e) {
        abort();
        reader.cancel().catch(() => {});
        if (e instanceof GptWebGpuError) controller.error(e);
        else if (cancelled()) controller.error(new DownloadError(`the download of ${what} was cancelled`));
        else controller.error(new DownloadError(`the download of ${what} ${expected !== undefined && seen < expected ? `was truncated: it ended after ${of()}` : `failed after ${of()}`} (${(e as Error).message}); retry it`));
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}
