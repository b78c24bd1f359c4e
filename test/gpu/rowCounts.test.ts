// Every row count that changes a code path, on every adapter (this file runs in Node on Dawn and in Chromium: see
// vitest.config.ts). The linear layers pick the GEMV for M ≤ GEMV_MAX_ROWS rows and the tiled GEMM above; the GEMV takes
// rows four at a time, the GEMM in 32-row tiles; a step's M is a prompt's length, a prefill chunk's, or the number of
// sequences in a decode step. Issue 9 was rows 4 … 7 of the GEMV wrong on one implementation only, and every model test
// happened to use other row counts. So each M in 1 … 33 is run here, at the kernel and through whole models:
// - kernels: LinearCall (auto, GEMV and GEMM forced) against the CPU twin, and GEMV = GEMM bit for bit, f32 and f16;
// - prompts of 1 … 64 tokens (demo model and the golden fixtures' models) against the float64 reference;
// - prefill in chunks of 1 … 33 rows; decode steps of 33 … 1 sequences (requests that finish one after another).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { GEMV_MAX_ROWS, LinearCall } from '../../src/kernels/matmul.ts';
import { decodeToFloat32, encodeFloats } from '../../src/io/dtype.ts';
import { ReferenceModel, top1 } from '../reference/cpuModel.ts';
import { linearRef } from '../reference/kernels.ts';
import { loadCheckpointFiles } from '../support/checkpoint.ts';
import { expectClose, expectSameBits, randomArray, seededRandom } from '../support/compare.ts';
import { expectLogitsMatch, fixturePath } from '../support/fixtures.ts';
import { useGpu } from '../support/gpu.ts';
import { projectModelFiles, readProjectBytes } from '../support/platform.ts';

const g = useGpu();
const ROW_COUNTS = Array.from({ length: 33 }, (_, i) => i + 1);

describe('linear layers at every row count 1 … 33', () => {
  const SHAPES = [
    { name: 'f32, K a multiple of 4 (vec4 loads)', n: 50, k: 64, f16: false, bias: true },
    { name: 'f32, odd K (scalar loads), no bias', n: 33, k: 70, f16: false, bias: false },
    { name: 'f16 packed weights', n: 50, k: 64, f16: true, bias: true },
  ];
  it.each(SHAPES)('$name: auto, GEMV and GEMM match the reference, and each other bit for bit', async (shape) => {
    const { n, k } = shape;
    const rand = seededRandom(n * 131 + k);
    const maxM = ROW_COUNTS.length;
    const x = randomArray(maxM * k, rand);
    let w = randomArray(n * k, rand);
    let wData: Float32Array | Uint32Array = w;
    if (shape.f16) {
      const bytes = encodeFloats('F16', w);
      w = decodeToFloat32('F16', bytes);
      wData = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    }
    const bias = shape.bias ? randomArray(n, rand) : undefined;
    const args = { x: g.upload('x', x), w: g.upload('w', wData), bias: bias && g.upload('bias', bias), inFeatures: k, outFeatures: n, weightF16: shape.f16 };
    const outputs = { auto: g.buffer('y auto', maxM * n * 4), gemv: g.buffer('y gemv', maxM * n * 4), gemm: g.buffer('y gemm', maxM * n * 4) };
    const calls = Object.fromEntries(Object.entries(outputs).map(([variant, y]) => [variant, new LinearCall(g.gpu, variant, { ...args, y })]));
    for (const m of ROW_COUNTS) {
      g.run((pass) => {
        calls.auto.encode(pass, m);
        calls.gemv.encode(pass, m, 'gemv');
        calls.gemm.encode(pass, m, 'gemm');
      });
      const want = linearRef(x, w, bias, m, n, k);
      const got = {
        auto: await g.readF32(outputs.auto, m * n),
        gemv: await g.readF32(outputs.gemv, m * n),
        gemm: await g.readF32(outputs.gemm, m * n),
      };
      const what = `M=${m} (${m <= GEMV_MAX_ROWS ? 'GEMV' : 'GEMM'} by default)`;
      expectClose(got.gemv, want, 1e-5 * Math.sqrt(k) + 1e-6, 1e-5, `${what}: gemv`);
      expectClose(got.gemm, want, 1e-5 * Math.sqrt(k) + 1e-6, 1e-5, `${what}: gemm`);
      expectSameBits(got.gemv, got.gemm, `${what}: gemv vs gemm`);
      expectSameBits(got.auto, got.gemm, `${what}: auto vs gemm`);
    }
    for (const call of Object.values(calls)) call.destroy();
  });
});

/** A model of the repository with its float64 reference and a 64-token prompt (its own prompt ids, then seeded ones). */
async function loadCase(dir: string, promptStart: number[], vocab: number) {
  const [config, weights] = await Promise.all([readProjectBytes(`${dir}/config.json`), readProjectBytes(`${dir}/model.safetensors`)]);
  const { config: raw, tensors } = await loadCheckpointFiles({ 'config.json': new TextDecoder().decode(config), 'model.safetensors': weights });
  const reference = new ReferenceModel(raw, tensors);
  const rand = seededRandom(vocab);
  const prompt = [...promptStart];
  while (prompt.length < 64) prompt.push(Math.floor(rand(0, vocab)));
  return { reference, prompt: prompt.slice(0, 64), want: reference.forward(prompt.slice(0, 64)), files: () => projectModelFiles(dir) };
}

/** Row `row` of a (P, V) float64 array, as float32 (the engine's precision). */
function rowOf(all: Float64Array, row: number, vocab: number): Float32Array {
  return Float32Array.from(all.subarray(row * vocab, (row + 1) * vocab));
}

const MODELS = [
  // "First Citizen:\nBefore we proceed" (7 tokens, wrong in Chromium before issue 9's fix), then seeded ids
  { name: 'demo model (F16 checkpoint, f16 weights)', dir: 'models/gpt2-shakespeare', start: [5962, 22307, 25, 198, 8421, 356, 5120], vocab: 50257, allRows: [5, 8, 9, 17] },
  { name: 'gpt2-tiny', dir: fixturePath('gpt2-tiny'), start: [], vocab: 50257, allRows: [1, 4, 5, 8, 9, 16, 17, 33] },
  { name: 'neox-tiny', dir: fixturePath('neox-tiny'), start: [], vocab: 4096, allRows: [1, 4, 5, 8, 9, 16, 17, 33] },
];

describe.each(MODELS)('$name: every prompt length 1 … 64', (model) => {
  let c: Awaited<ReturnType<typeof loadCase>>;
  let engine: Engine;
  beforeAll(async () => {
    c = await loadCase(model.dir, model.start, model.vocab);
    engine = await Engine.load(g.gpu, await c.files());
  });
  afterAll(() => engine?.dispose());

  // Four tests of 16 lengths each, so that each stays well inside the per-test timeout on a slow software adapter.
  it.each([1, 17, 33, 49])('prompts of %i … +15 tokens: next-token logits within the fixture tolerance of the float64 reference, and the same greedy token', async (from) => {
    for (let length = from; length < from + 16; length++) {
      const got = await engine.logits(c.prompt.slice(0, length), { lastOnly: true });
      const want = rowOf(c.want, length - 1, model.vocab);
      expectLogitsMatch(got, want, `${model.name}, prompt of ${length}`);
      const ref = top1(want);
      if (ref.margin >= 1e-3) expect(top1(got).index, `${model.name}, prompt of ${length}: greedy token`).toBe(ref.index);
    }
  });

  it('every row of the prompt, for the lengths around the GEMV/GEMM and tile boundaries', async () => {
    for (const length of model.allRows) {
      const got = await engine.logits(c.prompt.slice(0, length));
      expectLogitsMatch(got, c.want.subarray(0, length * model.vocab), `${model.name}, all rows of a prompt of ${length}`);
    }
  });
});

// On the fixture with the small vocabulary (4096), so that the head and the float64 reference stay cheap in the browser.
describe('neox-tiny: chunked prefill and decode batches of every size', () => {
  let c: Awaited<ReturnType<typeof loadCase>>;
  beforeAll(async () => {
    c = await loadCase(fixturePath('neox-tiny'), [], 4096);
  });

  it.each([1, 4, 5, 8, 9, 16, 17, 33])('a 64-token prompt prefilled in chunks of %i rows matches the reference at every row', async (chunk) => {
    const engine = await Engine.load(g.gpu, await c.files(), { maxBatchTokens: chunk, blockSize: 4 });
    try {
      expectLogitsMatch(await engine.logits(c.prompt), c.want, `chunks of ${chunk}`);
    } finally {
      await engine.dispose();
    }
  });

  it('34 requests finishing one after another (decode steps of 33, 32, … 1 sequences) each give the reference greedy tokens', async () => {
    const requests = ROW_COUNTS.length + 1;
    const engine = await Engine.load(g.gpu, await c.files(), { maxSequences: requests, maxBatchTokens: 256 });
    try {
      const prompts = Array.from({ length: requests }, (_, i) => c.prompt.slice(i % 40, (i % 40) + 2 + (i % 5)));
      const streams = prompts.map((prompt, i) => engine.generate(prompt, { greedy: true, maxNewTokens: i + 1, stopAtEos: false }));
      const results = await Promise.all(streams.map((s) => s.result));
      for (const [i, result] of results.entries()) {
        const want = c.reference.greedy(prompts[i], i + 1);
        const firstTie = want.margins.findIndex((m) => m < 1e-3);
        const checked = firstTie < 0 ? want.ids.length : firstTie + 1;
        expect(result.ids.slice(0, checked), `request ${i} (prompt of ${prompts[i].length}, ${i + 1} tokens)`).toEqual(want.ids.slice(0, checked));
      }
      // The decode steps really had 33 … 1 sequences: the batch shrank by one per step.
      expect(engine.summary().steps.decode).toBeGreaterThanOrEqual(ROW_COUNTS.length);
    } finally {
      await engine.dispose();
    }
  });
});
