// Shard names from model.safetensors.index.json are untrusted: no source (folder, HTTP, memory / picked files) may
// open or fetch anything outside the model. Each kind of escaping name is tried on each source; a server records every
// request; a fuzz checks that any accepted name stays inside both a folder and a base URL.
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../src/errors.ts';
import { cachedModelFiles } from '../../src/io/cachedModelFiles.ts';
import { TensorIndex } from '../../src/io/checkpoint.ts';
import { memoryModelFiles, type ModelFiles } from '../../src/io/modelFiles.ts';
import { folderModelFiles } from '../../src/io/nodeModelFiles.ts';
import { serializeSafetensors } from '../../src/io/safetensorsWriter.ts';
import { checkedShardNames, fileUrlUnderBase, shardNameProblem } from '../../src/io/shardNames.ts';

const INDEX = 'model.safetensors.index.json';
const shard = (tensor: string) => serializeSafetensors([{ name: tensor, dtype: 'F32', shape: [2], data: new Uint8Array(8) }]);
const index = (weightMap: Record<string, unknown>) => JSON.stringify({ weight_map: weightMap });

/** Names that would leave the model, one of each kind the rule forbids (and non-strings). */
const ESCAPES: unknown[] = [
  '../outside.safetensors',
  'sub/../../outside.safetensors',
  'sub/x.safetensors',
  '..\\outside.safetensors',
  'C:outside.safetensors',
  'C:\\outside.safetensors',
  '/etc/outside.safetensors',
  'http://127.0.0.1:1/x.safetensors',
  '//other-host/x.safetensors',
  '../../other-org/other-model/resolve/main/x.safetensors',
  '..%2Foutside.safetensors',
  '%2e%2e%2foutside.safetensors',
  'x.safetensors\u0000.json',
  'x.safetensors?download=1',
  'x.json',
  '..safetensors',
  '',
  42,
  null,
  { path: 'x.safetensors' },
];

describe('shard name rule', () => {
  it.each(ESCAPES.map((n) => [JSON.stringify(n), n]))('refuses %s, naming the index and the entry', (_label, name) => {
    let error: unknown;
    try {
      checkedShardNames(INDEX, { 'h.0.w': 'model-00001-of-00002.safetensors', 'h.1.w': name });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ModelFormatError);
    expect((error as Error).message).toContain(INDEX);
    expect((error as Error).message).toContain('h.1.w');
  });

  it('accepts Hugging Face shard names, deduplicated and sorted', () => {
    const map = { a: 'model-00002-of-00002.safetensors', b: 'model-00001-of-00002.safetensors', c: 'model-00001-of-00002.safetensors' };
    expect(checkedShardNames(INDEX, map)).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  });

  it('treats __proto__ as a tensor name, not a prototype', () => {
    const map = JSON.parse('{"__proto__": "../x.safetensors"}') as object;
    expect(() => checkedShardNames(INDEX, map)).toThrow(ModelFormatError);
  });

  it('keeps every URL it builds under the base', () => {
    const base = 'https://huggingface.co/org/model/resolve/main/';
    expect(fileUrlUnderBase('config.json', base)).toBe(`${base}config.json`);
    expect(fileUrlUnderBase('config.json', 'HTTPS://HuggingFace.co/org/model/resolve/main/')).toBe(`${base}config.json`);
    for (const f of ['../x.json', 'https://evil/x', '//evil/x', 'a/b.json', 'x?y', '%2e%2e/x']) expect(() => fileUrlUnderBase(f, base)).toThrow(ModelFormatError);
  });

  it('fuzz: a name it accepts stays in the folder and under the base URL', () => {
    const base = 'https://huggingface.co/org/model/resolve/main/';
    const dir = resolve('/models/m');
    const pieces = fc.constantFrom('..', '.', '/', '\\', '%2F', '%2e', ':', 'C:', 'http://', '\u0000', 'x', '-', '_', '.safetensors', '?', '#', '~', ' ');
    const names = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.array(pieces, { maxLength: 8 }).map((p) => p.join('')));
    fc.assert(
      fc.property(names, (name) => {
        if (shardNameProblem(name) !== undefined) {
          expect(() => checkedShardNames(INDEX, { t: name })).toThrow(ModelFormatError);
          return;
        }
        expect(dirname(resolve(dir, name))).toBe(dir);
        expect(fileUrlUnderBase(name, base)).toBe(base + name);
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 500) },
    );
  });
});

/** A memory model that records every file opened (the browser's picked-files source has the same shape). */
function recording(files: Record<string, string | Uint8Array>): { model: ModelFiles; opened: string[] } {
  const inner = memoryModelFiles('picked', files);
  const opened: string[] = [];
  return {
    opened,
    model: { ...inner, open: (f) => (opened.push(f), inner.open(f)), text: (f) => (opened.push(f), inner.text(f)) },
  };
}

describe('every source refuses escaping shard names before opening anything', () => {
  it.each(ESCAPES.slice(0, 12).map((n) => [n]))('memory / picked files: %s', async (name) => {
    const { model, opened } = recording({ [INDEX]: index({ w: name }), '../outside.safetensors': shard('w') });
    await expect(TensorIndex.open(model)).rejects.toThrow(ModelFormatError);
    expect(opened).toEqual([INDEX]);
  });

  it('a valid sharded model still opens', async () => {
    const { model } = recording({
      [INDEX]: index({ a: 'model-00001-of-00002.safetensors', b: 'model-00002-of-00002.safetensors' }),
      'model-00001-of-00002.safetensors': shard('a'),
      'model-00002-of-00002.safetensors': shard('b'),
    });
    const opened = await TensorIndex.open(model);
    expect(opened.names().sort()).toEqual(['a', 'b']);
    await opened.close();
  });

  describe('folder on disk', () => {
    let root = '';
    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'shards-'));
      await mkdir(join(root, 'model'));
      await writeFile(join(root, 'outside.safetensors'), shard('w'));
    });
    afterAll(() => rm(root, { recursive: true, force: true }));

    it.each([['../outside.safetensors'], [`${'..'}/../${'x'}.safetensors`], ['..\\outside.safetensors'], ['/tmp/outside.safetensors']])('%s', async (name) => {
      await writeFile(join(root, 'model', INDEX), index({ w: name.replace('/tmp', root) }));
      await expect(TensorIndex.open(await folderModelFiles(join(root, 'model')))).rejects.toThrow(ModelFormatError);
    });
  });

  describe('HTTP: nothing outside the base is requested', () => {
    let server: Server;
    let origin = '';
    const requests: string[] = [];
    const bodies: Record<string, Uint8Array | string> = {};
    beforeAll(async () => {
      server = createServer((req: IncomingMessage, res: ServerResponse) => {
        const path = req.url ?? '/';
        requests.push(path);
        if (path === '/cdn/blob') {
          res.writeHead(200, { 'content-length': String((bodies.blob as Uint8Array).length) });
          res.end(req.method === 'HEAD' ? undefined : bodies.blob);
          return;
        }
        const body = bodies[path];
        if (body === undefined) return void res.writeHead(404).end();
        // Like the Hub: the weights answer with a redirect to a CDN path the server chose.
        if (path.endsWith('.safetensors') && !path.includes('cdn')) {
          bodies.blob = body;
          return void res.writeHead(302, { location: `${origin}/cdn/blob` }).end();
        }
        const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
        res.writeHead(200, { 'content-length': String(bytes.length) });
        res.end(req.method === 'HEAD' ? undefined : bytes);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      bodies['/other-org/other-model/resolve/main/x.safetensors'] = shard('w');
      bodies['/outside.safetensors'] = shard('w');
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    const base = () => `${origin}/org/model/resolve/main/`;
    const names = () => ['../../../other-org/other-model/resolve/main/x.safetensors', `${origin}/outside.safetensors`, '//127.0.0.1/outside.safetensors', '..%2F..%2Foutside.safetensors', 'sub/x.safetensors'];

    it('refuses each escaping name and requests only the index', async () => {
      for (const name of names()) {
        requests.length = 0;
        bodies['/org/model/resolve/main/' + INDEX] = index({ w: name });
        await expect(TensorIndex.open(cachedModelFiles(base(), { cacheName: null }))).rejects.toThrow(ModelFormatError);
        for (const r of requests) expect(r.startsWith('/org/model/resolve/main/')).toBe(true);
      }
    });

    it('a valid sharded model loads, following the server redirect to its CDN', async () => {
      bodies['/org/model/resolve/main/' + INDEX] = index({ w: 'model-00001-of-00001.safetensors' });
      bodies['/org/model/resolve/main/model-00001-of-00001.safetensors'] = shard('w');
      const opened = await TensorIndex.open(cachedModelFiles(base(), { cacheName: null }));
      expect(opened.names()).toEqual(['w']);
      await opened.close();
      expect(requests).toContain('/cdn/blob');
    });
  });
});
