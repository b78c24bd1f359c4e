// One set of first-run settings: package.json's "start" line (what `npm start` generates with in the terminal), the
// library's START_SETTINGS and the browser app's form defaults are the same values.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { initialSettings, readParams } from '../../demo/params.ts';
import { START_SETTINGS } from '../../src/sampling/startSettings.ts';

const ROOT = join(import.meta.dirname, '..', '..');

/** The options of the `generate` command in package.json's start script, as the CLI would read them. */
function startLine(): Record<string, string | boolean | undefined> {
  const script: string = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).scripts.start;
  const command = /cli -- generate (.*?)(?: &&|$)/.exec(script)?.[1];
  if (!command) throw new Error(`package.json's start script has no "cli -- generate" command: ${script}`);
  // Shell words: "quoted" or bare.
  const words = [...command.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]));
  const string = { type: 'string' } as const;
  const { values } = parseArgs({
    args: words,
    options: { prompt: string, 'max-new-tokens': string, temperature: string, 'top-k': string, 'top-p': string, seed: string, 'repetition-penalty': string, greedy: { type: 'boolean' } },
    strict: true,
  });
  return values;
}

describe('START_SETTINGS', () => {
  it("is what package.json's start line generates with", () => {
    const v = startLine();
    expect(v.greedy).toBeUndefined();
    expect({
      prompt: v.prompt,
      maxNewTokens: Number(v['max-new-tokens']),
      temperature: Number(v.temperature),
      topK: Number(v['top-k']),
      // Not given on the command line: the CLI's defaults (no nucleus filtering, no penalty).
      topP: v['top-p'] === undefined ? 1 : Number(v['top-p']),
      seed: Number(v.seed),
      repetitionPenalty: v['repetition-penalty'] === undefined ? 1 : Number(v['repetition-penalty']),
    }).toEqual(START_SETTINGS);
  });

  it('is what the browser app starts with when the URL sets nothing', () => {
    expect(initialSettings(readParams(''))).toEqual({ ...START_SETTINGS, greedy: false });
  });

  it("gives way to the URL's values", () => {
    const s = initialSettings(readParams('?prompt=JULIET%3A&seed=3&temperature=1.1&greedy=1'));
    expect(s).toEqual({ ...START_SETTINGS, prompt: 'JULIET:', seed: 3, temperature: 1.1, greedy: true });
  });
});
