// Every kernel against its CPU twin (test/reference/kernels.ts) on seeded random inputs, with awkward shapes: one row,
// odd sizes, sizes that are not multiples of the workgroup or the tile.
import { describe, expect, it } from 'vitest';
import { layerNorm } from '../../src/kernels/layerNorm.ts';
import { LinearCall } from '../../src/kernels/matmul.ts';
import { embedding } from '../../src/kernels/embedding.ts';
import { gelu } from '../../src/kernels/gelu.ts';
import { residualAdd } from '../../src/kernels/residualAdd.ts';
import { argmax, decodeArgmaxIds } from '../../src/kernels/argmax.ts';
import { softmax } from '../../src/kernels/softmax.ts';
import { repetitionPenalty } from '../../src/kernels/repetitionPenalty.ts';
import { useGpu } from '../support/gpu.ts';
import { halfPacked } from '../support/halfPacked.ts';
import { expectClose, expectSameBits, randomArray, seededRandom } from '../support/compare.ts';

import { argmaxRef, geluRef, layerNormRef, linearRef, softmaxRef } from '../reference/kernels.ts';

const g = useGpu();

describe('layernorm', () => {
  it.each([
    [1, 1],
    [1, 64],
    [3, 48],
    [7, 129],
    [33, 768],
  ])('%i rows × %i channels', async (rows, channels) => {
    const rand = seededRandom(rows * 1000 + channels);
    // an offset mean tests the two-pass variance
    const x = randomArray(rows * channels, rand, 2, 4);
    const gamma = randomArray(channels, rand, 0.5, 1.5);
    const beta = randomArray(channels, rand);
    const y = g.buffer('y', x.byteLength);
    const call = layerNorm(g.gpu, 'ln', { x: g.upload('x', x), gamma: g.upload('g', gamma), beta: g.upload('b', beta), y, channels, eps: 1e-5 });
    g.run((pass) => call.encode(pass, rows));
    expectClose(await g.readF32(y, x.length), layerNormRef(x, gamma, beta, rows, channels, 1e-5), 2e-5, 1e-5, 'layernorm');
    call.destroy();
  });
});

describe('matmul (GEMM and GEMV)', () => {
  it.each([
    [1, 1, 1, true],
    [1, 50, 64, true],
    [2, 33, 17, false],
    [5, 129, 96, true],
    [31, 65, 33, true],
    [70, 100, 48, false],
  ])('M=%i N=%i K=%i bias=%s: both kernels match the reference and each other bit for bit', async (m, n, k, withBias) => {
    const rand = seededRandom(m * 7919 + n * 31 + k);
    const x = randomArray(m * k, rand);
    const w = randomArray(n * k, rand);
    const bias = withBias ? randomArray(n, rand) : undefined;
    const want = linearRef(x, w, bias, m, n, k);
    const yGemm = g.buffer('y gemm', m * n * 4);
    const yGemv = g.buffer('y gemv', m * n * 4);
    const args = { x: g.upload('x', x), w: g.upload('w', w), bias: bias && g.upload('bias', bias), inFeatures: k, outFeatures: n };
    const gemm = new LinearCall(g.gpu, 'gemm', { ...args, y: yGemm });
    const gemv = new LinearCall(g.gpu, 'gemv', { ...args, y: yGemv });
    g.run((pass) => {
      gemm.encode(pass, m, 'gemm');
      gemv.encode(pass, m, 'gemv');
    });
    const a = await g.readF32(yGemm, m * n);
    const b = await g.readF32(yGemv, m * n);
    expectClose(a, want, 1e-5 * Math.sqrt(k) + 1e-6, 1e-5, 'gemm');
    expectClose(b, want, 1e-5 * Math.sqrt(k) + 1e-6, 1e-5, 'gemv');
    // The batch-invariance contract: same reduction order, so identical bits.
    expectSameBits(a, b, 'gemm vs gemv');
    gemm.destroy();
    gemv.destroy();
  });

  it.each([
    [1, 7, 5, true],
    [3, 129, 96, false],
    [33, 65, 33, true],
    [6, 50, 64, true],
  ])('f16-packed weights, M=%i N=%i K=%i bias=%s: both kernels match the reference on the rounded weights, bit for bit', async (m, n, k, withBias) => {
    const rand = seededRandom(m * 31 + n * 7 + k + 5);
    const x = randomArray(m * k, rand);
    const { rounded, packed } = halfPacked(randomArray(n * k, rand));
    const bias = withBias ? randomArray(n, rand) : undefined;
    const want = linearRef(x, rounded, bias, m, n, k);
    const yGemm = g.buffer('y gemm', m * n * 4);
    const yGemv = g.buffer('y gemv', m * n * 4);
    const args = { x: g.upload('x', x), w: g.upload('w f16', packed), bias: bias && g.upload('bias', bias), inFeatures: k, outFeatures: n, weightF16: true };
    const gemm = new LinearCall(g.gpu, 'gemm f16', { ...args, y: yGemm });
    const gemv = new LinearCall(g.gpu, 'gemv f16', { ...args, y: yGemv });
    g.run((pass) => {
      gemm.encode(pass, m, 'gemm');
      gemv.encode(pass, m, 'gemv');
    });
    const a = await g.readF32(yGemm, m * n);
    const b = await g.readF32(yGemv, m * n);
    expectClose(a, want, 1e-5 * Math.sqrt(k) + 1e-6, 1e-5, 'gemm f16');
    expectSameBits(a, b, 'gemm vs gemv');
    gemm.destroy();
    gemv.destroy();
  });

  it('a row gives the same bits alone and inside a larger batch', async () => {
    const rand = seededRandom(42);
    const [m, n, k] = [40, 77, 70];
    const x = randomArray(m * k, rand);
    const w = randomArray(n * k, rand);
    const wBuf = g.upload('w', w);
    const yBatch = g.buffer('y batch', m * n * 4);
    const batch = new LinearCall(g.gpu, 'batch', { x: g.upload('x', x), w: wBuf, y: yBatch, inFeatures: k, outFeatures: n });
    const row = 17;
    const yOne = g.buffer('y one', n * 4);
    const one = new LinearCall(g.gpu, 'one', { x: g.upload('x row', x.slice(row * k, (row + 1) * k)), w: wBuf, y: yOne, inFeatures: k, outFeatures: n });
    g.run((pass) => {
      batch.encode(pass, m);
      one.encode(pass, 1);
    });
    const all = await g.readF32(yBatch, m * n);
    const alone = await g.readF32(yOne, n);
    expect(Array.from(alone)).toEqual(Array.from(all.subarray(row * n, (row + 1) * n)));
    batch.destroy();
    one.destroy();
  });
});

describe('embedding', () => {
  it.each([true, false])('f16-packed tables (odd sizes), learned positions: %s', async (learned) => {
    const rand = seededRandom(learned ? 3 : 4);
    const [vocab, channels, positions, rows] = [37, 69, 9, 4];
    const wte = halfPacked(randomArray(vocab * channels, rand));
    const wpe = halfPacked(randomArray(positions * channels, rand));
    const ids = [36, 0, 7, 35];
    const pos = [8, 0, 3, 5];
    const tokens = new Uint32Array(rows * 4);
    ids.forEach((id, t) => tokens.set([id, pos[t], 0, 0], t * 4));
    const x = g.buffer('x', rows * channels * 4);
    const call = embedding(g.gpu, 'emb f16', { tokens: g.upload('tokens', tokens), wte: g.upload('wte', wte.packed), wpe: learned ? g.upload('wpe', wpe.packed) : undefined, x, channels, vocab, positions: learned ? positions : 1, tablesF16: true });
    g.run((pass) => call.encode(pass, rows));
    const want = new Float64Array(rows * channels);
    for (let t = 0; t < rows; t++) for (let c = 0; c < channels; c++) want[t * channels + c] = wte.rounded[ids[t] * channels + c] + (learned ? wpe.rounded[pos[t] * channels + c] : 0);
    expectClose(await g.readF32(x, rows * channels), want, 1e-7, 1e-7, 'embedding f16');
    call.destroy();
  });

  it.each([true, false])('learned positions: %s', async (learned) => {
    const rand = seededRandom(learned ? 1 : 2);
    const [vocab, channels, positions, rows] = [37, 70, 9, 5];
    const wte = randomArray(vocab * channels, rand);
    const wpe = randomArray(positions * channels, rand);
    const ids = [0, 36, 5, 5, 20];
    const pos = [0, 8, 3, 4, 1];
    const tokens = new Uint32Array(rows * 4);
    ids.forEach((id, t) => tokens.set([id, pos[t], 0, 0], t * 4));
    const x = g.buffer('x', rows * channels * 4);
    const call = embedding(g.gpu, 'emb', { tokens: g.upload('tokens', tokens), wte: g.upload('wte', wte), wpe: learned ? g.upload('wpe', wpe) : undefined, x, channels, vocab, positions: learned ? positions : 1 });
    g.run((pass) => call.encode(pass, rows));
    const want = new Float64Array(rows * channels);
    for (let t = 0; t < rows; t++) for (let c = 0; c < channels; c++) want[t * channels + c] = wte[ids[t] * channels + c] + (learned ? wpe[pos[t] * channels + c] : 0);
    expectClose(await g.readF32(x, rows * channels), want, 1e-7, 1e-7, 'embedding');
    call.destroy();
  });
});

describe('gelu', () => {
  it.each([
    ['gelu_tanh', 1, 1],
    ['gelu_tanh', 3, 130],
    ['gelu_erf', 1, 65],
    ['gelu_erf', 4, 200],
  ] as const)('%s on %i × %i, including huge |x|', async (activation, rows, features) => {
    const rand = seededRandom(features);
    const h = randomArray(rows * features, rand, -6, 6);
    h[0] = 120; // tanh(large) must not become NaN
    if (h.length > 1) h[1] = -120;
    const buf = g.upload('h', h);
    const call = gelu(g.gpu, 'gelu', { h: buf, features, activation });
    g.run((pass) => call.encode(pass, rows));
    const want = Array.from(h, (v) => geluRef(v, activation === 'gelu_tanh'));
    expectClose(await g.readF32(buf, h.length), want, 3e-7, 2e-6, activation);
    call.destroy();
  });
});

describe('residual add', () => {
  it.each([
    [1, 1],
    [5, 67],
  ])('%i × %i', async (rows, channels) => {
    const rand = seededRandom(rows + channels);
    const x = randomArray(rows * channels, rand);
    const r = randomArray(rows * channels, rand);
    const xb = g.upload('x', x);
    const call = residualAdd(g.gpu, 'add', { x: xb, r: g.upload('r', r), channels });
    g.run((pass) => call.encode(pass, rows));
    expectClose(await g.readF32(xb, x.length), Array.from(x, (v, i) => v + r[i]), 1e-7, 1e-7, 'add');
    call.destroy();
  });
});

describe('argmax', () => {
  it('picks the first maximum of each row, any vocabulary size', async () => {
    const rand = seededRandom(9);
    for (const [rows, vocab] of [
      [1, 1],
      [1, 50257],
      [3, 65],
      [2, 4097],
    ]) {
      const logits = randomArray(rows * vocab, rand, -10, 10);
      if (vocab > 70) {
        // a tie between two far-apart indices: the lower one must win
        logits[5] = 99;
        logits[vocab - 3] = 99;
      }
      const ids = g.buffer('ids', rows * 4);
      const call = argmax(g.gpu, 'argmax', { logits: g.upload('logits', logits), ids, vocab });
      g.run((pass) => call.encode(pass, rows));
      const got = Array.from(await g.readU32(ids, rows));
      const want = Array.from({ length: rows }, (_, r) => argmaxRef(logits.subarray(r * vocab, (r + 1) * vocab)));
      expect(got, `${rows}×${vocab}`).toEqual(want);
      call.destroy();
    }
  });
});

describe('argmax: non-finite rows', () => {
  it('sets bit 31 of the id of every row holding NaN, +Inf or -Inf, and only of those', async () => {
    const vocab = 300;
    const rand = seededRandom(11);
    const logits = randomArray(6 * vocab, rand, -10, 10);
    logits[1 * vocab + 5] = NaN;
    logits[2 * vocab + 299] = Infinity;
    logits[3 * vocab + 0] = -Infinity;
    logits.fill(NaN, 4 * vocab, 5 * vocab);
    const ids = g.buffer('ids', 6 * 4);
    const call = argmax(g.gpu, 'argmax', { logits: g.upload('logits', logits), ids, vocab });
    g.run((pass) => call.encode(pass, 6));
    const raw = await g.readU32(ids, 6);
    expect(Array.from(raw, (v) => v >>> 31)).toEqual([0, 1, 1, 1, 1, 0]);
    const { ids: decoded, nonFinite } = decodeArgmaxIds(raw);
    expect(Array.from(nonFinite)).toEqual([0, 1, 1, 1, 1, 0]);
    for (const r of [0, 5]) expect(decoded[r]).toBe(argmaxRef(logits.subarray(r * vocab, (r + 1) * vocab)));
    expect(decoded.every((id) => id < vocab)).toBe(true);
    call.destroy();
  });
});

describe('softmax', () => {
  it.each([
    [1, 1],
    [2, 50257],
    [3, 129],
  ])('%i rows × %i, a temperature per row', async (rows, vocab) => {
    const rand = seededRandom(vocab);
    const logits = randomArray(rows * vocab, rand, -20, 20);
    const temperatures = [0.7, 1, 1.5].slice(0, rows);
    const probs = g.buffer('probs', logits.byteLength);
    const call = softmax(g.gpu, 'softmax', { logits: g.upload('logits', logits), invTemperature: g.upload('inv t', Float32Array.from(temperatures, (t) => 1 / t)), probs, vocab });
    g.run((pass) => call.encode(pass, rows));
    const got = await g.readF32(probs, logits.length);
    const want = new Float64Array(rows * vocab);
    for (let r = 0; r < rows; r++) want.set(softmaxRef(logits.subarray(r * vocab, (r + 1) * vocab), temperatures[r]), r * vocab);
    expectClose(got, want, 1e-7, 1e-4, 'softmax');
    call.destroy();
    // without the normalization (sample.wgsl's input): exp((l - max) / τ), the top at exactly 1
    const raw = g.buffer('raw', logits.byteLength);
    const unnormalized = softmax(g.gpu, 'softmax raw', { logits: g.upload('logits', logits), invTemperature: g.upload('inv t', Float32Array.from(temperatures, (t) => 1 / t)), probs: raw, vocab, normalize: false });
    g.run((pass) => unnormalized.encode(pass, rows));
    const gotRaw = await g.readF32(raw, logits.length);
    for (let r = 0; r < rows; r++) {
      const row = logits.subarray(r * vocab, (r + 1) * vocab);
      const max = Math.max(...row);
      const wantRaw = Array.from(row, (l) => Math.exp((l - max) / temperatures[r]));
      expectClose(gotRaw.subarray(r * vocab, (r + 1) * vocab), wantRaw, 1e-7, 1e-5, 'softmax without normalization');
      expect(Math.max(...gotRaw.subarray(r * vocab, (r + 1) * vocab))).toBe(1);
    }
    unnormalized.destroy();
  });
});

describe('repetition penalty', () => {
  it('divides positive and multiplies negative logits of each row\'s own history, nothing else', async () => {
    const rand = seededRandom(77);
    const [rows, vocab] = [3, 203];
    const logits = randomArray(rows * vocab, rand, -5, 5);
    const histories = [[0, 5, 202, 17], [], [5, 100, 3, 64, 65, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 95, 96, 97, 98, 99, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116, 117, 118, 119, 120, 121, 122, 123, 124, 125, 126, 127, 128]];
    const penalties = [1.3, 2, 0.8];
    const offsets = new Uint32Array(rows + 1);
    histories.forEach((h, r) => (offsets[r + 1] = offsets[r] + h.length));
    const buf = g.upload('logits', logits);
    const call = repetitionPenalty(g.gpu, 'penalty', {
      logits: buf,
      history: g.upload('history', Uint32Array.from(histories.flat())),
      offsets: g.upload('offsets', offsets),
      penalty: g.upload('penalty', Float32Array.from(penalties)),
      vocab,
    });
    g.run((pass) => call.encode(pass, rows));
    const want = Float64Array.from(logits);
    histories.forEach((h, r) => {
      for (const id of h) {
        const l = logits[r * vocab + id];
        want[r * vocab + id] = l < 0 ? l * penalties[r] : l / penalties[r];
      }
    });
    expectClose(await g.readF32(buf, logits.length), want, 1e-6, 1e-6, 'penalty');
    call.destroy();
  });
});
