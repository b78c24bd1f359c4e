// `bench --profile` and `bench --ceiling` on tiny random GPT-2 and NeoX models: every call site of a decode step is
// timed once per shape with the occurrences the step really has (checked against bench --proxy's count of the
// dispatches of real decode steps, by call site), the kernel variant is the one a step of that many rows runs, the
// figures are positive and finite, timed by timestamps exactly where the adapter has timestamp-query, and profiling
// leaves the engine's KV blocks and prefix cache as it found them. Runs in Node (Dawn: llvmpipe has no timestamps) and
// in Chromium (SwiftShader has them; vitest.config.ts), so both timing methods are exercised.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { memoryModelFiles } from '../../src/io/modelFiles.ts';
import { InvalidRequestError } from '../../src/errors.ts';
import { GEMV_MAX_ROWS } from '../../src/kernels/matmul.ts';
import { ATTENTION_DECODE_MAX_ROWS } from '../../src/kernels/attention.ts';
import { dawnClasses, GpuCounter, runProxy, type ProxyRecord, type WebGpuClasses } from '../../src/bench/proxy.ts';
import { runProfile, describeProfile, type ProfileRecord, type SiteTiming } from '../../src/bench/profile.ts';
import { runCeiling, type CeilingRecord } from '../../src/bench/ceiling.ts';
import { createTestGpuContext, PLATFORM } from '../support/platform.ts';
import { makeRandomCheckpoint } from '../support/randomModel.ts';

const SMALL_CEILING = { copyBytes: 1 << 20, copyRepeats: 2, dispatches: 20, roundTrips: 3 };
const ROWS = [1, GEMV_MAX_ROWS + 1]; // both sides of the GEMV / GEMM switch
const CONTEXTS = [3, 40]; // one block, and three blocks of 16
const BLOCK = 16;
const KV_BLOCKS = Math.max(...ROWS) * Math.ceil(Math.max(...CONTEXTS) / BLOCK);

let gpu: GpuContext;
let counter: GpuCounter;
beforeAll(async () => {
  // Before any engine is loaded: the counter learns call sites from the bind groups made at load.
  counter = new GpuCounter(PLATFORM === 'node' ? await dawnClasses() : (globalThis as unknown as WebGpuClasses));
  gpu = await createTestGpuContext();
});
afterAll(() => {
  counter?.dispose();
  gpu?.destroy();
});

const expectedMethod = () => (gpu.device.features.has('timestamp-query') ? 'timestamps' : 'wall');
const positiveFinite = (n: number | undefined) => {
  expect(Number.isFinite(n), String(n)).toBe(true);
  expect(n).toBeGreaterThan(0);
};
/** A site's name as bench --proxy counts it (its bind group's label, layer number folded). */
const proxyName = (s: SiteTiming) => (s.variant ? `${s.site} (${s.variant})` : s.site);

describe.each(['gpt2', 'gpt_neox'] as const)('bench --profile on a tiny random %s model', (family) => {
  let engine: Engine;
  let proxy: ProxyRecord;
  let record: ProfileRecord;
  let before: number[];
  const prompt = Array.from({ length: 2 * BLOCK + 3 }, (_, i) => (i * 7 + 1) % 61);
  beforeAll(async () => {
    const model = makeRandomCheckpoint({ family, vocabSize: 61, hidden: 32, layers: 2, heads: 2, positions: 64, dtype: 'F32', seed: 11 });
    engine = await Engine.load(gpu, memoryModelFiles(`tiny-${family}`, model.files), { kvBlocks: KV_BLOCKS, blockSize: BLOCK, maxSequences: Math.max(...ROWS) });
    // A greedy answer whose full blocks stay in the prefix cache: the profile must not change what it gives later.
    before = (await engine.generate(prompt, { greedy: true, maxNewTokens: 4, stopAtEos: false }).result).ids;
    proxy = await runProxy(engine, counter, { batches: [1], promptLength: 4, newTokensA: 2, newTokensB: 4, repetitions: 1 });
    record = await runProfile(engine, { rows: ROWS, contexts: CONTEXTS, repeats: 3, ceiling: SMALL_CEILING });
  });
  afterAll(async () => {
    await engine?.dispose();
  });

  it('lists every call site of a step once per shape, with the occurrences of a greedy decode step', () => {
    const L = engine.config.numLayers;
    // The fused epilogues (the default) leave no gelu / +mlp site, nor +attn where the residual is sequential (GPT-2).
    const layerSites = ['ln1', 'qkv', ...(family === 'gpt_neox' ? ['rope', '+attn'] : []), 'kv write', 'attention', 'attn proj', 'ln2', 'mlp up', 'mlp down'].map((s) => `L* ${s}`);
    const expected: Record<string, number> = { embed: 1, ...Object.fromEntries(layerSites.map((s) => [s, L])), ln_f: 1, 'lm head': 1, 'repetition penalty': 0, argmax: 1, sample: 0 };
    expect(record.points.map((p) => [p.rows, p.context])).toEqual(ROWS.flatMap((r) => CONTEXTS.map((c) => [r, c])));
    for (const p of record.points) {
      expect(p.sites.map((s) => s.site).sort()).toEqual(Object.keys(expected).sort());
      for (const s of p.sites) expect([s.site, s.occurrences]).toEqual([s.site, expected[s.site]]);
    }
  });

  it("adds up to the dispatches bench --proxy counts in real decode steps, site by site", () => {
    const counted = proxy.points[0];
    for (const p of record.points) {
      expect(p.sites.reduce((n, s) => n + s.occurrences * s.dispatches, 0)).toBe(p.dispatches);
      // Past ATTENTION_DECODE_MAX_ROWS rows attention takes its one-dispatch prefill kernel instead of decode + merge.
      const attentionSaves = p.rows > ATTENTION_DECODE_MAX_ROWS ? engine.config.numLayers : 0;
      expect(p.dispatches, `${p.rows} rows`).toBe(counted.perStep.dispatches - attentionSaves);
    }
    // At batch 1 the proxy's call-site names carry the variant a decode step ran: the profile's must be the same.
    const one = record.points.find((p) => p.rows === 1)!;
    // A site of several kernels (attention at decode: "decode+merge") is one proxy name per kernel.
    const ran = Object.fromEntries(one.sites.filter((s) => s.occurrences > 0).flatMap((s) => (s.variant?.includes('+') ? s.variant.split('+').map((v) => [`${s.site} (${v})`, s.occurrences]) : [[proxyName(s), s.occurrences]])));
    expect(ran).toEqual(Object.fromEntries(Object.entries(counted.sites).map(([name, c]) => [name, c.dispatches])));
  });

  it('times each linear site with the variant a step of that many rows runs', () => {
    const linear = ['L* qkv', 'L* attn proj', 'L* mlp up', 'L* mlp down', 'lm head'];
    for (const p of record.points) {
      const variants = p.sites.filter((s) => linear.includes(s.site)).map((s) => s.variant);
      // The GEMV up to GEMV_MAX_ROWS rows (its one-lane form on a software adapter, where these small layers fit it).
      const gemv = gpu.adapter.software ? 'gemv-1lane' : 'gemv';
      expect(variants).toEqual(linear.map(() => (p.rows <= GEMV_MAX_ROWS ? gemv : 'gemm')));
      // Attention names its kernels too (split-K decode: tile partials + merge; or the prefill kernel).
      expect(p.sites.find((s) => s.site === 'L* attention')!.variant).toMatch(/^(decode\+merge|prefill)$/);
      expect(p.sites.filter((s) => !linear.includes(s.site) && s.site !== 'L* attention').every((s) => s.variant === undefined)).toBe(true);
    }
  });

  it('gives positive, finite figures, timed by timestamps exactly where the adapter has timestamp-query', () => {
    expect(record.method.timing).toBe(expectedMethod());
    expect(record.ceiling!.method).toBe(expectedMethod());
    for (const p of record.points) {
      expect(p.method).toBe(expectedMethod());
      for (const s of p.sites) {
        positiveFinite(s.usPerCall);
        expect(s.workgroups).toBeGreaterThanOrEqual(1);
      }
      positiveFinite(p.stepMs);
      positiveFinite(p.floorMs);
      positiveFinite(p.stepPercentOfFloor);
      expect(p.msPerToken).toBeCloseTo(p.stepMs / p.rows, 9);
      // Σ over sites × occurrences, from the per-site figures.
      expect(p.stepMs).toBeCloseTo(p.sites.reduce((n, s) => n + (s.usPerCall * s.occurrences) / 1000, 0), 9);
      const kv = p.rows * p.context * 2 * engine.config.numLayers * engine.config.hiddenSize * 4;
      expect(p.floorBytes).toBe(engine.info.weightBytes + kv);
    }
    const table = describeProfile(record);
    for (const p of record.points) expect(table).toContain(`M=${p.rows} ctx ${p.context}`);
    expect(table).toContain(gpu.adapter.software ? 'L* qkv (gemv-1lane)' : 'L* qkv (gemv)');
    expect(table).toContain('L* qkv (gemm)');
  });

  it('gives its KV blocks back and leaves the prefix cache usable: the same greedy answer as before', async () => {
    expect(engine.kvBlocksInUse).toBe(0);
    const after = (await engine.generate(prompt, { greedy: true, maxNewTokens: 4, stopAtEos: false }).result).ids;
    expect(after).toEqual(before);
  });

  it('refuses shapes the engine cannot hold, with typed errors', async () => {
    const noop = async () => undefined;
    await expect(engine.profile(1, engine.config.contextLength + 1, noop)).rejects.toThrow(InvalidRequestError);
    await expect(engine.profile(Math.max(...ROWS) + 1, 1, noop)).rejects.toThrow(/1 to \d+ rows/);
    await expect(engine.profile(Math.max(...ROWS), 64, noop)).rejects.toThrow(/KV blocks but the pool has/);
    await expect(engine.profile(0, 5, noop)).rejects.toThrow(InvalidRequestError);
  });
});

describe('bench --ceiling', () => {
  let ceiling: CeilingRecord;
  beforeAll(async () => {
    ceiling = await runCeiling(gpu, SMALL_CEILING);
  });

  it('measures copy bandwidth, the dispatch gap and the round trip: positive and finite, by the adapter-given method', () => {
    expect(ceiling.method).toBe(expectedMethod());
    expect(ceiling.copyBytes).toBe(SMALL_CEILING.copyBytes);
    for (const n of [ceiling.wgslCopyGBps, ceiling.bufferCopyGBps, ceiling.dispatchGapUs, ceiling.roundTripUs.p10, ceiling.roundTripUs.p50, ceiling.roundTripUs.p90]) positiveFinite(n);
    expect(ceiling.roundTripUs.p10).toBeLessThanOrEqual(ceiling.roundTripUs.p50);
    expect(ceiling.roundTripUs.p50).toBeLessThanOrEqual(ceiling.roundTripUs.p90);
  });
});
