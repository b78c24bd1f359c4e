// The paged-KV path against plain CPU attention: kv_write stores keys/values through block tables with blocks scattered
// over the pool, then attention reads them back for prefill rows, chunked prefill and decode rows of several sequences.
// Every attention kernel (src/kernels/attention.ts: decode partials + merge, prefill, v1) is checked against the float64
// reference at contexts around block and 64-key tile edges; the canonical-order kernels must also agree with each other
// bit for bit (decode at position t == prefill row t), under permuted block tables, and whatever else is in the step,
// also with the decode grid sized by the step's largest position (rows at 999 and 0 together, tile edges 62 … 129) and
// a grid too small for a row; a bad maxPosition is an InvalidRequestError.
import { describe, expect, it } from 'vitest';
import { kvWrite } from '../../src/kernels/kvWrite.ts';
import { attention, type AttentionVariant } from '../../src/kernels/attention.ts';
import { ConfigError, InvalidRequestError } from '../../src/errors.ts';
import { createRopeTables, rope } from '../../src/kernels/rope.ts';
import { useGpu } from '../support/gpu.ts';
import { expectClose, expectSameBits, randomArray, seededRandom } from '../support/compare.ts';
import { attendRef, ropeRef } from '../reference/kernels.ts';

const g = useGpu();

interface Shape {
  heads: number;
  headDim: number;
  blockSize: number;
  seqLens: number[];
  /** The context the kernels are built for (maxPositions; default: the longest sequence). */
  context?: number;
}

/** One step of rows for `attendSteps`: `pick` indexes the cache's rows; `maxPosition` goes to encode. */
interface StepPick {
  pick: readonly number[];
  maxPosition?: number;
}

/** Physical blocks handed out in a shuffled order, so logical order ≠ physical order. */
function scatteredBlockTables(seqLens: number[], blockSize: number, maxBlocks: number, rand: () => number) {
  const needed = seqLens.map((n) => Math.ceil(n / blockSize));
  const numBlocks = needed.reduce((a, b) => a + b, 0) + 3;
  const ids = Array.from({ length: numBlocks }, (_, i) => i);
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(((rand() + 1) / 2) * (i + 1)) % (i + 1);
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  const tables = new Uint32Array(seqLens.length * maxBlocks);
  let next = 0;
  needed.forEach((n, s) => {
    for (let b = 0; b < n; b++) tables[s * maxBlocks + b] = ids[next++];
  });
  return { tables, numBlocks };
}

/**
 * Every token of every sequence (random q, k, v from `seed`) written to a paged cache whose block tables are shuffled by
 * `tableSeed`; `attend` then runs one attention kernel for any list of those rows (a step) and returns its (rows, C).
 */
async function pagedCache({ heads, headDim, blockSize, seqLens, context }: Shape, seed: number, tableSeed = seed) {
  const rand = seededRandom(seed);
  const channels = heads * headDim;
  const maxPositions = context ?? Math.max(...seqLens);
  const maxBlocks = Math.ceil(maxPositions / blockSize);
  const { tables, numBlocks } = scatteredBlockTables(seqLens, blockSize, maxBlocks, seededRandom(tableSeed));
  const rows: { seq: number; pos: number }[] = [];
  seqLens.forEach((n, seq) => {
    for (let pos = 0; pos < n; pos++) rows.push({ seq, pos });
  });
  const T = rows.length;
  const qkv = randomArray(T * 3 * channels, rand);
  const tokens = new Uint32Array(T * 4);
  rows.forEach(({ seq, pos }, t) => tokens.set([0, pos, seq, 0], t * 4));
  const kCache = g.buffer('k', numBlocks * blockSize * channels * 4);
  const vCache = g.buffer('v', numBlocks * blockSize * channels * 4);
  const blockTables = g.upload('tables', tables);
  const paged = { kCache, vCache, blockTables, channels, blockSize, maxBlocksPerSequence: maxBlocks };
  const write = kvWrite(g.gpu, 'kv', { ...paged, qkv: g.upload('qkv', qkv), tokens: g.upload('tokens', tokens), numBlocks });
  g.run((pass) => write.encode(pass, T));
  write.destroy();
  const scale = 1 / Math.sqrt(headDim);

  /** The kernel `variant` on the step made of `pick` (indices into rows, in that order). */
  async function attend(variant: AttentionVariant, pick: readonly number[], maxPosition?: number): Promise<Float32Array> {
    return (await attendSteps(variant, [{ pick, maxPosition }]))[0];
  }

  /**
   * The steps one after another through one call site on the same buffers (as a model's layer runs them), each its
   * own submit; the partials start as NaN, so a merge that read a tile no workgroup wrote would show. `hostTokens`
   * false: the call is built without the host copy of the tokens, so it cannot check maxPosition against the rows.
   */
  async function attendSteps(variant: AttentionVariant, steps: readonly StepPick[], hostTokens = true): Promise<Float32Array[]> {
    const T = Math.max(...steps.map((s) => s.pick.length));
    const stepQkv = new Float32Array(T * 3 * channels); // (T, 3C)
    const stepTokens = new Uint32Array(T * 4); // (T, 4)
    const qkvBuffer = g.buffer('step qkv', stepQkv.byteLength);
    const tokensBuffer = g.buffer('step tokens', stepTokens.byteLength);
    const out = g.buffer('out', T * channels * 4); // (T, C)
    const decodeMaxRows = variant === 'decode' ? T : 16;
    // (R, H, TILES, D + 2)
    const partials = g.upload('partials', new Float32Array(decodeMaxRows * heads * Math.ceil(maxPositions / 64) * (headDim + 2)).fill(NaN));
    const call = attention(g.gpu, 'attn', {
      ...paged,
      qkv: qkvBuffer,
      tokens: tokensBuffer,
      out,
      partials,
      numHeads: heads,
      headDim,
      scale,
      maxPositions,
      decodeMaxRows,
      ...(hostTokens ? { hostTokens: stepTokens } : {}),
    });
    const outs: Float32Array[] = [];
    try {
      for (const { pick, maxPosition } of steps) {
        pick.forEach((t, i) => {
          stepQkv.set(qkv.subarray(t * 3 * channels, (t + 1) * 3 * channels), i * 3 * channels);
          stepTokens.set(tokens.subarray(t * 4, t * 4 + 4), i * 4);
        });
        g.gpu.device.queue.writeBuffer(qkvBuffer, 0, stepQkv, 0, pick.length * 3 * channels);
        g.gpu.device.queue.writeBuffer(tokensBuffer, 0, stepTokens, 0, pick.length * 4);
        g.run((pass) => call.encode(pass, pick.length, variant, maxPosition));
        outs.push(await g.readF32(out, pick.length * channels));
      }
    } finally {
      call.destroy();
    }
    return outs;
  }

  /** float64 attention of each row in `pick` over its sequence's positions 0 … pos. */
  function reference(pick: readonly number[]): Float64Array {
    const head = (t: number, part: number, h: number) => qkv.subarray(t * 3 * channels + part * channels + h * headDim, t * 3 * channels + part * channels + (h + 1) * headDim);
    const bySeq = seqLens.map((_, s) => rows.map((r, i) => ({ ...r, i })).filter((r) => r.seq === s));
    const want = new Float64Array(pick.length * channels);
    pick.forEach((t, i) => {
      const earlier = bySeq[rows[t].seq].filter((r) => r.pos <= rows[t].pos);
      for (let h = 0; h < heads; h++) {
        want.set(attendRef(head(t, 0, h), earlier.map((r) => head(r.i, 1, h)), earlier.map((r) => head(r.i, 2, h)), scale), i * channels + h * headDim);
      }
    });
    return want;
  }

  /** The row of sequence `seq` at position `pos`. */
  const at = (seq: number, pos: number) => rows.findIndex((r) => r.seq === seq && r.pos === pos);
  return { rows, channels, numBlocks, maxPositions, attend, attendSteps, reference, at, all: rows.map((_, i) => i) };
}

const KERNELS: AttentionVariant[] = ['decode', 'prefill', 'v1'];

describe('paged attention against the float64 reference', () => {
  // A sequence of n tokens in one step checks every context 1 … n; 129 covers the tile edges 63/64/65 and 127/128/129
  // and (block size 16) the block edges 15/16/17. Several sequences in one step put rows of different sequences into
  // one prefill block.
  it.each<[string, Shape]>([
    ['one token', { heads: 1, headDim: 8, blockSize: 16, seqLens: [1] }],
    ['GPT-2 head size, contexts 1 … 129', { heads: 2, headDim: 64, blockSize: 16, seqLens: [129] }],
    ['odd head size, tiny blocks, four sequences', { heads: 3, headDim: 24, blockSize: 4, seqLens: [9, 1, 65, 14] }],
    ['head size over 64 (two dims per thread)', { heads: 1, headDim: 96, blockSize: 8, seqLens: [70, 5] }],
    ['head size 1, blocks of 2', { heads: 3, headDim: 1, blockSize: 2, seqLens: [7, 66] }],
    ['head size 200 (four slabs, prefill blocks of 4 rows), blocks of 5', { heads: 2, headDim: 200, blockSize: 5, seqLens: [67, 3] }],
    ['head size 256, block size 1', { heads: 1, headDim: 256, blockSize: 1, seqLens: [65] }],
  ])('%s', async (_name, shape) => {
    const c = await pagedCache(shape, shape.seqLens.length * 97 + shape.headDim);
    const want = c.reference(c.all);
    for (const variant of KERNELS) expectClose(await c.attend(variant, c.all), want, 2e-6, 1e-5, `attention ${variant}`);
  });

  it('a long context (1000 tokens, 16 tiles) in every kernel', async () => {
    const c = await pagedCache({ heads: 2, headDim: 64, blockSize: 16, seqLens: [1000] }, 11);
    const pick = [0, 63, 64, 500, 998, 999, ...Array.from({ length: 10 }, (_, i) => 900 + i * 9)];
    const want = c.reference(pick);
    for (const variant of KERNELS) expectClose(await c.attend(variant, pick), want, 2e-6, 1e-5, `attention ${variant}`);
    // The whole prompt as one prefill step, its last rows against the reference too.
    const whole = await c.attend('prefill', c.all);
    const tail = c.all.slice(990);
    expectClose(whole.subarray(990 * c.channels), c.reference(tail), 2e-6, 1e-5, 'prefill of the whole prompt');
  });
});

describe('paged attention: one canonical order (batch invariance)', () => {
  it.each<[string, Shape]>([
    ['GPT-2 head size, blocks of 16', { heads: 2, headDim: 64, blockSize: 16, seqLens: [150, 1, 64] }],
    ['odd head size, blocks of 3', { heads: 2, headDim: 37, blockSize: 3, seqLens: [70, 17] }],
    ['head size 130 (three slabs), blocks of 32', { heads: 1, headDim: 130, blockSize: 32, seqLens: [129] }],
  ])('decode at position t gives prefill row t bit for bit: %s', async (_name, shape) => {
    const c = await pagedCache(shape, 3 + shape.headDim);
    const prefill = await c.attend('prefill', c.all);
    expectSameBits(await c.attend('decode', c.all), prefill, 'decode vs prefill');
    // A real decode step: the last token of each sequence alone, through the automatic choice (the decode path).
    const last = shape.seqLens.map((n, s) => c.rows.findIndex((r) => r.seq === s && r.pos === n - 1));
    const auto = await c.attend('auto', last);
    last.forEach((t, i) => expectSameBits(auto.subarray(i * c.channels, (i + 1) * c.channels), prefill.subarray(t * c.channels, (t + 1) * c.channels), `decode row ${t}`));
  });

  it('the same sequence under permuted block tables gives the same bits', async () => {
    const shape = { heads: 2, headDim: 32, blockSize: 4, seqLens: [100, 9] };
    const a = await pagedCache(shape, 21, 1);
    const b = await pagedCache(shape, 21, 2);
    for (const variant of ['decode', 'prefill'] as const) expectSameBits(await b.attend(variant, b.all), await a.attend(variant, a.all), `${variant}, other block tables`);
  });

  it("a sequence's rows do not depend on the other rows of the step or their order", async () => {
    const c = await pagedCache({ heads: 2, headDim: 48, blockSize: 8, seqLens: [40, 70, 3] }, 8);
    const whole = await c.attend('prefill', c.all);
    const row = (out: Float32Array, i: number) => out.subarray(i * c.channels, (i + 1) * c.channels);
    // Sequence 1 alone; then every row interleaved across sequences (prefill blocks of runs of one row), reversed.
    const alone = c.all.filter((t) => c.rows[t].seq === 1);
    const mixed = [...c.all].sort((x, y) => c.rows[x].pos - c.rows[y].pos || c.rows[x].seq - c.rows[y].seq).reverse();
    for (const pick of [alone, mixed, alone.slice(-16), mixed.slice(0, 5)]) {
      for (const variant of ['decode', 'prefill', 'auto'] as const) {
        const got = await c.attend(variant, pick);
        pick.forEach((t, i) => expectSameBits(row(got, i), row(whole, t), `${variant}, row ${t} in a step of ${pick.length}`));
      }
    }
    expect(c.numBlocks).toBeGreaterThan(10);
  });
});

describe('paged attention: the decode grid sized by the step\'s largest position', () => {
  // A context of 1024 (16 tiles) with sequences of 1000 and 130 tokens: the grid of a step is ceil((maxPosition + 1) / 64)
  // tiles, not 16; each row must still merge exactly its own tiles (partials start as NaN), with the bits of prefill.
  const shape: Shape = { heads: 2, headDim: 64, blockSize: 16, seqLens: [1000, 130], context: 1024 };
  const row = (out: Float32Array, i: number, C: number) => out.subarray(i * C, (i + 1) * C);
  const maxPositionOf = (c: Awaited<ReturnType<typeof pagedCache>>, pick: readonly number[]) => Math.max(...pick.map((t) => c.rows[t].pos));

  it('rows at positions 999 and 0 in one step, and tile edges 62 … 129 alone and together, equal prefill bit for bit', async () => {
    const c = await pagedCache(shape, 41);
    const edges = [62, 63, 64, 65, 127, 128, 129];
    const steps: StepPick[] = [
      { pick: [c.at(0, 999), c.at(0, 0)] },
      { pick: [c.at(1, 0), c.at(0, 999)] },
      { pick: [c.at(1, 129), c.at(0, 5)] },
      ...edges.map((p) => ({ pick: [c.at(0, p)] })),
      ...edges.map((p) => ({ pick: [c.at(1, p)] })),
      { pick: edges.map((p, i) => c.at(i % 2, p)) },
      { pick: [c.at(0, 0)] },
    ].map((s) => ({ ...s, maxPosition: maxPositionOf(c, s.pick) }));
    expect(steps.map((s) => Math.ceil((s.maxPosition! + 1) / 64))).toContain(1);
    // One call site for every step, as a layer runs them: the grid grows and shrinks between steps.
    const got = await c.attendSteps('decode', steps);
    const whole = await c.attendSteps('decode', steps.map(({ pick }) => ({ pick })));
    for (const [i, { pick, maxPosition }] of steps.entries()) {
      const prefill = await c.attend('prefill', pick);
      pick.forEach((t, r) => {
        const what = `row at position ${c.rows[t].pos} of sequence ${c.rows[t].seq}, step max ${maxPosition}`;
        expectSameBits(row(got[i], r, c.channels), row(prefill, r, c.channels), `decode (small grid) vs prefill, ${what}`);
        expectSameBits(row(whole[i], r, c.channels), row(prefill, r, c.channels), `decode (whole-context grid) vs prefill, ${what}`);
      });
    }
    // And 'auto' (the decode path for few rows) with the small grid, against the float64 reference.
    const pick = [c.at(0, 999), c.at(0, 0), c.at(1, 64)];
    expectClose(await c.attend('auto', pick, 999), c.reference(pick), 2e-6, 1e-5, 'auto, small grid');
  });

  it('a maxPosition below a row the call cannot check still gives every tile of the row (same bits)', async () => {
    const c = await pagedCache(shape, 43);
    const pick = [c.at(0, 999), c.at(0, 0), c.at(1, 129)];
    const prefill = await c.attend('prefill', pick);
    for (const maxPosition of [0, 63, 64, 500]) {
      const [got] = await c.attendSteps('decode', [{ pick, maxPosition }], false);
      expectSameBits(got, prefill, `decode with a grid for maxPosition ${maxPosition}`);
    }
  });

  it('refuses a maxPosition below a row, at or past the context, or not an integer', async () => {
    const c = await pagedCache({ heads: 1, headDim: 8, blockSize: 4, seqLens: [70], context: 128 }, 5);
    const pick = [c.at(0, 69), c.at(0, 3)];
    for (const bad of [68, 3, 128, 1000, -1, 1.5, NaN, Infinity]) {
      await expect(c.attend('decode', pick, bad), `maxPosition ${bad}`).rejects.toThrow(InvalidRequestError);
      await expect(c.attend('auto', pick, bad), `maxPosition ${bad}`).rejects.toThrow(InvalidRequestError);
    }
    const prefill = await c.attend('prefill', pick);
    for (const good of [69, 70, 127]) expectSameBits(await c.attend('decode', pick, good), prefill, `maxPosition ${good}`);
  });
});

describe('paged attention: limits', () => {
  it('refuses more decode rows than its partials hold, and head sizes over 256', async () => {
    const b = g.buffer('any', 4096);
    const args = { qkv: b, tokens: b, blockTables: b, kCache: b, vCache: b, out: b, partials: b, channels: 64, numHeads: 1, headDim: 64, blockSize: 16, maxBlocksPerSequence: 4, scale: 1, maxPositions: 64, decodeMaxRows: 2 };
    const call = attention(g.gpu, 'attn', args);
    const encoder = g.gpu.device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    expect(() => call.encode(pass, 3, 'decode')).toThrow(InvalidRequestError);
    pass.end();
    call.destroy();
    expect(() => attention(g.gpu, 'attn', { ...args, channels: 257, headDim: 257 })).toThrow(ConfigError);
  });
});

describe('rope', () => {
  it.each([
    [1, 2, 8, 8],
    [5, 2, 32, 8],
    [3, 3, 24, 6],
    [4, 1, 128, 128],
  ])('%i tokens, %i heads of %i, %i rotary dims', async (T, heads, headDim, rotaryDims) => {
    const rand = seededRandom(T * heads + headDim);
    const channels = heads * headDim;
    const qkv = randomArray(T * 3 * channels, rand);
    const positions = [0, 1, 17, 1000, 3].slice(0, T);
    const tokens = new Uint32Array(T * 4);
    positions.forEach((p, t) => tokens.set([0, p, 0, 0], t * 4));
    const tables = createRopeTables(g.gpu, 1024, rotaryDims, 10000);
    const buf = g.upload('qkv', qkv);
    const call = rope(g.gpu, 'rope', { qkv: buf, tokens: g.upload('tokens', tokens), tables, channels, numHeads: heads, headDim });
    g.run((pass) => call.encode(pass, T));
    const got = await g.readF32(buf, qkv.length);
    const want = Float64Array.from(qkv);
    for (let t = 0; t < T; t++) {
      for (let part = 0; part < 2; part++) {
        for (let h = 0; h < heads; h++) {
          const at = t * 3 * channels + part * channels + h * headDim;
          const head = want.slice(at, at + headDim);
          ropeRef(head, positions[t], rotaryDims, 10000);
          want.set(head, at);
        }
      }
    }
    expectClose(got, want, 1e-6, 1e-6, 'rope');
    tables.cos.destroy();
    tables.sin.destroy();
    call.destroy();
  });
});
