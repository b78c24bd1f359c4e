// The command-line interface: `npm run --silent cli -- <command> [options]` (entry point: cli.ts).
//   generate  stream a continuation (text to stdout, TTFT/ITL to stderr), or --json for one machine-readable object
//   logits    write float32 little-endian logits (P, V) for a list of token ids
//   tokenize  print {"ids": [...]} for a text
// Every failure ends with a non-zero exit and a one-line message on stderr; stack traces only with --debug.
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { GptWebGpuError, UsageError } from '../errors.ts';
import type { Engine, GenerateOptions } from '../engine.ts';
import { DEFAULT_MODEL_DIR, loadEngine } from '../node.ts';
import type { NodeBackend } from '../gpu/node.ts';
import { folderModelFiles } from '../io/nodeModelFiles.ts';
import { Tokenizer } from '../tokenizer/index.ts';
import { describeBench, summarizeEngine, summarizeLatency } from './summary.ts';
import { runBenchmark, type BenchProtocol } from '../bench/benchmark.ts';

const HELP = `usage: npm run --silent cli -- <command> [options]

commands:
  generate  --prompt TEXT | --ids 1,2,3   generate continuations; several --prompt/--ids are submitted at once
            [--max-new-tokens N] [--greedy | --temperature T --top-k K --top-p P --seed S]
            [--repetition-penalty R] [--stop TEXT]... [--ignore-eos] [--keep-last-tokens] [--json]
  logits    --ids 1,2,3 --out FILE         float32 little-endian logits (P, V); row i follows token i
  tokenize  --text TEXT                    print {"ids": [...]}
  bench     [--prompt-lengths 1,32,128] [--new-tokens N] [--repetitions N] [--concurrency 1,4,16]
            [--label TEXT] [--json | --out FILE]   run the benchmark protocol; --json prints the record

options for every command:
  --model DIR          a Hugging Face model folder (config.json, model.safetensors, tokenizer files);
                       default: the embedded demo model (${DEFAULT_MODEL_DIR})
  --backend B          auto (default) | hardware | software (Mesa llvmpipe through OpenGL ES)
  --block-size N       tokens per KV-cache block (default 16)
  --kv-blocks N        KV-cache blocks (default: 256 MiB worth, at most --max-sequences full contexts)
  --max-batch-tokens N most prompt tokens per prefill step (default 256)
  --max-sequences N    most requests running at once (default 16)
  --weights F          weight matrices on the GPU: auto (default: f16 when the checkpoint stores F16), f32, f16
  --debug              show stack traces`;

const OPTIONS = {
  model: { type: 'string' },
  prompt: { type: 'string', multiple: true },
  ids: { type: 'string', multiple: true },
  text: { type: 'string' },
  out: { type: 'string' },
  'max-new-tokens': { type: 'string' },
  greedy: { type: 'boolean' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
  'ignore-eos': { type: 'boolean' },
  'keep-last-tokens': { type: 'boolean' },
  'repetition-penalty': { type: 'string' },
  stop: { type: 'string', multiple: true },
  'max-sequences': { type: 'string' },
  weights: { type: 'string' },
  json: { type: 'boolean' },
  backend: { type: 'string' },
  'block-size': { type: 'string' },
  'kv-blocks': { type: 'string' },
  'max-batch-tokens': { type: 'string' },
  debug: { type: 'boolean' },
  'prompt-lengths': { type: 'string' },
  'new-tokens': { type: 'string' },
  repetitions: { type: 'string' },
  concurrency: { type: 'string' },
  label: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseCommandLine>['values'];

function parseCommandLine(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.replace(/\s*\n\s*/g, " ")} (see --help)`);
  }
}

function number(values: Values, name: keyof Values, kind: 'int' | 'float'): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || (kind === 'int' && !Number.isInteger(n))) {
    throw new UsageError(`--${name} needs ${kind === 'int' ? 'an integer' : 'a number'}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

function parseIds(list: string, option = 'ids'): number[] {
  const parts = list.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new UsageError(`--${option} needs comma-separated non-negative integers, got ${JSON.stringify(list)}`);
  return parts.map(Number);
}

async function openEngine(values: Values): Promise<Engine> {
  const backend = (values.backend ?? 'auto') as NodeBackend;
  if (!['auto', 'hardware', 'software'].includes(backend)) throw new UsageError(`--backend must be auto, hardware or software, got ${JSON.stringify(backend)}`);
  const weightFormat = (values.weights ?? 'auto') as 'auto' | 'f32' | 'f16';
  if (!['auto', 'f32', 'f16'].includes(weightFormat)) throw new UsageError(`--weights must be auto, f32 or f16, got ${JSON.stringify(weightFormat)}`);
  return loadEngine({
    model: values.model,
    backend,
    blockSize: number(values, 'block-size', 'int'),
    kvBlocks: number(values, 'kv-blocks', 'int'),
    maxBatchTokens: number(values, 'max-batch-tokens', 'int'),
    maxSequences: number(values, 'max-sequences', 'int'),
    weightFormat,
  });
}

async function generate(values: Values): Promise<void> {
  const prompts: (string | number[])[] = [...(values.prompt ?? []), ...(values.ids ?? []).map((list) => parseIds(list))];
  if (prompts.length === 0) throw new UsageError('generate needs --prompt TEXT or --ids 1,2,3');
  const options: GenerateOptions = {
    maxNewTokens: number(values, 'max-new-tokens', 'int'), // default: 64, or what is left of the context window
    greedy: values.greedy,
    temperature: number(values, 'temperature', 'float'),
    topK: number(values, 'top-k', 'int'),
    topP: number(values, 'top-p', 'float'),
    seed: number(values, 'seed', 'int'),
    repetitionPenalty: number(values, 'repetition-penalty', 'float'),
    stop: values.stop,
    stopAtEos: !values['ignore-eos'],
    keepLastTokens: values['keep-last-tokens'],
  };
  const engine = await openEngine(values);
  // Every prompt is submitted at once; the scheduler batches them.
  const streams = prompts.map((prompt) => engine.generate(prompt, options));
  const results = [];
  if (!values.json && streams.length === 1) {
    // One request: stream its text as it comes.
    if (typeof prompts[0] === 'string') process.stdout.write(prompts[0]);
    for await (const chunk of streams[0]) process.stdout.write(chunk.text);
    process.stdout.write('\n');
  }
  for (const [i, stream] of streams.entries()) {
    const result = await stream.result;
    results.push(result);
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
  await engine.dispose();
}

function describeAdapter(engine: Engine): string {
  const a = engine.info.adapter;
  const name = [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || a.description;
  return `${name}${a.software ? ' (software)' : ''}`;
}

async function logits(values: Values): Promise<void> {
  if (!values.ids || values.ids.length !== 1) throw new UsageError('logits needs exactly one --ids 1,2,3');
  if (!values.out) throw new UsageError('logits needs --out FILE');
  const ids = parseIds(values.ids[0]);
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
  const list = (name: 'prompt-lengths' | 'concurrency') => {
    const raw = values[name];
    if (raw === undefined) return undefined;
    const numbers = parseIds(raw, name);
    if (numbers.some((n) => n < 1)) throw new UsageError(`--${name} needs positive integers, got ${JSON.stringify(raw)}`);
    return numbers;
  };
  const protocol: Partial<BenchProtocol> = {};
  const promptLengths = list('prompt-lengths');
  const concurrency = list('concurrency');
  const newTokens = number(values, 'new-tokens', 'int');
  const repetitions = number(values, 'repetitions', 'int');
  if (promptLengths) protocol.promptLengths = promptLengths;
  if (concurrency) protocol.concurrency = concurrency;
  if (newTokens !== undefined) protocol.newTokens = newTokens;
  if (repetitions !== undefined) protocol.repetitions = repetitions;
  if ((newTokens !== undefined && newTokens < 2) || (repetitions !== undefined && repetitions < 1)) throw new UsageError('--new-tokens needs at least 2 and --repetitions at least 1');
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

async function tokenize(values: Values): Promise<void> {
  if (values.text === undefined) throw new UsageError('tokenize needs --text TEXT');
  // No GPU needed: read only the tokenizer files.
  const files = await folderModelFiles(values.model ?? DEFAULT_MODEL_DIR);
  const tokenizer = (await files.has('tokenizer.json'))
    ? Tokenizer.fromTokenizerJson(await files.text('tokenizer.json'))
    : Tokenizer.fromVocabAndMerges(await files.text('vocab.json'), await files.text('merges.txt'));
  process.stdout.write(`${JSON.stringify({ ids: tokenizer.encode(values.text) })}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes('--debug');
  try {
    const { values, positionals } = parseCommandLine(argv);
    const command = positionals[0];
    if (values.help || command === undefined || command === 'help') {
      process.stdout.write(`${HELP}\n`);
      return command === undefined && !values.help ? 2 : 0;
    }
    if (positionals.length > 1) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}; see --help`);
    if (command === 'generate') await generate(values);
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
