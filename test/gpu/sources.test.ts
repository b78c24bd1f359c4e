// Model sources other than a folder: Hub-style URLs served by a local HTTP server (the Hub itself is unreachable in
// tests; the code path is the one users hit), a bare static server, and sharded checkpoints. (Node has no Cache API:
// files stream straight to the loader; caching is tested in cachedSource.test.ts and in the browser.)
import { mkdtempSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { createNodeGpuContext } from '../../src/gpu/node.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { folderModelFiles } from '../../src/io/nodeModelFiles.ts';
import { cachedModelFiles, hubBaseUrl } from '../../src/io/cachedModelFiles.ts';
import { SafetensorsFile } from '../../src/io/safetensors.ts';
import { bytesSource } from '../../src/io/byteSource.ts';
import { serializeSafetensors } from '../../src/io/safetensorsWriter.ts';
import { DownloadError } from '../../src/errors.ts';
import { expectGreedyMatch, expectLogitsMatch, readFixture } from '../support/fixtures.ts';
import { serveStatic, type StaticServer } from '../support/staticServer.ts';

const fixture = readFixture('gpt2-tiny');
let gpu: GpuContext;
let server: StaticServer;

beforeAll(async () => {
  gpu = await createNodeGpuContext({ onNotice: () => {} });
  // Hub layout: /<org>/<name>/resolve/main/<file>
  server = await serveStatic(fixture.dir, { 'test-org/gpt2-tiny/resolve/main': fixture.dir });
});
afterAll(async () => {
  await server?.close();
  gpu?.destroy();
});

async function expectFixtureModel(engine: Engine): Promise<void> {
  try {
    expectLogitsMatch(await engine.logits(fixture.promptIds), fixture.logits, 'gpt2-tiny');
    const ids = (await engine.generate(fixture.promptIds, { greedy: true, maxNewTokens: 5, stopAtEos: false }).result).ids;
    expectGreedyMatch(ids, fixture.greedyIds.slice(0, 5), fixture.greedyMargins, 'gpt2-tiny');
  } finally {
    await engine.dispose();
  }
}

describe('URL model sources', () => {
  it('hubBaseUrl builds resolve/main URLs', () => {
    expect(hubBaseUrl('openai-community/gpt2')).toBe('https://huggingface.co/openai-community/gpt2/resolve/main/');
    expect(hubBaseUrl('EleutherAI/pythia-70m', 'step1000')).toBe('https://huggingface.co/EleutherAI/pythia-70m/resolve/step1000/');
    expect(hubBaseUrl('EleutherAI/pythia-70m', 'main', 'http://mirror.local/hf')).toBe('http://mirror.local/hf/EleutherAI/pythia-70m/resolve/main/');
  });

  it('loads a model from Hub-like paths, each file fetched once and streamed', async () => {
    const requests: string[] = [];
    const fetchLogged = (url: string, init?: RequestInit) => {
      requests.push(`${init?.method ?? 'GET'} ${new URL(url).pathname} ${(init?.headers as Record<string, string> | undefined)?.Range ?? ''}`.trim());
      return fetch(url, init);
    };
    await expectFixtureModel(await Engine.load(gpu, cachedModelFiles(`${server.url}test-org/gpt2-tiny/resolve/main`, { fetch: fetchLogged })));
    expect(requests.filter((r) => r.startsWith('GET ') && r.includes('model.safetensors'))).toEqual(['GET /test-org/gpt2-tiny/resolve/main/model.safetensors']);
    expect(requests.filter((r) => r.startsWith('GET ') && r.includes('config.json'))).toHaveLength(1);
  });

  it('loads from a bare server (no Range support, no content types)', async () => {
    const plain = createServer((req, res) => {
      const file = join(fixture.dir, new URL(req.url ?? '/', 'http://x').pathname);
      let body: Buffer;
      try {
        body = readFileSync(file);
      } catch {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = plain.address() as AddressInfo;
      await expectFixtureModel(await Engine.load(gpu, cachedModelFiles(`http://127.0.0.1:${port}/`)));
    } finally {
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });

  it('a missing file is a typed error naming the URL and the status', async () => {
    await expect(Engine.load(gpu, cachedModelFiles(`${server.url}no/such/model`))).rejects.toThrow(DownloadError);
    await expect(Engine.load(gpu, cachedModelFiles(`${server.url}no/such/model`))).rejects.toThrow(/no\/such\/model\/config\.json failed with HTTP 404/);
  });

  it('an unreachable server is a typed error naming the URL', async () => {
    await expect(Engine.load(gpu, cachedModelFiles('http://127.0.0.1:9/model/'))).rejects.toThrow(/could not fetch http:\/\/127\.0\.0\.1:9\/model\/config\.json/);
  });
});

describe('sharded checkpoints', () => {
  it('loads model.safetensors.index.json shards like the single file', async () => {
    const file = await SafetensorsFile.open(bytesSource('model.safetensors', readFileSync(join(fixture.dir, 'model.safetensors'))));
    const tensors = await Promise.all([...file.tensors.values()].map(async (t) => ({ name: t.name, dtype: t.dtype, shape: t.shape, data: await file.read(t.name) })));
    const dir = mkdtempSync(join(tmpdir(), 'gpt-webgpu-shards-'));
    copyFileSync(join(fixture.dir, 'config.json'), join(dir, 'config.json'));
    const shards = [tensors.filter((_, i) => i % 2 === 0), tensors.filter((_, i) => i % 2 === 1)];
    const weightMap: Record<string, string> = {};
    shards.forEach((shard, i) => {
      const name = `model-0000${i + 1}-of-00002.safetensors`;
      writeFileSync(join(dir, name), serializeSafetensors(shard));
      for (const t of shard) weightMap[t.name] = name;
    });
    writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
    await expectFixtureModel(await Engine.load(gpu, await folderModelFiles(dir)));
  });
});
