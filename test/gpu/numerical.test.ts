// Never a silent wrong answer (issue 10 §3): weights that are finite but overflow f32 at run time used to give NaN
// logits, and argmax over NaN picked id 0, so generate() returned [0, 0, 0] or stopped at "eos". Now the head flags
// the row and that request alone fails with NumericalError; the other requests of the batch are untouched.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.ts';
import { NumericalError } from '../../src/errors.ts';
import { memoryModelFiles } from '../../src/io/modelFiles.ts';
import { editSafetensors, replaceTensor } from '../support/checkpointEdits.ts';
import { useGpu } from '../support/gpu.ts';
import { makeRandomCheckpoint } from '../support/randomModel.ts';

const g = useGpu();

/** The token whose embedding row is 3e38 in every channel: finite, but layer norm's sum over the row overflows. */
const BAD_TOKEN = 7;
const VOCAB = 64;
const HIDDEN = 32;

let engine: Engine;
let healthy: Engine;

beforeAll(async () => {
  // NeoX, untied: the poisoned row is an input embedding only, so sequences without the token stay finite.
  const model = makeRandomCheckpoint({ family: 'gpt_neox', vocabSize: VOCAB, hidden: HIDDEN, layers: 1, heads: 2, positions: 32, dtype: 'F32', seed: 3 });
  const poisoned = await editSafetensors(
    model.files['model.safetensors'],
    replaceTensor('gpt_neox.embed_in.weight', (old) => {
      const values = new Float32Array(old.data.slice().buffer);
      values.fill(3e38, BAD_TOKEN * HIDDEN, (BAD_TOKEN + 1) * HIDDEN);
      return { ...old, data: new Uint8Array(values.buffer) };
    }),
  );
  engine = await Engine.load(g.gpu, memoryModelFiles('poisoned', { ...model.files, 'model.safetensors': poisoned }), { kvBlocks: 16, blockSize: 4 });
  healthy = await Engine.load(g.gpu, memoryModelFiles('healthy', model.files), { kvBlocks: 16, blockSize: 4 });
});

afterAll(async () => {
  await engine?.dispose();
  await healthy?.dispose();
});

describe('non-finite logits at run time', () => {
  it('a request whose logits overflow fails with NumericalError naming the position, greedy and sampled', async () => {
    for (const options of [{}, { temperature: 1, seed: 1 }, { temperature: 0.5, topK: 5, seed: 2, repetitionPenalty: 1.3 }]) {
      const error = await engine.generate([1, BAD_TOKEN, 2], { maxNewTokens: 3, ...options }).result.catch((e: unknown) => e);
      expect(error, JSON.stringify(options)).toBeInstanceOf(NumericalError);
      expect((error as NumericalError).position).toBe(2);
      expect((error as NumericalError).step).toBe(0);
      expect((error as Error).message).toMatch(/NaN or infinity.*weights/);
    }
    expect(engine.kvBlocksInUse).toBe(0);
  });

  it('the other requests of the same batch complete with the tokens they get alone', async () => {
    const prompts = [
      [1, 2, 3],
      [4, BAD_TOKEN, 5, 6],
      [9, 8],
    ];
    const alone = await Promise.all(prompts.filter((p) => !p.includes(BAD_TOKEN)).map((p) => healthy.generate(p, { maxNewTokens: 4, stopAtEos: false }).result));
    const results = await Promise.allSettled(prompts.map((p) => engine.generate(p, { maxNewTokens: 4, stopAtEos: false }).result));
    expect(results[1].status).toBe('rejected');
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(NumericalError);
    const done = [results[0], results[2]].map((r) => (r.status === 'fulfilled' ? r.value.ids : r.reason));
    expect(done).toEqual(alone.map((r) => r.ids));
    expect(engine.kvBlocksInUse).toBe(0);
  });

  it('a request that meets the bad token only at its last prompt position fails there', async () => {
    const error = await engine.generate([1, 2, 3, 4, 5, 6, BAD_TOKEN], { maxNewTokens: 2 }).result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NumericalError);
    expect((error as NumericalError).position).toBe(6);
  });

  it('probabilities that are not finite (a temperature whose inverse overflows f32) are a NumericalError, not token 0', async () => {
    const error = await healthy.generate([1, 2, 3], { maxNewTokens: 2, temperature: 1e-45, seed: 4 }).result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NumericalError);
    expect((error as NumericalError).what).toBe('probabilities');
    expect((error as Error).message).toContain('temperature');
    expect(healthy.kvBlocksInUse).toBe(0);
  });
});
