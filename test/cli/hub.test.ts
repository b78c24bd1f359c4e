// `--model org/name` from a Hub: the CLI downloads the model into the disk cache (`--cache-dir`, `--hub`), generates,
// and a second run needs no request at all. A 127.0.0.1 server plays the Hub, serving the demo model at
// /org/name/resolve/main/. And the cache's own rules, through downloadModelToDisk: a short body leaves no file.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DownloadError } from '../../src/errors.ts';
import { downloadModelToDisk, modelCacheFolder } from '../../src/io/nodeDiskCache.ts';
import { DEFAULT_MODEL_DIR } from '../../src/node.ts';
import { serveStatic, type StaticServer } from '../support/staticServer.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const reference = JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'reference.json'), 'utf8'));

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', './scripts/node-hooks.mjs', 'src/cli/cli.ts', ...args], { cwd: ROOT, maxBuffer: 1 << 26, timeout: 110_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('--model org/name downloads from the Hub into the disk cache', () => {
  let server: StaticServer;
  const requests: string[] = [];
  const cacheDir = mkdtempSync(join(tmpdir(), 'gpt-webgpu-hub-cache-'));
  const empty = mkdtempSync(join(tmpdir(), 'gpt-webgpu-hub-root-'));

  beforeAll(async () => {
    server = await serveStatic(empty, { 'org/name/resolve/main': DEFAULT_MODEL_DIR }, { onRequest: (r) => requests.push(`${r.method} ${r.path}`) });
  });
  afterAll(async () => {
    await server.close();
    for (const dir of [cacheDir, empty]) rmSync(dir, { recursive: true, force: true });
  });

  it('the first run downloads and generates the reference text; the second sends no request', async () => {
    const g = reference.greedy[0];
    const args = ['generate', '--model', 'org/name', '--hub', server.url, '--cache-dir', cacheDir, '--prompt', g.prompt, '--max-new-tokens', '8', '--greedy', '--json'];
    const first = await cli(args);
    expect(first.code, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).results[0].ids).toEqual(g.greedy_ids.slice(0, 8));
    expect(requests).toContain('GET /org/name/resolve/main/model.safetensors');
    const folder = modelCacheFolder('org/name', cacheDir, server.url);
    expect(readdirSync(folder).sort()).toEqual(['.absent.json', 'config.json', 'merges.txt', 'model.safetensors', 'vocab.json']);
    expect(JSON.parse(readFileSync(join(folder, '.absent.json'), 'utf8'))).toEqual(['tokenizer.json']);

    requests.length = 0;
    const second = await cli(args);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout).results[0].ids).toEqual(g.greedy_ids.slice(0, 8));
    expect(requests).toEqual([]);
  });

  it('a model the Hub does not have is one line naming the URL', async () => {
    const run = await cli(['generate', '--model', 'org/missing', '--hub', server.url, '--cache-dir', cacheDir, '--ids', '1']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: there is no folder org\/missing here, so it was taken as a Hub id: .*\/org\/missing\/resolve\/main\/config\.json was not found \(HTTP 404\)/m);
    expect(run.stdout).toBe('');
  });

  it('--hub must be an http(s) URL (exit 2)', async () => {
    const run = await cli(['generate', '--model', 'org/name', '--hub', 'ftp://x', '--ids', '1']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--hub needs an http\(s\) URL/);
  });
});

describe('downloadModelToDisk', () => {
  const config = readFileSync(join(DEFAULT_MODEL_DIR, 'config.json'));
  const weights = new Uint8Array(1000).fill(7);
  /** A fake Hub: config, weights (short when `short`), everything else 404. */
  const hub = (short: boolean) => async (url: string) => {
    if (url.endsWith('/config.json')) return new Response(config, { headers: { 'content-length': String(config.length) } });
    if (url.endsWith('/model.safetensors')) return new Response(short ? weights.subarray(0, 600) : weights, { headers: { 'content-length': String(weights.length) } });
    return new Response('not found', { status: 404 });
  };

  it('a body shorter than its Content-Length leaves no file (only complete files count); a retry completes it', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'gpt-webgpu-disk-'));
    const options = { cacheDir, hub: 'http://hub.test/' };
    await expect(downloadModelToDisk('org/m', { ...options, fetch: hub(true) })).rejects.toThrow(DownloadError);
    await expect(downloadModelToDisk('org/m', { ...options, fetch: hub(true) })).rejects.toThrow(/ended after 600 of 1000 bytes/);
    const folder = modelCacheFolder('org/m', cacheDir, options.hub);
    expect(existsSync(join(folder, 'model.safetensors'))).toBe(false);
    expect(readdirSync(folder).filter((f) => f.endsWith('.part'))).toEqual([]);
    expect(await downloadModelToDisk('org/m', { ...options, fetch: hub(false) })).toBe(folder);
    expect(readFileSync(join(folder, 'model.safetensors'))).toEqual(Buffer.from(weights));
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('a stalled download (no headers, or no more bytes, for idleTimeoutMs) is a DownloadError naming the URL and leaves no file', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'gpt-webgpu-disk-'));
    const options = { cacheDir, hub: 'http://hub.test/', idleTimeoutMs: 200 };
    const stallBody = async (url: string) => {
      if (!url.endsWith('/model.safetensors')) return hub(false)(url);
      const body = new ReadableStream<Uint8Array>({ start: (c) => c.enqueue(weights.subarray(0, 100)) }); // then nothing
      return new Response(body, { headers: { 'content-length': String(weights.length) } });
    };
    await expect(downloadModelToDisk('org/m', { ...options, fetch: stallBody })).rejects.toThrow(/no data from http:\/\/hub\.test\/org\/m\/resolve\/main\/model\.safetensors for 0\.2 s \(after 100 of 1000 bytes\)/);
    const stallHeaders = (url: string, init?: RequestInit) =>
      url.endsWith('/model.safetensors') ? new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(new Error('aborted')))) : hub(false)(url);
    await expect(downloadModelToDisk('org/m', { ...options, fetch: stallHeaders })).rejects.toThrow(/no response from .*model\.safetensors for 0\.2 s/);
    const folder = modelCacheFolder('org/m', cacheDir, options.hub);
    expect(readdirSync(folder).filter((f) => f.startsWith('model.safetensors'))).toEqual([]);
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('a compressed answer (Content-Length of the gzip bytes, body decoded by fetch, as vite preview sends) is not taken for a short body', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'gpt-webgpu-disk-'));
    const gzipped = async (url: string) =>
      url.endsWith('/model.safetensors') ? new Response(weights, { headers: { 'content-length': '40', 'content-encoding': 'gzip' } }) : hub(false)(url);
    const folder = await downloadModelToDisk('org/m', { cacheDir, hub: 'http://hub.test/', fetch: gzipped });
    expect(readFileSync(join(folder, 'model.safetensors'))).toEqual(Buffer.from(weights));
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('an SPA fallback (index.html with 200) counts as absent for an optional file, and as missing for a required one', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'gpt-webgpu-disk-'));
    const spa = async (url: string) => (url.endsWith('/config.json') || url.endsWith('/model.safetensors') ? hub(false)(url) : new Response('<!doctype html>', { headers: { 'content-type': 'text/html' } }));
    const folder = await downloadModelToDisk('org/m', { cacheDir, hub: 'http://hub.test/', fetch: spa });
    expect(JSON.parse(readFileSync(join(folder, '.absent.json'), 'utf8'))).toEqual(['merges.txt', 'tokenizer.json', 'vocab.json']);
    await expect(downloadModelToDisk('org/other', { cacheDir, hub: 'http://hub.test/', fetch: async () => new Response('<!doctype html>', { headers: { 'content-type': 'text/html' } }) })).rejects.toThrow(/config\.json was not found \(the server answered with an HTML page\)/);
    rmSync(cacheDir, { recursive: true, force: true });
  });
});
