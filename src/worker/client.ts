// The page's side of an engine in a Web Worker: WorkerEngine has Engine's interface where it can cross threads —
// `generate()` returns the same GenerationStream (chunks as they come, `result`, AbortSignal, leaving the loop
// cancels), plus `info`, `summary()` and progress callbacks for loading — over any MessageEndpoint (a Worker, or one
// end of a MessageChannel). The worker runs serveEngineInWorker() (serve.ts).
//
//   // engine.worker.ts:  import { serveEngineInWorker } from 'gpt-webgpu'; serveEngineInWorker();
//   const engine = new WorkerEngine(new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module' }));
//   await engine.load({ kind: 'url', url: modelBaseUrl('openai-community/gpt2') }, { onDownload: (p) => … });
//   for await (const chunk of engine.generate('ROMEO:', { maxNewTokens: 40, signal })) out.append(chunk.text);
import type { BenchProtocol, BenchRecord } from '../bench/benchmark.ts';
import type { EngineInfo, GenerateOptions } from '../engine.ts';
import type { DownloadProgress } from '../io/cachedModelFiles.ts';
import type { LoadProgress } from '../io/checkpoint.ts';
import { GenerationStream, type GenerationChunk } from '../scheduler/generationStream.ts';
import type { EngineSummary } from '../scheduler/metrics.ts';
import { errorFromWire, NO_MODEL, type FromWorker, type GpuReport, type LoadedModel, type MessageEndpoint, type ModelSource, type ToWorker, type WorkerEvent, type WorkerRequestName, type WorkerRequests, type WorkerStats } from './protocol.ts';

/** A chunk of a worker stream: the engine's chunk plus when the worker saw it (ms since the request arrived there). */
export interface WorkerChunk extends GenerationChunk {
  elapsedMs: number;
}

export interface WorkerLoadOptions {
  /** Aborting cancels the load (the download stops; nothing half-done is cached). */
  signal?: AbortSignal;
  onDownload?: (progress: DownloadProgress) => void;
  /** Weights streaming to the GPU. */
  onProgress?: (progress: LoadProgress) => void;
  /** A step with no byte count (compiling GPU pipelines). */
  onStage?: (message: string) => void;
}

export interface WorkerBenchOptions {
  protocol?: Partial<BenchProtocol>;
  label?: string;
  signal?: AbortSignal;
  onProgress?: (message: string, fraction: number) => void;
}

type EventOf<T extends WorkerEvent['type']> = Extract<WorkerEvent, { type: T }>;

/** Something that can be terminated (a Worker). */
interface Terminable {
  terminate(): void;
}

export class WorkerEngine {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly listeners = new Map<string, Set<(event: WorkerEvent) => void>>();
  private readonly streams = new Map<number, GenerationStream<WorkerChunk>>();
  /** generate() calls of the current task, sent together so they share the engine's first step. */
  private batch: { id: number; args: WorkerRequests['generate']['args'] }[] = [];
  private loaded: LoadedModel | undefined;
  private latest: WorkerStats | undefined;
  private broken: Error | undefined;

  constructor(private readonly endpoint: MessageEndpoint) {
    endpoint.addEventListener('message', (event) => this.receive(event.data as FromWorker));
    endpoint.start?.();
    // A Worker whose script failed (it did not load, or threw at the top level): nothing it was asked will answer.
    const target = endpoint as Partial<Worker>;
    if (typeof target.terminate === 'function' && typeof target.addEventListener === 'function') {
      (target as Worker).addEventListener('error', (event: ErrorEvent) => {
        event.preventDefault();
        this.failAll(Object.assign(new Error(`the engine's worker failed: ${event.message || 'it could not be started'}`), { name: 'WorkerError' }));
      });
    }
    this.on('stats', (stats) => (this.latest = { summary: stats.summary, kvBlocksInUse: stats.kvBlocksInUse }));
  }

  /** Acquires the GPU in the worker (also done by the first load) and describes it. */
  init(): Promise<GpuReport> {
    return this.call('init', {});
  }

  /** Disposes the model loaded before (if any) and loads `source`. */
  async load(source: ModelSource, options: WorkerLoadOptions = {}): Promise<LoadedModel> {
    if (options.signal?.aborted) throw Object.assign(new Error('loading was cancelled'), { name: 'Cancelled' });
    this.loaded = undefined;
    this.latest = undefined;
    const off = [
      this.on('download', (e) => options.onDownload?.(e.progress)),
      this.on('upload', (e) => options.onProgress?.(e.progress)),
      this.on('stage', (e) => options.onStage?.(e.message)),
    ];
    const cancel = () => void this.call('cancel', { what: 'load' });
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      this.loaded = await this.call('load', { source });
      return this.loaded;
    } finally {
      options.signal?.removeEventListener('abort', cancel);
      for (const f of off) f();
    }
  }

  /** The loaded model's description, as Engine.info. */
  get info(): EngineInfo {
    if (!this.loaded) throw Object.assign(new Error('no model is loaded; load one first'), { name: NO_MODEL });
    return this.loaded.info;
  }

  /** What the last load returned (info, network shape, load time); undefined before a load succeeds. */
  get model(): LoadedModel | undefined {
    return this.loaded;
  }

  /**
   * Engine.summary(), fetched from the worker (so it is a promise: `await engine.summary()` works for both).
   * `lastStats` holds the figures the worker last pushed, without a round trip.
   */
  async summary(): Promise<EngineSummary> {
    return (await this.stats()).summary;
  }

  /** The summary and KV blocks in use now. */
  async stats(): Promise<WorkerStats> {
    this.latest = await this.call('stats', {});
    return this.latest;
  }

  get lastStats(): WorkerStats | undefined {
    return this.latest;
  }

  /**
   * As Engine.generate: the stream yields chunks as the worker produces them and `result` resolves with the ids,
   * text, finish reason and metrics. Aborting `signal` or leaving the loop ends the request in the worker. Calls
   * made in one task reach the engine together and share their first step, as they would on Engine.
   */
  generate(prompt: string | readonly number[], options: GenerateOptions = {}): GenerationStream<WorkerChunk> {
    const id = this.nextId++;
    const { signal, ...wire } = options;
    const stream = new GenerationStream<WorkerChunk>(() => void this.call('stop', { ids: [id] }));
    if (this.broken) {
      stream.fail(this.broken);
      return stream;
    }
    this.streams.set(id, stream);
    const args = { prompt: typeof prompt === 'string' ? prompt : [...prompt], options: wire };
    if (this.batch.length === 0) queueMicrotask(() => this.flush());
    this.batch.push({ id, args });
    this.send(id, 'generate', args).then(
      (result) => stream.end(result),
      (error: unknown) => stream.fail(error),
    ).finally(() => this.streams.delete(id));
    // A stop is sent a microtask later, so that it always follows the generate message (sent by flush()).
    const stop = () => queueMicrotask(() => void this.call('stop', { ids: [id] }));
    if (signal?.aborted) stop();
    else signal?.addEventListener('abort', stop, { once: true });
    void stream.result.catch(() => {}).finally(() => signal?.removeEventListener('abort', stop));
    return stream;
  }

  /** Runs the benchmark protocol in the worker (as runBenchmark). */
  async bench(options: WorkerBenchOptions = {}): Promise<BenchRecord> {
    const off = this.on('benchProgress', (e) => options.onProgress?.(e.message, e.fraction));
    const cancel = () => void this.call('cancel', { what: 'bench' });
    options.signal?.addEventListener('abort', cancel, { once: true });
    try {
      return await this.call('bench', { protocol: options.protocol, label: options.label, userAgent: globalThis.navigator?.userAgent });
    } finally {
      options.signal?.removeEventListener('abort', cancel);
      off();
    }
  }

  /** Disposes the model in the worker and, for a Worker, terminates it. */
  async dispose(): Promise<void> {
    try {
      await this.call('unload', {});
    } finally {
      (this.endpoint as Partial<Terminable>).terminate?.();
      this.failAll(Object.assign(new Error('the engine was disposed'), { name: 'WorkerError' }));
    }
  }

  /** Every event of one type from the worker (progress of any load, tokens of any stream, stats); returns `off`. */
  on<T extends WorkerEvent['type']>(type: T, listener: (event: EventOf<T>) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    const wrapped = listener as (event: WorkerEvent) => void;
    set.add(wrapped);
    return () => set.delete(wrapped);
  }

  /** The raw request: the worker's reply to `op`. */
  call<K extends WorkerRequestName>(op: K, args: WorkerRequests[K]['args']): Promise<WorkerRequests[K]['result']> {
    return this.send(this.nextId++, op, args);
  }

  private flush(): void {
    const batch = this.batch;
    this.batch = [];
    const held = batch.length > 1;
    for (const { id, args } of batch) this.post({ id, op: 'generate', args: { ...args, held } });
    if (held) this.post({ id: this.nextId++, op: 'release', args: {} });
  }

  private send<K extends WorkerRequestName>(id: number, op: K, args: WorkerRequests[K]['args']): Promise<WorkerRequests[K]['result']> {
    return new Promise((resolve, reject) => {
      if (this.broken) return reject(this.broken);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      // generate() messages leave in flush(), together with the others of their task.
      if (op !== 'generate') this.post({ id, op, args } as ToWorker);
    });
  }

  private post(message: ToWorker): void {
    this.endpoint.postMessage(message);
  }

  private receive(message: FromWorker): void {
    if (message.type === 'reply') {
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.ok) waiter?.resolve(message.value);
      else waiter?.reject(errorFromWire(message.error));
      return;
    }
    if (message.type === 'token') this.streams.get(message.id)?.push({ tokenId: message.tokenId, text: message.text, index: message.index, elapsedMs: message.elapsedMs });
    for (const listener of this.listeners.get(message.type) ?? []) listener(message);
  }

  private failAll(error: Error): void {
    this.broken = error;
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
