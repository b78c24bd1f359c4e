// Pathological input: BPE cost grows faster than linearly with the length of one pre-token, and a pre-token can
// be as long as the whole input (a run of one letter, a CJK paragraph without spaces, base64, use_regex: false).
// These must stay fast; the bound is the test timeout (no timing assertion, machines differ), and results must
// still be exact.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/tokenizer/index.ts';

const MODEL_DIR = new URL('../../models/gpt2-shakespeare/', import.meta.url);
const vocabText = readFileSync(new URL('vocab.json', MODEL_DIR), 'utf8');
const mergesText = readFileSync(new URL('merges.txt', MODEL_DIR), 'utf8');
const tokenizer = Tokenizer.fromVocabAndMerges(vocabText, mergesText);
const vocab = JSON.parse(vocabText) as Record<string, number>;

const LONG = 200_000;
const TIMEOUT_MS = 20_000;

describe('a single 200,000-character pre-token', () => {
  it(
    'of one letter encodes exactly and decodes back',
    () => {
      // The reference encodes "a" × 300 (reference.json) as 75 × "aaaa"; the same merges apply to any multiple of 4
      // (and Hugging Face tokenizers 0.23.2 gives 50,000 × "aaaa" for this input).
      const text = 'a'.repeat(LONG);
      const ids = tokenizer.encode(text);
      expect(ids).toHaveLength(LONG / 4);
      expect(ids.every((id) => id === vocab['aaaa'])).toBe(true);
      expect(tokenizer.decode(ids)).toBe(text);
    },
    TIMEOUT_MS,
  );

  it.each([
    ['one CJK character', '中'.repeat(LONG)],
    ['one emoji', '😀'.repeat(LONG / 2)],
    ['a two-letter pattern', 'ab'.repeat(LONG / 2)],
    ['whitespace', ' '.repeat(LONG) + 'x'],
    ['digits', '1234567890'.repeat(LONG / 10)],
  ])(
    'of %s encodes and decodes back',
    (_name, text) => {
      const ids = tokenizer.encode(text);
      expect(ids.length).toBeGreaterThan(0);
      expect(tokenizer.decode(ids)).toBe(text);
    },
    TIMEOUT_MS,
  );

  it(
    'with use_regex: false (the whole text is one word) encodes and decodes back',
    () => {
      const json = JSON.stringify({
        added_tokens: [],
        normalizer: null,
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: false },
        decoder: { type: 'ByteLevel' },
        model: {
          type: 'BPE',
          vocab,
          merges: mergesText
            .split('\n')
            .slice(1)
            .filter((l) => l.length > 0),
        },
      });
      const whole = Tokenizer.fromTokenizerJson(json);
      const text = 'To be, or not to be: that is the question. 生きるべきか死ぬべきか 😀\n'.repeat(3000);
      const ids = whole.encode(text);
      expect(whole.decode(ids)).toBe(text);
    },
    TIMEOUT_MS,
  );
});
