// The CLI contract, checked the way a user's script calls it (`npm run --silent cli -- …`): logits files and greedy ids
// against the golden fixtures, tokenizer parity and greedy text on the demo model, the JSON shape, and errors that are
// one clear line with a non-zero exit and no stack trace.
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MODEL_DIR } from '../../src/node.ts';
import { expectGreedyMatch, expectLogitsMatch, FIXTURE_NAMES, readFixture } from '../support/fixtures.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const reference = JSON.parse(readFileSync(join(DEFAULT_MODEL_DIR, 'reference.json'), 'utf8'));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as `node --import scripts/node-hooks.mjs src/cli/cli.ts` (what `npm run cli` runs, minus npm). */
function cli(args: string[], viaNpm = false, input?: string): Promise<Run> {
  const [cmd, argv] = viaNpm ? ['npm', ['run', '--silent', 'cli', '--', ...args]] : [process.execPath, ['--import', './scripts/node-hooks.mjs', 'src/cli/cli.ts', ...args]];
  return new Promise((resolve) => {
    const child = execFile(cmd, argv, { cwd: ROOT, maxBuffer: 1 << 28, timeout: 170_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** A model folder with only the files a user would download (no expected outputs next to it). */
function modelCopy(dir: string): string {
  const out = mkdtempSync(join(tmpdir(), 'gpt-webgpu-cli-'));
  for (const f of readdirSync(dir)) if (f === 'config.json' || f.endsWith('.safetensors')) copyFileSync(join(dir, f), join(out, f));
  return out;
}

function expectCleanError(run: Run, code: number, message: RegExp): void {
  expect(run.code, run.stderr).toBe(code);
  expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/^\s+at /m); // no stack trace
  expect(run.stderr.trim().split('\n').length, run.stderr).toBeLessThanOrEqual(3);
  expect(run.stderr.trim().split('\n').filter((l) => l.startsWith('error:'))).toHaveLength(1);
}

describe.each(FIXTURE_NAMES)('fixture %s', (name) => {
  const fixture = readFixture(name);
  const ids = fixture.promptIds.join(',');

  it('logits --out writes (P, V) float32 logits that match the reference', async () => {
    const dir = modelCopy(fixture.dir);
    const out = join(dir, 'logits.f32');
    const run = await cli(['logits', '--model', dir, '--ids', ids, '--out', out], true);
    expect(run.code, run.stderr).toBe(0);
    const bytes = readFileSync(out);
    expectLogitsMatch(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4), fixture.logits, name);
  });

  it('generate --greedy --json gives the reference continuation', async () => {
    const run = await cli(['generate', '--model', modelCopy(fixture.dir), '--ids', ids, '--max-new-tokens', String(fixture.greedyIds.length), '--greedy', '--json']);
    expect(run.code, run.stderr).toBe(0);
    const json = JSON.parse(run.stdout);
    expect(json.results).toHaveLength(1);
    const [result] = json.results;
    expectGreedyMatch(result.ids, fixture.greedyIds, fixture.greedyMargins, name);
    expect(result.text).toBe(''); // the fixture folders have no tokenizer
    expect(result.metrics.ttftMs).toBeGreaterThan(0);
    expect(result.metrics.itlMs).toHaveLength(result.ids.length - 1);
    expect(json.adapter).toMatchObject({ software: expect.any(Boolean), featureLevel: expect.any(String) });
  });
});

describe('demo model (the default)', () => {
  it('tokenize matches the reference tokenizer on its cases', async () => {
    // A NUL character cannot travel in a command-line argument: those cases go through --text-file below.
    const cases = reference.tokenizer_cases.filter((c: { text: string }) => !c.text.includes('\u0000'));
    const runs = await Promise.all(cases.map((c: { text: string }) => cli(['tokenize', '--text', c.text])));
    runs.forEach((run, i) => {
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).ids, JSON.stringify(cases[i].text)).toEqual(cases[i].ids);
    });
  });

  it('tokenize --text-file (a file, and - for stdin) takes any text, NUL characters included', async () => {
    const cases = reference.tokenizer_cases.filter((c: { text: string }) => c.text.includes('\u0000'));
    expect(cases.length).toBeGreaterThan(0);
    const dir = mkdtempSync(join(tmpdir(), 'gpt-webgpu-text-'));
    for (const [i, c] of cases.entries()) {
      writeFileSync(join(dir, `${i}.txt`), c.text);
      for (const run of [await cli(['tokenize', '--text-file', join(dir, `${i}.txt`)]), await cli(['tokenize', '--text-file', '-'], false, c.text)]) {
        expect(run.code, run.stderr).toBe(0);
        expect(JSON.parse(run.stdout).ids).toEqual(c.ids);
      }
    }
  });

  it('generate --prompt-file - reads the prompt from stdin (echo ROMEO: | …) and a file the same way', async () => {
    const g = reference.greedy[0];
    const file = join(mkdtempSync(join(tmpdir(), 'gpt-webgpu-prompt-')), 'prompt.txt');
    writeFileSync(file, `${g.prompt}\n`);
    const args = ['--max-new-tokens', '8', '--greedy', '--json'];
    const runs = [await cli(['generate', '--prompt-file', '-', ...args], false, `${g.prompt}\n`), await cli(['generate', '--prompt-file', file, ...args])];
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(0);
      expect(JSON.parse(run.stdout).results[0].ids).toEqual(g.greedy_ids.slice(0, 8));
    }
    // A prompt with a NUL character, which no command-line argument can carry, gets the ids its tokens give.
    const nul = reference.tokenizer_cases.find((c: { text: string }) => c.text.includes('\u0000'));
    const [byText, byIds] = await Promise.all([
      cli(['generate', '--prompt-file', '-', '--max-new-tokens', '3', '--greedy', '--json'], false, nul.text),
      cli(['generate', '--ids', nul.ids.join(','), '--max-new-tokens', '3', '--greedy', '--json']),
    ]);
    expect(byText.code, byText.stderr).toBe(0);
    expect(JSON.parse(byText.stdout).results[0].ids).toEqual(JSON.parse(byIds.stdout).results[0].ids);
  });

  it('--version prints the package version; --help names how it was run', async () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const flag of ['--version', '-v']) {
      const run = await cli([flag]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toBe(`gpt-webgpu ${pkg.version}\n`);
    }
    const help = await cli(['--help']);
    expect(help.stdout).toMatch(/^usage: npm run --silent cli -- <command>/);
    expect(help.stdout).toMatch(/--prompt-file F/);
  });

  it('stderr says "1 token", "1 request", and names each decode rate for what it measures', async () => {
    const run = await cli(['generate', '--ids', '1', '--max-new-tokens', '3', '--greedy']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/prompt of 1 token\b(?!s)/);
    expect(run.stderr).toMatch(/^1 request: /m);
    expect(run.stderr).toMatch(/decode \d+(\.\d+)? tok\/s \(this stream, over wall-clock\)/);
    expect(run.stderr).toMatch(/decode \d+(\.\d+)? tok\/s \(all streams, inside decode steps\)/);
  });

  it('generate --json gives the reference greedy text for each reference prompt', async () => {
    for (const g of reference.greedy) {
      const run = await cli(['generate', '--prompt', g.prompt, '--max-new-tokens', String(g.greedy_ids.length), '--greedy', '--json'], true);
      expect(run.code, run.stderr).toBe(0);
      const [result] = JSON.parse(run.stdout).results;
      expect(result.ids).toEqual(g.greedy_ids);
      expect(result.text).toBe(g.greedy_text);
      expect(result.finishReason).toBe('length');
    }
  });

  it('without --json streams the prompt and continuation to stdout and TTFT/ITL to stderr', async () => {
    const g = reference.greedy[0];
    const run = await cli(['generate', '--prompt', g.prompt, '--max-new-tokens', '20', '--greedy']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.startsWith(g.prompt)).toBe(true);
    expect(g.greedy_text.startsWith(run.stdout.slice(g.prompt.length).replace(/\n$/, ''))).toBe(true);
    expect(run.stderr).toMatch(/TTFT \d+(\.\d+)? ms \| ITL p50 \d+(\.\d+)? ms p90 \d+(\.\d+)? ms/);
  });

  it('eight prompts at once (two sharing a 2-block prefix): solo results, prefix reuse, and preemption with --kv-blocks 12', async () => {
    const shared = 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\nFirst Citizen:\nYou are all resolved';
    const prompts = [`${shared} rather to die than to famish?`, `${shared} to go to the Capitol?`, 'ROMEO:', 'JULIET:\nO Romeo, Romeo!', 'To be, or not to be', 'KING RICHARD III:\nNow is the winter', 'Friends, Romans, countrymen,', 'MENENIUS:\nWhat work'];
    const args = ['generate', ...prompts.flatMap((p) => ['--prompt', p]), '--max-new-tokens', '20', '--greedy', '--json'];
    const [roomy, tight, solo0, solo2] = await Promise.all([
      cli(args),
      cli([...args, '--kv-blocks', '12', '--block-size', '16']),
      cli(['generate', '--prompt', prompts[1], '--max-new-tokens', '20', '--greedy', '--json']),
      cli(['generate', '--prompt', prompts[2], '--max-new-tokens', '20', '--greedy', '--json']),
    ]);
    for (const run of [roomy, tight, solo0, solo2]) expect(run.code, run.stderr).toBe(0);
    const a = JSON.parse(roomy.stdout);
    const b = JSON.parse(tight.stdout);
    expect(a.results).toHaveLength(8);
    expect(b.results.map((r: { ids: number[] }) => r.ids)).toEqual(a.results.map((r: { ids: number[] }) => r.ids));
    expect(a.results[1].ids).toEqual(JSON.parse(solo0.stdout).results[0].ids);
    expect(a.results[2].ids).toEqual(JSON.parse(solo2.stdout).results[0].ids);
    expect(a.summary.kv.reusedPrefixBlocks).toBeGreaterThan(0);
    expect(b.summary.kv).toMatchObject({ blockSize: 16, totalBlocks: 12 });
    expect(b.summary.kv.reusedPrefixBlocks).toBeGreaterThan(0);
    expect(b.summary.preemptions).toBeGreaterThan(0);
    expect(a.summary).toMatchObject({ requests: 8, ttftMs: { p50: expect.any(Number), p90: expect.any(Number), p99: expect.any(Number) }, steps: { prefill: expect.any(Number), decode: expect.any(Number) } });
    expect(a.results[0].metrics).toMatchObject({ queueMs: expect.any(Number), ttftMs: expect.any(Number), tpotMs: expect.any(Number), e2eMs: expect.any(Number), promptTokens: expect.any(Number), generatedTokens: 20 });
  });

  it('several prompts give results in input order', async () => {
    const run = await cli(['generate', '--prompt', 'ROMEO:', '--ids', '33676,4720,25', '--max-new-tokens', '4', '--greedy', '--json']);
    const results = JSON.parse(run.stdout).results;
    expect(results).toHaveLength(2);
    expect(results[0].ids).toEqual(reference.greedy[0].greedy_ids.slice(0, 4));
    expect(results[1].ids).toEqual(results[0].ids);
  });
});

// Usage mistakes: exit 2 before any model is opened (a model folder that does not exist proves it: opening it would
// fail with exit 1), nothing on stdout, and one line that names the option as typed.
describe('usage mistakes', () => {
  const noModel = ['--model', '/no/such/folder'];
  it.each([
    [['generate', '--ids', '1', '--kv-blocks', '0'], /--kv-blocks needs an integer from 1 to \d+, got 0/],
    [['generate', '--ids', '1', '--block-size', '-4'], /--block-size needs an integer from 1 to 65536, got -4/],
    [['generate', '--ids', '1', '--max-sequences', '1.5'], /--max-sequences needs an integer.*got "1\.5"/],
    [['generate', '--ids', '1', '--max-batch-tokens', '1e3'], /--max-batch-tokens needs an integer.*got "1e3"/],
    [['generate', '--ids', '1', '--max-new-tokens', '0x10'], /--max-new-tokens needs an integer.*got "0x10"/],
    [['generate', '--ids', '1', '--max-new-tokens', '-1'], /--max-new-tokens needs an integer from 0 to \d+, got -1/],
    [['generate', '--ids', '1', '--max-new-tokens', ''], /--max-new-tokens needs an integer.*got ""/],
    [['generate', '--ids', '1', '--temperature=-1'], /--temperature needs a number ≥ 0, got -1/],
    [['generate', '--ids', '1', '--temperature', '-2'], /--temperature needs a number ≥ 0, got -2/],
    [['generate', '--ids', '1', '--temperature', 'Infinity'], /--temperature needs a number ≥ 0, got "Infinity"/],
    [['generate', '--ids', '1', '--temperature', '0x1'], /--temperature needs a number ≥ 0, got "0x1"/],
    [['generate', '--ids', '1', '--top-p', '1.5'], /--top-p needs a number in \(0, 1\], got 1\.5/],
    [['generate', '--ids', '1', '--top-p', '0'], /--top-p needs a number in \(0, 1\], got 0/],
    [['generate', '--ids', '1', '--top-k', '2.5'], /--top-k needs an integer.*got "2\.5"/],
    [['generate', '--ids', '1', '--seed', '1e20'], /--seed needs an integer from 0 to 4294967295, got "1e20"/],
    [['generate', '--ids', '1', '--seed', '4294967296'], /--seed needs an integer from 0 to 4294967295, got 4294967296/],
    [['generate', '--ids', '1', '--repetition-penalty', '0'], /--repetition-penalty needs a number > 0, got 0/],
    [['generate', '--ids', '1', '--stop', ''], /--stop needs a non-empty text/],
    [['generate', '--prompt', ''], /--prompt needs a non-empty text/],
    [['generate', '--ids', '99999999999999999999'], /--ids needs .*got 99999999999999999999\b/],
    [['generate', '--ids', '1', '--greedy', '--temperature', '0.5'], /greedy decoding takes no temperature/],
    [['generate', '--ids', '1', '--backend', 'fast'], /--backend must be auto, hardware or software, got "fast"/],
    [['generate', '--ids', '1', '--weights', 'int8'], /--weights must be auto, f32 or f16, got "int8"/],
    [['generate', '--ids', '1', '--json=yes'], /--json takes no value/],
    [['generate', '--ids'], /--ids needs a value/],
    [['generate', '--prompt', '--json'], /--prompt needs a value, got the option --json \(if that is the value, write --prompt=--json\)/],
    [['generate', '--bogus'], /unknown option "--bogus"; see --help/],
    [['generate', '--ids', '1', '--temprature', '1'], /unknown option "--temprature" \(did you mean --temperature\?\); see --help/],
    [['generate', '-x'], /unknown option "-x"; see --help/],
    [['bench', '--new-tokens', '1'], /--new-tokens needs an integer from 2/],
    [['bench', '--concurrency', '0,4'], /--concurrency needs .*got 0/],
    [['bench', '--proxy', '--concurrency', '4'], /bench --proxy takes no --concurrency/],
    [['bench', '--proxy', '--temperature', '0.8'], /bench --proxy takes no --temperature/],
    [['bench', '--top-p', '2'], /--top-p needs a number in \(0, 1\], got 2/],
    [['logits', '--ids', '1,1e3', '--out', '/tmp/x'], /--ids needs comma-separated integers/],
    [['generate', '--prompt-file', '/no/such/prompt.txt'], /cannot read --prompt-file \/no\/such\/prompt\.txt \(ENOENT\)/],
    [['tokenize', '--text', 'a', '--text-file', 'b'], /tokenize needs one of --text TEXT or --text-file F/],
  ])('%j exits 2 with nothing on stdout', async (args, message) => {
    const run = await cli([...(args as string[]), ...noModel]);
    expectCleanError(run, 2, message as RegExp);
    expect(run.stdout).toBe('');
    expect(run.stderr).not.toMatch(/Unknown option|ambiguous|'--/); // Node's parseArgs wording is gone
  });
});

describe('errors', () => {
  const bad = mkdtempSync(join(tmpdir(), 'gpt-webgpu-bad-'));
  const fixture = readFixture('gpt2-tiny');

  it.each([
    ['a missing model folder', ['generate', '--model', '/no/such/folder', '--ids', '1'], 1, /model folder \/no\/such\/folder does not exist/],
    ['an unknown command', ['fly'], 2, /unknown command "fly"/],
    ['malformed --ids', ['generate', '--ids', '1,x'], 2, /--ids needs comma-separated integers/],
    ['a non-numeric --max-new-tokens', ['generate', '--ids', '1', '--max-new-tokens', 'many'], 2, /--max-new-tokens needs an integer/],
    ['generate with no prompt', ['generate'], 2, /needs --prompt TEXT, --prompt-file F or --ids/],
    ['logits without --out', ['logits', '--ids', '1'], 2, /needs --out FILE/],
    ['too many new tokens', ['generate', '--prompt', 'Hi', '--max-new-tokens', '1000'], 1, /context window is 256 tokens/],
    ['a token id outside the vocabulary', ['generate', '--ids', '50257'], 1, /token id 50257 is outside the model's vocabulary/],
    ['a request that can never fit the KV pool', ['generate', '--ids', '1,2,3', '--max-new-tokens', '60', '--kv-blocks', '2', '--block-size', '16'], 1, /needs 4 KV blocks \(3 \+ 60 tokens\) but the pool has 2/],
  ])('%s', async (_what, args, code, message) => {
    expectCleanError(await cli(args as string[]), code as number, message as RegExp);
  });

  it.each([
    ['a token id outside the vocabulary', ['generate', '--prompt', 'ROMEO:', '--ids', '50257'], /token id 50257 is outside/],
    ['a prompt too long for the context window', ['generate', '--prompt', 'ROMEO:', '--max-new-tokens', '1000'], /context window is 256 tokens/],
  ])('a refused request (%s) writes nothing to stdout', async (_what, args, message) => {
    const run = await cli(args as string[]);
    expectCleanError(run, 1, message as RegExp);
    expect(run.stdout).toBe('');
  });

  it('a refused single prompt writes nothing to stdout (the prompt is not echoed)', async () => {
    const run = await cli(['generate', '--prompt', 'ROMEO:', '--max-new-tokens', '1000']);
    expectCleanError(run, 1, /context window/);
    expect(run.stdout).toBe('');
  });

  it('a truncated safetensors file names the file and the problem', async () => {
    const dir = modelCopy(fixture.dir);
    const bytes = readFileSync(join(dir, 'model.safetensors'));
    writeFileSync(join(dir, 'model.safetensors'), bytes.subarray(0, bytes.length - 100));
    expectCleanError(await cli(['generate', '--model', dir, '--ids', '1']), 1, /model\.safetensors: the file is truncated/);
  });

  it('an invalid config.json names the file', async () => {
    writeFileSync(join(bad, 'config.json'), '{"model_type": "gpt2", ');
    expectCleanError(await cli(['generate', '--model', bad, '--ids', '1']), 1, /config\.json is not valid JSON/);
  });

  it('an unsupported model_type says which ones are supported', async () => {
    writeFileSync(join(bad, 'config.json'), '{"model_type": "llama"}');
    expectCleanError(await cli(['generate', '--model', bad, '--ids', '1']), 1, /model_type "llama" is not supported.*"gpt2".*"gpt_neox"/);
  });

  it.each([
    ['a missing field', (c: Record<string, unknown>) => delete c.n_head, /the field "n_head" is missing/],
    ['heads that do not divide the width', (c: Record<string, unknown>) => (c.n_head = 5), /hidden size 64 is not divisible by the number of heads 5/],
    ['more layers than the checkpoint has', (c: Record<string, unknown>) => (c.n_layer = 3), /missing tensor transformer\.h\.2\./],
  ])('a config.json with %s is one clear line', async (_what, change, message) => {
    const dir = modelCopy(fixture.dir);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    change(config);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    expectCleanError(await cli(['generate', '--model', dir, '--ids', '1']), 1, message);
  });

  it('text on a model without a tokenizer asks for ids', async () => {
    expectCleanError(await cli(['generate', '--model', modelCopy(fixture.dir), '--prompt', 'hello']), 1, /no tokenizer files.*give token ids/);
  });

  it('--debug adds the stack trace', async () => {
    const run = await cli(['generate', '--model', '/no/such/folder', '--ids', '1', '--debug']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^\s+at /m);
  });
});
