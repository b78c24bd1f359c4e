// Downloading a model with progress into the Cache API and loading it from the cache the second time, against a local
// server with Hub-like paths. Node has no Cache API, so test/support/memoryCacheStorage.ts stands in (put() reads the
// whole body and rejects, storing nothing, if the body errors); the browser tests use the real one.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { createNodeGpuContext } from '../../src/gpu/node.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { cachedModelFiles, DownloadError, modelBaseUrl, type DownloadProgress } from '../../src/io/cachedModelFiles.ts';
import { ConfigError, GptWebGpuError } from '../../src/errors.ts';
import { expectLogitsMatch, readFixture } from '../support/fixtures.ts';
import { MemoryCacheStorage } from '../support/memoryCacheStorage.ts';

const fixture = readFixture('gpt2-tiny');
type Mode = 'ok' | 'truncate' | 'error500' | 'slow';
let mode: Mode = 'ok';
const log: string[] = [];
let server: ReturnType<typeof createServer>;
let base: string;
let gpu: GpuContext;

function handle(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  log.push(`${req.method} ${path}`);
  const prefix = '/test-org/gpt2-tiny/resolve/main/';
  let body: Buffer;
  try {
    if (!path.startsWith(prefix)) throw new Error('outside');
    body = readFileSync(join(fixture.dir, path.slice(prefix.length)));
  } catch {
    res.writeHead(404).end();
    return;
  }
  if (mode === 'error500' && path.endsWith('.safetensors')) {
    res.writeHead(500, 'Internal Server Error').end();
    return;
  }
  res.writeHead(200, { 'content-length': body.length });
  if (req.method === 'HEAD') {
    res.end();
  } else if (mode === 'truncate' && path.endsWith('.safetensors')) {
    res.write(body.subarray(0, body.length >> 1), () => res.destroy());
  } else if (mode === 'slow' && path.endsWith('.safetensors')) {
    res.write(body.subarray(0, 1 << 16)); // then hang: the test aborts
  } else {
    res.end(body);
  }
}

beforeAll(async () => {
  gpu = await createNodeGpuContext({ onNotice: () => {} });
  server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  gpu?.destroy();
});

describe('modelBaseUrl', () => {
  it('maps Hub ids and URLs to base URLs, and rejects anything else', () => {
    expect(modelBaseUrl('openai-community/gpt2')).toBe('https://huggingface.co/openai-community/gpt2/resolve/main/');
    expect(modelBaseUrl('gpt2')).toBe('https://huggingface.co/gpt2/resolve/main/');
    expect(modelBaseUrl('EleutherAI/pythia-70m', 'http://mirror.local/hf')).toBe('http://mirror.local/hf/EleutherAI/pythia-70m/resolve/main/');
    expect(modelBaseUrl('https://example.com/models/x')).toBe('https://example.com/models/x/');
    expect(() => modelBaseUrl('not a model id!')).toThrow(ConfigError);
  });
});

describe('cached downloads', () => {
  it('first load downloads with progress and caches; the second load comes from the cache without the network', async () => {
    mode = 'ok';
    const caches = new MemoryCacheStorage() as unknown as CacheStorage;
    const url = modelBaseUrl('test-org/gpt2-tiny', base);
    const events: DownloadProgress[] = [];
    const first = await Engine.load(gpu, cachedModelFiles(url, { caches, onProgress: (p) => events.push(p) }));
    expectLogitsMatch(await first.logits(fixture.promptIds), fixture.logits, 'downloaded');
    await first.dispose();
    const weights = events.filter((e) => e.file === 'model.safetensors');
    expect(weights.length).toBeGreaterThan(1);
    expect(weights.every((e) => !e.fromCache && e.total === weights[0].total)).toBe(true);
    expect(weights.at(-1)).toMatchObject({ done: true, loaded: weights[0].total });
    expect(weights.map((e) => e.loaded)).toEqual([...weights.map((e) => e.loaded)].sort((a, b) => a - b));
    expect(weights.at(-1)!.rate).toBeGreaterThan(0);

    log.length = 0;
    const again: DownloadProgress[] = [];
    const second = await Engine.load(gpu, cachedModelFiles(url, { caches, onProgress: (p) => again.push(p) }));
    expectLogitsMatch(await second.logits(fixture.promptIds), fixture.logits, 'from cache');
    await second.dispose();
    expect(log.filter((l) => l.includes('model.safetensors') || l.includes('config.json'))).toEqual([]);
    expect(again.filter((e) => e.file === 'model.safetensors').every((e) => e.fromCache)).toBe(true);
  });

  it.each<[Mode, RegExp]>([
    ['error500', /model\.safetensors failed with HTTP 500/],
    ['truncate', /model\.safetensors|truncated|failed/],
  ])('a %s download fails with a typed error and leaves no cache entry; a retry works', async (failure, message) => {
    const caches = new MemoryCacheStorage();
    const url = modelBaseUrl('test-org/gpt2-tiny', base);
    mode = failure;
    const error = await Engine.load(gpu, cachedModelFiles(url, { caches: caches as unknown as CacheStorage })).catch((e) => e);
    expect(error).toBeInstanceOf(GptWebGpuError);
    expect(String(error.message)).toMatch(message);
    const cache = await caches.open('gpt-webgpu-models');
    expect([...cache.entries.keys()].filter((k) => k.endsWith('.safetensors'))).toEqual([]);
    mode = 'ok';
    const engine = await Engine.load(gpu, cachedModelFiles(url, { caches: caches as unknown as CacheStorage }));
    expectLogitsMatch(await engine.logits(fixture.promptIds), fixture.logits, 'retry');
    await engine.dispose();
    expect([...cache.entries.keys()].some((k) => k.endsWith('model.safetensors'))).toBe(true);
  });

  it('a model refused after its header (config and weights disagree) stops the download at once and caches nothing', async () => {
    mode = 'slow'; // the server sends the first 64 KiB and then nothing: waiting for the whole file would hang
    const caches = new MemoryCacheStorage();
    const files = cachedModelFiles(modelBaseUrl('test-org/gpt2-tiny', base), { caches: caches as unknown as CacheStorage });
    const wrongConfig = { ...JSON.parse(readFileSync(join(fixture.dir, 'config.json'), 'utf8')), n_layer: 3 };
    const refused = Engine.load(gpu, { ...files, text: async (file) => (file === 'config.json' ? JSON.stringify(wrongConfig) : files.text(file)) });
    await expect(refused).rejects.toThrow(/missing tensor transformer\.h\.2\./);
    const cache = await caches.open('gpt-webgpu-models');
    expect([...cache.entries.keys()].filter((k) => k.endsWith('.safetensors'))).toEqual([]);
    mode = 'ok';
  });

  it('an aborted download fails with DownloadError and leaves no cache entry', async () => {
    mode = 'slow';
    const caches = new MemoryCacheStorage();
    const controller = new AbortController();
    const loading = Engine.load(gpu, cachedModelFiles(modelBaseUrl('test-org/gpt2-tiny', base), { caches: caches as unknown as CacheStorage, signal: controller.signal, onProgress: (p) => p.file === 'model.safetensors' && p.loaded > 0 && controller.abort() }));
    await expect(loading).rejects.toBeInstanceOf(DownloadError);
    await expect(loading).rejects.toThrow(/cancelled/);
    const cache = await caches.open('gpt-webgpu-models');
    expect([...cache.entries.keys()].filter((k) => k.endsWith('.safetensors'))).toEqual([]);
    mode = 'ok';
  });
});
