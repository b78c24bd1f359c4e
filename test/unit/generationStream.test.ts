// The caller's side of a generation: chunks arrive in order, the result settles, and leaving early cancels.
import { describe, expect, it, vi } from 'vitest';
import { GenerationStream, type GenerationResult } from '../../src/scheduler/generationStream.ts';

const result: GenerationResult = { ids: [1, 2], text: 'ab', finishReason: 'length', metrics: { promptTokens: 1, generatedTokens: 2, cachedPromptTokens: 0, preemptions: 0, queueMs: 0, ttftMs: 1, itlMs: [1], tpotMs: 1, e2eMs: 2 } };

describe('GenerationStream', () => {
  it('delivers chunks pushed before and after the reader starts, then ends', async () => {
    const cancel = vi.fn();
    const s = new GenerationStream(cancel);
    s.push({ tokenId: 1, text: 'a', index: 0 });
    setTimeout(() => {
      s.push({ tokenId: 2, text: 'b', index: 1 });
      s.end(result);
    }, 5);
    const got: string[] = [];
    for await (const c of s) got.push(c.text);
    expect(got).toEqual(['a', 'b']);
    await expect(s.result).resolves.toBe(result);
    expect(cancel).not.toHaveBeenCalled();
  });

  it('breaking out of the loop cancels the request', async () => {
    const cancel = vi.fn();
    const s = new GenerationStream(cancel);
    s.push({ tokenId: 1, text: 'a', index: 0 });
    for await (const _ of s) break;
    expect(cancel).toHaveBeenCalledOnce();
  });

  it('a failure reaches both the reader and the result', async () => {
    const s = new GenerationStream(() => {});
    s.push({ tokenId: 1, text: 'a', index: 0 });
    s.fail(new Error('boom'));
    const read = async () => {
      for await (const _ of s) {
        /* drain */
      }
    };
    await expect(read()).rejects.toThrow('boom');
    await expect(s.result).rejects.toThrow('boom');
  });
});
