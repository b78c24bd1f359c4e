// `bench --proxy` on the demo model at batch 1: the counts it reports per decode step agree with what the model's
// layer structure implies, computed here from the config alone (not from the engine's own counters).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { createNodeGpuContext } from '../../src/gpu/node.ts';
import type { GpuContext } from '../../src/gpu/context.ts';
import { folderModelFiles } from '../../src/io/nodeModelFiles.ts';
import { DEFAULT_MODEL_DIR } from '../../src/node.ts';
import { dawnClasses, GpuCounter, runProxy, type ProxyRecord } from '../../src/bench/proxy.ts';

let gpu: GpuContext;
let engine: Engine;
let counter: GpuCounter;
let record: ProxyRecord;
beforeAll(async () => {
  counter = new GpuCounter(await dawnClasses()); // before the load: bind groups are made there
  gpu = await createNodeGpuContext({ onNotice: () => {} });
  engine = await Engine.load(gpu, await folderModelFiles(DEFAULT_MODEL_DIR));
  record = await runProxy(engine, counter, { batches: [1], promptLength: 8, newTokensA: 2, newTokensB: 6, repetitions: 1 });
});
afterAll(async () => {
  counter?.dispose();
  await engine?.dispose();
  gpu?.destroy();
});

/** Dispatches per layer of a greedy decode step with the fused epilogues (one site each). */
const LAYER_SITES = (c: { family: string; parallelResidual: boolean }) => 9 + (c.family === 'gpt_neox' ? 1 : 0) + (c.parallelResidual ? 1 : 0);

describe('bench --proxy, demo model, batch 1', () => {
  it('counts the dispatches the layer structure implies', () => {
    const c = engine.config;
    // src/model/transformer.ts encodeLayer: ln1, qkv, [rope: NeoX only], kv write, attention (decode path: tile
    // partials, then their merge; src/kernels/attention.ts), attn proj (adding into x itself), [+attn: parallel
    // residual only], ln2, mlp up (with GELU), mlp down (adding into x). Before the layers the embedding; after them the
    // greedy head (src/model/outputHead.ts): ln_f, LM head, argmax (no penalty, no draw when greedy).
    const perLayer = LAYER_SITES(c);
    const expected = 1 + c.numLayers * perLayer + 3;
    expect(record.points[0].perStep.dispatches).toBe(expected);
  });

  it('splits the dispatches by call site: each layer site once per layer, summing to the total', () => {
    const p = record.points[0];
    const sites = Object.entries(p.sites);
    const layerSites = sites.filter(([name]) => name.startsWith('L* '));
    expect(layerSites.length).toBe(LAYER_SITES(engine.config));
    expect(layerSites.map(([name]) => name)).toEqual(expect.arrayContaining(['L* attention (decode)', 'L* attention (merge)']));
    for (const [, c] of layerSites) expect(c.dispatches).toBe(engine.config.numLayers);
    expect(sites.reduce((n, [, c]) => n + c.dispatches, 0)).toBe(p.perStep.dispatches);
    for (const [, c] of sites) expect(c.workgroups).toBeGreaterThanOrEqual(c.dispatches);
    // Attention's decode grid is sized by the step's largest position (under 64 here: one tile per head), not the
    // model's whole context (src/kernels/attention.ts); the merge takes one workgroup per (head, row).
    expect(p.contextPositions).toBeLessThan(64);
    const heads = engine.config.numLayers * engine.config.numHeads;
    expect(p.sites['L* attention (decode)'].workgroups).toBe(heads);
    expect(p.sites['L* attention (merge)'].workgroups).toBe(heads);
  });

  it('counts one submit, one ids read-back (+1 for timestamps), two uploads and no new bind groups', () => {
    const p = record.points[0].perStep;
    expect(p.submits).toBe(1);
    expect(p.mapAsyncs).toBe(1 + (gpu.device.features.has('timestamp-query') ? 1 : 0));
    expect(p.writeBuffers).toBe(2); // token records and block tables; uniforms are unchanged at a fixed row count
    expect(p.bindGroups).toBe(0);
    expect(p.computePasses).toBe(2); // layers, head
  });

  it('binds each layer K and V pool twice per step (KV write and attention) and more than the weights', () => {
    const p = record.points[0];
    expect(p.perStep.kvPoolBoundBytes).toBe(2 * engine.info.kvBytes);
    expect(p.perStep.boundBytes).toBeGreaterThan(engine.info.weightBytes);
    expect(p.floorBytes).toBeGreaterThan(engine.info.weightBytes);
  });

  it('measures a positive, finite host time with the GPU taken out, and restores the methods on dispose', async () => {
    expect(record.points[0].nullGpuHostMs).toBeGreaterThan(0);
    expect(Number.isFinite(record.points[0].nullGpuHostMs)).toBe(true);
    const before = counter.snapshot().dispatches;
    counter.dispose();
    await engine.generate([1, 2, 3], { greedy: true, maxNewTokens: 2 }).result;
    expect(counter.snapshot().dispatches).toBe(before);
  });
});
