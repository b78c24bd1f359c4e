// A config that cannot match its checkpoint must fail at once, with a typed error, before per-layer structures exist
// (n_layer: 1e9 used to build a billion-entry Map for minutes and die with an untyped RangeError).
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ConfigError, ModelFormatError } from '../../src/errors.ts';
import { planCheckpoint, TensorIndex } from '../../src/io/checkpoint.ts';
import { parseConfig } from '../../src/io/config.ts';
import { memoryModelFiles } from '../../src/io/modelFiles.ts';

async function fixture(name: string) {
  const dir = `test/fixtures/${name}`;
  const json = JSON.parse(await readFile(`${dir}/config.json`, 'utf8')) as Record<string, unknown>;
  const index = await TensorIndex.open(memoryModelFiles(name, { 'model.safetensors': new Uint8Array(await readFile(`${dir}/model.safetensors`)) }));
  return { json, index };
}

describe('layer count against the checkpoint', () => {
  it.each([
    ['gpt2-tiny', 'n_layer'],
    ['neox-tiny', 'num_hidden_layers'],
  ])('%s: wrong %s fails in well under a second with ModelFormatError', async (name, field) => {
    const { json, index } = await fixture(name);
    const real = json[field] as number;
    expect(() => planCheckpoint(parseConfig(json), index)).not.toThrow();
    for (const layers of [1_000_000_000, 100_000, real + 1, ...(real > 1 ? [real - 1] : [])]) {
      const started = performance.now();
      let error: unknown;
      try {
        planCheckpoint(parseConfig({ ...json, [field]: layers }), index);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ModelFormatError);
      expect((error as Error).message).toContain(field);
      expect(performance.now() - started).toBeLessThan(200);
    }
    await index.close();
  });
});

describe('numeric config fields are bounded', () => {
  it.each([
    ['gpt2-tiny', 'layer_norm_epsilon', -1],
    ['gpt2-tiny', 'layer_norm_epsilon', 1e999],
    ['gpt2-tiny', 'n_layer', 0],
    ['gpt2-tiny', 'n_layer', 1.5],
    ['gpt2-tiny', 'n_head', -2],
    ['gpt2-tiny', 'vocab_size', '50257'],
    ['neox-tiny', 'layer_norm_eps', -0.001],
    ['neox-tiny', 'rotary_emb_base', -10],
    ['neox-tiny', 'rotary_emb_base', 0],
    ['neox-tiny', 'rotary_pct', 2],
    ['neox-tiny', 'intermediate_size', 0],
  ])('%s: %s = %s is a ConfigError naming the field', async (name, field, value) => {
    const json = JSON.parse(await readFile(`test/fixtures/${name}/config.json`, 'utf8')) as Record<string, unknown>;
    delete json.rope_theta;
    let error: unknown;
    try {
      parseConfig({ ...json, [field]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(field === 'rotary_emb_base' ? /rotary base/ : field === 'rotary_pct' ? /rotary fraction/ : new RegExp(field));
  });
});
