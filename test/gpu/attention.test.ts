// The paged-KV path against plain CPU attention: kv_write stores keys/values through block tables with blocks scattered
// over the pool, then attention reads them back for prefill rows, chunked prefill and decode rows of several sequences.
import { describe, expect, it } from 'vitest';
import { kvWrite } from '../../src/kernels/kvWrite.ts';
import { attention } from '../../src/kernels/attention.ts';
import { createRopeTables, rope } from '../../src/kernels/rope.ts';
import { useGpu } from '../support/gpu.ts';
import { expectClose, randomArray, seededRandom } from '../support/compare.ts';
import { attendRef, ropeRef } from '../reference/kernels.ts';

const g = useGpu();

interface Shape {
  heads: number;
  headDim: number;
  blockSize: number;
  seqLens: number[];
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

async function checkPagedAttention({ heads, headDim, blockSize, seqLens }: Shape, seed: number) {
  const rand = seededRandom(seed);
  const channels = heads * headDim;
  const maxBlocks = Math.max(...seqLens.map((n) => Math.ceil(n / blockSize)));
  const { tables, numBlocks } = scatteredBlockTables(seqLens, blockSize, maxBlocks, rand);
  // Every token of every sequence, as one step (a batched prefill).
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
  const qkvBuf = g.upload('qkv', qkv);
  const tokensBuf = g.upload('tokens', tokens);
  const tablesBuf = g.upload('tables', tables);
  const out = g.buffer('out', T * channels * 4);
  const common = { qkv: qkvBuf, tokens: tokensBuf, blockTables: tablesBuf, kCache, vCache, channels, blockSize, maxBlocksPerSequence: maxBlocks };
  const write = kvWrite(g.gpu, 'kv', { ...common, numBlocks });
  const scale = 1 / Math.sqrt(headDim);
  const attend = attention(g.gpu, 'attn', { ...common, out, numHeads: heads, headDim, scale });
  g.run((pass) => {
    write.encode(pass, T);
    attend.encode(pass, T);
  });
  const got = await g.readF32(out, T * channels);

  const want = new Float64Array(T * channels);
  const row = (t: number, part: number, h: number) => qkv.subarray(t * 3 * channels + part * channels + h * headDim, t * 3 * channels + part * channels + (h + 1) * headDim);
  rows.forEach(({ seq, pos }, t) => {
    const earlier = rows.map((r, i) => ({ ...r, i })).filter((r) => r.seq === seq && r.pos <= pos);
    for (let h = 0; h < heads; h++) {
      const o = attendRef(row(t, 0, h), earlier.map((r) => row(r.i, 1, h)), earlier.map((r) => row(r.i, 2, h)), scale);
      want.set(o, t * channels + h * headDim);
    }
  });
  expectClose(got, want, 2e-6, 1e-5, 'attention');
  write.destroy();
  attend.destroy();
  return { kCache, vCache, qkvBuf, tokensBuf, tablesBuf, got, rows, channels, maxBlocks, numBlocks };
}

describe('paged attention', () => {
  it.each<[string, Shape]>([
    ['one token', { heads: 1, headDim: 8, blockSize: 16, seqLens: [1] }],
    ['GPT-2 head size, several blocks', { heads: 2, headDim: 64, blockSize: 16, seqLens: [37] }],
    ['odd head size, tiny blocks, three sequences', { heads: 3, headDim: 24, blockSize: 4, seqLens: [9, 1, 14] }],
    ['head size over 64 (two lanes per thread)', { heads: 1, headDim: 96, blockSize: 8, seqLens: [20, 5] }],
    ['head size 1', { heads: 3, headDim: 1, blockSize: 2, seqLens: [7] }],
    ['long sequence crossing several 64-key tiles', { heads: 2, headDim: 32, blockSize: 16, seqLens: [150] }],
  ])('%s', async (_name, shape) => {
    await checkPagedAttention(shape, shape.seqLens.length * 97 + shape.headDim);
  });

  it('decode rows and later prefill chunks read what earlier steps wrote, and give the same bits as the full prefill', async () => {
    const shape = { heads: 2, headDim: 16, blockSize: 4, seqLens: [11, 6] };
    const { kCache, vCache, qkvBuf, tokensBuf, tablesBuf, got, rows, channels, maxBlocks, numBlocks } = await checkPagedAttention(shape, 5);
    // Re-run attention for only the last token of each sequence (a decode step) and for the tail of sequence 0 (a later
    // prefill chunk): the cache already holds every key, and the rows must reproduce the full-prefill rows bit for bit.
    const pick = [rows.findIndex((r) => r.seq === 0 && r.pos === 10), rows.findIndex((r) => r.seq === 1 && r.pos === 5), ...[7, 8, 9].map((p) => rows.findIndex((r) => r.seq === 0 && r.pos === p))];
    const allQkv = await g.readF32(qkvBuf, rows.length * 3 * channels);
    const allTokens = new Uint32Array(await g.readU32(tokensBuf, rows.length * 4));
    const qkv = new Float32Array(pick.length * 3 * channels);
    const tokens = new Uint32Array(pick.length * 4);
    pick.forEach((t, i) => {
      qkv.set(allQkv.subarray(t * 3 * channels, (t + 1) * 3 * channels), i * 3 * channels);
      tokens.set(allTokens.subarray(t * 4, t * 4 + 4), i * 4);
    });
    const out = g.buffer('out', pick.length * channels * 4);
    const attend = attention(g.gpu, 'attn', { qkv: g.upload('qkv', qkv), tokens: g.upload('tokens', tokens), blockTables: tablesBuf, kCache, vCache, out, channels, numHeads: 2, headDim: 16, blockSize: 4, maxBlocksPerSequence: maxBlocks, scale: 0.25 });
    g.run((pass) => attend.encode(pass, pick.length));
    const again = await g.readF32(out, pick.length * channels);
    pick.forEach((t, i) => expect(Array.from(again.subarray(i * channels, (i + 1) * channels))).toEqual(Array.from(got.subarray(t * channels, (t + 1) * channels))));
    expect(numBlocks).toBeGreaterThan(4);
    attend.destroy();
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
