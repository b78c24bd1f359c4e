// Every number a model repository or a caller gives is bounded (issue 10 §2): counts are positive integers the shaders
// can index (≤ 2³¹ − 1, which also keeps bit 31 of a token id free for the argmax kernel's non-finite flag), the
// errors name the field, an index cannot name an unbounded number of shards, and engine options are checked by name.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { engineSizes } from '../../src/engine.ts';
import { ConfigError, InvalidRequestError, ModelFormatError } from '../../src/errors.ts';
import { parseConfig } from '../../src/io/config.ts';
import { checkedShardNames, MAX_SHARDS } from '../../src/io/shardNames.ts';

const json = async (name: string) => JSON.parse(await readFile(`test/fixtures/${name}/config.json`, 'utf8')) as Record<string, unknown>;
/** The fixtures' configs, read once. */
const configs: Record<string, Record<string, unknown>> = { 'gpt2-tiny': await json('gpt2-tiny'), 'neox-tiny': await json('neox-tiny') };

function errorOf(call: () => unknown): unknown {
  try {
    call();
  } catch (e) {
    return e;
  }
  return undefined;
}

describe('config counts', () => {
  const gpt2Counts = ['n_layer', 'n_head', 'n_embd', 'vocab_size', 'n_positions', 'n_inner'];
  const neoxCounts = ['num_hidden_layers', 'num_attention_heads', 'hidden_size', 'vocab_size', 'max_position_embeddings', 'intermediate_size'];
  it.each([...gpt2Counts.map((f) => ['gpt2-tiny', f]), ...neoxCounts.map((f) => ['neox-tiny', f])])('%s: %s past 2^31 − 1 is a ConfigError naming it', (name, field) => {
    const base = configs[name];
    for (const value of [2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER]) {
      const error = errorOf(() => parseConfig({ ...base, [field]: value }));
      expect(error, `${field} = ${value}`).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toContain(`"${field}"`);
    }
  });

  it.each([
    ['gpt2-tiny', { n_embd: 64, n_head: 5 }, ['"n_embd"', '"n_head"']],
    ['neox-tiny', { hidden_size: 100, num_attention_heads: 3 }, ['"hidden_size"', '"num_attention_heads"']],
  ])('%s: a width that the heads do not divide names both fields', (name, fields, names) => {
    const error = errorOf(() => parseConfig({ ...configs[name], ...fields }));
    expect(error).toBeInstanceOf(ConfigError);
    for (const n of names) expect((error as Error).message).toContain(n);
  });
});

describe('rotary fields', () => {
  const neox = () => {
    const c = { ...configs['neox-tiny'] };
    delete c.rope_theta;
    delete c.partial_rotary_factor;
    return c;
  };
  it.each([
    [{ rotary_pct: 0 }, 'rotary_pct'],
    [{ rotary_pct: 1.5 }, 'rotary_pct'],
    [{ partial_rotary_factor: -1 }, 'partial_rotary_factor'],
    [{ rope_parameters: { rope_type: 'default', partial_rotary_factor: 2, rope_theta: 10000 } }, 'rope_parameters.partial_rotary_factor'],
    [{ rotary_emb_base: 0 }, 'rotary_emb_base'],
    [{ rope_theta: -5 }, 'rope_theta'],
    [{ rope_parameters: { rope_type: 'default', partial_rotary_factor: 0.25, rope_theta: 0 } }, 'rope_parameters.rope_theta'],
  ])('%j is a ConfigError naming %s', (fields, field) => {
    const error = errorOf(() => parseConfig({ ...neox(), ...fields }));
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(`"${field}"`);
  });

  it.each([Infinity, NaN, '1e4'])('a rotary base of %s is a ConfigError', (value) => {
    expect(errorOf(() => parseConfig({ ...neox(), rotary_emb_base: value }))).toBeInstanceOf(ConfigError);
  });
});

describe('shard count of an index', () => {
  const mapOf = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`t${i}`, `model-${i}.safetensors`]));
  it(`${MAX_SHARDS} distinct shards are accepted, one more is a ModelFormatError naming the index`, () => {
    expect(MAX_SHARDS).toBe(10_000);
    expect(checkedShardNames('model.safetensors.index.json', mapOf(MAX_SHARDS))).toHaveLength(MAX_SHARDS);
    const error = errorOf(() => checkedShardNames('model.safetensors.index.json', mapOf(MAX_SHARDS + 1)));
    expect(error).toBeInstanceOf(ModelFormatError);
    expect((error as Error).message).toContain('model.safetensors.index.json');
  });

  it('many tensors in few shards are fine', () => {
    const map = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`t${i}`, `model-${i % 3}.safetensors`]));
    expect(checkedShardNames('index.json', map)).toHaveLength(3);
  });
});

describe('engine options', () => {
  const config = parseConfig(configs['gpt2-tiny']);
  it.each(['blockSize', 'kvBlocks', 'maxBatchTokens', 'maxSequences', 'kvMemoryBytes'])('%s must be a positive integer, named in the error', (option) => {
    for (const value of [0, -1, 1.5, NaN, Infinity, '4', {}]) {
      const error = errorOf(() => engineSizes(config, { [option]: value } as never));
      expect(error, `${option} = ${String(value)}`).toBeInstanceOf(InvalidRequestError);
      expect((error as Error).message).toContain(option);
    }
    expect(() => engineSizes(config, { [option]: 8 })).not.toThrow();
  });
});
