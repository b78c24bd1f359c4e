// The page's side of the worker: typed calls that resolve with the worker's reply, and typed event listeners.
import type { FromWorker, Requests, RequestName, ToWorker, WireError, WorkerEvent } from './protocol.ts';

/** An error from the worker, with the library's class name (GpuLimitError, DownloadError, …) kept in `name`. */
export class WorkerError extends Error {
  constructor(wire: WireError) {
    super(wire.message);
    this.name = wire.name;
  }
}

type EventOf<T extends WorkerEvent['type']> = Extract<WorkerEvent, { type: T }>;
type Listener<T extends WorkerEvent['type']> = (event: EventOf<T>) => void;
type TokenEvent = EventOf<'token'>;

export class EngineClient {
  private readonly worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private readonly listeners = new Map<string, Set<(event: WorkerEvent) => void>>();
  private readonly tokenListeners = new Map<number, (event: TokenEvent) => void>();

  constructor() {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module', name: 'gpt-webgpu engine' });
    this.worker.onmessage = (event: MessageEvent<FromWorker>) => this.receive(event.data);
    // The worker script itself failed (it did not load, or threw at the top level): nothing it was asked will answer.
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.failAll(new WorkerError({ name: 'WorkerError', message: `the engine's worker failed: ${event.message || 'it could not be started'}` }));
    };
  }

  call<K extends RequestName>(op: K, args: Requests[K]['args']): Promise<Requests[K]['result']> {
    return this.send(this.nextId++, op, args);
  }

  /** Starts one stream; `onToken` sees its tokens as they come, the promise its result. */
  generate(args: Requests['generate']['args'], onToken: (event: TokenEvent) => void): { id: number; result: Promise<Requests['generate']['result']> } {
    const id = this.nextId++;
    this.tokenListeners.set(id, onToken);
    const result = this.send(id, 'generate', args).finally(() => this.tokenListeners.delete(id));
    return { id, result };
  }

  on<T extends WorkerEvent['type']>(type: T, listener: Listener<T>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    const wrapped = listener as (event: WorkerEvent) => void;
    set.add(wrapped);
    return () => set.delete(wrapped);
  }

  private send<K extends RequestName>(id: number, op: K, args: Requests[K]['args']): Promise<Requests[K]['result']> {
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, op, args } as ToWorker);
    });
  }

  private receive(message: FromWorker): void {
    if (message.type === 'reply') {
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.ok) waiter?.resolve(message.value);
      else waiter?.reject(new WorkerError(message.error));
      return;
    }
    if (message.type === 'token') this.tokenListeners.get(message.id)?.(message);
    for (const listener of this.listeners.get(message.type) ?? []) listener(message);
  }

  private failAll(error: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }
}
