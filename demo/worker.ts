// The engine, off the page's thread: the page stays responsive while weights stream to the GPU, while tokens are
// generated and while a benchmark runs. Requests and events are typed in protocol.ts.
import {
  cachedModelFiles,
  ConfigError,
  ContextWindowExceededError,
  DeviceLostError,
  DownloadError,
  Engine,
  fileListModelFiles,
  GpuError,
  GpuLimitError,
  GptWebGpuError,
  InvalidRequestError,
  ModelFormatError,
  OutOfMemoryError,
  requestGpuContext,
  runBenchmark,
  SafetensorsError,
  TokenizerError,
  WebGpuUnavailableError,
  type GpuContext,
  type ModelFiles,
} from '../src/index.ts';
import { CANCELLED, NO_MODEL, type FromWorker, type GpuReport, type LoadedModel, type Requests, type RequestName, type StreamSettings, type ToWorker, type WireError } from './protocol.ts';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (message: FromWorker) => scope.postMessage(message);

/** The limits shown on the page and checked against a model's needs. */
const KEY_LIMITS = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage'];

class Cancelled extends Error {
  override name = CANCELLED;
}

let gpu: Promise<GpuContext> | undefined;
let engine: Engine | undefined;
let loading: AbortController | undefined;
let benchmarking: AbortController | undefined;
const streams = new Map<number, AbortController>();
/** Held streams wait on this; `release` resolves it. */
let gate: { promise: Promise<void>; open: () => void } | undefined;

function heldGate(): Promise<void> {
  if (!gate) {
    let open!: () => void;
    const promise = new Promise<void>((resolve) => (open = resolve));
    gate = { promise, open };
  }
  return gate.promise;
}

function acquireGpu(): Promise<GpuContext> {
  if (!gpu) {
    const wgpu = (navigator as Navigator & { gpu?: GPU }).gpu;
    gpu = wgpu
      ? requestGpuContext(wgpu, { allowSoftware: true })
      : Promise.reject(new WebGpuUnavailableError('this browser has no WebGPU in workers (navigator.gpu is missing)'));
    // A failed request is not kept: the next call tries again.
    gpu.catch(() => (gpu = undefined));
  }
  return gpu;
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

function requireEngine(): Engine {
  if (!engine) throw Object.assign(new Error('no model is loaded; load one first'), { name: NO_MODEL });
  return engine;
}

async function disposeEngine(): Promise<void> {
  for (const controller of streams.values()) controller.abort();
  benchmarking?.abort();
  const old = engine;
  engine = undefined;
  await old?.dispose();
}

/** Stats after a stream ends and at most every 200 ms while tokens flow (KV blocks in use move with every step). */
let statsTimer: ReturnType<typeof setTimeout> | undefined;
function sendStats(now = false): void {
  const send = () => {
    statsTimer = undefined;
    if (engine) post({ type: 'stats', summary: engine.summary(), kvBlocksInUse: engine.kvBlocksInUse });
  };
  if (now) {
    clearTimeout(statsTimer);
    send();
  } else {
    statsTimer ??= setTimeout(send, 200);
  }
}

function generateOptions(s: StreamSettings) {
  const common = { maxNewTokens: s.maxNewTokens, repetitionPenalty: s.repetitionPenalty };
  return s.greedy ? { ...common, greedy: true } : { ...common, temperature: s.temperature, topK: s.topK, topP: s.topP, seed: s.seed };
}

type Handlers = { [K in RequestName]: (args: Requests[K]['args'], id: number) => Promise<Requests[K]['result']> };

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
          : cachedModelFiles(source.url, { cacheName: source.cache ? undefined : null, signal, onProgress: (progress) => post({ type: 'download', progress }) });
      // Engine.load ends with a warm-up step that compiles every GPU pipeline (seconds on a software adapter), so
      // "ready" means ready and the first TTFT a person sees is the model's, not the shader compiler's.
      const loaded = await Engine.load(ctx, files, {
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

  async generate({ prompt, settings, held }, id) {
    const e = requireEngine();
    const controller = new AbortController();
    streams.set(id, controller);
    const started = performance.now();
    try {
      // Held streams resume one after another in the same microtask checkpoint, before the engine's step loop
      // (which starts a microtask after the first generate()) schedules anything: they all share the first step.
      if (held) await heldGate();
      const stream = e.generate(prompt, { ...generateOptions(settings), signal: controller.signal });
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
        environment: { runtime: 'browser', userAgent },
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
};

/**
 * The library's error classes by name. A minifier renames classes, so `error.name` (set from the class name) cannot be
 * trusted in the bundle: the name is found with instanceof, subclasses before their base classes.
 */
const ERROR_CLASSES: [string, abstract new (...args: never[]) => Error][] = [
  ['ContextWindowExceededError', ContextWindowExceededError],
  ['InvalidRequestError', InvalidRequestError],
  ['WebGpuUnavailableError', WebGpuUnavailableError],
  ['OutOfMemoryError', OutOfMemoryError],
  ['GpuLimitError', GpuLimitError],
  ['DownloadError', DownloadError],
  ['SafetensorsError', SafetensorsError],
  ['ConfigError', ConfigError],
  ['ModelFormatError', ModelFormatError],
  ['TokenizerError', TokenizerError],
  ['DeviceLostError', DeviceLostError],
  ['GpuError', GpuError],
  ['GptWebGpuError', GptWebGpuError],
];

function wireError(e: unknown): WireError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e) };
  const known = ERROR_CLASSES.find(([, type]) => e instanceof type);
  return { name: known ? known[0] : e.name, message: e.message };
}

scope.onmessage = async (event: MessageEvent<ToWorker>) => {
  const { id, op, args } = event.data;
  try {
    const handler = handlers[op] as (args: unknown, id: number) => Promise<unknown>;
    post({ type: 'reply', id, ok: true, value: await handler(args, id) });
  } catch (e) {
    post({ type: 'reply', id, ok: false, error: wireError(e) });
  }
};
