// WorkerEngine ↔ serveEngineInWorker over a MessageChannel in Node (the same protocol a page and its Web Worker speak):
// the model loads from a URL with download and upload progress, streams give the reference greedy text token by token,
// seeded sampling equals the Engine's own, several streams started together equal each alone, AbortSignal and leaving
// the loop end a request in the worker, and the library's error classes survive the crossing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { InvalidRequestError, GptWebGpuError, DownloadError } from '../../src/errors.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { DEFAULT_MODEL_DIR } from '../../src/node.ts';
import { folderModelFiles } from '../../src/io/nodeModelFiles.ts';
import { WorkerEngine, type WorkerChunk } from '../../src/worker/client.ts';
import type { MessageEndpoint } from '../../src/worker/protocol.ts';
import { serveEngineInWorker, type ServedEngine } from '../../src/worker/serve.ts';
import type { DownloadProgress } from '../../src/io/cachedModelFiles.ts';
import type { LoadProgress } from '../../src/io/checkpoint.ts';
import { createTestGpuContext } from '../support/platform.ts';
import { serveStatic, type StaticServer } from '../support/staticServer.ts';

const reference = JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'reference.json'), 'utf8'));
const { prompt: PROMPT, greedy_ids: WANT_IDS, greedy_text: WANT } = reference.greedy[0] as { prompt: string; greedy_ids: number[]; greedy_text: string };

let gpu: GpuContext;
let server: StaticServer;
let channel: MessageChannel;
let served: ServedEngine;
let client: WorkerEngine;
let direct: Engine;
const downloads: DownloadProgress[] = [];
const uploads: LoadProgress[] = [];

beforeAll(async () => {
  gpu = await createTestGpuContext();
  server = await serveStatic(DEFAULT_MODEL_DIR);
  channel = new MessageChannel();
  served = serveEngineInWorker({ endpoint: channel.port1 as unknown as MessageEndpoint, gpu: async () => gpu });
  client = new WorkerEngine(channel.port2 as unknown as MessageEndpoint);
  await client.load({ kind: 'url', url: server.url, cache: false }, { onDownload: (p) => downloads.push(p), onProgress: (p) => uploads.push(p) });
  direct = await Engine.load(gpu, await folderModelFiles(DEFAULT_MODEL_DIR));
}, 120_000);

afterAll(async () => {
  await direct?.dispose();
  await served?.close();
  channel?.port1.close();
  channel?.port2.close();
  await server?.close();
  gpu?.destroy();
});

async function collect(stream: AsyncIterable<WorkerChunk>): Promise<WorkerChunk[]> {
  const chunks: WorkerChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe('WorkerEngine over a MessageChannel', () => {
  it('loads from a URL with download and upload progress, and describes the model as Engine.info', () => {
    expect(downloads.some((p) => p.file === 'model.safetensors' && p.done)).toBe(true);
    expect(uploads.at(-1)?.loadedBytes).toBe(uploads.at(-1)?.totalBytes);
    expect(client.info).toEqual({ ...direct.info, model: client.info.model });
    expect(client.model?.shape.layers).toBe(direct.config.numLayers);
  });

  it('streams the reference greedy text token by token', async () => {
    const stream = client.generate(PROMPT, { greedy: true, maxNewTokens: WANT_IDS.length });
    const chunks = await collect(stream);
    const result = await stream.result;
    expect(result.ids).toEqual(WANT_IDS);
    expect(chunks.map((c) => c.tokenId)).toEqual(WANT_IDS);
    expect(chunks.map((c) => c.text).join('')).toBe(WANT);
    expect(chunks.map((c) => c.index)).toEqual(WANT_IDS.map((_, i) => i));
    // Worker-measured times grow.
    for (let i = 1; i < chunks.length; i++) expect(chunks[i].elapsedMs).toBeGreaterThanOrEqual(chunks[i - 1].elapsedMs);
    expect(result.finishReason).toBe('length');
  });

  it('gives seeded sampling exactly as the Engine does, for streams started together', async () => {
    const options = (seed: number) => ({ maxNewTokens: 20, temperature: 0.8, topK: 40, seed });
    const want = await Promise.all([7, 8, 9].map((seed) => direct.generate('ROMEO:', options(seed)).result));
    const streams = [7, 8, 9].map((seed) => client.generate('ROMEO:', options(seed)));
    const got = await Promise.all(streams.map((s) => s.result));
    expect(got.map((r) => r.ids)).toEqual(want.map((r) => r.ids));
    expect(new Set(got.map((r) => r.text)).size).toBeGreaterThan(1);
  });

  it('ends a request when its AbortSignal aborts, and when the reader leaves the loop', async () => {
    const controller = new AbortController();
    const stream = client.generate(PROMPT, { greedy: true, maxNewTokens: 200 });
    const aborted = client.generate(PROMPT, { greedy: true, maxNewTokens: 200, signal: controller.signal });
    let n = 0;
    for await (const _ of aborted) if (++n === 3) controller.abort();
    expect((await aborted.result).finishReason).toBe('abort');
    expect((await aborted.result).ids.length).toBeLessThan(200);
    for await (const _ of stream) break;
    expect((await stream.result).finishReason).toBe('abort');

    const before = new AbortController();
    before.abort();
    const never = client.generate(PROMPT, { greedy: true, maxNewTokens: 50, signal: before.signal });
    expect((await never.result).finishReason).toBe('abort');
    expect((await never.result).ids.length).toBe(0);
    expect((await client.stats()).kvBlocksInUse).toBe(0);
  });

  it('rebuilds the library error classes on the client side', async () => {
    const bad = client.generate(PROMPT, { maxNewTokens: 10, temperature: -1 });
    const error = await bad.result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error).toBeInstanceOf(GptWebGpuError);
    await expect(collect(client.generate(PROMPT, { maxNewTokens: 10, temperature: -1 }))).rejects.toBeInstanceOf(InvalidRequestError);
    const missing = await client.load({ kind: 'url', url: `${server.url}no-such-model/`, cache: false }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(DownloadError);
    expect((missing as Error).message).toContain('no-such-model');
    expect(() => client.info).toThrow(/no model is loaded/);
  });

  it('summary() is the worker engine\'s summary', async () => {
    await client.load({ kind: 'url', url: server.url, cache: false });
    await client.generate(PROMPT, { greedy: true, maxNewTokens: 4 }).result;
    const summary = await client.summary();
    expect(summary.requests).toBe(1);
    expect(summary.kv.totalBlocks).toBe(client.info.kv.totalBlocks);
  });
});
