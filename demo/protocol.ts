// The messages between the page and the engine's Web Worker, in one module that both import, so each side is
// type-checked against the other. The page sends requests; the worker answers each exactly once (a `reply` with the
// request's id), and in between sends events that answer nothing: download and upload progress, streamed tokens,
// KV and latency figures, benchmark progress.
import type { AdapterSummary, BenchProtocol, BenchRecord, DownloadProgress, EngineInfo, EngineSummary, GenerationResult, LoadProgress } from '../src/index.ts';

/** Where the model's files come from. Hub ids are resolved to URLs on the page, so the worker only sees URLs. */
export type ModelSource =
  /** A base URL serving the Hugging Face layout; `cache` keeps the files in the Cache API for the next visit. */
  | { kind: 'url'; url: string; label: string; cache: boolean }
  /** Files the user picked or dropped (a folder or loose files); Files survive postMessage. */
  | { kind: 'files'; files: File[]; label: string };

/** The sampling settings of one stream (GenerateOptions without what cannot cross postMessage). */
export interface StreamSettings {
  maxNewTokens: number;
  greedy: boolean;
  temperature: number;
  topK: number;
  topP: number;
  seed: number;
  repetitionPenalty: number;
}

/** The adapter and device, as soon as the worker has one (before any model is loaded). */
export interface GpuReport {
  adapter: AdapterSummary;
  /** Features the device was created with. */
  features: string[];
  /** The limits that decide which models fit. */
  limits: Record<string, number>;
  timestampQuery: boolean;
}

export interface LoadedModel {
  info: EngineInfo;
  /** Shape of the network, for the model panel. */
  shape: { layers: number; hidden: number; heads: number; vocab: number; contextLength: number };
  /** Wall time of the whole load: files, tokenizer, weights to the GPU, pipelines. */
  loadMs: number;
}

export interface Stats {
  summary: EngineSummary;
  kvBlocksInUse: number;
}

/** Every request: what the page sends (`args`) and what the worker answers (`result`). */
export interface Requests {
  /** Acquires the GPU (once; again after a device loss). */
  init: { args: Record<string, never>; result: GpuReport };
  /** Disposes the current model and loads another. */
  load: { args: { source: ModelSource }; result: LoadedModel };
  /** Cancels a load or a benchmark in progress. */
  cancel: { args: { what: 'load' | 'bench' }; result: void };
  /**
   * One stream; its tokens arrive as `token` events carrying this request's id. With `held`, the stream waits for
   * `release`, so that parallel streams reach the engine in one task and share their first step.
   */
  generate: { args: { prompt: string; settings: StreamSettings; held?: boolean }; result: GenerationResult };
  /** Starts the held streams. */
  release: { args: Record<string, never>; result: void };
  /** Ends streams (by request id; all when none given). */
  stop: { args: { ids?: number[] }; result: void };
  bench: { args: { protocol: BenchProtocol; label?: string; userAgent: string }; result: BenchRecord };
  stats: { args: Record<string, never>; result: Stats };
}
export type RequestName = keyof Requests;

export type ToWorker = { [K in RequestName]: { id: number; op: K; args: Requests[K]['args'] } }[RequestName];

export type WorkerEvent =
  | { type: 'download'; progress: DownloadProgress }
  | { type: 'upload'; progress: LoadProgress }
  /** A step of loading with no byte count (compiling GPU pipelines). */
  | { type: 'stage'; message: string }
  /** One token of stream `id`; `elapsedMs` is measured in the worker from when the request arrived. */
  | { type: 'token'; id: number; text: string; tokenId: number; index: number; elapsedMs: number }
  | ({ type: 'stats' } & Stats)
  | { type: 'benchProgress'; message: string; fraction: number };

/** An error as it crosses postMessage: the class name (GpuLimitError, DownloadError, …) and its message. */
export interface WireError {
  name: string;
  message: string;
}

export type Reply = { type: 'reply'; id: number; ok: true; value: unknown } | { type: 'reply'; id: number; ok: false; error: WireError };

export type FromWorker = WorkerEvent | Reply;

/** Names the worker uses for errors of its own. */
export const CANCELLED = 'Cancelled';
export const NO_MODEL = 'NoModelError';
