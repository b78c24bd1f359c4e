// Errors crossing the worker boundary: every library class comes back as an instance of itself (so a page can write
// `instanceof DownloadError`), with its message; unknown names stay plain Errors that keep the name.
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.ts';
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
