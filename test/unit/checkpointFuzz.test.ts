// Fuzzing the whole path from bytes to a weight plan, without a GPU: generated checkpoints with tensors missing, extra,
// renamed, of the wrong rank, shape or dtype, configs with fields missing or wrong, and raw corruptions. Whatever comes
// in, the only outcomes are a valid plan or a typed error (SafetensorsError, ModelFormatError, ConfigError) — never a
// crash, a hang, or a plain Error. FUZZ_RUNS (default 10,000 in CI) scales it up for a nightly run (`npm run fuzz`).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, ModelFormatError, SafetensorsError } from '../../src/errors.ts';
import { parseConfig, parseConfigText } from '../../src/io/config.ts';
import { planCheckpoint, TensorIndex } from '../../src/io/checkpoint.ts';
import { memoryModelFiles } from '../../src/io/modelFiles.ts';
import { serializeSafetensors, type TensorToWrite } from '../../src/io/safetensorsWriter.ts';
import type { Dtype } from '../../src/io/safetensors.ts';
import { makeRandomCheckpoint } from '../support/randomModel.ts';
import { readRawTensors } from '../support/checkpointEdits.ts';

const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);
const TYPED = [SafetensorsError, ModelFormatError, ConfigError];
const isTyped = (e: unknown) => TYPED.some((T) => e instanceof T);

const bases = [
  makeRandomCheckpoint({ family: 'gpt2', vocabSize: 50, hidden: 8, layers: 2, heads: 2, positions: 16, dtype: 'F16', seed: 1, extraBuffers: true }),
  makeRandomCheckpoint({ family: 'gpt_neox', vocabSize: 50, hidden: 8, layers: 1, heads: 2, positions: 16, dtype: 'F32', seed: 2, rotaryPct: 0.5 }),
];
const baseTensors = await Promise.all(bases.map((b) => readRawTensors(b.files['model.safetensors'])));

/** One edit of a tensor list. */
const edit = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('duplicateUnderNewName' as const), pick: fc.nat(), name: fc.string({ maxLength: 12 }) }),
  fc.record({ kind: fc.constant('rename' as const), pick: fc.nat(), name: fc.constantFrom('h.0.attn.c_attn.weight', 'transformer.h.9.ln_1.weight', 'lm_head.weight', 'embed_out.weight', 'gpt_neox.layers.0.attention.rotary_emb.inv_freq', 'x') }),
  fc.record({ kind: fc.constant('reshape' as const), pick: fc.nat(), shape: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 3 }) }),
  fc.record({ kind: fc.constant('retype' as const), pick: fc.nat(), dtype: fc.constantFrom<Dtype>('F32', 'F16', 'BF16', 'I32', 'U8', 'F64', 'BOOL', 'I64') }),
  fc.record({ kind: fc.constant('transpose' as const), pick: fc.nat() }),
);

type Edit = { kind: string; pick: number; name?: string; shape?: number[]; dtype?: Dtype };

function applyEdit(tensors: TensorToWrite[], e: Edit): TensorToWrite[] {
  if (tensors.length === 0) return tensors;
  const i = e.pick % tensors.length;
  const t = tensors[i];
  const out = [...tensors];
  const bytesFor = (shape: readonly number[], dtype: Dtype) => new Uint8Array(shape.reduce((a, b) => a * b, 1) * ({ F32: 4, F16: 2, BF16: 2, I32: 4, U8: 1, F64: 8, BOOL: 1, I64: 8 } as Record<string, number>)[dtype]);
  switch (e.kind) {
    case 'drop':
      out.splice(i, 1);
      break;
    case 'duplicateUnderNewName':
      if (!tensors.some((x) => x.name === e.name)) out.push({ ...t, name: e.name! });
      break;
    case 'rename':
      if (!tensors.some((x) => x.name === e.name)) out[i] = { ...t, name: e.name! };
      break;
    case 'reshape':
      out[i] = { ...t, shape: e.shape!, data: bytesFor(e.shape!, t.dtype) };
      break;
    case 'retype':
      out[i] = { ...t, dtype: e.dtype!, data: bytesFor(t.shape, e.dtype!) };
      break;
    case 'transpose':
      if (t.shape.length === 2) out[i] = { ...t, shape: [t.shape[1], t.shape[0]] };
      break;
  }
  return out;
}

/** A config edit: a field removed, replaced by a wrong type or value, or left alone. */
const configEdit = fc.record({
  field: fc.constantFrom('model_type', 'n_embd', 'n_head', 'n_layer', 'vocab_size', 'n_positions', 'hidden_size', 'num_attention_heads', 'num_hidden_layers', 'intermediate_size', 'max_position_embeddings', 'rotary_pct', 'activation_function', 'hidden_act', 'rope_scaling', 'tie_word_embeddings', 'layer_norm_epsilon', 'n_inner'),
  value: fc.oneof(fc.constant(undefined), fc.integer({ min: -3, max: 70 }), fc.double(), fc.string({ maxLength: 6 }), fc.boolean(), fc.constant(null), fc.constantFrom('gpt2', 'gpt_neox', 'llama', 'gelu', 'relu'), fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 })),
});

describe('checkpoint fuzz', () => {
  it(`${FUZZ_RUNS} generated checkpoints and configs give a plan or a typed error, nothing else`, async () => {
    let planned = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(fc.nat(bases.length - 1), fc.array(edit, { maxLength: 3 }), fc.array(configEdit, { maxLength: 2 }), fc.boolean(), async (which, edits, configEdits, corrupt) => {
        let tensors = baseTensors[which];
        for (const e of edits) tensors = applyEdit(tensors, e);
        const config: Record<string, unknown> = { ...bases[which].config };
        for (const c of configEdits) {
          if (c.value === undefined) delete config[c.field];
          else config[c.field] = c.value;
        }
        let bytes = serializeSafetensors(tensors);
        if (corrupt) bytes = bytes.subarray(0, Math.max(0, bytes.length - 1 - (edits.length * 7) % 64));
        try {
          const parsed = parseConfig(config);
          const index = await TensorIndex.open(memoryModelFiles('fuzz', { 'config.json': JSON.stringify(config), 'model.safetensors': bytes }));
          planCheckpoint(parsed, index);
          planned++;
        } catch (e) {
          if (!isTyped(e)) throw e;
          expect((e as Error).message.length).toBeGreaterThan(10);
          rejected++;
        }
      }),
      { numRuns: FUZZ_RUNS },
    );
    expect(planned).toBeGreaterThan(0);
    expect(rejected).toBeGreaterThan(0);
  }, 600_000);

  it('config.json text that is not JSON, not an object, or nonsense gives ConfigError', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ model_type: 'gpt2', n_embd: v, n_head: v, n_layer: 1, vocab_size: 5, n_positions: 4 }))), (text) => {
        try {
          parseConfigText(text);
        } catch (e) {
          if (!(e instanceof ConfigError)) throw e;
        }
      }),
      { numRuns: Math.min(FUZZ_RUNS, 5000) },
    );
  });
});
