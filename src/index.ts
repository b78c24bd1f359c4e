// Public API (browser and Node). Node code that loads from disk uses 'gpt-webgpu/node' (src/node.ts) in addition.
export { Engine } from './engine.ts';
export type { EngineOptions, GenerateOptions, EngineInfo } from './engine.ts';
export { GenerationStream } from './scheduler/generationStream.ts';
export type { GenerationChunk, GenerationResult, GenerationMetrics, FinishReason } from './scheduler/generationStream.ts';
export { GpuContext, requestGpuContext } from './gpu/context.ts';
export type { AdapterSummary, GpuFeatures } from './gpu/context.ts';
export { memoryModelFiles } from './io/modelFiles.ts';
export type { ModelFiles } from './io/modelFiles.ts';
export type { ByteSource } from './io/byteSource.ts';
export { bytesSource, blobSource } from './io/byteSource.ts';
export { SafetensorsFile } from './io/safetensors.ts';
export { serializeSafetensors } from './io/safetensorsWriter.ts';
export { parseConfig, parseConfigText } from './io/config.ts';
export type { ModelConfig } from './io/config.ts';
export { Tokenizer } from './tokenizer/index.ts';
export * from './errors.ts';
export { urlModelFiles, hubBaseUrl } from './io/urlModelFiles.ts';
