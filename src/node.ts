// Node entry point: an Engine on Dawn (hardware GPU, or the software fallback) from a model folder on disk.
//   import { loadEngine } from 'gpt-webgpu/node';
//   const engine = await loadEngine({ model: 'path/to/gpt2' });   // no model: the embedded demo model
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Engine, type EngineOptions } from './engine.ts';
import { createNodeGpuContext, type NodeBackend } from './gpu/node.ts';
import { folderModelFiles } from './io/nodeModelFiles.ts';
import { isRandomModelName, randomModelConfig, randomWeights, RANDOM_MODEL_NAMES } from './model/randomWeights.ts';

/** The embedded default model: a small GPT-2 trained on Shakespeare, with the real GPT-2 tokenizer. */
// This module runs from src/ (TypeScript) or from dist/lib/ (the bundle): the models/ folder is one or two levels up.
// The paths are not literals inside `new URL(…, import.meta.url)`: the bundler would try to copy them as assets.
const DEFAULT_MODEL_CANDIDATES = ['../models/gpt2-shakespeare', '../../models/gpt2-shakespeare'].map((relative) => fileURLToPath(new URL(relative, import.meta.url)));
export const DEFAULT_MODEL_DIR = DEFAULT_MODEL_CANDIDATES.find((dir) => existsSync(dir)) ?? DEFAULT_MODEL_CANDIDATES[0];

export interface NodeEngineOptions extends EngineOptions {
  /**
   * A folder in the Hugging Face layout (default: the embedded demo model), or the name of a random-weight GPT-2
   * built on the GPU for benchmarks: gpt2-124m-random, gpt2-355m-random, gpt2-774m-random, gpt2-1.5b-random.
   */
  model?: string;
  backend?: NodeBackend;
  /** Where notices go (default: one line on stderr). */
  onNotice?: (message: string) => void;
}

export async function loadEngine(options: NodeEngineOptions = {}): Promise<Engine> {
  const model = options.model ?? DEFAULT_MODEL_DIR;
  const files = isRandomModelName(model) ? undefined : await folderModelFiles(model);
  const gpu = await createNodeGpuContext({ backend: options.backend, onNotice: options.onNotice });
  try {
    if (!files) {
      const config = randomModelConfig(model);
      // auto: f32 where the adapter's bindings hold the embedding, f16 where they do not (the software path).
      const fitsF32 = config.vocabSize * config.hiddenSize * 4 <= gpu.limits.maxStorageBufferBindingSize;
      const format = options.weightFormat === 'f16' || (options.weightFormat !== 'f32' && !fitsF32) ? 'f16' : 'f32';
      return await Engine.fromWeights(gpu, { name: model, config, weights: await randomWeights(gpu, config, 1, format) }, options);
    }
    return await Engine.load(gpu, files, options);
  } catch (e) {
    gpu.destroy();
    throw e;
  }
}

export * from './index.ts';
export { createNodeGpuContext, folderModelFiles, RANDOM_MODEL_NAMES };
