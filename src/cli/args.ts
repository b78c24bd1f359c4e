// The command line's own argument parser and value checks. Every mistake here is a UsageError (exit 2) raised before
// any model is opened, with a message that names the option as typed and, where it helps, the closest known option.
// Not node:util parseArgs: its messages ("Unknown option '--x'. To specify a positional argument starting with a '-',
// place it at the end of the command after '--', as in '-- \"--x\"") reach users with unbalanced quotes and say nothing
// about our options, and it rejects values that start with '-' (`--prompt-file -`, `--stop -`).
import { UsageError } from '../errors.ts';

interface OptionSpec {
  type: 'string' | 'boolean';
  multiple?: boolean;
  short?: string;
}

export const OPTIONS = {
  model: { type: 'string' },
  hub: { type: 'string' },
  'cache-dir': { type: 'string' },
  prompt: { type: 'string', multiple: true },
  'prompt-file': { type: 'string', multiple: true },
  ids: { type: 'string', multiple: true },
  text: { type: 'string' },
  'text-file': { type: 'string' },
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
  proxy: { type: 'boolean' },
  'gpu-time': { type: 'boolean' },
  profile: { type: 'boolean' },
  ceiling: { type: 'boolean' },
  rows: { type: 'string' },
  contexts: { type: 'string' },
  repeats: { type: 'string' },
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
  version: { type: 'boolean', short: 'v' },
} as const satisfies Record<string, OptionSpec>;

type Options = typeof OPTIONS;
export type OptionName = keyof Options;
export type Values = {
  [K in OptionName]?: Options[K]['type'] extends 'boolean' ? boolean : Options[K] extends { multiple: true } ? string[] : string;
};

/** A prompt as given, in command-line order: text, token ids, or a file (`-`: stdin). */
export type PromptSource = { kind: 'prompt' | 'ids' | 'prompt-file'; value: string };

export interface CommandLine {
  values: Values;
  positionals: string[];
  prompts: PromptSource[];
}

const SHORT: Record<string, OptionName> = Object.fromEntries(
  Object.entries(OPTIONS).flatMap(([name, spec]) => ('short' in spec ? [[spec.short, name as OptionName]] : [])),
);

/** Parses argv strictly: unknown options, missing values and values given to flags are UsageErrors. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const values: Record<string, string | string[] | boolean> = {};
  const positionals: string[] = [];
  const prompts: PromptSource[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith('--');
    const eq = long ? arg.indexOf('=') : -1;
    const typed = eq < 0 ? arg : arg.slice(0, eq);
    const name = long ? typed.slice(2) : SHORT[typed.slice(1)];
    if (name === undefined || !Object.hasOwn(OPTIONS, name)) throw new UsageError(`unknown option ${JSON.stringify(typed)}${suggestion(typed)}; see --help`);
    const spec: OptionSpec = OPTIONS[name as OptionName];
    if (spec.type === 'boolean') {
      if (eq >= 0) throw new UsageError(`${typed} takes no value, got ${JSON.stringify(arg)}; see --help`);
      values[name] = true;
      continue;
    }
    let value: string;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      const next = argv[i + 1];
      // A value may start with '-' (`--prompt-file -`, `--temperature -1`, checked later), but not be another option.
      if (next === undefined || isOption(next)) throw new UsageError(`${typed} needs a value${next === undefined ? '' : `, got the option ${next} (if that is the value, write ${typed}=${next})`}; see --help`);
      value = next;
      i++;
    }
    if (spec.multiple) {
      ((values[name] ??= []) as string[]).push(value);
      if (name === 'prompt' || name === 'ids' || name === 'prompt-file') prompts.push({ kind: name, value });
    } else values[name] = value;
  }
  return { values: values as Values, positionals, prompts };
}

function isOption(arg: string): boolean {
  if (arg.startsWith('--')) return arg.length > 2;
  return arg.length === 2 && SHORT[arg.slice(1)] !== undefined;
}

/** " (did you mean --x?)" for a typo within two edits of a known option, else "". */
function suggestion(typed: string): string {
  const word = typed.replace(/^-+/, '');
  let best: string | undefined;
  let bestDistance = 3;
  for (const name of Object.keys(OPTIONS)) {
    const d = editDistance(word, name);
    if (d < bestDistance) [best, bestDistance] = [name, d];
  }
  return best === undefined ? '' : ` (did you mean --${best}?)`;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

const UINT32_MAX = 4294967295n;

/**
 * An integer option in [min, max], parsed exactly: only decimal digits (no `1e3`, `0x10`, `1.5`, `+1`, spaces), and
 * the range checked on the digits themselves (BigInt), so a huge value is named as typed, never as a rounded number.
 */
export function integer(values: Values, name: OptionName, min: number, max: bigint | number = Number.MAX_SAFE_INTEGER): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  return integerText(String(raw), `--${name}`, min, max);
}

export function integerText(raw: string, what: string, min: number, max: bigint | number = Number.MAX_SAFE_INTEGER): number {
  const range = `an integer from ${min} to ${max}`;
  if (!/^-?\d+$/.test(raw)) throw new UsageError(`${what} needs ${range}, got ${JSON.stringify(raw)}`);
  const n = BigInt(raw);
  if (n < BigInt(min) || n > BigInt(max)) throw new UsageError(`${what} needs ${range}, got ${raw}`);
  return Number(n);
}

/** A decimal number option (no hex, no Infinity/NaN) checked by `ok`, whose failure says `rule`. */
export function decimal(values: Values, name: OptionName, rule: string, ok: (n: number) => boolean): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const text = String(raw);
  const n = Number(text);
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text) || !Number.isFinite(n)) throw new UsageError(`--${name} needs a number ${rule}, got ${JSON.stringify(text)}`);
  if (!ok(n)) throw new UsageError(`--${name} needs a number ${rule}, got ${text}`);
  return n;
}

/** Comma-separated integers in [min, max] (token ids, prompt lengths, concurrency levels). */
export function integerList(raw: string, name: OptionName, min: number, max: bigint | number = Number.MAX_SAFE_INTEGER): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) throw new UsageError(`--${name} needs comma-separated integers from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return parts.map((p) => integerText(p, `--${name}`, min, max));
}

/** Token ids: unsigned 32-bit (the GPU's id type); whether each is in the vocabulary is the model's to say. */
export function tokenIds(raw: string): number[] {
  return integerList(raw, 'ids', 0, UINT32_MAX);
}

export function choice<T extends string>(values: Values, name: OptionName, choices: readonly T[], fallback: T): T {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (!choices.includes(raw as T)) throw new UsageError(`--${name} must be ${choices.slice(0, -1).join(', ')} or ${choices.at(-1)}, got ${JSON.stringify(raw)}`);
  return raw as T;
}

export const SEED_MAX = UINT32_MAX;
