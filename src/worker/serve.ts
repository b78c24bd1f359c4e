// The engine's side of the worker protocol: call serveEngineInWorker() at the top of a Web Worker module and the page
// drives it with WorkerEngine (client.ts). The worker acquires the GPU, loads models (URL + Cache API, or local files),
// streams tokens, runs the benchmark, and reports progress and figures as events. The page's thread never blocks
// while weights stream to the GPU or tokens are generated.
import { runBenchmark } from '../bench/benchmark.ts';
import { Engine, type EngineOptions } from '../engine.ts';
import { WebGpuUnavailableError } from '../errors.ts';
import { requestGpuContext, type GpuContext } from '../gpu/context.ts';
import { cachedModelFiles } from '../io/cachedModelFiles.ts';
import { fileListModelFiles, type ModelFiles } from '../io/modelFiles.ts';
import { CANCELLED, errorToWire, NO_MODEL, type FromWorker, type GpuReport, type LoadedModel, type MessageEndpoint, type ToWorker, type WorkerRequestName, type WorkerRequests } from './protocol.ts';

export interface ServeEngineOptions {
  /** Where requests come from (default: the worker's own global scope, `self`). */
  endpoint?: MessageEndpoint;
  /** Acquires the GPU (default: navigator.gpu, software adapters allowed). Node tests pass Dawn here. */
  gpu?: () => Promise<GpuContext>;
  /** Options of every Engine this worker loads (progress is reported as events). */
  engineOptions?: Omit<EngineOptions, 'onProgress'>;
}

export interface ServedEngine {
  /** Stops answering and disposes the model. */
  close(): Promise<void>;
}

/** The limits reported to the page (those that decide which models fit). */
const KEY_LIMITS = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage'];

class Cancelled extends Error {
  override name = CANCELLED;
}

function defaultGpu(): Promise<GpuContext> {
  const wgpu = (globalThis.navigator as (Navigator & { gpu?: GPU }) | undefined)?.gpu;
  return wgpu ? requestGpuContext(wgpu, { allowSoftware: true }) : Promise.reject(new WebGpuUnavailableError('this browser has no WebGPU in workers (navigator.gpu is missing)'));
}

function report(ctx: GpuContext): GpuReport {
  const limits = ctx.limits as unknown as Record<string, number>;
  return {
    adapter: ctx.adapter,
    features: [...ctx.device.features].sort(),
    limits: Object.fromEntries(KEY_LIMITS.map((k) => [k, limits[k]])),
    timestampQuery: ctx.features.timestampQuery,
  };
}

/** Answers WorkerEngine's requests on `options.endpoint` (default: the worker's global scope). */
export function serveEngineInWorker(options: ServeEngineOptions = {}): ServedEngine {
  const endpoint = options.endpoint ?? (globalThis as unknown as MessageEndpoint);
  const post = (message: FromWorker) => endpoint.postMessage(message);
  const acquire = options.gpu ?? defaultGpu;

  let gpu: Promise<GpuContext> | undefined;
  let engine: Engine | undefined;
  let loading: AbortController | undefined;
  let benchmarking: AbortController | undefined;
  let closed = false;
  const streams = new Map<number, AbortController>();
  /** Held streams wait on this; `release` resolves it. */
  let gate: { promise: Promise<void>; open: () => void } | undefined;

  const heldGate = (): Promise<void> => {
    if (!gate) {
      let open!: () => void;
      const promise = new Promise<void>((resolve) => (open = resolve));
      gate = { promise, open };
    }
    return gate.promise;
  };

  const acquireGpu = (): Promise<GpuContext> => {
    if (!gpu) {
      gpu = acquire();
      // A failed request is not kept: the next call tries again.
      gpu.catch(() => (gpu = undefined));
    }
    return gpu;
  };

  const requireEngine = (): Engine => {
    if (!engine) throw Object.assign(new Error('no model is loaded; load one first'), { name: NO_MODEL });
    return engine;
  };

  const disposeEngine = async (): Promise<void> => {
    for (const controller of streams.values()) controller.abort();
    benchmarking?.abort();
    const old = engine;
    engine = undefined;
    await old?.dispose();
  };

  // Stats after a stream ends and at most every 200 ms while tokens flow (KV blocks in use move with every step).
  let statsTimer: ReturnType<typeof setTimeout> | undefined;
  const sendStats = (now = false): void => {
    const send = () => {
      statsTimer = undefined;
      if (engine && !closed) post({ type: 'stats', summary: engine.summary(), kvBlocksInUse: engine.kvBlocksInUse });
    };
    if (now) {
      clearTimeout(statsTimer);
      send();
    } else {
      statsTimer ??= setTimeout(send, 200);
    }
  };

  type Handlers = { [K in WorkerRequestName]: (args: WorkerRequests[K]['args'], id: number) => Promise<WorkerRequests[K]['result']> };
  const handlers: Handlers = {
    async init() {
      return report(await acquireGpu());
    },

    async load({ source }) {
      loading?.abort();
      const controller = new AbortController();
      loading = controller;
      const { signal } = controller;
      try {
        await disposeEngine();
        let ctx = await acquireGpu();
        if (ctx.isLost) {
          gpu = undefined;
          ctx = await acquireGpu();
        }
        const started = performance.now();
        const files: ModelFiles =
          source.kind === 'files'
            ? fileListModelFiles(source.files, source.label)
            : cachedModelFiles(source.url, { cacheName: source.cache === false ? null : undefined, signal, onProgress: (progress) => post({ type: 'download', progress }) });
        // Engine.load ends with a warm-up step that compiles every GPU pipeline (seconds on a software adapter), so
        // "ready" means ready and the first TTFT a person sees is the model's, not the shader compiler's.
        // GPU time per step is on by default here: the app shows it (its GPU view and benchmark records).
        const loaded = await Engine.load(ctx, files, {
          gpuTiming: true,
          ...options.engineOptions,
          onProgress: (progress) => {
            post({ type: 'upload', progress });
            if (progress.loadedBytes === progress.totalBytes) post({ type: 'stage', message: 'compiling GPU pipelines (one warm-up step)' });
          },
        });
        if (signal.aborted) {
          await loaded.dispose();
          throw new Cancelled('loading was cancelled');
        }
        engine = loaded;
        const c = loaded.config;
        const result: LoadedModel = {
          info: loaded.info,
          shape: { layers: c.numLayers, hidden: c.hiddenSize, heads: c.numHeads, vocab: c.vocabSize, contextLength: c.contextLength },
          loadMs: performance.now() - started,
        };
        sendStats(true);
        return result;
      } catch (e) {
        throw signal.aborted ? new Cancelled('loading was cancelled') : e;
      } finally {
        if (loading === controller) loading = undefined;
      }
    },

    async cancel({ what }) {
      (what === 'load' ? loading : benchmarking)?.abort();
    },

    async generate({ prompt, options: generateOptions, held }, id) {
      const e = requireEngine();
      const controller = new AbortController();
      streams.set(id, controller);
      const started = performance.now();
      try {
        // Held streams resume one after another in the same microtask checkpoint, before the engine's step loop
        // (which starts a microtask after the first generate()) schedules anything: they all share the first step.
        if (held) await heldGate();
        const stream = e.generate(prompt, { ...generateOptions, signal: controller.signal });
        for await (const chunk of stream) {
          post({ type: 'token', id, text: chunk.text, tokenId: chunk.tokenId, index: chunk.index, elapsedMs: performance.now() - started });
          sendStats();
        }
        return await stream.result;
      } finally {
        streams.delete(id);
        sendStats(true);
      }
    },

    async release() {
      gate?.open();
      gate = undefined;
    },

    async stop({ ids }) {
      for (const [id, controller] of streams) if (!ids || ids.includes(id)) controller.abort();
    },

    async bench({ protocol, label, userAgent }) {
      const e = requireEngine();
      const controller = new AbortController();
      benchmarking = controller;
      try {
        const record = await runBenchmark(e, {
          protocol,
          label,
          environment: { runtime: 'browser', userAgent: userAgent ?? globalThis.navigator?.userAgent },
          signal: controller.signal,
          onProgress: (message, fraction) => post({ type: 'benchProgress', message, fraction }),
        });
        if (controller.signal.aborted) throw new Cancelled('the benchmark was cancelled');
        return record;
      } catch (err) {
        throw controller.signal.aborted ? new Cancelled('the benchmark was cancelled') : err;
      } finally {
        if (benchmarking === controller) benchmarking = undefined;
        sendStats(true);
      }
    },

    async stats() {
      const e = requireEngine();
      return { summary: e.summary(), kvBlocksInUse: e.kvBlocksInUse };
    },

    async unload() {
      await disposeEngine();
    },
  };

  const onMessage = async (event: MessageEvent) => {
    const { id, op, args } = event.data as ToWorker;
    if (closed) return;
    try {
      const handler = handlers[op] as (args: unknown, id: number) => Promise<unknown>;
      if (!handler) throw new Error(`unknown request "${String(op)}"`);
      const value = await handler(args, id);
      if (!closed) post({ type: 'reply', id, ok: true, value });
    } catch (e) {
      if (!closed) post({ type: 'reply', id, ok: false, error: errorToWire(e) });
    }
  };
  endpoint.addEventListener('message', onMessage);
  endpoint.start?.();

  return {
    async close() {
      closed = true;
      clearTimeout(statsTimer);
      endpoint.removeEventListener?.('message', onMessage);
      loading?.abort();
      await disposeEngine();
    },
  };
}
