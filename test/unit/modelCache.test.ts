// Cache bookkeeping over an in-memory CacheStorage: which cached models are complete, has / delete one, delete the
// incomplete ones. Entries are written as cachedModelFiles writes them (files, and absent-file markers).
import { describe, expect, it } from 'vitest';
import { ABSENT_HEADER } from '../../src/io/cachedModelFiles.ts';
import { deleteIncompleteModels, deleteModelInCache, hasModelInCache, listCachedModels } from '../../src/io/modelCache.ts';
import { MemoryCacheStorage } from '../support/memoryCacheStorage.ts';

const hub = 'http://hub.test/';
const file = (text: string) => new Response(text, { headers: { 'content-length': String(new TextEncoder().encode(text).length) } });
const absent = () => new Response('', { headers: { [ABSENT_HEADER]: '1' } });

async function fill(storage: MemoryCacheStorage, base: string, files: Record<string, Response>): Promise<void> {
  const cache = await storage.open('gpt-webgpu-models');
  for (const [name, response] of Object.entries(files)) await cache.put(`${base}${name}`, response);
}

describe('listCachedModels', () => {
  it('tells complete models from partial ones', async () => {
    const storage = new MemoryCacheStorage();
    const options = { caches: storage.asCacheStorage(), hub };
    const vocabMerges = `${hub}org/vm/resolve/main/`;
    const sharded = `${hub}org/sharded/resolve/main/`;
    const halfSharded = `${hub}org/half/resolve/main/`;
    const failed = `${hub}org/failed/resolve/main/`;
    const idsOnly = `${hub}org/ids/resolve/main/`;
    await fill(storage, vocabMerges, { 'config.json': file('{}'), 'model.safetensors': file('12345678'), 'tokenizer.json': absent(), 'vocab.json': file('{}'), 'merges.txt': file('#') });
    const index = JSON.stringify({ weight_map: { a: 'model-1.safetensors', b: 'model-2.safetensors' } });
    await fill(storage, sharded, { 'config.json': file('{}'), 'model.safetensors': absent(), 'model.safetensors.index.json': file(index), 'model-1.safetensors': file('1'), 'model-2.safetensors': file('2'), 'tokenizer.json': file('{}') });
    await fill(storage, halfSharded, { 'config.json': file('{}'), 'model.safetensors.index.json': file(index), 'model-1.safetensors': file('1'), 'tokenizer.json': file('{}') });
    // A download that failed in the weights: config and tokenizer were cached, no weights, no markers.
    await fill(storage, failed, { 'config.json': file('{}'), 'vocab.json': file('{}'), 'merges.txt': file('#') });
    await fill(storage, idsOnly, { 'config.json': file('{}'), 'model.safetensors': file('x'), 'tokenizer.json': absent(), 'vocab.json': absent(), 'merges.txt': absent() });

    const models = await listCachedModels(options);
    expect(Object.fromEntries(models.map((m) => [m.baseUrl, m.complete]))).toEqual({ [vocabMerges]: true, [sharded]: true, [halfSharded]: false, [failed]: false, [idsOnly]: true });
    expect(models.find((m) => m.baseUrl === vocabMerges)).toMatchObject({ files: ['config.json', 'merges.txt', 'model.safetensors', 'vocab.json'], bytes: 2 + 8 + 2 + 1 });

    expect(await hasModelInCache('org/vm', options)).toBe(true);
    expect(await hasModelInCache('org/failed', options)).toBe(false);
    expect(await hasModelInCache('org/nothing', options)).toBe(false);

    expect((await deleteIncompleteModels(options)).sort()).toEqual([failed, halfSharded].sort());
    expect((await listCachedModels(options)).map((m) => m.baseUrl).sort()).toEqual([idsOnly, sharded, vocabMerges].sort());
    expect(await deleteModelInCache(`${hub}org/vm/resolve/main`, options)).toBe(true);
    expect(await deleteModelInCache('org/vm', options)).toBe(false);
    expect((await listCachedModels(options)).map((m) => m.baseUrl).sort()).toEqual([idsOnly, sharded].sort());
  });

  it('an index naming shards outside the model never counts as complete', async () => {
    const storage = new MemoryCacheStorage();
    const base = `${hub}org/evil/resolve/main/`;
    await fill(storage, base, { 'config.json': file('{}'), 'model.safetensors.index.json': file(JSON.stringify({ weight_map: { a: '../x.safetensors' } })), 'tokenizer.json': file('{}') });
    expect((await listCachedModels({ caches: storage.asCacheStorage() }))[0].complete).toBe(false);
  });

  it('no Cache API: nothing listed', async () => {
    expect(await listCachedModels({})).toEqual([]);
  });
});
