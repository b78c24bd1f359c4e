// Bookkeeping of the models kept in the Cache API by cachedModelFiles: list them, ask whether one is complete, delete
// one, or delete every incomplete one (what a failed or cancelled download leaves behind). The names follow WebLLM's
// (hasModelInCache, deleteModelInCache). A model is its base URL; its entries are the file URLs directly under it.
import { DEFAULT_CACHE_NAME, isAbsentMarker, modelBaseUrl } from './cachedModelFiles.ts';
import { checkedShardNames } from './shardNames.ts';

export interface CachedModel {
  /** The base URL the files were fetched from (what cachedModelFiles resolved the source to). */
  baseUrl: string;
  /** File names held (absent-file markers not included). */
  files: string[];
  /** Bytes of those files. */
  bytes: number;
  /**
   * config.json, every weight shard (model.safetensors, or the index and each shard it names) and the tokenizer
   * (tokenizer.json, or vocab.json + merges.txt with tokenizer.json remembered absent, or all three remembered
   * absent) are there: the model loads with no network.
   */
  complete: boolean;
}

export interface ModelCacheOptions {
  /** Cache API cache name (default "gpt-webgpu-models"). */
  cacheName?: string;
  /** A Cache API implementation (default: globalThis.caches). */
  caches?: CacheStorage;
  /** The Hub endpoint model ids refer to (as for cachedModelFiles). */
  hub?: string;
}

interface Entry {
  url: string;
  file: string;
  response: Response;
}

async function openCache(options: ModelCacheOptions): Promise<Cache | undefined> {
  const storage = options.caches ?? (globalThis as { caches?: CacheStorage }).caches;
  return storage?.open(options.cacheName ?? DEFAULT_CACHE_NAME);
}

/** Every cache entry, grouped by the model (base URL) it belongs to. */
async function entriesByModel(cache: Cache): Promise<Map<string, Entry[]>> {
  const byBase = new Map<string, Entry[]>();
  for (const request of await cache.keys()) {
    const cut = request.url.lastIndexOf('/') + 1;
    const base = request.url.slice(0, cut);
    const response = await cache.match(request);
    if (!response) continue;
    const list = byBase.get(base) ?? [];
    list.push({ url: request.url, file: request.url.slice(cut), response });
    byBase.set(base, list);
  }
  return byBase;
}

async function describe(baseUrl: string, entries: Entry[]): Promise<CachedModel> {
  const real = new Map(entries.filter((e) => !isAbsentMarker(e.response)).map((e) => [e.file, e.response]));
  const absent = new Set(entries.filter((e) => isAbsentMarker(e.response)).map((e) => e.file));
  const bytes = [...real.values()].reduce((n, r) => n + (Number(r.headers.get('content-length')) || 0), 0);
  const known = (file: string) => real.has(file) || absent.has(file);
  let weights = real.has('model.safetensors');
  const index = real.get('model.safetensors.index.json');
  if (!weights && index) {
    try {
      const weightMap = (JSON.parse(await index.clone().text()) as { weight_map?: object }).weight_map ?? {};
      weights = checkedShardNames('model.safetensors.index.json', weightMap).every((shard) => real.has(shard));
    } catch {
      weights = false;
    }
  }
  const tokenizer = real.has('tokenizer.json') || (absent.has('tokenizer.json') && known('vocab.json') && known('merges.txt'));
  return { baseUrl, files: [...real.keys()].sort(), bytes, complete: real.has('config.json') && weights && tokenizer };
}

/** The models in the cache, complete or not. */
export async function listCachedModels(options: ModelCacheOptions = {}): Promise<CachedModel[]> {
  const cache = await openCache(options);
  if (!cache) return [];
  const out: CachedModel[] = [];
  for (const [base, entries] of await entriesByModel(cache)) out.push(await describe(base, entries));
  return out.sort((a, b) => a.baseUrl.localeCompare(b.baseUrl));
}

/** Whether `source` (a Hub id, URL or site path, as for cachedModelFiles) is in the cache completely. */
export async function hasModelInCache(source: string, options: ModelCacheOptions = {}): Promise<boolean> {
  const base = modelBaseUrl(source, options.hub);
  return (await listCachedModels(options)).some((m) => m.baseUrl === base && m.complete);
}

/** Deletes every cached file of `source`; true when there was anything to delete. */
export async function deleteModelInCache(source: string, options: ModelCacheOptions = {}): Promise<boolean> {
  return deleteBase(modelBaseUrl(source, options.hub), options);
}

/** Deletes every model that is not complete (failed or cancelled downloads); returns their base URLs. */
export async function deleteIncompleteModels(options: ModelCacheOptions = {}): Promise<string[]> {
  const incomplete = (await listCachedModels(options)).filter((m) => !m.complete).map((m) => m.baseUrl);
  for (const base of incomplete) await deleteBase(base, options);
  return incomplete;
}

async function deleteBase(base: string, options: ModelCacheOptions): Promise<boolean> {
  const cache = await openCache(options);
  if (!cache) return false;
  const entries = (await entriesByModel(cache)).get(base) ?? [];
  for (const e of entries) await cache.delete(e.url);
  return entries.length > 0;
}
