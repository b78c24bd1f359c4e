// Every kernel module's uniform params against its shader's `struct Params`, without a GPU: each module builds its
// call sites on a stand-in device (test/support/fakeDevice.ts), which runs the check KernelCall makes (names, order,
// scalar types; src/gpu/uniformLayout.ts), and the bytes it writes are read back through the WGSL struct to see each
// value land in the field of its name. Also: the check catches a reordered, renamed, retyped, missing or extra field,
// and every shader in shaders/ with a uniform struct is built by some module here, so a new shader cannot skip it.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import layerNormTemplate from '../../shaders/layernorm.wgsl?raw';
import { computePipeline, KernelCall, Params } from '../../src/gpu/kernel.ts';
import { checkUniformFields, parseUniformStruct, type UniformField } from '../../src/gpu/uniformLayout.ts';
import { argmax } from '../../src/kernels/argmax.ts';
import { attention } from '../../src/kernels/attention.ts';
import { embedding } from '../../src/kernels/embedding.ts';
import { gelu } from '../../src/kernels/gelu.ts';
import { kvWrite } from '../../src/kernels/kvWrite.ts';
import { layerNorm } from '../../src/kernels/layerNorm.ts';
import { gemvLayout, LinearCall } from '../../src/kernels/matmul.ts';
import { repetitionPenalty } from '../../src/kernels/repetitionPenalty.ts';
import { residualAdd } from '../../src/kernels/residualAdd.ts';
import { rope } from '../../src/kernels/rope.ts';
import { softmax } from '../../src/kernels/softmax.ts';
import { sample } from '../../src/kernels/sample.ts';
import { randomModelConfig, randomWeights } from '../../src/model/randomWeights.ts';
import { InvalidRequestError } from '../../src/errors.ts';
import { fakeBuffer, fakeGpu, type FakeGpu } from '../support/fakeDevice.ts';

const SHADERS = join(import.meta.dirname, '..', '..', 'shaders');

interface Shape {
  C: number; // channels
  H: number; // heads
  D: number; // head dim
  I: number; // MLP width
  V: number; // vocabulary
  P: number; // positions
  R: number; // rotary dims (0: learned positions)
  B: number; // KV block size
  MAXB: number; // blocks per sequence
  NB: number; // KV blocks
  f16: boolean;
}

// GPT-2 124M as published; Pythia-70M's shape (rotary on 16 of 64 dims); a head wider than 64 (two accumulators per
// thread in attention) with f16 weights.
const SHAPES: Record<string, Shape> = {
  'gpt2-124m': { C: 768, H: 12, D: 64, I: 3072, V: 50257, P: 1024, R: 0, B: 16, MAXB: 64, NB: 256, f16: false },
  'pythia-70m': { C: 512, H: 8, D: 64, I: 2048, V: 50304, P: 2048, R: 16, B: 16, MAXB: 128, NB: 512, f16: false },
  'wide-head f16': { C: 640, H: 8, D: 80, I: 2560, V: 1000, P: 512, R: 20, B: 8, MAXB: 64, NB: 100, f16: true },
};

interface Site {
  label: string;
  encode(pass: GPUComputePassEncoder, rows: number): void;
  /** The values each uniform field must hold, given the row count. */
  expected(rows: number): Record<string, number>;
}

/** Every kernel call site a model builds, for one shape; building them runs the params check. */
function buildSites(fake: FakeGpu, s: Shape): Site[] {
  const { gpu } = fake;
  const b = fakeBuffer;
  const sites: Site[] = [];
  const add = (label: string, call: { encode(pass: GPUComputePassEncoder, rows: number): void }, expected: (rows: number) => Record<string, number>) =>
    sites.push({ label, encode: (pass, rows) => call.encode(pass, rows), expected });
  const paged = { tokens: b('tokens'), blockTables: b('tables'), kCache: b('k'), vCache: b('v'), channels: s.C, blockSize: s.B, maxBlocksPerSequence: s.MAXB };
  const scale = 1 / Math.sqrt(s.D);

  add('embed', embedding(gpu, 'embed', { tokens: b('tokens'), wte: b('wte'), wpe: s.R ? undefined : b('wpe'), x: b('x'), channels: s.C, vocab: s.V, positions: s.R ? 1 : s.P, tablesF16: s.f16 }), (rows) => ({
    rows,
    channels: s.C,
    vocab: s.V,
    positions: s.R ? 1 : s.P,
  }));
  add('ln', layerNorm(gpu, 'ln', { x: b('x'), gamma: b('g'), beta: b('b'), y: b('y'), channels: s.C, eps: 1e-5 }), (rows) => ({ rows, channels: s.C, eps: Math.fround(1e-5) }));
  if (s.R) {
    const tables = { cos: b('cos'), sin: b('sin'), positions: s.P, rotaryDims: s.R };
    add('rope', rope(gpu, 'rope', { qkv: b('qkv'), tokens: b('tokens'), tables, channels: s.C, numHeads: s.H, headDim: s.D }), (rows) => ({
      rows,
      channels: s.C,
      head_dim: s.D,
      half_rotary: s.R / 2,
      positions: s.P,
    }));
  }
  add('kv write', kvWrite(gpu, 'kv write', { ...paged, qkv: b('qkv'), numBlocks: s.NB }), (rows) => ({
    rows,
    channels: s.C,
    block_size: s.B,
    max_blocks: s.MAXB,
    num_slots: s.NB * s.B,
  }));
  // Attention: each of its kernels alone (the decode path is two dispatches, partials then merge).
  const attn = attention(gpu, 'attention', { ...paged, qkv: b('qkv'), out: b('out'), partials: b('partials'), numHeads: s.H, headDim: s.D, scale, maxPositions: s.P, decodeMaxRows: 16 });
  for (const [part, name] of [['partials', 'decode'], ['merge', 'merge'], ['prefill', 'prefill'], ['v1', 'v1']] as const) {
    add(`attention (${name})`, attn.parts[part], (rows) => ({
      rows,
      channels: s.C,
      head_dim: s.D,
      block_size: s.B,
      max_blocks: s.MAXB,
      scale: Math.fround(scale),
      ...(part === 'v1' ? {} : { max_tiles: Math.ceil(s.P / 64) }),
    }));
  }
  for (const [name, out, inn, bias] of [
    ['qkv', 3 * s.C, s.C, true],
    ['mlp down', s.C, s.I, true],
    ['lm head', s.V, s.C, false],
  ] as const) {
    const call = new LinearCall(gpu, name, { x: b('x'), w: b('w'), bias: bias ? b('bias') : undefined, y: b('y'), inFeatures: inn, outFeatures: out, weightF16: s.f16 });
    for (const variant of ['gemm', 'gemv', 'gemv-1lane', 'gemm-v1', 'gemv-v1'] as const) {
      const layout = variant === 'gemv' ? gemvLayout(inn) : variant === 'gemv-1lane' ? { lanes: 1, columns: 256 } : {};
      sites.push({ label: `${name} (${variant})`, encode: (pass, rows) => call.encode(pass, rows, variant), expected: (rows) => ({ M: rows, N: out, K: inn, ...layout }) });
    }
  }
  add('gelu', gelu(gpu, 'gelu', { h: b('h'), features: s.I, activation: s.R ? 'gelu_erf' : 'gelu_tanh' }), (rows) => ({ rows, features: s.I }));
  add('add', residualAdd(gpu, 'add', { x: b('x'), r: b('r'), channels: s.C }), (rows) => ({ rows, channels: s.C }));
  add('penalty', repetitionPenalty(gpu, 'penalty', { logits: b('l'), history: b('h'), offsets: b('o'), penalty: b('p'), vocab: s.V }), (rows) => ({ rows, vocab: s.V }));
  add('argmax', argmax(gpu, 'argmax', { logits: b('l'), ids: b('ids'), vocab: s.V }), (rows) => ({ rows, vocab: s.V }));
  add('softmax', softmax(gpu, 'softmax', { logits: b('l'), invTemperature: b('t'), probs: b('p'), vocab: s.V }), (rows) => ({ rows, vocab: s.V }));
  add('softmax unnormalized', softmax(gpu, 'softmax unnormalized', { logits: b('l'), invTemperature: b('t'), probs: b('p'), vocab: s.V, normalize: false }), (rows) => ({ rows, vocab: s.V }));
  for (const bitsOnly of [false, true]) {
    const label = `sample${bitsOnly ? ' bits' : ''}`;
    add(label, sample(gpu, label, { probs: b('p'), settings: b('s'), drawn: b('d'), vocab: s.V, bitsOnly }), (rows) => ({ rows, vocab: s.V }));
  }
  add('sample from logits', sample(gpu, 'sample from logits', { fromLogits: { logits: b('l'), argmaxIds: b('ids'), invTemperature: b('t') }, settings: b('s'), drawn: b('d'), vocab: s.V }), (rows) => ({ rows, vocab: s.V }));
  return sites;
}

/** The uniform bytes read as the struct `fields` declares (4-byte scalars back to back). */
function decode(bytes: Uint8Array, fields: readonly UniformField[]): Record<string, number> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Object.fromEntries(fields.map((f, i) => [f.name, f.type === 'f32' ? view.getFloat32(4 * i, true) : f.type === 'i32' ? view.getInt32(4 * i, true) : view.getUint32(4 * i, true)]));
}

/** The struct of the pipeline a dispatch used (every variant of one shader declares the same struct). */
function structOf(fake: FakeGpu, pipeline: string): UniformField[] {
  const made = fake.pipelines.findLast((p) => p.label === pipeline);
  const fields = made && parseUniformStruct(made.code, pipeline);
  if (!fields) throw new Error(`no uniform struct for pipeline ${pipeline}`);
  return fields;
}

describe('kernel params match their WGSL struct', () => {
  describe.each(Object.entries(SHAPES))('%s', (_name, shape) => {
    it.each([1, 7, 9, 64, 1000])('every call site writes each field by name, %i rows', (rows) => {
      const fake = fakeGpu();
      for (const site of buildSites(fake, shape)) {
        fake.dispatches.length = 0;
        site.encode(fake.pass, rows);
        expect(fake.dispatches, site.label).toHaveLength(1);
        const bytes = fake.writes.get(`${site.label} params`);
        expect(bytes, site.label).toBeDefined();
        expect(decode(bytes!, structOf(fake, fake.dispatches[0].pipeline)), site.label).toEqual(site.expected(rows));
      }
    });
  });

  it.each(['f32', 'f16'] as const)('random weights (%s) fill each tensor with the params random_fill declares', async (format) => {
    const fake = fakeGpu();
    const config = randomModelConfig('gpt2-124m-random');
    await randomWeights(fake.gpu, config, 3, format);
    const struct = structOf(fake, 'random_fill');
    const wte = decode(fake.writes.get('fill wte params')!, struct);
    const count = config.vocabSize * config.hiddenSize;
    expect(wte.count).toBe(format === 'f16' ? Math.ceil(count / 2) : count);
    expect(wte.center).toBe(0);
    expect(wte.row).toBe(Math.min(Math.ceil(wte.count / 64), 65535));
    const gain = decode(fake.writes.get('fill h.0.ln_1.weight params')!, struct);
    expect(gain).toMatchObject({ count: config.hiddenSize, center: 1, spread: Math.fround(0.1) });
    expect(gain.seed).not.toBe(wte.seed);
  });

  it('every shader with a uniform struct is built, and so checked, by some module', async () => {
    const withParams = readdirSync(SHADERS)
      .filter((f) => f.endsWith('.wgsl') && parseUniformStruct(readFileSync(join(SHADERS, f), 'utf8'), f) !== undefined)
      .map((f) => f.replace(/\.wgsl$/, ''))
      .sort();
    expect(withParams.length).toBeGreaterThan(0);
    const built = new Set<string>();
    for (const shape of Object.values(SHAPES)) {
      const fake = fakeGpu();
      // Encoded once each: some variants (the linear layers' v1 kernels) build their pipeline on first use.
      for (const site of buildSites(fake, shape)) site.encode(fake.pass, 1);
      fake.pipelines.forEach((p) => built.add(p.label));
    }
    const fake = fakeGpu();
    await randomWeights(fake.gpu, randomModelConfig('gpt2-124m-random'));
    fake.pipelines.forEach((p) => built.add(p.label));
    // A pipeline is named after its file (kernel.ts), which is what ties a built pipeline to a shader here.
    for (const name of built) expect(readdirSync(SHADERS), `pipeline ${name} names no shader file`).toContain(`${name}.wgsl`);
    expect([...built].sort()).toEqual(withParams);
  });
});

describe('the params check', () => {
  const declared: UniformField[] = [
    { name: 'rows', type: 'u32' },
    { name: 'channels', type: 'u32' },
    { name: 'eps', type: 'f32' },
  ];
  const check = (written: UniformField[]) => () => checkUniformFields('shader layernorm', declared, written);

  it('accepts the struct as declared', () => {
    expect(check(declared)).not.toThrow();
  });

  it('catches a reordered, renamed, retyped, missing or extra field, naming the shader and the field', () => {
    const [rows, channels, eps] = declared;
    expect(check([channels, rows, eps])).toThrow(/^shader layernorm: .*field 0 is rows: u32 in WGSL but the module writes channels: u32 \(which WGSL declares as field 1: out of order\)/);
    expect(check([{ name: 'row', type: 'u32' }, channels, eps])).toThrow(/field 0 is rows: u32 in WGSL but the module writes row: u32 \(no field of that name in WGSL\)/);
    expect(check([rows, channels, { name: 'eps', type: 'u32' }])).toThrow(/field 2 \(eps\) is f32 in WGSL but the module writes it as u32/);
    expect(check([rows, channels])).toThrow(/writes 2 fields and stops before field 2 \(eps: f32\)/);
    expect(check([...declared, { name: 'extra', type: 'f32' }])).toThrow(/extra field 3 \(extra: f32\)/);
  });

  it('runs when a KernelCall is built, before anything is dispatched', () => {
    const fake = fakeGpu();
    const pipeline = computePipeline(fake.gpu, 'layernorm', layerNormTemplate);
    const call = (params: Params) => () => new KernelCall(fake.gpu, 'ln', pipeline, [], () => ({ params, grid: [1] }));
    expect(call(new Params().u32('rows', 1).u32('channels', 8).f32('eps', 1e-5))).not.toThrow();
    expect(call(new Params().u32('channels', 8).u32('rows', 1).f32('eps', 1e-5))).toThrow(/^ln: shader layernorm: .*out of order/);
    expect(call(new Params().u32('rows', 1).u32('chans', 8).f32('eps', 1e-5))).toThrow(/^ln: shader layernorm: .*writes chans: u32/);
    expect(call(new Params().i32('rows', 1).u32('channels', 8).f32('eps', 1e-5))).toThrow(/^ln: shader layernorm: .*field 0 \(rows\) is u32 in WGSL but the module writes it as i32/);
    expect(fake.dispatches).toEqual([]);
  });

  it('reads the struct bound at @binding(0), whatever its name, and ignores comments', () => {
    const wgsl = '// struct Params { wrong: f32 }\nstruct Other { a: u32, /* b: f32, */ c: i32 , }\n@group(0) @binding(0) var<uniform> q: Other;';
    expect(parseUniformStruct(wgsl, 't')).toEqual([
      { name: 'a', type: 'u32' },
      { name: 'c', type: 'i32' },
    ]);
    expect(parseUniformStruct('@group(0) @binding(0) var<storage, read> x: array<f32>;', 't')).toBeUndefined();
    expect(() => parseUniformStruct('@group(0) @binding(0) var<uniform> p: Params;', 't')).toThrow(/no `struct Params`/);
  });

  it('refuses members whose layout Params cannot pack', () => {
    for (const member of ['v: vec4<f32>', 'a: array<u32, 4>', 'h: f16', '@align(16) x: u32']) {
      expect(() => parseUniformStruct(`struct Params { n: u32, ${member} }\n@group(0) @binding(0) var<uniform> p: Params;`, 't')).toThrow(/^shader t: /);
    }
  });

  it('refuses a value that its field type cannot hold, and more fields than the uniform buffer holds', () => {
    expect(() => new Params().u32('rows', -1)).toThrow(/rows: -1 is out of range for u32/);
    expect(() => new Params().u32('rows', 2 ** 32)).toThrow(/is out of range for u32/);
    expect(() => new Params().u32('half', 7.5)).toThrow(/half: 7.5 is out of range for u32/);
    expect(() => new Params().i32('d', 2 ** 31)).toThrow(/is out of range for i32/);
    const full = new Params();
    for (let i = 0; i < 16; i++) full.u32(`f${i}`, i);
    expect(() => full.f32('one_more', 0)).toThrow(/at most 16 fields/);
  });
});

describe('a call site with an extent (attention: the step\'s largest position)', () => {
  /** Counts writeBuffer calls by buffer label on the fake device. */
  const countWrites = (fake: FakeGpu) => {
    const counts = new Map<string, number>();
    const queue = fake.gpu.device.queue as { writeBuffer: (buffer: GPUBuffer, ...rest: unknown[]) => void };
    const write = queue.writeBuffer;
    queue.writeBuffer = (buffer, ...rest) => {
      counts.set(buffer.label, (counts.get(buffer.label) ?? 0) + 1);
      write(buffer, ...rest);
    };
    return counts;
  };
  const s = SHAPES['gpt2-124m'];
  const b = fakeBuffer;
  const build = (fake: FakeGpu, hostTokens?: Uint32Array) =>
    attention(fake.gpu, 'attention', { tokens: b('tokens'), blockTables: b('tables'), kCache: b('k'), vCache: b('v'), channels: s.C, blockSize: s.B, maxBlocksPerSequence: s.MAXB, qkv: b('qkv'), out: b('out'), partials: b('partials'), numHeads: s.H, headDim: s.D, scale: 0.125, maxPositions: s.P, decodeMaxRows: 16, ...(hostTokens ? { hostTokens } : {}) });

  it('sizes the decode grid by ceil((maxPosition + 1) / 64) tiles, the whole context when omitted; max_tiles stays the full stride', () => {
    const fake = fakeGpu();
    const writes = countWrites(fake);
    const attn = build(fake);
    const grids: [number | undefined, number][] = [[0, 1], [62, 1], [63, 1], [64, 2], [65, 2], [127, 2], [128, 3], [999, 16], [undefined, 16], [1023, 16], [5, 1]];
    for (const [maxPosition, tiles] of grids) {
      fake.dispatches.length = 0;
      attn.encode(fake.pass, 3, 'auto', maxPosition);
      expect(fake.dispatches, `maxPosition ${maxPosition}`).toEqual([
        { pipeline: 'attention', grid: [s.H, tiles, 3] },
        { pipeline: 'attention', grid: [s.H, 3, 1] },
      ]);
      expect(decode(fake.writes.get('attention (decode) params')!, structOf(fake, 'attention')).max_tiles).toBe(16);
    }
    // The params depend on the row count only: written once for 3 rows whatever the extent, again for 4 rows.
    expect(writes.get('attention (decode) params')).toBe(1);
    expect(writes.get('attention (merge) params')).toBe(1);
    attn.encode(fake.pass, 4, 'auto', 5);
    expect(writes.get('attention (decode) params')).toBe(2);
    // The prefill path (more rows than the decode path takes) has no tile grid: the extent changes nothing there.
    fake.dispatches.length = 0;
    attn.encode(fake.pass, 17, 'auto', 100);
    expect(fake.dispatches).toEqual([{ pipeline: 'attention', grid: [s.H, Math.ceil(17 / 16), 1] }]);
  });

  it('refuses a maxPosition below a row, at or past the context, or not an integer, before anything is dispatched', () => {
    const fake = fakeGpu();
    const tokens = new Uint32Array([0, 700, 0, 0, 0, 3, 1, 0]); // (2, 4): positions 700 and 3
    const attn = build(fake, tokens);
    for (const bad of [699, 3, 0, 1024, 5000, -1, 1.5, NaN, Infinity]) {
      expect(() => attn.encode(fake.pass, 2, 'auto', bad), `maxPosition ${bad}`).toThrow(InvalidRequestError);
      expect(() => attn.encode(fake.pass, 2, 'prefill', bad), `maxPosition ${bad}`).toThrow(InvalidRequestError);
    }
    expect(fake.dispatches).toEqual([]);
    expect(() => attn.encode(fake.pass, 2, 'auto', 700)).not.toThrow();
    expect(() => attn.encode(fake.pass, 1, 'auto', 700)).not.toThrow();
    expect(fake.dispatches.map((d) => d.grid[1])).toEqual([11, 2, 11, 1]);
    // Without the host tokens only the range is checked (the kernel then still covers every tile of each row).
    const unchecked = build(fakeGpu());
    expect(() => unchecked.encode(fake.pass, 2, 'auto', 0)).not.toThrow();
    expect(() => unchecked.encode(fake.pass, 2, 'auto', 1024)).toThrow(InvalidRequestError);
  });

  it('KernelCall rewrites its uniform only when the bytes differ, and re-plans when rows or extent change', () => {
    const fake = fakeGpu();
    const writes = countWrites(fake);
    const pipeline = computePipeline(fake.gpu, 'layernorm', layerNormTemplate);
    let plans = 0;
    // The channels field follows the extent rounded down to 8, the grid the extent itself.
    const call = new KernelCall(fake.gpu, 'ln', pipeline, [], (rows, extent = 0) => {
      plans++;
      return { params: new Params().u32('rows', rows).u32('channels', extent - (extent % 8)).f32('eps', 1e-5), grid: [rows, extent + 1] };
    });
    plans = 0; // the params check at construction plans once
    const steps: [number, number | undefined, boolean, boolean][] = [
      // rows, extent, plans again, writes again
      [2, undefined, true, true],
      [2, undefined, false, false],
      [2, 3, true, false],
      [2, 3, false, false],
      [2, 7, true, false],
      [2, 8, true, true],
      [2, 9, true, false],
      [3, 9, true, true],
      [3, undefined, true, true],
    ];
    let wrote = 0;
    let planned = 0;
    for (const [rows, extent, replans, rewrites] of steps) {
      fake.dispatches.length = 0;
      call.encode(fake.pass, rows, extent);
      planned += replans ? 1 : 0;
      wrote += rewrites ? 1 : 0;
      expect([plans, writes.get('ln params') ?? 0], `rows ${rows}, extent ${extent}`).toEqual([planned, wrote]);
      expect(fake.dispatches).toEqual([{ pipeline: 'layernorm', grid: [rows, (extent ?? 0) + 1, 1] }]);
    }
  });
});
