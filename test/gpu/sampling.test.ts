// Sampling on the GPU (shaders/sample.wgsl) against its CPU twin (test/reference/sampling.ts): the generator word for
// many keys, the drawn id bit for bit over awkward vocabularies and every top-k / top-p regime (ties, one-hot rows,
// zeros), a chi-square test of the draws against the kept-and-renormalized distribution, non-finite rows; version 2
// (the weights computed from logits in the kernel) against the chain it replaces (softmax.wgsl, then version 1) bit for
// bit and against its own twin; then the engine: a seed replays exactly, alone and among concurrent requests with other
// seeds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argmax, NON_FINITE_FLAG } from '../../src/kernels/argmax.ts';
import { softmax } from '../../src/kernels/softmax.ts';
import { packSampleSettings, sample, type SampleRow } from '../../src/kernels/sample.ts';
import { Engine } from '../../src/engine.ts';
import { useGpu } from '../support/gpu.ts';
import { seededRandom } from '../support/compare.ts';
import { projectModelFiles } from '../support/platform.ts';
import { randomBits, sampleFromLogitsRef, sampleRef } from '../reference/sampling.ts';

const g = useGpu();

/** Runs the kernel over `rows` (each its own probabilities and settings) and returns the raw drawn words. */
async function drawOnGpu(probs: Float32Array, vocab: number, rows: readonly SampleRow[], bitsOnly = false): Promise<Uint32Array> {
  const drawn = g.upload('drawn', new Uint32Array(rows.length).fill(0xdeadbeef));
  const call = sample(g.gpu, 'sample', { probs: g.upload('probs', probs), settings: g.upload('settings', packSampleSettings(rows)), drawn, vocab, bitsOnly });
  g.run((pass) => call.encode(pass, rows.length));
  const out = await g.readU32(drawn, rows.length);
  call.destroy();
  return out;
}

type Kind = 'peaked' | 'flat' | 'ties' | 'one-hot' | 'zeros' | 'tiny';
const KINDS: Kind[] = ['peaked', 'flat', 'ties', 'one-hot', 'zeros', 'tiny'];

/** One row of probabilities of the given kind (f32, normalized like a softmax output, but not exactly). */
function makeRow(kind: Kind, vocab: number, rand: (lo?: number, hi?: number) => number): Float32Array {
  const row = new Float32Array(vocab);
  const softmax = (scale: number) => {
    const e = Array.from({ length: vocab }, () => Math.exp(rand(-1, 1) * scale));
    const sum = e.reduce((s, x) => s + x, 0);
    e.forEach((x, i) => (row[i] = x / sum));
  };
  if (kind === 'peaked') softmax(12);
  else if (kind === 'flat') softmax(0.5);
  else if (kind === 'ties') for (let i = 0; i < vocab; i++) row[i] = [0.25, 0.125, 0.0625, 0.5][Math.floor(rand(0, 4))] / vocab;
  else if (kind === 'one-hot') row[Math.floor(rand(0, vocab))] = 1;
  else if (kind === 'zeros') {
    softmax(4);
    for (let i = 0; i < vocab; i++) if (rand(0, 1) < 0.6) row[i] = 0;
  } else {
    // subnormals, values under 2^-40 of the top (weight 0), a negative zero
    softmax(2);
    for (let i = 0; i < vocab; i++) row[i] *= [1, 1e-13, 1e-42, 1][Math.floor(rand(0, 4))];
    row[vocab - 1] = -0;
  }
  return row;
}

describe('the generator', () => {
  it('the WGSL Philox word equals the TypeScript one for many (seed, index) keys', async () => {
    const rand = seededRandom(1);
    const rows: SampleRow[] = [];
    for (const seed of [0, 1, 0xffffffff, 0x80000000]) for (const tokenIndex of [0, 1, 2, 0xffffffff]) rows.push({ active: true, topK: 0, topP: 1, seed, tokenIndex });
    for (let i = 0; i < 2000; i++) rows.push({ active: true, topK: 0, topP: 1, seed: Math.floor(rand(0, 2 ** 32)), tokenIndex: Math.floor(rand(0, i < 1000 ? 4096 : 2 ** 32)) });
    const got = await drawOnGpu(new Float32Array(rows.length), 1, rows, true);
    expect(Array.from(got)).toEqual(rows.map((r) => randomBits(r.seed, 0, r.tokenIndex)));
  });
});

describe('the draw, GPU against the CPU twin, bit for bit', () => {
  it.each([1, 2, 63, 257, 1000, 50257])('vocabulary %i: every top-k and top-p, ties, one-hot rows, zeros', async (vocab) => {
    const rand = seededRandom(vocab);
    const rows: SampleRow[] = [];
    const probs: Float32Array[] = [];
    const kinds = vocab > 5000 ? (['peaked', 'ties', 'zeros'] as Kind[]) : KINDS;
    for (const kind of kinds) {
      for (const topK of [0, 1, 2, 40, vocab]) {
        for (const topP of [0.1, 0.5, 0.9, 1]) {
          probs.push(makeRow(kind, vocab, rand));
          rows.push({ active: true, topK, topP, seed: Math.floor(rand(0, 2 ** 32)), tokenIndex: rows.length });
        }
      }
    }
    // an all-zero row and a greedy (inactive) row
    probs.push(new Float32Array(vocab));
    rows.push({ active: true, topK: 0, topP: 0.9, seed: 5, tokenIndex: 0 });
    probs.push(makeRow('peaked', vocab, rand));
    rows.push({ active: false, topK: 0, topP: 1, seed: 5, tokenIndex: 0 });
    const flat = new Float32Array(rows.length * vocab);
    probs.forEach((row, r) => flat.set(row, r * vocab));
    const got = await drawOnGpu(flat, vocab, rows);
    const want = rows.map((r, i) => (r.active ? sampleRef(probs[i], r.topK, r.topP, r.seed, r.tokenIndex).id : 0xdeadbeef));
    expect(Array.from(got)).toEqual(want);
    expect(got[rows.length - 2]).toBe(0); // nothing positive: id 0, no flag
  });

  it('ties at the threshold go to the lower ids: a uniform row keeps exactly the first k (or enough for top-p)', async () => {
    const vocab = 3000; // 12 ids per thread's chunk: the tie boundary falls inside a chunk
    const settings: [number, number][] = [[40, 1], [1000, 1], [0, 0.3], [500, 0.5]];
    const rows: SampleRow[] = [];
    for (let i = 0; i < 400; i++) rows.push({ active: true, topK: settings[i % 4][0], topP: settings[i % 4][1], seed: 99, tokenIndex: i });
    const uniform = new Float32Array(vocab).fill(1 / vocab);
    const flat = new Float32Array(rows.length * vocab);
    for (let r = 0; r < rows.length; r++) flat.set(uniform, r * vocab);
    const got = await drawOnGpu(flat, vocab, rows);
    expect(Array.from(got)).toEqual(rows.map((r) => sampleRef(uniform, r.topK, r.topP, r.seed, r.tokenIndex).id));
    const bound = [40, 1000, 900, 250]; // top-p 0.3 of 3000 equal tokens: 900; top-p 0.5 of 500: 250
    got.forEach((id, i) => expect(id, `row ${i}`).toBeLessThan(bound[i % 4]));
    for (let s = 0; s < 4; s++) expect(Math.max(...got.filter((_, i) => i % 4 === s))).toBeGreaterThan(bound[s] * 0.8);
  });

  it('a few dominant tokens over a long tail: the digit falls below the first pass\'s window, which is redone in full', async () => {
    const vocab = 50000; // a tail at 2^-17 … 2^-16 of the top still holds most of the mass
    const rand = seededRandom(17);
    const rows: SampleRow[] = [];
    const probs: Float32Array[] = [];
    for (const topK of [0, 40, 4000]) {
      for (const topP of [0.9, 0.99, 1]) {
        for (let n = 0; n < 3; n++) {
          const row = Float32Array.from({ length: vocab }, () => rand(0.5, 1) * 2 ** -18);
          for (let d = 0; d <= n; d++) row[Math.floor(rand(0, vocab))] = rand(0.25, 0.26);
          probs.push(row);
          rows.push({ active: true, topK, topP, seed: 11, tokenIndex: rows.length });
        }
      }
    }
    const flat = new Float32Array(rows.length * vocab);
    probs.forEach((row, r) => flat.set(row, r * vocab));
    const got = await drawOnGpu(flat, vocab, rows);
    expect(Array.from(got)).toEqual(rows.map((r, i) => sampleRef(probs[i], r.topK, r.topP, r.seed, r.tokenIndex).id));
  });

  it('a row is drawn the same alone and among others (batch invariance)', async () => {
    const vocab = 1000;
    const rand = seededRandom(3);
    const rows: SampleRow[] = Array.from({ length: 9 }, (_, i) => ({ active: true, topK: [0, 40][i % 2], topP: [0.9, 1, 0.5][i % 3], seed: 77 + i, tokenIndex: i }));
    const flat = new Float32Array(rows.length * vocab);
    for (let r = 0; r < rows.length; r++) flat.set(makeRow('flat', vocab, rand), r * vocab);
    const together = await drawOnGpu(flat, vocab, rows);
    for (const r of [0, 4, 8]) expect((await drawOnGpu(flat.slice(r * vocab, (r + 1) * vocab), vocab, [rows[r]]))[0]).toBe(together[r]);
  });
});

/** Upper critical value of chi-square with `df` degrees of freedom at p = 1e-6 (Wilson–Hilferty, z = 4.753). */
function chiSquareCritical(df: number): number {
  const z = 4.753;
  return df * (1 - 2 / (9 * df) + z * Math.sqrt(2 / (9 * df))) ** 3;
}

describe('the draws follow the kept, renormalized distribution (chi-square, fixed seeds)', () => {
  // 60 tokens of distinct probabilities (no ties at any boundary), shuffled over the ids.
  const vocab = 60;
  const rand = seededRandom(21);
  const values = Array.from({ length: vocab }, (_, i) => 1 + i + rand(0, 0.5));
  const ids = Array.from({ length: vocab }, (_, i) => i).sort(() => rand(-1, 1));
  const row = new Float32Array(vocab);
  const sum = values.reduce((s, x) => s + x, 0);
  ids.forEach((id, i) => (row[id] = values[i] / sum));

  /** The kept set as Hugging Face defines it, in float64 from the sorted row (no boundary is close to a tie). */
  function hfKept(topK: number, topP: number): number[] {
    let order = Array.from(row.keys()).sort((a, b) => row[b] - row[a]);
    if (topK > 0) order = order.slice(0, topK);
    const mass = order.reduce((s, i) => s + row[i], 0);
    let running = 0;
    let n = 0;
    while (running < topP * mass - 1e-9) running += row[order[n++]];
    return order.slice(0, Math.max(1, n));
  }

  it.each([
    [0, 1],
    [20, 1],
    [0, 0.6],
    [30, 0.7],
  ])('top-k %i, top-p %f', async (topK, topP) => {
    const draws = 12000;
    const rows: SampleRow[] = Array.from({ length: draws }, (_, i) => ({ active: true, topK, topP, seed: 1234, tokenIndex: i }));
    const flat = new Float32Array(draws * vocab);
    for (let r = 0; r < draws; r++) flat.set(row, r * vocab);
    const got = await drawOnGpu(flat, vocab, rows);
    const kept = hfKept(topK, topP);
    expect(sampleRef(row, topK, topP, 1234, 0).kept).toEqual([...kept].sort((a, b) => a - b));
    const counts = new Map<number, number>();
    for (const id of got) counts.set(id, (counts.get(id) ?? 0) + 1);
    expect([...counts.keys()].every((id) => kept.includes(id)), 'only kept tokens are drawn').toBe(true);
    const mass = kept.reduce((s, i) => s + row[i], 0);
    let chi = 0;
    for (const id of kept) {
      const expected = (draws * row[id]) / mass;
      expect(expected).toBeGreaterThan(5);
      chi += ((counts.get(id) ?? 0) - expected) ** 2 / expected;
    }
    if (kept.length > 1) expect(chi).toBeLessThan(chiSquareCritical(kept.length - 1));
    // the draws are random: a sampler stuck on the likeliest token would give a huge chi-square
    expect(counts.size).toBe(kept.length);
  });
});

describe('non-finite rows', () => {
  it('set bit 31 for NaN, +Inf and -Inf anywhere in the row, and only there; negative values are never drawn', async () => {
    const vocab = 300;
    const rand = seededRandom(8);
    const probs = Array.from({ length: 6 }, () => makeRow('flat', vocab, rand));
    probs[1][5] = NaN;
    probs[2][299] = Infinity;
    probs[3][0] = -Infinity;
    probs[4].fill(NaN);
    for (let i = 0; i < vocab; i += 2) probs[5][i] = -0.5; // negative: never kept
    const rows = probs.map((_, i) => ({ active: true, topK: 0, topP: 1, seed: 9, tokenIndex: i }));
    const flat = new Float32Array(6 * vocab);
    probs.forEach((p, r) => flat.set(p, r * vocab));
    const got = await drawOnGpu(flat, vocab, rows);
    expect(Array.from(got, (v) => (v & NON_FINITE_FLAG) !== 0)).toEqual([false, true, true, true, true, false]);
    expect(got[0]).toBe(sampleRef(probs[0], 0, 1, 9, 0).id);
    expect(got[5]).toBe(sampleRef(probs[5], 0, 1, 9, 5).id);
    expect(got[5] % 2).toBe(1);
  });
});

describe('version 2: the weights computed from the logits (softmax folded into the draw)', () => {
  /**
   * Fixed rows of logits: GPT-like (a few high logits over a spread), with a masked half (-Inf), a few tokens 12 above
   * a flat tail that holds most of the mass (the radix select's first window misses it), all masked, NaN, +Inf.
   */
  function logitRow(kind: 'spread' | 'masked' | 'tail' | 'all masked' | 'nan' | 'inf', vocab: number, rand: (lo?: number, hi?: number) => number): Float32Array {
    if (kind === 'tail') {
      const row = Float32Array.from({ length: vocab }, () => rand(-12.5, -11.8) + 5);
      for (let n = Math.floor(rand(1, 4)); n > 0; n--) row[Math.floor(rand(0, vocab))] = rand(5, 5.05);
      return row;
    }
    const row = Float32Array.from({ length: vocab }, () => rand(-4, 4) + (rand(0, 1) < 0.01 ? rand(4, 10) : 0) - 30);
    if (kind === 'masked') for (let i = 0; i < vocab; i++) if (rand(0, 1) < 0.5) row[i] = -Infinity;
    if (kind === 'all masked') row.fill(-Infinity);
    if (kind === 'nan') row[Math.floor(rand(0, vocab))] = NaN;
    if (kind === 'inf') row[Math.floor(rand(0, vocab))] = Infinity;
    return row;
  }

  /** Version 2 and the chain it replaces (argmax; softmax without normalization, then version 1) over the same rows. */
  async function bothWays(logits: Float32Array, temperatures: readonly number[], vocab: number, rows: readonly SampleRow[]) {
    const R = rows.length;
    const logitsBuf = g.upload('logits', logits); // (R, V)
    const invT = g.upload('inv t', Float32Array.from(temperatures, (t) => 1 / t)); // (R)
    const settings = g.upload('settings', packSampleSettings(rows)); // (R, SAMPLE_SETTINGS_WORDS)
    const ids = g.buffer('argmax ids', R * 4); // (R)
    const probs = g.buffer('probs', R * vocab * 4); // (R, V)
    const chainDrawn = g.upload('chain drawn', new Uint32Array(R).fill(0xdeadbeef)); // (R)
    const fusedDrawn = g.upload('fused drawn', new Uint32Array(R).fill(0xdeadbeef)); // (R)
    const calls = [
      argmax(g.gpu, 'argmax', { logits: logitsBuf, ids, vocab }),
      softmax(g.gpu, 'softmax', { logits: logitsBuf, invTemperature: invT, probs, vocab, normalize: false }),
      sample(g.gpu, 'sample v1', { probs, settings, drawn: chainDrawn, vocab }),
      sample(g.gpu, 'sample v2', { fromLogits: { logits: logitsBuf, argmaxIds: ids, invTemperature: invT }, settings, drawn: fusedDrawn, vocab }),
    ];
    g.run((pass) => calls.forEach((c) => c.encode(pass, R)));
    const out = { chain: await g.readU32(chainDrawn, R), fused: await g.readU32(fusedDrawn, R), probs: await g.readF32(probs, R * vocab) };
    calls.forEach((c) => c.destroy());
    return out;
  }

  it.each([300, 1000, 50257])('vocabulary %i: the same draw as softmax.wgsl + version 1, bit for bit, and as its CPU twin', async (vocab) => {
    const rand = seededRandom(1000 + vocab);
    const rows: SampleRow[] = [];
    const temperatures: number[] = [];
    const logitRows: Float32Array[] = [];
    for (const kind of ['spread', 'masked', 'tail'] as const) {
      for (const t of [0.7, 1, 1.3]) {
        for (const topK of [0, 1, 40]) {
          for (const topP of [0.9, 1]) {
            logitRows.push(logitRow(kind, vocab, rand));
            temperatures.push(t);
            rows.push({ active: true, topK, topP, seed: Math.floor(rand(0, 2 ** 32)), tokenIndex: rows.length });
          }
        }
      }
    }
    const special = rows.length; // then: all masked, a NaN, a +Inf, and a greedy (inactive) row
    for (const kind of ['all masked', 'nan', 'inf', 'spread'] as const) {
      logitRows.push(logitRow(kind, vocab, rand));
      temperatures.push(1);
      rows.push({ active: kind !== 'spread', topK: 40, topP: 0.9, seed: 3, tokenIndex: rows.length });
    }
    const flat = new Float32Array(rows.length * vocab);
    logitRows.forEach((row, r) => flat.set(row, r * vocab));
    const { chain, fused, probs } = await bothWays(flat, temperatures, vocab, rows);

    expect(Array.from(fused)).toEqual(Array.from(chain));
    expect(fused[special]).toBe(0); // every logit masked: nothing positive, id 0, no flag
    expect([fused[special + 1], fused[special + 2]].map((v) => (v & NON_FINITE_FLAG) !== 0)).toEqual([true, true]);
    expect(fused[special + 3]).toBe(0xdeadbeef); // greedy rows are left alone

    let unstable = 0;
    for (let r = 0; r < special; r++) {
      const chainRef = sampleRef(probs.subarray(r * vocab, (r + 1) * vocab), rows[r].topK, rows[r].topP, rows[r].seed, rows[r].tokenIndex);
      expect(chain[r], `row ${r}: version 1 on softmax.wgsl's weights`).toBe(chainRef.id);
      const twin = sampleFromLogitsRef(logitRows[r], temperatures[r], rows[r].topK, rows[r].topP, rows[r].seed, rows[r].tokenIndex);
      expect(Number.isFinite(logitRows[r][fused[r]]), `row ${r}: a masked token was drawn`).toBe(true);
      if (!twin.stable) {
        unstable++;
        continue;
      }
      expect(fused[r], `row ${r}: the twin's draw`).toBe(twin.id);
      expect(twin.kept, `row ${r}: the twin's kept set`).toEqual(chainRef.kept);
    }
    expect(unstable, 'rows whose draw depends on exp\'s last-ulp rounding').toBeLessThanOrEqual(2);
    // top-k 1 is greedy: the argmax, even through the temperature
    rows.forEach((r, i) => i < special && r.topK === 1 && expect(fused[i]).toBe(logitRows[i].indexOf(Math.max(...logitRows[i].filter((l) => !Number.isNaN(l))))));
  });

  it('a row is drawn the same alone and among others', async () => {
    const vocab = 777;
    const rand = seededRandom(4);
    const rows: SampleRow[] = Array.from({ length: 6 }, (_, i) => ({ active: true, topK: [0, 40][i % 2], topP: [0.9, 1, 0.5][i % 3], seed: 50 + i, tokenIndex: i }));
    const temperatures = rows.map((_, i) => [0.7, 1, 1.3][i % 3]);
    const flat = new Float32Array(rows.length * vocab);
    for (let r = 0; r < rows.length; r++) flat.set(logitRow('spread', vocab, rand), r * vocab);
    const together = (await bothWays(flat, temperatures, vocab, rows)).fused;
    for (const r of [0, 5]) expect((await bothWays(flat.slice(r * vocab, (r + 1) * vocab), [temperatures[r]], vocab, [rows[r]])).fused[0]).toBe(together[r]);
  });
});

describe('the engine on the demo model', () => {
  let engine: Engine;
  beforeAll(async () => {
    engine = await Engine.load(g.gpu, await projectModelFiles('models/gpt2-shakespeare'), { maxBatchTokens: 64 });
  });
  afterAll(() => engine?.dispose());

  const PROMPTS = ['ROMEO:', 'JULIET:\nO Romeo, Romeo!', 'To be, or not to be', 'KING RICHARD III:'];
  const options = (seed: number) => ({ temperature: 0.9, topK: 40, topP: 0.95, seed, maxNewTokens: 16, stopAtEos: false });

  it('a seed replays the same text, alone and among three concurrent requests with other seeds', async () => {
    const alone: { ids: number[]; text: string }[] = [];
    for (const [i, p] of PROMPTS.entries()) alone.push(await engine.generate(p, options(100 + i)).result);
    expect((await engine.generate(PROMPTS[0], options(100)).result).text).toBe(alone[0].text);
    const decodesBefore = engine.summary().steps.decode;
    const together = await Promise.all(PROMPTS.map((p, i) => engine.generate(p, options(100 + i)).result));
    together.forEach((r, i) => expect(r.ids, PROMPTS[i]).toEqual(alone[i].ids));
    expect(engine.summary().steps.decode - decodesBefore).toBeLessThan(PROMPTS.length * 15); // the decodes were batched
    // another seed gives another text
    expect((await engine.generate(PROMPTS[0], options(7)).result).ids).not.toEqual(alone[0].ids);
    expect(engine.kvBlocksInUse).toBe(0);
  });

  it('the repetition penalty applies to sampled rows: near-zero temperature gives the penalized greedy tokens', async () => {
    const prompt = 'First Citizen:\nWe are accounted poor citizens, the patricians good.';
    const run = (o: object) => engine.generate(prompt, { maxNewTokens: 16, stopAtEos: false, ...o }).result.then((r) => r.ids);
    const penalized = await run({ greedy: true, repetitionPenalty: 1.5 });
    expect(await run({ greedy: true })).not.toEqual(penalized);
    expect(await run({ temperature: 0.01, seed: 3, repetitionPenalty: 1.5 })).toEqual(penalized);
  });
});
