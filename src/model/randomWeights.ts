// Random-weight models of the exact GPT-2 shapes, built directly on the GPU, for benchmarks: no download, no CPU copy,
// any size the adapter can hold. Values are seeded uniform noise with GPT-2's initialization scale (std 0.02 for
// weights and embeddings, LayerNorm gains near 1): never zeros, so no kernel can take a shortcut.
import template from '../../shaders/random_fill.wgsl?raw';
import type { ModelConfig } from '../io/config.ts';
import type { LayerWeights, MatrixFormat, ModelWeights } from '../io/checkpoint.ts';
import type { GpuContext } from '../gpu/context.ts';
import { createStorageBuffer } from '../gpu/buffers.ts';
import { computePipeline, KernelCall, Params } from '../gpu/kernel.ts';

/** GPT-2 sizes by name, as published (n_embd, n_layer, n_head). */
const GPT2_SIZES: Record<string, [number, number, number]> = {
  'gpt2-124m-random': [768, 12, 12],
  'gpt2-355m-random': [1024, 24, 16],
  'gpt2-774m-random': [1280, 36, 20],
  'gpt2-1.5b-random': [1600, 48, 25],
};

export const RANDOM_MODEL_NAMES = Object.keys(GPT2_SIZES);

export function isRandomModelName(name: string): boolean {
  return Object.hasOwn(GPT2_SIZES, name);
}

/** The config of a named random GPT-2 model (vocabulary 50257, 1024 positions, gelu_new, tied head). */
export function randomModelConfig(name: string): ModelConfig {
  const [C, L, H] = GPT2_SIZES[name];
  return {
    family: 'gpt2',
    vocabSize: 50257,
    contextLength: 1024,
    hiddenSize: C,
    numLayers: L,
    numHeads: H,
    headDim: C / H,
    intermediateSize: 4 * C,
    layerNormEps: 1e-5,
    activation: 'gelu_tanh',
    positions: { kind: 'learned' },
    parallelResidual: false,
    tiedEmbeddings: true,
    attentionBias: true,
    attentionScale: () => 1 / Math.sqrt(C / H),
    eosTokenId: 50256,
  };
}

const WEIGHT_SPREAD = 0.02 * Math.sqrt(3); // uniform noise with std 0.02

/** Fills new buffers for every tensor of `config` with seeded noise, on the GPU; matrices in `format`. */
export async function randomWeights(gpu: GpuContext, config: ModelConfig, seed = 1, format: MatrixFormat = 'f32'): Promise<ModelWeights> {
  const { hiddenSize: C, intermediateSize: I, vocabSize: V, numLayers } = config;
  const pipelines = { f32: computePipeline(gpu, 'random_fill', template, { F16: false }), f16: computePipeline(gpu, 'random_fill', template, { F16: true }) };
  const buffers: GPUBuffer[] = [];
  const encoder = gpu.device.createCommandEncoder({ label: 'random weights' });
  const calls: KernelCall[] = [];
  let tensor = 0;
  const make = (label: string, count: number, center = 0, spread = WEIGHT_SPREAD, packed: MatrixFormat = 'f32'): GPUBuffer => {
    const words = packed === 'f16' ? Math.ceil(count / 2) : count;
    const buffer = createStorageBuffer(gpu, label, words * 4);
    buffers.push(buffer);
    const row = Math.min(Math.ceil(words / 64), gpu.limits.maxComputeWorkgroupsPerDimension);
    const tensorSeed = (seed * 0x9e3779b1 + ++tensor * 0x85ebca6b) >>> 0;
    const call = new KernelCall(gpu, `fill ${label}`, pipelines[packed], [buffer], () => ({
      params: new Params().u32('count', words).u32('seed', tensorSeed).f32('center', center).f32('spread', spread).u32('row', row),
      grid: [row, Math.ceil(words / 64 / row)],
    }));
    calls.push(call);
    const pass = encoder.beginComputePass();
    call.encode(pass, 0);
    pass.end();
    return buffer;
  };
  try {
    const norm = (label: string) => ({ weight: make(`${label}.weight`, C, 1, 0.1), bias: make(`${label}.bias`, C, 0, 0.02) });
    const linear = (label: string, out: number, inn: number) => ({ weight: make(`${label}.weight`, out * inn, 0, WEIGHT_SPREAD, format), bias: make(`${label}.bias`, out, 0, 0.02) });
    const tokenEmbedding = make('wte', V * C, 0, WEIGHT_SPREAD, format);
    const positionEmbedding = make('wpe', config.contextLength * C, 0, 0.01 * Math.sqrt(3), format);
    const layers: LayerWeights[] = Array.from({ length: numLayers }, (_, l) => ({
      ln1: norm(`h.${l}.ln_1`),
      qkv: linear(`h.${l}.attn.c_attn`, 3 * C, C),
      attnOut: linear(`h.${l}.attn.c_proj`, C, C),
      ln2: norm(`h.${l}.ln_2`),
      mlpUp: linear(`h.${l}.mlp.c_fc`, I, C),
      mlpDown: linear(`h.${l}.mlp.c_proj`, C, I),
    }));
    const finalNorm = norm('ln_f');
    gpu.device.queue.submit([encoder.finish()]);
    await gpu.device.queue.onSubmittedWorkDone();
    gpu.throwIfFailed();
    return {
      tokenEmbedding,
      positionEmbedding,
      layers,
      finalNorm,
      lmHead: tokenEmbedding,
      bytes: buffers.reduce((n, b) => n + b.size, 0),
      sourceDtype: 'random',
      matrixFormat: format,
      destroy: () => buffers.forEach((b) => b.destroy()),
    };
  } catch (e) {
    buffers.forEach((b) => b.destroy());
    throw e;
  } finally {
    calls.forEach((c) => c.destroy());
  }
}
