// Reading the golden fixtures (test/fixtures/*, from Hugging Face transformers) and checking results against them.
// Portable: `loadFixture` reads through platform.ts (the disk in Node, the test server in the browser); the synchronous
// `readFixture` is for Node-only tests (CLI, HTTP sources) that need the folder's path on disk.
import { expect } from 'vitest';
import { readProjectBytes } from './platform.ts';

export const FIXTURE_NAMES = ['gpt2-tiny', 'gpt2-tiny-f16', 'neox-tiny'] as const;

export interface Fixture {
  dir: string; // Node: the folder's absolute path; browser: its path from the repository root
  promptIds: number[];
  logits: Float32Array; // (P, V)
  shape: [number, number];
  greedyIds: number[];
  greedyMargins: number[];
}

/** The folder of fixture `name`, from the repository root (for platform.ts's projectModelFiles). */
export function fixturePath(name: string): string {
  return `test/fixtures/${name}`;
}

function toFixture(dir: string, expected: Record<string, any>, logitBytes: Uint8Array): Fixture {
  const bytes = logitBytes.slice(); // aligned copy
  return {
    dir,
    promptIds: expected.prompt_ids,
    logits: new Float32Array(bytes.buffer, 0, bytes.byteLength / 4),
    shape: expected.logits_shape,
    greedyIds: expected.greedy_ids,
    greedyMargins: expected.greedy_top1_margin,
  };
}

/** Fixture `name`, on any platform. */
export async function loadFixture(name: string): Promise<Fixture> {
  const dir = fixturePath(name);
  const expected = JSON.parse(new TextDecoder().decode(await readProjectBytes(`${dir}/expected.json`)));
  return toFixture(dir, expected, await readProjectBytes(`${dir}/${expected.logits_file}`));
}

/** Fixture `name` read synchronously from disk (Node only; `dir` is the absolute folder path). */
export function readFixture(name: string): Fixture {
  // getBuiltinModule keeps this module importable in the browser, where only loadFixture is used.
  const { readFileSync } = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  const { join } = process.getBuiltinModule('node:path') as typeof import('node:path');
  const dir = join(import.meta.dirname, '..', 'fixtures', name);
  const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));
  return toFixture(dir, expected, new Uint8Array(readFileSync(join(dir, expected.logits_file))));
}

/** The acceptance bar of the fixtures' README: max |Δ| ≤ 2e-3 and relative L2 ≤ 1e-4 over all positions. */
export function expectLogitsMatch(got: ArrayLike<number>, want: ArrayLike<number>, what: string, maxAbs = 2e-3, maxRelL2 = 1e-4): { maxAbs: number; relL2: number } {
  expect(got.length, `${what}: logits length`).toBe(want.length);
  let worst = 0;
  let worstAt = -1;
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    const d = got[i] - want[i];
    if (!Number.isFinite(got[i])) throw new Error(`${what}: non-finite logit ${got[i]} at ${i}`);
    if (Math.abs(d) > worst) [worst, worstAt] = [Math.abs(d), i];
    num += d * d;
    den += want[i] * want[i];
  }
  const relL2 = Math.sqrt(num / den);
  expect(worst, `${what}: max |logit − ref| at flat index ${worstAt} (got ${got[worstAt]}, want ${want[worstAt]})`).toBeLessThanOrEqual(maxAbs);
  expect(relL2, `${what}: relative L2 error`).toBeLessThanOrEqual(maxRelL2);
  return { maxAbs: worst, relL2 };
}

/** Greedy ids must equal the reference's, except after a step whose reference top-1 margin is below 1e-3. */
export function expectGreedyMatch(got: number[], want: number[], margins: number[], what: string): void {
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i]) continue;
    if (margins[i] < 1e-3) return; // a near-tie: a different argmax is legitimate from here on
    expect(got.slice(0, i + 1), `${what}: greedy diverged at step ${i} (reference margin ${margins[i]})`).toEqual(want.slice(0, i + 1));
  }
  expect(got.length, `${what}: number of greedy tokens`).toBe(want.length);
}
