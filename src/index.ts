// Public API (browser and Node). Node code that loads from disk uses 'gpt-webgpu/node' (src/node.ts) in addition.
// The reference makes the shipped index.d.ts pull in the WebGPU types (GPUDevice, …) its declarations use, so a
// consumer type-checks with skipLibCheck false; `preserve` keeps tsc from dropping it from the emitted file.
/// <reference types="@webgpu/types" preserve="true" />
export { Engine } from './engine.ts';
export type { EngineOptions, GenerateOptions, EngineInfo } from './engine.ts';
export { GenerationStream } from './scheduler/generationStream.ts';
export type { GenerationChunk, GenerationResult, GenerationMetrics, FinishReason } from './scheduler/generationStream.ts';
export { GpuContext, requestGpuContext } from './gpu/context.ts';
export type { AdapterSummary, GpuFeatures } from './gpu/context.ts';
export { memoryModelFiles, fileListModelFiles, optionalText, isHtmlPage } from './io/modelFiles.ts';
export type { ModelFiles } from './io/modelFiles.ts';
export type { ByteSource } from './io/byteSource.ts';
export { bytesSource, blobSource } from './io/byteSource.ts';
export { SafetensorsFile } from './io/safetensors.ts';
export { serializeSafetensors } from './io/safetensorsWriter.ts';
export { parseConfig, parseConfigText } from './io/config.ts';
export type { ModelConfig } from './io/config.ts';
export { Tokenizer } from './tokenizer/index.ts';
export * from './errors.ts';
export { cachedModelFiles, clearModelCache, hubBaseUrl, modelBaseUrl, DEFAULT_CACHE_NAME } from './io/cachedModelFiles.ts';
export type { DownloadProgress, CachedModelFilesOptions } from './io/cachedModelFiles.ts';
export { listCachedModels, hasModelInCache, deleteModelInCache, deleteIncompleteModels } from './io/modelCache.ts';
export type { CachedModel, ModelCacheOptions } from './io/modelCache.ts';
export { runBenchmark, parseBenchRecord, displayName, DEFAULT_PROTOCOL, BENCH_FORMAT } from './bench/benchmark.ts';
export { percentile, percentiles } from './scheduler/metrics.ts';
export type { BenchRecord, BenchProtocol, LatencyPoint, ConcurrencyPoint } from './bench/benchmark.ts';
export type { EngineSummary, Percentiles } from './scheduler/metrics.ts';
export type { LoadProgress } from './io/checkpoint.ts';
export { serveEngineInWorker } from './worker/serve.ts';
export type { ServeEngineOptions, ServedEngine } from './worker/serve.ts';
export { WorkerEngine } from './worker/client.ts';
export type { WorkerChunk, WorkerLoadOptions, WorkerBenchOptions } from './worker/client.ts';
export { errorFromWire, errorToWire, CANCELLED, NO_MODEL } from './worker/protocol.ts';
export type { ModelSource, GpuReport, LoadedModel, WorkerStats, WorkerEvent, WorkerRequests, MessageEndpoint, WireError } from './worker/protocol.ts';
export { START_SETTINGS } from './sampling/startSettings.ts';
export type { StartSettings } from './sampling/startSettings.ts';
