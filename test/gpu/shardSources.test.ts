// Shard names stay in the model for the browser's sources too (issue 10 §1 "and in the browser"): files the user
// picked (fileListModelFiles) and HTTP with the Cache API (cachedModelFiles, here with a recording fake fetch). Runs in
// both projects of vitest.config.ts, so the browser's File, Response and URL are the ones checked in Chromium.
import { afterAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { ModelFormatError } from '../../src/errors.ts';
import { TensorIndex } from '../../src/io/checkpoint.ts';
import { cachedModelFiles } from '../../src/io/cachedModelFiles.ts';
import { fileListModelFiles, type ModelFiles } from '../../src/io/modelFiles.ts';
import { serializeSafetensors } from '../../src/io/safetensorsWriter.ts';
import { readRawTensors } from '../support/checkpointEdits.ts';
import { useGpu } from '../support/gpu.ts';
import { makeRandomCheckpoint } from '../support/randomModel.ts';

const g = useGpu();
const INDEX = 'model.safetensors.index.json';
const BASE = 'https://models.test/org/model/resolve/main/';

const BAD_NAMES: unknown[] = ['../x.safetensors', 'http://other/x.safetensors', '%2e%2e%2fx.safetensors', 'a/b.safetensors', 'x\0.safetensors', 42, null, ['x.safetensors']];

const model = makeRandomCheckpoint({ family: 'gpt2', vocabSize: 64, hidden: 32, layers: 2, heads: 2, positions: 32, dtype: 'F32', seed: 12 });

/** The model split into two shards with its index, as save_pretrained writes a sharded checkpoint. */
async function twoShards(): Promise<Record<string, Uint8Array>> {
  const tensors = await readRawTensors(model.files['model.safetensors']);
  const half = Math.ceil(tensors.length / 2);
  const names = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
  const weightMap = Object.fromEntries(tensors.map((t, i) => [t.name, names[i < half ? 0 : 1]]));
  return {
    'config.json': new TextEncoder().encode(model.files['config.json']),
    [INDEX]: new TextEncoder().encode(JSON.stringify({ metadata: {}, weight_map: weightMap })),
    [names[0]]: serializeSafetensors(tensors.slice(0, half), { format: 'pt' }),
    [names[1]]: serializeSafetensors(tensors.slice(half), { format: 'pt' }),
  };
}

/** `files` with one more tensor whose shard is `bad` (and, under the bad name too, bytes to serve if anything asked). */
function withBadEntry(files: Record<string, Uint8Array>, bad: unknown): Record<string, Uint8Array> {
  const index = JSON.parse(new TextDecoder().decode(files[INDEX])) as { weight_map: Record<string, unknown> };
  index.weight_map['transformer.h.0.ln_1.weight'] = bad;
  return { ...files, [INDEX]: new TextEncoder().encode(JSON.stringify(index)), [String(bad)]: files['model-00001-of-00002.safetensors'] };
}

/** fileListModelFiles over Files named as the keys, recording every file opened. */
function pickedFiles(files: Record<string, Uint8Array>): { files: ModelFiles; opened: string[] } {
  const inner = fileListModelFiles(Object.entries(files).map(([name, bytes]) => new File([bytes as BlobPart], name)), 'picked');
  const opened: string[] = [];
  return { files: { ...inner, open: (file) => (opened.push(file), inner.open(file)) }, opened };
}

/** cachedModelFiles under BASE with a fake fetch that serves `files` (with Content-Length) and records every URL. */
function served(files: Record<string, Uint8Array>): { files: ModelFiles; requested: string[] } {
  const requested: string[] = [];
  const fakeFetch = async (url: string, init?: RequestInit): Promise<Response> => {
    requested.push(url);
    const name = url.startsWith(BASE) ? decodeURIComponent(url.slice(BASE.length)) : undefined;
    const bytes = name === undefined ? undefined : files[name];
    if (!bytes) return new Response(null, { status: 404 });
    const headers = { 'content-length': String(bytes.length), 'content-type': 'application/octet-stream' };
    return new Response(init?.method === 'HEAD' ? null : (bytes as BodyInit), { status: 200, headers });
  };
  return { files: cachedModelFiles(BASE, { cacheName: null, fetch: fakeFetch }), requested };
}

const engines: Engine[] = [];
afterAll(async () => {
  for (const e of engines) await e.dispose();
});

describe('shard names from a bad index, in the browser sources', () => {
  it.each(BAD_NAMES.map((n) => [JSON.stringify(n) ?? String(n), n]))('%s: picked files refuse it before opening anything', async (_label, bad) => {
    const { files, opened } = pickedFiles(withBadEntry(await twoShards(), bad));
    const error = await TensorIndex.open(files).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelFormatError);
    expect((error as Error).message).toContain(INDEX);
    expect(opened).toEqual([]);
  });

  it.each(BAD_NAMES.map((n) => [JSON.stringify(n) ?? String(n), n]))('%s: cachedModelFiles refuses it and requests nothing outside the base', async (_label, bad) => {
    const { files, requested } = served(withBadEntry(await twoShards(), bad));
    const error = await TensorIndex.open(files).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelFormatError);
    expect((error as Error).message).toContain(INDEX);
    expect(requested.length).toBeGreaterThan(0);
    // Only the probe for a single-file checkpoint and the index itself: no shard, inside or outside the base.
    expect(requested.filter((u) => u !== `${BASE}model.safetensors` && u !== `${BASE}${INDEX}`)).toEqual([]);
  });

  it('a valid two-shard model loads from picked files and over HTTP, with the same greedy tokens', async () => {
    const shards = await twoShards();
    const picked = await Engine.load(g.gpu, pickedFiles(shards).files);
    engines.push(picked);
    const http = served(shards);
    const fetched = await Engine.load(g.gpu, http.files);
    engines.push(fetched);
    expect(http.requested.every((u) => u.startsWith(BASE))).toBe(true);
    expect(http.requested.some((u) => u.endsWith('model-00002-of-00002.safetensors'))).toBe(true);
    const a = await picked.generate([1, 2, 3], { maxNewTokens: 4, stopAtEos: false }).result;
    const b = await fetched.generate([1, 2, 3], { maxNewTokens: 4, stopAtEos: false }).result;
    expect(a.ids).toHaveLength(4);
    expect(b.ids).toEqual(a.ids);
  });
});
