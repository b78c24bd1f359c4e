// The worker protocol without a GPU. Errors crossing the boundary: every library class comes back as an instance of itself (so a page can write
// `instanceof DownloadError`), with its message; unknown names stay plain Errors that keep the name.
// WorkerEngine's messages: streams of one task sent together (held, then released), an AbortSignal as a stop.
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.ts';
import { WorkerEngine } from '../../src/worker/client.ts';
import { errorFromWire, errorToWire } from '../../src/worker/protocol.ts';

const samples: Error[] = [
  new errors.GptWebGpuError('base'),
  new errors.SafetensorsError('model.safetensors', 'header too large', 'wte'),
  new errors.ConfigError('bad config'),
  new errors.ModelFormatError('missing tensor h.0.attn'),
  new errors.TokenizerError('no merges.txt'),
  new errors.WebGpuUnavailableError('no navigator.gpu'),
  new errors.GpuLimitError('too wide'),
  new errors.GpuError('validation', 'bad binding'),
  new errors.OutOfMemoryError('the KV pool', 2 ** 30, 2 ** 20, 'use fewer blocks'),
  new errors.DeviceLostError('lost'),
  new errors.DownloadError('HTTP 404 for https://x/config.json'),
  new errors.InvalidRequestError('temperature must be >= 0'),
  new errors.ContextWindowExceededError(1000, 100, 1024),
  new errors.UsageError('unknown option'),
];

describe('errorFromWire(errorToWire(e))', () => {
  it.each(samples.map((e) => [e.name, e]))('%s keeps its class, name and message', (_name, original) => {
    // Through structured clone, as postMessage would.
    const back = errorFromWire(structuredClone(errorToWire(original)));
    expect(back).toBeInstanceOf(original.constructor as new () => Error);
    expect(back).toBeInstanceOf(errors.GptWebGpuError);
    expect(back.name).toBe(original.name);
    expect(back.message).toBe(original.message);
  });

  it('keeps a subclass apart from its base class', () => {
    expect(errorFromWire(errorToWire(new errors.InvalidRequestError('x')))).not.toBeInstanceOf(errors.ContextWindowExceededError);
    expect(errorFromWire(errorToWire(new errors.GpuLimitError('x')))).not.toBeInstanceOf(errors.OutOfMemoryError);
  });

  it('leaves other errors plain, keeping their name', () => {
    const back = errorFromWire(errorToWire(Object.assign(new Error('loading was cancelled'), { name: 'Cancelled' })));
    expect(back).not.toBeInstanceOf(errors.GptWebGpuError);
    expect(back.name).toBe('Cancelled');
    expect(errorFromWire(errorToWire('a string'))).toMatchObject({ name: 'Error', message: 'a string' });
  });
});

describe('WorkerEngine messages', () => {
  /** An endpoint that records what the client posts and lets the test answer. */
  function fakeEndpoint() {
    const posted: { id: number; op: string; args: Record<string, unknown> }[] = [];
    let listener: ((event: MessageEvent) => void) | undefined;
    return {
      posted,
      endpoint: {
        postMessage: (m: unknown) => posted.push(m as (typeof posted)[number]),
        addEventListener: (_type: 'message', l: (event: MessageEvent) => void) => (listener = l),
      },
      answer: (data: unknown) => listener!({ data } as MessageEvent),
    };
  }

  it('sends the streams of one task together, held until a release, so they share the first step', async () => {
    const fake = fakeEndpoint();
    const engine = new WorkerEngine(fake.endpoint);
    engine.generate('a', { maxNewTokens: 2 });
    engine.generate('b', { maxNewTokens: 2 });
    expect(fake.posted).toEqual([]);
    await Promise.resolve();
    expect(fake.posted.map((m) => [m.op, m.args.held])).toEqual([['generate', true], ['generate', true], ['release', undefined]]);
    engine.generate('c', {});
    await Promise.resolve();
    expect(fake.posted.slice(3).map((m) => [m.op, m.args.held])).toEqual([['generate', false]]);
  });

  it('turns an AbortSignal into a stop that follows its generate message, and streams tokens into the result', async () => {
    const fake = fakeEndpoint();
    const engine = new WorkerEngine(fake.endpoint);
    const controller = new AbortController();
    const stream = engine.generate([1, 2], { maxNewTokens: 3, signal: controller.signal });
    controller.abort();
    await new Promise((r) => setTimeout(r, 0));
    const [generate, stop] = fake.posted;
    expect(generate).toMatchObject({ op: 'generate', args: { prompt: [1, 2], options: { maxNewTokens: 3 } } });
    expect('signal' in (generate.args.options as object)).toBe(false);
    expect(stop).toMatchObject({ op: 'stop', args: { ids: [generate.id] } });
    fake.answer({ type: 'token', id: generate.id, text: 'x', tokenId: 9, index: 0, elapsedMs: 1 });
    const result = { ids: [9], text: 'x', finishReason: 'abort', metrics: {} };
    fake.answer({ type: 'reply', id: generate.id, ok: true, value: result });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks).toEqual([{ tokenId: 9, text: 'x', index: 0, elapsedMs: 1 }]);
    expect(await stream.result).toEqual(result);
  });
});
