// The npm package the way a user meets it: `npm pack` (whose prepack builds dist/), the tarball installed into a fresh
// project outside the repository, a consumer .ts file type-checked with skipLibCheck false (moduleResolution bundler
// and node16), a Node script generating through 'gpt-webgpu/node' with the bundled demo model (loadEngine() with no
// argument, from another cwd), and the `gpt-webgpu` bin (--help, --version, a short generate).
// No network: the consumer gets a package-lock.json made from the repository's own entries for the package's
// dependencies, so `npm ci --prefer-offline` takes every tarball from the npm cache that the repository's `npm ci` filled.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const reference = JSON.parse(readFileSync(join(ROOT, 'models', 'gpt2-shakespeare', 'reference.json'), 'utf8'));
const DEV_TOOLS = ['typescript', '@types/node'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, maxBuffer: 1 << 26, timeout: 110_000, env: { ...process.env, npm_config_update_notifier: 'false' } }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Lockfile entries for `names` and everything they depend on, taken from the repository's package-lock.json. */
function lockEntries(names: string[]): Record<string, unknown> {
  const packages: Record<string, { dependencies?: Record<string, string>; dev?: boolean }> = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')).packages;
  const wanted = new Set<string>();
  const stack = [...names];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (wanted.has(name)) continue;
    const entry = packages[`node_modules/${name}`];
    if (!entry) throw new Error(`package-lock.json has no entry for ${name}; run npm install in the repository`);
    wanted.add(name);
    stack.push(...Object.keys(entry.dependencies ?? {}));
  }
  const out: Record<string, unknown> = {};
  for (const [path, entry] of Object.entries(packages)) {
    const top = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1];
    if (top && wanted.has(top)) {
      const { dev: _dev, devOptional: _devOptional, peer: _peer, ...rest } = entry as Record<string, unknown>;
      out[path] = rest;
    }
  }
  return out;
}

const CONSUMER_TS = `
import { Engine, GptWebGpuError, InvalidRequestError, type EngineSummary, type GenerationResult } from 'gpt-webgpu';
import { WorkerEngine, serveEngineInWorker, modelBaseUrl, listCachedModels, type MessageEndpoint } from 'gpt-webgpu';
import { DEFAULT_MODEL_DIR, loadEngine } from 'gpt-webgpu/node';

// The worker pair, as README's "Using it as a library" shows it (type-checked only: Node has no Web Worker).
export async function inWorker(endpoint: MessageEndpoint): Promise<string> {
  const engine = new WorkerEngine(endpoint);
  await engine.load({ kind: 'url', url: modelBaseUrl('openai-community/gpt2') }, { onDownload: (p) => void p.loaded });
  let text = '';
  for await (const chunk of engine.generate('ROMEO:', { maxNewTokens: 4 })) text += chunk.text;
  const cached = await listCachedModels();
  return text + cached.length;
}
export const serve: typeof serveEngineInWorker = serveEngineInWorker;

// WebGPU types come with the package's declarations.
export function deviceOf(engine: Engine): GPUDevice | undefined {
  void engine;
  return undefined;
}

export async function run(): Promise<{ result: GenerationResult; summary: EngineSummary; model: string }> {
  const engine: Engine = await loadEngine();
  try {
    const stream = engine.generate('ROMEO:', { maxNewTokens: 4, greedy: true });
    for await (const chunk of stream) process.stdout.write(chunk.text);
    return { result: await stream.result, summary: engine.summary(), model: DEFAULT_MODEL_DIR };
  } catch (e) {
    if (e instanceof InvalidRequestError || e instanceof GptWebGpuError) throw new Error(e.message);
    throw e;
  } finally {
    await engine.dispose();
  }
}
`;

const SCRIPT_MJS = `
import { loadEngine, DEFAULT_MODEL_DIR } from 'gpt-webgpu/node';
const engine = await loadEngine();
const result = await engine.generate(process.argv[2], { maxNewTokens: Number(process.argv[3]), greedy: true }).result;
await engine.dispose();
process.stdout.write(JSON.stringify({ ids: result.ids, text: result.text, model: DEFAULT_MODEL_DIR }), () => process.exit(0));
`;

describe('the packed npm package in a fresh project', () => {
  let project = '';
  const g = reference.greedy[0];

  beforeAll(async () => {
    project = mkdtempSync(join(tmpdir(), 'gpt-webgpu-consumer-'));
    const packed = await run('npm', ['pack', '--silent', '--pack-destination', project], ROOT);
    expect(packed.code, packed.stderr).toBe(0);
    const tarball = readdirSync(project).find((f) => f.endsWith('.tgz'));
    expect(tarball).toBeDefined();
    const devVersions = Object.fromEntries(DEV_TOOLS.map((name) => [name, pkg.devDependencies[name]]));
    const manifest = { name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies: { 'gpt-webgpu': `file:${tarball}`, ...devVersions } };
    writeFileSync(join(project, 'package.json'), JSON.stringify(manifest, null, 2));
    const lock = {
      name: 'consumer',
      version: '1.0.0',
      lockfileVersion: 3,
      requires: true,
      packages: {
        '': { name: 'consumer', version: '1.0.0', dependencies: manifest.dependencies },
        'node_modules/gpt-webgpu': { version: pkg.version, resolved: `file:${tarball}`, dependencies: pkg.dependencies, bin: pkg.bin, engines: pkg.engines },
        ...lockEntries([...Object.keys(pkg.dependencies), ...DEV_TOOLS]),
      },
    };
    writeFileSync(join(project, 'package-lock.json'), JSON.stringify(lock, null, 2));
    const installed = await run('npm', ['ci', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], project);
    expect(installed.code, installed.stderr).toBe(0);
  }, 120_000);

  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('ships the runtime files and the demo model, not test data or internal CLI types', async () => {
    const listed = await run('tar', ['tzf', readdirSync(project).find((f) => f.endsWith('.tgz'))!], project);
    const files = listed.stdout.split('\n').map((f) => f.replace(/^package\//, ''));
    expect(files).toEqual(expect.arrayContaining(['dist/lib/index.js', 'dist/lib/node.js', 'dist/lib/cli.js', 'dist/types/index.d.ts', 'dist/types/node.d.ts', 'models/gpt2-shakespeare/model.safetensors', 'models/gpt2-shakespeare/vocab.json', 'models/gpt2-shakespeare/merges.txt', 'models/gpt2-shakespeare/config.json']));
    expect(files.filter((f) => /reference\.json|train\.py|^test\/|^src\/|^dist\/types\/cli\/|^dist\/demo\//.test(f))).toEqual([]);
    expect(readFileSync(join(project, 'node_modules', 'gpt-webgpu', 'package.json'), 'utf8')).not.toMatch(/"private"/);
  });

  it.each(['bundler', 'node16'])('a consumer .ts file type-checks with skipLibCheck false (moduleResolution %s)', async (resolution) => {
    writeFileSync(join(project, 'consumer.ts'), CONSUMER_TS);
    const config = { compilerOptions: { strict: true, noEmit: true, skipLibCheck: false, target: 'es2022', module: resolution === 'bundler' ? 'esnext' : 'node16', moduleResolution: resolution, types: ['node'] }, files: ['consumer.ts'] };
    writeFileSync(join(project, `tsconfig.${resolution}.json`), JSON.stringify(config));
    const checked = await run(join(project, 'node_modules', '.bin', 'tsc'), ['-p', `tsconfig.${resolution}.json`], project);
    expect(checked.code, checked.stdout + checked.stderr).toBe(0);
  });

  it('a Node script generates through gpt-webgpu/node with loadEngine() and no argument (the bundled demo model)', async () => {
    writeFileSync(join(project, 'script.mjs'), SCRIPT_MJS);
    const out = await run(process.execPath, ['script.mjs', g.prompt, '6'], project);
    expect(out.code, out.stderr).toBe(0);
    const json = JSON.parse(out.stdout);
    expect(json.ids).toEqual(g.greedy_ids.slice(0, 6));
    expect(json.model).toBe(join(project, 'node_modules', 'gpt-webgpu', 'models', 'gpt2-shakespeare'));
  });

  it('the gpt-webgpu bin runs: --help names it, --version, and a short generate', async () => {
    const bin = join(project, 'node_modules', '.bin', 'gpt-webgpu');
    const help = await run(bin, ['--help'], project);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^usage: gpt-webgpu <command>/);
    expect(help.stdout).not.toMatch(/npm run/);
    const version = await run(bin, ['--version'], project);
    expect(version.stdout).toBe(`gpt-webgpu ${pkg.version}\n`);
    const generated = await run(bin, ['generate', '--prompt', g.prompt, '--max-new-tokens', '6', '--greedy', '--json'], project);
    expect(generated.code, generated.stderr).toBe(0);
    expect(JSON.parse(generated.stdout).results[0].ids).toEqual(g.greedy_ids.slice(0, 6));
    const usage = await run(bin, ['generate', '--kv-blocks', '0', '--ids', '1'], project);
    expect(usage.code).toBe(2);
    expect(usage.stdout).toBe('');
  });
});
