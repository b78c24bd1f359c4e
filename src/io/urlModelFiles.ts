// ModelFiles over HTTP: any base URL serving the Hugging Face layout (a static site, the Hub's `resolve/main/` URLs).
// Tensor data is fetched with Range requests, so a checkpoint streams to the GPU piece by piece instead of being
// downloaded into one ArrayBuffer; a server that ignores Range gets one plain download, buffered once.
import { ConfigError } from '../errors.ts';
import { type ByteSource, bytesSource } from './byteSource.ts';
import type { ModelFiles } from './modelFiles.ts';

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

/** The Hub's file URLs for a model id such as "openai-community/gpt2". */
export function hubBaseUrl(modelId: string, revision = 'main'): string {
  return `https://huggingface.co/${modelId}/resolve/${revision}/`;
}

export function urlModelFiles(baseUrl: string, fetchFn: FetchLike = (u, i) => fetch(u, i)): ModelFiles {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const url = (file: string) => new URL(file, base).href;
  const get = async (file: string, init?: RequestInit): Promise<Response> => {
    let response: Response;
    try {
      response = await fetchFn(url(file), init);
    } catch (e) {
      throw new ConfigError(`could not fetch ${url(file)} (${(e as Error).message}); check the address and the network`);
    }
    return response;
  };
  const fail = (file: string, response: Response): never => {
    throw new ConfigError(`fetching ${url(file)} failed with HTTP ${response.status} ${response.statusText}`.trim());
  };
  return {
    name: base,
    async has(file) {
      const response = await get(file, { method: 'HEAD' });
      if (response.ok) return true;
      if (response.status === 404) return false;
      return fail(file, response); // a server error or no access must not pass for a missing file
    },
    async text(file) {
      const response = await get(file);
      if (!response.ok) fail(file, response);
      return response.text();
    },
    async open(file) {
      const head = await get(file, { method: 'HEAD' });
      if (!head.ok) fail(file, head);
      const length = Number(head.headers.get('content-length'));
      if (!Number.isSafeInteger(length) || length < 0) return bufferedSource(file, await get(file));
      let whole: Promise<Uint8Array> | undefined;
      const source: ByteSource = {
        name: file,
        size: length,
        async read(offset, count) {
          const end = Math.min(offset + count, length);
          if (end <= offset) return new Uint8Array(0);
          if (whole) return (await whole).subarray(offset, end);
          const response = await get(file, { headers: { Range: `bytes=${offset}-${end - 1}` } });
          if (response.status === 206) return new Uint8Array(await response.arrayBuffer());
          if (!response.ok) fail(file, response);
          // 200: the server sent the whole file; keep it for the reads that follow.
          whole = response.arrayBuffer().then((b) => new Uint8Array(b));
          return (await whole).subarray(offset, end);
        },
      };
      return source;
    },
  };
}

async function bufferedSource(file: string, response: Response): Promise<ByteSource> {
  if (!response.ok) throw new ConfigError(`fetching ${file} failed with HTTP ${response.status}`);
  return bytesSource(file, new Uint8Array(await response.arrayBuffer()));
}
