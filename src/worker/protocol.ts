// The messages between a page and an engine running in a Web Worker (serve.ts inside the worker, client.ts on the
// page), typed once for both sides so each is checked against the other. The page sends requests; the worker answers
// each exactly once (a `reply` with the request's id) and in between sends events that answer nothing: download and
// upload progress, streamed tokens, KV and latency figures, benchmark progress. Errors cross by class name and are
// rebuilt as the library's own classes on the page (errorFromWire), so `instanceof DownloadError` works there too.
import type { BenchProtocol, BenchRecord } from '../bench/benchmark.ts';
import type { EngineInfo, GenerateOptions } from '../engine.ts';
import * as errors from '../errors.ts';
import type { AdapterSummary } from '../gpu/context.ts';
import type { DownloadProgress } from '../io/cachedModelFiles.ts';
import type { LoadProgress } from '../io/checkpoint.ts';
import type { GenerationResult } from '../scheduler/generationStream.ts';
import type { EngineSummary } from '../scheduler/metrics.ts';

/** Where the model's files come from. */
export type ModelSource =
  /** A base URL serving the Hugging Face layout; `cache` keeps the files in the Cache API for the next visit. */
  | { kind: 'url'; url: string; label?: string; cache?: boolean }
  /** Files the user picked or dropped (a folder or loose files); Files survive postMessage. */
  | { kind: 'files'; files: File[]; label?: string };

/** GenerateOptions as they cross postMessage: everything but the AbortSignal (the client turns it into `stop`). */
export type WireGenerateOptions = Omit<GenerateOptions, 'signal'>;

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
  /** Shape of the network. */
  shape: { layers: number; hidden: number; heads: number; vocab: number; contextLength: number };
  /** Wall time of the whole load: files, tokenizer, weights to the GPU, pipelines. */
  loadMs: number;
}

export interface WorkerStats {
  summary: EngineSummary;
  kvBlocksInUse: number;
}

/** Every request: what the page sends (`args`) and what the worker answers (`result`). */
export interface WorkerRequests {
  /** Acquires the GPU (once; again after a device loss). */
  init: { args: Record<string, never>; result: GpuReport };
  /** Disposes the current model and loads another. */
  load: { args: { source: ModelSource }; result: LoadedModel };
  /** Cancels a load or a benchmark in progress. */
  cancel: { args: { what: 'load' | 'bench' }; result: void };
  /**
   * One stream; its tokens arrive as `token` events carrying this request's id. With `held`, the stream waits for
   * `release`, so that streams started together reach the engine in one task and share their first step.
   */
  generate: { args: { prompt: string | number[]; options: WireGenerateOptions; held?: boolean }; result: GenerationResult };
  /** Starts the held streams. */
  release: { args: Record<string, never>; result: void };
  /** Ends streams (by request id; all when none given). */
  stop: { args: { ids?: number[] }; result: void };
  bench: { args: { protocol?: Partial<BenchProtocol>; label?: string; userAgent?: string }; result: BenchRecord };
  stats: { args: Record<string, never>; result: WorkerStats };
  /** Disposes the model (the GPU stays acquired). */
  unload: { args: Record<string, never>; result: void };
}
export type WorkerRequestName = keyof WorkerRequests;

export type ToWorker = { [K in WorkerRequestName]: { id: number; op: K; args: WorkerRequests[K]['args'] } }[WorkerRequestName];

export type WorkerEvent =
  | { type: 'download'; progress: DownloadProgress }
  | { type: 'upload'; progress: LoadProgress }
  /** A step of loading with no byte count (compiling GPU pipelines). */
  | { type: 'stage'; message: string }
  /** One token of stream `id`; `elapsedMs` is measured in the worker from when the request arrived. */
  | { type: 'token'; id: number; text: string; tokenId: number; index: number; elapsedMs: number }
  | ({ type: 'stats' } & WorkerStats)
  | { type: 'benchProgress'; message: string; fraction: number };

/** An error as it crosses postMessage: the class name (GpuLimitError, DownloadError, …) and its message. */
export interface WireError {
  name: string;
  message: string;
}

export type Reply = { type: 'reply'; id: number; ok: true; value: unknown } | { type: 'reply'; id: number; ok: false; error: WireError };

export type FromWorker = WorkerEvent | Reply;

/** Names the worker gives errors of its own (not library classes). */
export const CANCELLED = 'Cancelled';
export const NO_MODEL = 'NoModelError';

/** What both ends need of a port: a DedicatedWorkerGlobalScope, a Worker, or a MessagePort (also Node's). */
export interface MessageEndpoint {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener?(type: 'message', listener: (event: MessageEvent) => void): void;
  /** MessagePorts deliver nothing until started. */
  start?(): void;
}

/** Every library error class by its `name` (set explicitly in errors.ts, so a minifier cannot change it). */
const LIBRARY_ERRORS: Record<string, abstract new (...args: never[]) => Error> = Object.fromEntries(
  Object.values(errors)
    .filter((value): value is typeof errors.GptWebGpuError => typeof value === 'function' && value.prototype instanceof Error)
    .map((type) => [new (type as unknown as new (m: string) => Error)('x').name, type]),
);

export function errorToWire(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  return { name: e.name, message: e.message };
}

/**
 * The page's copy of a worker's error: an instance of the library's class of that name (so instanceof works), with
 * the worker's message; other errors keep their name on a plain Error.
 */
export function errorFromWire(wire: WireError): Error {
  const type = LIBRARY_ERRORS[wire.name];
  const error = new Error(wire.message);
  if (type) Object.setPrototypeOf(error, type.prototype);
  error.name = wire.name;
  return error;
}
