// The demo model over HTTP as users serve it: from a static host with an SPA fallback (a missing file answered with
// index.html and status 200, as Vite's `npm run dev` / `npm run serve` and most static hosts do), where optional
// tokenizer files that are not there must count as absent on every source.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { createNodeGpuContext } from '../../src/gpu/node.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { cachedModelFiles } from '../../src/io/cachedModelFiles.ts';
import { folderModelFiles } from '../../src/io/nodeModelFiles.ts';
import { DEFAULT_MODEL_DIR } from '../../src/node.ts';
import { ConfigError, DownloadError, TokenizerError } from '../../src/errors.ts';
import { createServer } from 'node:http';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import { fileListModelFiles } from '../../src/io/modelFiles.ts';
import { serveStatic } from '../support/staticServer.ts';
import { MemoryCacheStorage } from '../support/memoryCacheStorage.ts';
import { deleteIncompleteModels, hasModelInCache, listCachedModels } from '../../src/io/modelCache.ts';

const reference = JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'reference.json'), 'utf8')).greedy[0] as { prompt: string; prompt_ids: number[]; greedy_ids: number[] };

let gpu: GpuContext;
beforeAll(async () => {
  gpu = await createNodeGpuContext({ onNotice: () => {} });
});
afterAll(() => gpu?.destroy());

/** The demo model's tokenizer and first greedy tokens equal the reference (made by Hugging Face, see train.py). */
async function expectDemoModel(engine: Engine): Promise<void> {
  try {
    expect(engine.encode(reference.prompt)).toEqual(reference.prompt_ids);
    const { ids } = await engine.generate(reference.prompt, { greedy: true, maxNewTokens: 4 }).result;
    expect(ids).toEqual(reference.greedy_ids.slice(0, 4));
  } finally {
    await engine.dispose();
  }
}

describe('a host that answers missing files with its index.html (SPA fallback)', () => {
  it.each([['text/html; charset=utf-8'], ['application/octet-stream']])('the demo model loads and generates (fallback page sent as %s)', async (fallbackContentType) => {
    const requests: string[] = [];
    const server = await serveStatic(DEFAULT_MODEL_DIR, {}, { spaFallback: true, fallbackContentType, onRequest: (r) => requests.push(`${r.method} ${r.path}`) });
    try {
      await expectDemoModel(await Engine.load(gpu, cachedModelFiles(server.url, { cacheName: null })));
      // The fallback really was asked for tokenizer.json and answered it (so the test exercises the probe).
      expect(requests.some((r) => r.endsWith('/tokenizer.json'))).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('a wrong model address is "config.json is missing", not "not valid JSON"', async () => {
    const server = await serveStatic(DEFAULT_MODEL_DIR, {}, { spaFallback: true });
    try {
      const error = await Engine.load(gpu, cachedModelFiles(`${server.url}no/such/model/`, { cacheName: null })).catch((e) => e);
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.message).toMatch(/config\.json is missing \(an HTML page came in its place/);
    } finally {
      await server.close();
    }
  });

  it('a folder whose tokenizer.json is a saved HTML page (with a BOM) uses vocab.json + merges.txt', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpt-webgpu-html-'));
    cpSync(DEFAULT_MODEL_DIR, dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer.json'), '\uFEFF\n  <!DOCTYPE html>\n<html><body>Hugging Face</body></html>');
    await expectDemoModel(await Engine.load(gpu, await folderModelFiles(dir)));
  });
});

describe('a cached model', () => {
  it('loads the second time with zero requests, and with no network at all', async () => {
    const server = await serveStatic(DEFAULT_MODEL_DIR, {}, { spaFallback: true });
    const caches = new MemoryCacheStorage().asCacheStorage();
    const requests: string[] = [];
    const recording = (u: string, init?: RequestInit) => {
      requests.push(`${init?.method ?? 'GET'} ${u}`);
      return fetch(u, init);
    };
    try {
      await expectDemoModel(await Engine.load(gpu, cachedModelFiles(server.url, { caches, fetch: recording })));
      expect(requests.length).toBeGreaterThan(0);
      requests.length = 0;
      await expectDemoModel(await Engine.load(gpu, cachedModelFiles(server.url, { caches, fetch: recording })));
      expect(requests).toEqual([]);
    } finally {
      await server.close();
    }
    const offline = async (u: string) => {
      throw new TypeError(`fetch failed (offline): ${u}`);
    };
    await expectDemoModel(await Engine.load(gpu, cachedModelFiles(server.url, { caches, fetch: offline })));
  });
});

describe('half a tokenizer fails at load, naming the missing file', () => {
  const withoutFile = (file: string, extra: Record<string, string> = {}) => {
    const dir = mkdtempSync(join(tmpdir(), 'gpt-webgpu-half-'));
    cpSync(DEFAULT_MODEL_DIR, dir, { recursive: true });
    rmSync(join(dir, file), { force: true });
    for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
    return dir;
  };
  it.each([
    ['merges.txt', {}, /has vocab\.json but no merges\.txt.*add merges\.txt/],
    ['vocab.json', {}, /has merges\.txt but no vocab\.json.*add vocab\.json/],
    ['none', { 'tokenizer.json': '{"model": {"type": "WordPiece"}}' }, /tokenizer\.json cannot be used/],
  ] as [string, Record<string, string>, RegExp][])('without %s (folder, URL and File list)', async (file, extra, message) => {
    const dir = withoutFile(file, extra);
    const server = await serveStatic(dir, {}, { spaFallback: true });
    const names = readdirSync(dir);
    const picked = names.map((name) => new File([readFileSync(join(dir, name))], name));
    try {
      for (const files of [await folderModelFiles(dir), cachedModelFiles(server.url, { cacheName: null }), fileListModelFiles(picked)]) {
        const error = await Engine.load(gpu, files).catch((e) => e);
        expect(error, files.name).toBeInstanceOf(TokenizerError);
        expect(error.message, files.name).toMatch(message);
      }
    } finally {
      await server.close();
    }
  });
  it('a model with no tokenizer files at all still loads, for token ids only', async () => {
    const dir = withoutFile('vocab.json');
    rmSync(join(dir, 'merges.txt'));
    const engine = await Engine.load(gpu, await folderModelFiles(dir));
    try {
      expect((await engine.generate(reference.prompt_ids, { greedy: true, maxNewTokens: 2 }).result).ids).toEqual(reference.greedy_ids.slice(0, 2));
    } finally {
      await engine.dispose();
    }
  });
});

describe('stalled and short downloads', () => {
  type Fault = 'stall-body' | 'stall-headers' | 'short';
  const serveFaulty = async (fault: Fault, target: string) => {
    const server = createServer((req, res) => {
      const name = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
      let body: Buffer;
      try {
        body = readFileSync(join(DEFAULT_MODEL_DIR, name));
      } catch {
        res.writeHead(404).end();
        return;
      }
      if (name !== target) {
        res.writeHead(200, { 'content-length': body.length }).end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      if (fault === 'stall-headers') return; // never answers
      res.writeHead(200, { 'content-length': body.length });
      if (req.method === 'HEAD') res.end();
      else if (fault === 'stall-body') res.write(body.subarray(0, 1000)); // then nothing
      else res.write(body.subarray(0, 5000), () => res.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    return { url, close: () => (server.closeAllConnections(), new Promise<void>((resolve) => server.close(() => resolve()))) };
  };

  it.each<[Fault, string, RegExp]>([
    ['stall-body', 'model.safetensors', /no data from http:\/\/127\.0\.0\.1:\d+\/model\.safetensors for 0\.2 s \(after 1000 of \d+ bytes\)/],
    ['stall-body', 'vocab.json', /no data from http:\/\/127\.0\.0\.1:\d+\/vocab\.json for 0\.2 s/],
    ['stall-headers', 'config.json', /no response from http:\/\/127\.0\.0\.1:\d+\/config\.json for 0\.2 s/],
    ['short', 'model.safetensors', /http:\/\/127\.0\.0\.1:\d+\/model\.safetensors was truncated: it ended after 5000 of \d+ bytes/],
    ['short', 'merges.txt', /http:\/\/127\.0\.0\.1:\d+\/merges\.txt was truncated: it ended after 5000 of \d+ bytes/],
  ])('%s on %s is a DownloadError naming the URL, and caches nothing of it', async (fault, target, message) => {
    const server = await serveFaulty(fault, target);
    const storage = new MemoryCacheStorage();
    try {
      const started = Date.now();
      const error = await Engine.load(gpu, cachedModelFiles(server.url, { caches: storage.asCacheStorage(), idleTimeoutMs: 200 })).catch((e) => e);
      expect(error).toBeInstanceOf(DownloadError);
      expect(error.message).toMatch(message);
      expect(Date.now() - started).toBeLessThan(10_000);
      const cache = await storage.open('gpt-webgpu-models');
      expect([...cache.entries.keys()].filter((k) => k.endsWith(target))).toEqual([]);
    } finally {
      await server.close();
    }
  });
});

describe('sources by Hub id and by site path', () => {
  it('a Hub id on a given hub endpoint, and a ./path against the page, load the demo model', async () => {
    const server = await serveStatic(DEFAULT_MODEL_DIR, { 'demo-org/shakespeare/resolve/main': DEFAULT_MODEL_DIR, 'site/models/shakespeare': DEFAULT_MODEL_DIR });
    try {
      await expectDemoModel(await Engine.load(gpu, cachedModelFiles('demo-org/shakespeare', { cacheName: null, hub: server.url })));
      vi.stubGlobal('location', { href: `${server.url}site/index.html` });
      await expectDemoModel(await Engine.load(gpu, cachedModelFiles('./models/shakespeare', { cacheName: null })));
      const error = await Engine.load(gpu, cachedModelFiles('models/shakespeare', { cacheName: null, hub: server.url })).catch((e) => e);
      expect(error).toBeInstanceOf(DownloadError);
      expect(error.message).toMatch(/read as a Hugging Face model id .*write "\.\/models\/shakespeare"/);
    } finally {
      vi.unstubAllGlobals();
      await server.close();
    }
  });
});

describe('cache bookkeeping after real loads', () => {
  it('a successful load is a complete model; a failed one is incomplete and deleteIncompleteModels removes it', async () => {
    const good = await serveStatic(DEFAULT_MODEL_DIR, {}, { spaFallback: true });
    const storage = new MemoryCacheStorage();
    const options = { caches: storage.asCacheStorage() };
    try {
      await (await Engine.load(gpu, cachedModelFiles(good.url, options))).dispose();
      expect(await hasModelInCache(good.url, options)).toBe(true);
    } finally {
      await good.close();
    }
    const bad = await serveStatic(join(DEFAULT_MODEL_DIR, 'no-such-folder'), { m: DEFAULT_MODEL_DIR }, { spaFallback: false });
    try {
      // The weights are refused (a wrong config): config and tokenizer files were cached, the model is not complete.
      const files = cachedModelFiles(`${bad.url}m/`, options);
      const wrong = JSON.stringify({ ...JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'config.json'), 'utf8')), n_layer: 2 });
      await expect(Engine.load(gpu, { ...files, text: async (f) => (f === 'config.json' ? wrong : files.text(f)) })).rejects.toThrow();
      await files.text('config.json');
      const listed = await listCachedModels(options);
      expect(listed.find((m) => m.baseUrl === `${bad.url}m/`)?.complete).toBe(false);
      expect(await deleteIncompleteModels(options)).toEqual([`${bad.url}m/`]);
      expect((await listCachedModels(options)).map((m) => m.complete)).toEqual([true]);
    } finally {
      await bad.close();
    }
  });
});

describe('compressed answers (vite preview gzips every file, weights included)', () => {
  it('weights sent gzipped without a Content-Length load, sized by a HEAD, with progress to the end', async () => {
    const server = createServer((req, res) => {
      const name = new URL(req.url ?? '/', 'http://x').pathname.slice(1);
      let body: Buffer;
      try {
        body = readFileSync(join(DEFAULT_MODEL_DIR, name));
      } catch {
        res.writeHead(404).end();
        return;
      }
      if (req.method === 'HEAD') {
        res.writeHead(200, { 'content-length': body.length }).end();
        return;
      }
      res.writeHead(200, { 'content-encoding': 'gzip' }); // chunked: no Content-Length, as vite preview answers
      res.end(gzipSync(body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const last = new Map<string, { loaded: number; total: number; done: boolean }>();
      await expectDemoModel(await Engine.load(gpu, cachedModelFiles(url, { caches: new MemoryCacheStorage().asCacheStorage(), onProgress: (p) => last.set(p.file, p) })));
      const size = readFileSync(join(DEFAULT_MODEL_DIR, 'model.safetensors')).length;
      expect(last.get('model.safetensors')).toMatchObject({ loaded: size, total: size, done: true });
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
