// The command-line interface: `gpt-webgpu <command> [options]` when installed, `npm run --silent cli -- …` inside the
// repository (entry point: cli.ts; the argument parser and value checks: args.ts; progress bars: progress.ts).
//   generate  stream a continuation (text to stdout, TTFT/ITL to stderr), or --json for one machine-readable object
//   logits    write float32 little-endian logits (P, V) for a list of token ids
//   tokenize  print {"ids": [...]} for a text
// Every failure ends with a non-zero exit and a one-line message on stderr; stack traces only with --debug.
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { GptWebGpuError, UsageError } from '../errors.ts';
import type { Engine, GenerateOptions } from '../engine.ts';
import { DEFAULT_MODEL_DIR, loadEngine } from '../node.ts';
import type { NodeBackend } from '../gpu/node.ts';
import { folderModelFiles } from '../io/nodeModelFiles.ts';
import { Tokenizer } from '../tokenizer/index.ts';
import { describeBench, summarizeEngine, summarizeLatency } from './summary.ts';
import { createProgress, stderrSink } from './progress.ts';
import { checkModelOptions, resolveModel } from './modelSource.ts';
import { runBenchmark, type BenchProtocol } from '../bench/benchmark.ts';
import { dawnClasses, describeProxy, GpuCounter, runProxy } from '../bench/proxy.ts';
import { describeProfile, runProfile } from '../bench/profile.ts';
import { describeCeiling, runCeiling } from '../bench/ceiling.ts';
import { createNodeGpuContext } from '../gpu/node.ts';
import { DEFAULT_BLOCK_SIZE } from '../kv/pagedKvCache.ts';
import { planSampling } from '../sampling/sampler.ts';
import { choice, decimal, integer, integerList, parseCommandLine, SEED_MAX, tokenIds, type CommandLine, type Values } from './args.ts';

/** How the user runs us: the installed bin, or the npm script inside the repository (where cli.ts runs from src/). */
const PROGRAM = /[\\/]src[\\/]cli[\\/]cli\.ts$/.test(process.argv[1] ?? '') ? 'npm run --silent cli --' : 'gpt-webgpu';

const HELP = `usage: ${PROGRAM} <command> [options]

commands:
  generate  --prompt TEXT | --prompt-file F | --ids 1,2,3
                                           generate continuations; several prompts are submitted at once;
                                           --prompt-file - reads the prompt from stdin (one final newline dropped)
            [--max-new-tokens N] [--greedy | --temperature T --top-k K --top-p P --seed S]
            [--repetition-penalty R] [--stop TEXT]... [--ignore-eos] [--keep-last-tokens] [--json]
  logits    --ids 1,2,3 --out FILE         float32 little-endian logits (P, V); row i follows token i
  tokenize  --text TEXT | --text-file F    print {"ids": [...]} (--text-file - reads stdin, taken as is)
  bench     [--prompt-lengths 1,32,128] [--new-tokens N] [--repetitions N] [--concurrency 1,4,16]
            [--temperature T --top-k K --top-p P] [--label TEXT] [--gpu-time] [--json | --out FILE]
                                           run the benchmark protocol (greedy, or sampled); --json prints the record;
                                           --gpu-time adds GPU ms per step (timestamp queries, where the adapter has them)
  bench     --proxy [--json | --out FILE]   per decode step at batch 1 and 16: dispatches, submits, read-backs,
                                           bind groups, bytes bound, host ms with a null GPU (src/bench/proxy.ts)
  bench     --profile [--rows 1,16] [--contexts 128,1000] [--repeats N] [--json | --out FILE]
                                           GPU µs of each call site of a decode step, timed alone, per M rows and
                                           context; N dependent repeats (default 200, 10 on a software adapter);
                                           with the ceilings and the step's floor (src/bench/profile.ts)
  bench     --ceiling [--json | --out FILE]   copy GB/s, dependent dispatch gap, read-back round trip
                                           (src/bench/ceiling.ts)

options for every command:
  --model M            a Hugging Face model folder (config.json, model.safetensors, tokenizer files), or a Hub
                       id (org/name) or http(s) base URL, downloaded once into the cache folder;
                       default: the embedded demo model (${DEFAULT_MODEL_DIR})
  --hub URL            the Hub endpoint for model ids (default https://huggingface.co/)
  --cache-dir DIR      where downloaded models are kept (default $XDG_CACHE_HOME/gpt-webgpu or ~/.cache/gpt-webgpu)
  --backend B          auto (default) | hardware | software (Mesa llvmpipe through OpenGL ES)
  --block-size N       tokens per KV-cache block (default 16)
  --kv-blocks N        KV-cache blocks (default: 256 MiB worth, at most --max-sequences full contexts)
  --max-batch-tokens N most prompt tokens per prefill step (default 256)
  --max-sequences N    most requests running at once (default 16)
  --weights F          weight matrices on the GPU: auto (default: f16 when the checkpoint stores F16), f32, f16
  --debug              show stack traces
  --help, -h           this text
  --version, -v        the version`;

/** The package's version, from the package.json above this module (src/cli/ in the repository, dist/lib/ installed). */
function version(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)), i = 0; i < 4; i++, dir = dirname(dir)) {
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'gpt-webgpu' && pkg.version) return pkg.version;
  }
  return 'unknown';
}

/** A file's text, or stdin's for "-"; a missing or unreadable file is a usage mistake naming the option and path. */
async function readInput(option: string, path: string): Promise<string> {
  try {
    if (path !== '-') return await readFile(path, 'utf8');
    if (process.stdin.isTTY) throw new UsageError(`${option} - reads stdin, but stdin is a terminal; pipe the text in (echo ROMEO: | ${PROGRAM} …)`);
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read ${option} ${path} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check the path`);
  }
}

/** Prompts in command-line order; a prompt file loses one final newline (what `echo` and editors add). */
async function readPrompts(line: CommandLine): Promise<(string | number[])[]> {
  if (line.prompts.filter((p) => p.kind === 'prompt-file' && p.value === '-').length > 1) throw new UsageError('--prompt-file - (stdin) can be given only once');
  const prompts: (string | number[])[] = [];
  for (const p of line.prompts) {
    if (p.kind === 'ids') prompts.push(tokenIds(p.value));
    else if (p.kind === 'prompt') prompts.push(p.value);
    else {
      const text = (await readInput('--prompt-file', p.value)).replace(/\r?\n$/, '');
      if (text === '') throw new UsageError(`--prompt-file ${p.value} is empty; give a non-empty prompt`);
      prompts.push(text);
    }
  }
  return prompts;
}

/** Loads the engine with a progress display for the weight upload (a bar on a terminal; see progress.ts). */
async function openEngine(values: Values, overrides: Partial<ReturnType<typeof engineOptions>> = {}): Promise<Engine> {
  const options = { ...engineOptions(values), ...overrides };
  const model = await resolveModel(values);
  const progress = createProgress(stderrSink(), 'uploading weights to the GPU');
  try {
    return await loadEngine({ ...options, model, onProgress: (p) => progress.update(p.loadedBytes, p.totalBytes) });
  } finally {
    progress.end();
  }
}

/** The engine options, checked before anything is loaded. */
function engineOptions(values: Values) {
  checkModelOptions(values);
  return {
    backend: choice<NodeBackend>(values, 'backend', ['auto', 'hardware', 'software'], 'auto'),
    blockSize: integer(values, 'block-size', 1, 65536),
    kvBlocks: integer(values, 'kv-blocks', 1),
    maxBatchTokens: integer(values, 'max-batch-tokens', 1),
    maxSequences: integer(values, 'max-sequences', 1),
    weightFormat: choice(values, 'weights', ['auto', 'f32', 'f16'], 'auto'),
    gpuTiming: values['gpu-time'] === true,
  };
}

/** The sampling and stopping options, checked as the engine would check them, but as usage mistakes (exit 2). */
function generateOptions(values: Values): GenerateOptions {
  const options: GenerateOptions = {
    maxNewTokens: integer(values, 'max-new-tokens', 0), // default: 64, or what is left of the context window
    greedy: values.greedy,
    temperature: decimal(values, 'temperature', '≥ 0', (t) => t >= 0),
    topK: integer(values, 'top-k', 0),
    topP: decimal(values, 'top-p', 'in (0, 1]', (p) => p > 0 && p <= 1),
    seed: integer(values, 'seed', 0, SEED_MAX),
    repetitionPenalty: decimal(values, 'repetition-penalty', '> 0', (r) => r > 0),
    stop: values.stop,
    stopAtEos: !values['ignore-eos'],
    keepLastTokens: values['keep-last-tokens'],
  };
  if (values.stop?.some((s) => s === '')) throw new UsageError('--stop needs a non-empty text, got ""');
  try {
    planSampling(options); // combinations: --greedy with --temperature, …
  } catch (e) {
    throw e instanceof GptWebGpuError ? new UsageError(e.message) : e;
  }
  return options;
}

async function generate(line: CommandLine): Promise<void> {
  const { values } = line;
  if (line.prompts.length === 0) throw new UsageError('generate needs --prompt TEXT, --prompt-file F or --ids 1,2,3');
  const prompts = await readPrompts(line);
  if (prompts.some((p) => p.length === 0)) throw new UsageError('--prompt needs a non-empty text');
  const options = generateOptions(values);
  const engine = await openEngine(values);
  try {
    // Every prompt is submitted at once; the scheduler batches them.
    const streams = prompts.map((prompt) => engine.generate(prompt, options));
    if (!values.json && streams.length === 1) {
      // One request: stream its text as it comes, but only once the engine has accepted it, so a refused request
      // writes nothing to stdout (a pipe must not receive the prompt as if it were output).
      const iterator = streams[0][Symbol.asyncIterator]();
      let next = await iterator.next();
      if (typeof prompts[0] === 'string') process.stdout.write(prompts[0]);
      for (; !next.done; next = await iterator.next()) process.stdout.write(next.value.text);
      process.stdout.write('\n');
    }
    // Several prompts print once all have finished: a refused one then leaves stdout empty instead of half-written.
    const results = await Promise.all(streams.map((stream) => stream.result));
    for (const [i, result] of results.entries()) {
      if (values.json) continue;
      if (streams.length > 1) {
        const prompt = prompts[i];
        process.stdout.write(`--- [${i + 1}] ${typeof prompt === 'string' ? JSON.stringify(prompt) : `ids ${prompt.join(',')}`}\n${typeof prompt === 'string' ? prompt : ''}${result.text}\n`);
      }
      process.stderr.write(`${streams.length > 1 ? `[${i + 1}] ` : ''}${summarizeLatency(result)}\n`);
    }
    const summary = engine.summary();
    if (values.json) process.stdout.write(`${JSON.stringify({ results, summary, adapter: engine.info.adapter })}\n`);
    else process.stderr.write(`${summarizeEngine(summary)}\nadapter: ${describeAdapter(engine)}\n`);
  } finally {
    await engine.dispose();
  }
}

function describeAdapter(engine: Engine): string {
  const a = engine.info.adapter;
  const name = [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || a.description;
  return `${name}${a.software ? ' (software)' : ''}`;
}

async function logits(values: Values): Promise<void> {
  if (!values.ids || values.ids.length !== 1) throw new UsageError('logits needs exactly one --ids 1,2,3');
  if (!values.out) throw new UsageError('logits needs --out FILE');
  const ids = tokenIds(values.ids[0]);
  const engine = await openEngine(values);
  const out = await engine.logits(ids);
  try {
    await writeFile(values.out, new Uint8Array(out.buffer, out.byteOffset, out.byteLength));
  } catch (e) {
    // A raw ENOENT / EACCES would reach the user as an untyped error; say which path and what to check.
    throw new UsageError(`cannot write --out ${values.out} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); check that its folder exists and is writable`);
  } finally {
    await engine.dispose();
  }
}

async function bench(values: Values): Promise<void> {
  const modes = (['proxy', 'profile', 'ceiling'] as const).filter((k) => values[k]);
  if (modes.length > 1) throw new UsageError(`bench takes one of --proxy, --profile, --ceiling, got ${modes.map((k) => `--${k}`).join(' and ')}`);
  const profileOption = (['rows', 'contexts', 'repeats'] as const).find((k) => values[k] !== undefined);
  if (profileOption && !values.profile) throw new UsageError(`--${profileOption} is an option of bench --profile; add --profile or drop it`);
  if (values.profile || values.ceiling) {
    const protocolOption = ['prompt-lengths', 'new-tokens', 'repetitions', 'concurrency', 'label'].find((k) => values[k as keyof Values] !== undefined);
    if (protocolOption) throw new UsageError(`bench --${modes[0]} takes no --${protocolOption} (an option of the benchmark protocol); drop it`);
    return await (values.profile ? profile(values) : ceiling(values));
  }
  if (values.proxy) {
    // The proxy has its own fixed method (src/bench/proxy.ts); a protocol option would be silently ignored.
    const protocolOption = ['prompt-lengths', 'new-tokens', 'repetitions', 'concurrency', 'label', 'temperature', 'top-k', 'top-p'].find((k) => values[k as keyof Values] !== undefined);
    if (protocolOption) throw new UsageError(`bench --proxy takes no --${protocolOption} (its method is fixed: batch 1 and 16); drop it`);
    return await proxy(values);
  }
  const protocol: Partial<BenchProtocol> = {};
  if (values['prompt-lengths'] !== undefined) protocol.promptLengths = integerList(values['prompt-lengths'], 'prompt-lengths', 1);
  if (values.concurrency !== undefined) protocol.concurrency = integerList(values.concurrency, 'concurrency', 1);
  const newTokens = integer(values, 'new-tokens', 2);
  const repetitions = integer(values, 'repetitions', 1);
  if (newTokens !== undefined) protocol.newTokens = newTokens;
  if (repetitions !== undefined) protocol.repetitions = repetitions;
  const temperature = decimal(values, 'temperature', '≥ 0', (t) => t >= 0);
  const topK = integer(values, 'top-k', 0);
  const topP = decimal(values, 'top-p', 'in (0, 1]', (p) => p > 0 && p <= 1);
  if (temperature !== undefined || topK !== undefined || topP !== undefined) protocol.sampling = { temperature: temperature ?? 1, topK, topP };
  const engine = await openEngine(values);
  const record = await runBenchmark(engine, {
    protocol,
    label: values.label,
    environment: { runtime: 'node', nodeVersion: process.version, platform: `${process.platform}-${process.arch}` },
    onProgress: values.json ? undefined : (message, fraction) => process.stderr.write(`bench ${(fraction * 100).toFixed(0).padStart(3)}%  ${message}\n`),
  });
  await engine.dispose();
  const json = `${JSON.stringify(record)}\n`;
  if (values.out) await writeFile(values.out, json);
  if (values.json) process.stdout.write(json);
  else process.stdout.write(`${describeBench(record)}\n`);
}

async function proxy(values: Values): Promise<void> {
  const counter = new GpuCounter(await dawnClasses()); // before the load, which makes the bind groups
  let record;
  try {
    const engine = await openEngine(values);
    try {
      record = await runProxy(engine, counter, { onProgress: values.json ? undefined : (message) => process.stderr.write(`proxy  ${message}\n`) });
    } finally {
      await engine.dispose();
    }
  } finally {
    counter.dispose();
  }
  const json = `${JSON.stringify(record)}\n`;
  if (values.out) await writeFile(values.out, json);
  if (values.json) process.stdout.write(json);
  else process.stdout.write(`${describeProxy(record)}\n`);
}

/** Writes a record as --json / --out ask, else the human text. */
async function emit(values: Values, record: object, text: () => string): Promise<void> {
  const json = `${JSON.stringify(record)}\n`;
  if (values.out) await writeFile(values.out, json);
  if (values.json) process.stdout.write(json);
  else process.stdout.write(`${text()}\n`);
}

async function profile(values: Values): Promise<void> {
  const rows = values.rows !== undefined ? integerList(values.rows, 'rows', 1, 1024) : [1, 16];
  const contexts = values.contexts !== undefined ? integerList(values.contexts, 'contexts', 1) : [128, 1000];
  const repeats = integer(values, 'repeats', 1, 1_000_000);
  const options = engineOptions(values);
  const maxRows = Math.max(...rows);
  const maxContext = Math.max(...contexts);
  if (options.maxSequences !== undefined && options.maxSequences < maxRows) throw new UsageError(`--rows ${maxRows} needs --max-sequences ${maxRows} or more, got ${options.maxSequences}`);
  // The KV pool the shapes need, and no more (the default pool may be smaller, or much larger than these contexts need).
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  const kvBlocks = options.kvBlocks ?? maxRows * Math.ceil(maxContext / blockSize);
  const engine = await openEngine(values, { kvBlocks, maxSequences: Math.max(options.maxSequences ?? 16, maxRows) });
  let record;
  try {
    const window = engine.config.contextLength;
    if (maxContext > window) throw new UsageError(`--contexts ${maxContext} is over the model's context window of ${window} positions`);
    record = await runProfile(engine, { rows, contexts, repeats, onProgress: values.json ? undefined : (message) => process.stderr.write(`profile  ${message}\n`) });
  } finally {
    await engine.dispose();
  }
  await emit(values, record, () => `${describeCeiling(record.ceiling!)}\n\n${describeProfile(record)}`);
}

async function ceiling(values: Values): Promise<void> {
  const { backend } = engineOptions(values);
  const gpu = await createNodeGpuContext({ backend });
  let record;
  try {
    record = await runCeiling(gpu);
  } finally {
    gpu.destroy();
  }
  await emit(values, record, () => describeCeiling(record));
}

async function tokenize(values: Values): Promise<void> {
  if ((values.text === undefined) === (values['text-file'] === undefined)) throw new UsageError('tokenize needs one of --text TEXT or --text-file F');
  const text = values.text ?? (await readInput('--text-file', values['text-file']!));
  // No GPU needed: read only the tokenizer files.
  checkModelOptions(values);
  const files = await folderModelFiles((await resolveModel(values)) ?? DEFAULT_MODEL_DIR);
  const tokenizer = (await files.has('tokenizer.json'))
    ? Tokenizer.fromTokenizerJson(await files.text('tokenizer.json'))
    : Tokenizer.fromVocabAndMerges(await files.text('vocab.json'), await files.text('merges.txt'));
  process.stdout.write(`${JSON.stringify({ ids: tokenizer.encode(text) })}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const line = parseCommandLine(argv);
    const { values, positionals } = line;
    const command = positionals[0];
    if (values.version) {
      process.stdout.write(`gpt-webgpu ${version()}\n`);
      return 0;
    }
    if (values.help || command === undefined || command === 'help') {
      process.stdout.write(`${HELP}\n`);
      return command === undefined && !values.help ? 2 : 0;
    }
    if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}; see --help`);
    if (command === 'generate') await generate(line);
    else if (command === 'logits') await logits(values);
    else if (command === 'tokenize') await tokenize(values);
    else if (command === 'bench') await bench(values);
    else throw new UsageError(`unknown command ${JSON.stringify(command)}; the commands are generate, logits, tokenize, bench`);
    return 0;
  } catch (e) {
    if (debug) process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
    if (e instanceof GptWebGpuError) {
      process.stderr.write(`error: ${e.message}\n`);
      return e instanceof UsageError ? 2 : 1;
    }
    process.stderr.write(`error: ${(e as Error)?.message ?? String(e)}${debug ? '' : ' (run with --debug for details)'}\n`);
    return 1;
  }
}
