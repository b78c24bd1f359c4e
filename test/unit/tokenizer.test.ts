// Tokenizer against the Hugging Face reference: models/gpt2-shakespeare/reference.json holds ids the reference
// GPT-2 tokenizer produced (tokenizer_cases, greedy prompts) and texts it decoded (greedy_text). Every expected
// value here comes from that file, from vocab.json lookups, or is derived by hand in a comment; none is computed
// by the code under test.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { TokenizerError } from '../../src/errors.ts';
import { Tokenizer } from '../../src/tokenizer/index.ts';
import { GPT2_BYTE_LEVEL, preTokenize } from '../../src/tokenizer/pretokenize.ts';

const MODEL_DIR = new URL('../../models/gpt2-shakespeare/', import.meta.url);
const vocabText = readFileSync(new URL('vocab.json', MODEL_DIR), 'utf8');
const mergesText = readFileSync(new URL('merges.txt', MODEL_DIR), 'utf8');
const reference = JSON.parse(readFileSync(new URL('reference.json', MODEL_DIR), 'utf8')) as {
  tokenizer_cases: { text: string; ids: number[] }[];
  greedy: { prompt: string; prompt_ids: number[]; greedy_ids: number[]; greedy_text: string }[];
};
const vocab = JSON.parse(vocabText) as Record<string, number>;
/** merges.txt as ["a", "b"] pairs: drop the #version line and the trailing newline. */
const mergePairs: [string, string][] = mergesText
  .split('\n')
  .slice(1)
  .filter((line) => line.length > 0)
  .map((line) => line.split(' ') as [string, string]);

/** A tokenizer.json in the shape Hugging Face writes for GPT-2, built from the same vocab/merges. */
function gpt2TokenizerJson(options: { mergesAs: 'strings' | 'pairs'; normalizer?: unknown }): string {
  return JSON.stringify({
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [
      {
        id: 50256,
        content: '<|endoftext|>',
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: true,
        special: true,
      },
    ],
    normalizer: options.normalizer ?? null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: options.mergesAs === 'pairs' ? mergePairs : mergePairs.map(([a, b]) => `${a} ${b}`),
    },
  });
}

const fromFiles = Tokenizer.fromVocabAndMerges(vocabText, mergesText);
const fromJsonStrings = Tokenizer.fromTokenizerJson(gpt2TokenizerJson({ mergesAs: 'strings' }));
const fromJsonPairs = Tokenizer.fromTokenizerJson(gpt2TokenizerJson({ mergesAs: 'pairs' }));
const withNfc = Tokenizer.fromTokenizerJson(gpt2TokenizerJson({ mergesAs: 'pairs', normalizer: { type: 'NFC' } }));

const loaders: [string, Tokenizer][] = [
  ['vocab.json + merges.txt', fromFiles],
  ['tokenizer.json, merges as "a b" strings', fromJsonStrings],
  ['tokenizer.json, merges as ["a", "b"] pairs', fromJsonPairs],
];

describe.each(loaders)('GPT-2 tokenizer from %s', (_name, tokenizer) => {
  it('has the reference data this file relies on', () => {
    expect(reference.tokenizer_cases).toHaveLength(20);
    expect(reference.greedy.length).toBeGreaterThan(0);
  });

  it.each(reference.tokenizer_cases.map((c) => [JSON.stringify(c.text).slice(0, 50), c] as const))(
    'encodes %s exactly as the reference',
    (_label, c) => {
      expect(tokenizer.encode(c.text)).toEqual(c.ids);
    },
  );

  it('decodes every reference case back to its text', () => {
    for (const c of reference.tokenizer_cases) expect(tokenizer.decode(c.ids)).toBe(c.text);
  });

  it('encodes the greedy prompts to the reference prompt ids and decodes the greedy ids to the reference text', () => {
    for (const g of reference.greedy) {
      expect(tokenizer.encode(g.prompt)).toEqual(g.prompt_ids);
      expect(tokenizer.decode(g.greedy_ids)).toBe(g.greedy_text);
      expect(tokenizer.decode([...g.prompt_ids, ...g.greedy_ids])).toBe(g.prompt + g.greedy_text);
    }
  });

  it('decodes typed arrays of ids too', () => {
    const c = reference.tokenizer_cases[0];
    expect(tokenizer.decode(Int32Array.from(c.ids))).toBe(c.text);
  });

  it('knows its size, end-of-text id and token strings', () => {
    expect(tokenizer.vocabSize).toBe(50257);
    expect(tokenizer.eosTokenId).toBe(50256);
    expect(tokenizer.idToToken(50256)).toBe('<|endoftext|>');
    expect(tokenizer.idToToken(vocab['Ġworld'])).toBe('Ġworld');
    expect(tokenizer.idToToken(50257)).toBeUndefined();
    expect(tokenizer.idToToken(-1)).toBeUndefined();
    expect(tokenizer.tokenToId('Ġworld')).toBe(vocab['Ġworld']);
    expect(tokenizer.isSpecialToken(50256)).toBe(true);
    expect(tokenizer.isSpecialToken(vocab['Ġworld'])).toBe(false);
  });

  it('matches <|endoftext|> anywhere in the text, but not a partial one', () => {
    // ids by vocab lookup: "a" + <|endoftext|> + "b", i.e. the special token splits the text.
    expect(tokenizer.encode('a<|endoftext|>b')).toEqual([vocab['a'], 50256, vocab['b']]);
    expect(tokenizer.encode('<|endoftext|><|endoftext|>')).toEqual([50256, 50256]);
    expect(tokenizer.encode('<|endoftext|')).not.toContain(50256);
  });

  it('skips special tokens in decode only when asked', () => {
    const ids = [vocab['Hello'], 50256, vocab['Ġworld']];
    expect(tokenizer.decode(ids)).toBe('Hello<|endoftext|> world');
    expect(tokenizer.decode(ids, { skipSpecialTokens: true })).toBe('Hello world');
  });

  it('replaces invalid UTF-8 with U+FFFD as Python errors="replace" does', () => {
    // 'Ã' is byte 0xC3 (a 2-byte lead), 'ð' is 0xF0 (a 4-byte lead), 'Ł' is 0x9F (a continuation byte).
    const lead2 = vocab['Ã'];
    const lead4 = vocab['ð'];
    const cont = vocab['Ł'];
    expect(tokenizer.decode([lead2])).toBe('\uFFFD');
    expect(tokenizer.decode([lead2, lead2])).toBe('\uFFFD\uFFFD');
    expect(tokenizer.decode([lead2, vocab['a']])).toBe('\uFFFDa');
    // b"\xf0\x9fa".decode("utf-8", "replace") == "\ufffda": an incomplete sequence is one replacement.
    expect(tokenizer.decode([lead4, cont, vocab['a']])).toBe('\uFFFDa');
    // A lone continuation byte is its own replacement.
    expect(tokenizer.decode([cont, cont])).toBe('\uFFFD\uFFFD');
  });

  it('keeps a leading U+FEFF (a BOM is text to a tokenizer; TextDecoder would drop it by default)', () => {
    // U+FEFF is bytes EF BB BF: byte-level "ï»¿".
    const ids = [vocab['ï'], vocab['»'], vocab['¿'], vocab['Hello']];
    expect(tokenizer.decode(ids)).toBe('\uFEFFHello');
    const stream = tokenizer.createStreamDecoder();
    expect(ids.map((id) => stream.push(id)).join('') + stream.flush()).toBe('\uFEFFHello');
  });

  it('rejects ids outside the vocabulary with a TokenizerError that names the id', () => {
    for (const bad of [50257, -1, 1.5, Number.NaN, 1e12]) {
      expect(() => tokenizer.decode([vocab['a'], bad])).toThrow(TokenizerError);
      expect(() => tokenizer.decode([bad])).toThrow(/not in the vocabulary/);
    }
    expect(() => tokenizer.decode([50257])).toThrow(/50257/);
  });
});

describe('NFC normalizer (tokenizer.json normalizer: {type: "NFC"})', () => {
  it('encodes a decomposed "e\\u0301" like the precomposed "é"', () => {
    // "é" is bytes C3 A9, byte-level "Ã©", a single GPT-2 token.
    expect(withNfc.encode('e\u0301')).toEqual([vocab['Ã©']]);
    expect(withNfc.encode('é')).toEqual([vocab['Ã©']]);
    // Without the normalizer the decomposed form is "e" + U+0301 (bytes CC 81), not the same ids.
    expect(fromJsonPairs.encode('e\u0301')).not.toEqual([vocab['Ã©']]);
    expect(fromJsonPairs.encode('e\u0301')[0]).toBe(vocab['e']);
  });

  it('encodes the NFD form of a reference case to the reference ids', () => {
    const c = reference.tokenizer_cases.find((x) => x.text.normalize('NFD') !== x.text);
    expect(c).toBeDefined();
    expect(c!.text.normalize('NFC')).toBe(c!.text);
    expect(withNfc.encode(c!.text.normalize('NFD'))).toEqual(c!.ids);
    expect(fromJsonPairs.encode(c!.text.normalize('NFD'))).not.toEqual(c!.ids);
  });
});

describe('streaming decode', () => {
  it('holds back an incomplete character until the token that completes it', () => {
    // "Ü" is bytes C3 9C: byte-level "Ã" then "ľ", two GPT-2 tokens (reference case "Ünïcödé ..." starts so).
    const stream = fromFiles.createStreamDecoder();
    expect(stream.push(vocab['Ã'])).toBe('');
    expect(stream.push(vocab['ľ'])).toBe('Ü');
    expect(stream.push(vocab['Ġworld'])).toBe(' world');
    expect(stream.flush()).toBe('');
  });

  it('flushes a dangling incomplete character as U+FFFD, then starts afresh', () => {
    const stream = fromFiles.createStreamDecoder();
    expect(stream.push(vocab['a'])).toBe('a');
    expect(stream.push(vocab['Ã'])).toBe('');
    expect(stream.flush()).toBe('\uFFFD');
    expect(stream.push(vocab['b'])).toBe('b');
    expect(stream.flush()).toBe('');
  });

  it('reproduces every reference text piece by piece, without U+FFFD, holding back at least once for emoji', () => {
    for (const c of reference.tokenizer_cases) {
      const stream = fromFiles.createStreamDecoder();
      const pieces = c.ids.map((id) => stream.push(id));
      pieces.push(stream.flush());
      expect(pieces.join('')).toBe(c.text);
      for (const piece of pieces) expect(piece).not.toContain('\uFFFD');
    }
    const emoji = reference.tokenizer_cases.find((c) => c.text.includes('😀'))!;
    const stream = fromFiles.createStreamDecoder();
    expect(emoji.ids.map((id) => stream.push(id))).toContain('');
  });

  it('skips special tokens when asked', () => {
    const stream = fromFiles.createStreamDecoder({ skipSpecialTokens: true });
    const text = stream.push(vocab['Hello']) + stream.push(50256) + stream.push(vocab['Ġworld']) + stream.flush();
    expect(text).toBe('Hello world');
  });

  it('rejects an unknown id and keeps the stream usable', () => {
    const stream = fromFiles.createStreamDecoder();
    expect(stream.push(vocab['Ã'])).toBe('');
    expect(() => stream.push(99999)).toThrow(TokenizerError);
    expect(stream.push(vocab['ľ'])).toBe('Ü');
  });
});

describe('errors name the problem', () => {
  it('malformed vocab.json', () => {
    expect(() => Tokenizer.fromVocabAndMerges('{"a": 0,', mergesText)).toThrow(TokenizerError);
    expect(() => Tokenizer.fromVocabAndMerges('{"a": 0,', mergesText)).toThrow(/vocab\.json is not valid JSON/);
    expect(() => Tokenizer.fromVocabAndMerges('[1, 2]', '')).toThrow(/must be an object mapping each token to its id/);
    expect(() => Tokenizer.fromVocabAndMerges('{"a": -1}', '')).toThrow(/"a" has id -1/);
    expect(() => Tokenizer.fromVocabAndMerges('{"a": "0"}', '')).toThrow(/ids must be non-negative integers/);
    expect(() => Tokenizer.fromVocabAndMerges('{"a": 0, "b": 0}', '')).toThrow(/both have id 0/);
    expect(() => Tokenizer.fromVocabAndMerges('{}', '')).toThrow(/is empty/);
  });

  it('merges that refer to unknown tokens', () => {
    const small = JSON.stringify({ a: 0, b: 1, ab: 2 });
    expect(() => Tokenizer.fromVocabAndMerges(small, '#version: 0.2\na b\n')).not.toThrow();
    expect(() => Tokenizer.fromVocabAndMerges(small, '#version: 0.2\na b\nb q\n')).toThrow(TokenizerError);
    expect(() => Tokenizer.fromVocabAndMerges(small, '#version: 0.2\na b\nb q\n')).toThrow(
      /merges\.txt line 3 merges "b" \+ "q", but the vocabulary has no token "q"/,
    );
    // Both halves known but not their concatenation.
    expect(() => Tokenizer.fromVocabAndMerges(small, 'b a\n')).toThrow(/no token "ba"/);
    // The real merges with a vocabulary that lacks a token they use.
    const trimmed = { ...vocab };
    delete trimmed['Ġthe'];
    expect(() => Tokenizer.fromVocabAndMerges(JSON.stringify(trimmed), mergesText)).toThrow(/no token "Ġthe"/);
  });

  it('malformed merges lines', () => {
    const small = JSON.stringify({ a: 0, b: 1, ab: 2 });
    expect(() => Tokenizer.fromVocabAndMerges(small, '#version: 0.2\na b c\n')).toThrow(
      /merges\.txt line 2 .*not two symbols/,
    );
    expect(() => Tokenizer.fromVocabAndMerges(vocabText, vocabText)).toThrow(TokenizerError);
  });

  it('tokenizer.json that is not JSON, or not a byte-level BPE', () => {
    const base = JSON.parse(gpt2TokenizerJson({ mergesAs: 'pairs' }));
    const variant = (patch: (json: any) => void): string => {
      const copy = structuredClone(base);
      patch(copy);
      return JSON.stringify(copy);
    };
    expect(() => Tokenizer.fromTokenizerJson('{"model": ')).toThrow(/tokenizer\.json is not valid JSON/);
    expect(() => Tokenizer.fromTokenizerJson('{}')).toThrow(/no "model" object/);
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.model.type = 'WordPiece')))).toThrow(TokenizerError);
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.model.type = 'WordPiece')))).toThrow(
      /model\.type is "WordPiece"; only "BPE"/,
    );
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.model.type = 'Unigram')))).toThrow(/"Unigram"/);
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.normalizer = { type: 'NFKC' })))).toThrow(
      /normalizer "NFKC" is not supported/,
    );
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.normalizer = { type: 'Lowercase' })))).toThrow(
      /"Lowercase"/,
    );
    expect(() =>
      Tokenizer.fromTokenizerJson(variant((j) => (j.pre_tokenizer = { type: 'Metaspace', replacement: '▁' }))),
    ).toThrow(/pre_tokenizer "Metaspace" is not supported/);
    expect(() =>
      Tokenizer.fromTokenizerJson(
        variant((j) => (j.pre_tokenizer = { type: 'Sequence', pretokenizers: [{ type: 'Digits' }, j.pre_tokenizer] })),
      ),
    ).toThrow(/Sequence of \["Digits","ByteLevel"\]/);
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.pre_tokenizer = null)))).toThrow(/pre_tokenizer null/);
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.decoder = { type: 'WordPiece' })))).toThrow(
      /decoder "WordPiece" is not supported/,
    );
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.model.dropout = 0.1)))).toThrow(/dropout/);
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.model.continuing_subword_prefix = '##')))).toThrow(
      /continuing_subword_prefix/,
    );
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.model.byte_fallback = true)))).toThrow(/byte_fallback/);
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.model.merges[5] = 'a b c')))).toThrow(
      /model\.merges\[5\]/,
    );
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.model.merges[7] = ['Ġt', 'nope'])))).toThrow(
      /model\.merges\[7\] merges "Ġt" \+ "nope", but the vocabulary has no token "nope"/,
    );
    expect(() => Tokenizer.fromTokenizerJson(variant((j) => (j.added_tokens[0].id = 'x')))).toThrow(
      /added_tokens\[0\]\.id must be a non-negative integer/,
    );
    // A Sequence holding only the ByteLevel pre-tokenizer is the same thing, and is accepted.
    const seq = Tokenizer.fromTokenizerJson(
      variant((j) => (j.pre_tokenizer = { type: 'Sequence', pretokenizers: [j.pre_tokenizer] })),
    );
    expect(seq.encode(reference.tokenizer_cases[0].text)).toEqual(reference.tokenizer_cases[0].ids);
  });

  it('encode() of a non-string', () => {
    expect(() => fromFiles.encode(42 as unknown as string)).toThrow(/encode\(\) takes a string/);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Options of tokenizer.json that GPT-2's own file does not exercise, on a tiny hand-made byte-level vocabulary in
// which every byte's token id equals the byte's value (so "h" is 104, "Ġ" (space) is 32), plus
//   256 "he" (from h+e, rank 0), 257 "ll" (l+l, rank 1), 258 "hell" (he+ll, rank 2), 259 "oĠ" (o+Ġ, rank 3),
//   260 "ox" (in the vocabulary, but no merge makes it).
// Expected ids are derived by hand in the comments.

const BYTE_CHARS = ((): string[] => {
  // GPT-2's bytes_to_unicode, written out again here independently of src/tokenizer/byteLevel.ts.
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const chars: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) chars.push(String.fromCodePoint(printable(b) ? b : 256 + extra++));
  return chars;
})();

function tinyTokenizerJson(options: {
  addedTokens?: Partial<{
    id: number;
    content: string;
    special: boolean;
    lstrip: boolean;
    rstrip: boolean;
    normalized: boolean;
    single_word: boolean;
  }>[];
  preTokenizer?: unknown;
  normalizer?: unknown;
  modelExtras?: Record<string, unknown>;
  dropBytes?: number[];
}): string {
  const tinyVocab: Record<string, number> = {};
  BYTE_CHARS.forEach((ch, b) => {
    if (!options.dropBytes?.includes(b)) tinyVocab[ch] = b;
  });
  Object.assign(tinyVocab, { he: 256, ll: 257, hell: 258, oĠ: 259, ox: 260 });
  return JSON.stringify({
    added_tokens: (options.addedTokens ?? []).map((t) => ({
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: false,
      ...t,
    })),
    normalizer: options.normalizer ?? null,
    pre_tokenizer: options.preTokenizer ?? { type: 'ByteLevel', add_prefix_space: false, use_regex: true },
    decoder: { type: 'ByteLevel' },
    model: { type: 'BPE', vocab: tinyVocab, merges: ['h e', 'l l', 'he ll', 'o Ġ'], ...options.modelExtras },
  });
}

const c = (s: string) => s.codePointAt(0)!;

describe('tokenizer.json options on a tiny vocabulary', () => {
  it('merges by rank: "hello" → hell + o', () => {
    const t = Tokenizer.fromTokenizerJson(tinyTokenizerJson({}));
    // h e l l o → (h,e) rank 0 → he; (l,l) rank 1 → ll; (he,ll) rank 2 → hell; o stays.
    expect(t.encode('hello')).toEqual([258, c('o')]);
    // " hello": the regex keeps the space with the word; Ġ has no merge with h.
    expect(t.encode(' hello')).toEqual([32, 258, c('o')]);
    expect(t.eosTokenId).toBeUndefined();
    expect(t.vocabSize).toBe(261);
  });

  it('add_prefix_space puts a space before a piece that lacks one', () => {
    const t = Tokenizer.fromTokenizerJson(
      tinyTokenizerJson({ preTokenizer: { type: 'ByteLevel', add_prefix_space: true, use_regex: true } }),
    );
    expect(t.encode('hello')).toEqual([32, 258, c('o')]);
    expect(t.encode(' hello')).toEqual([32, 258, c('o')]);
    expect(t.encode('')).toEqual([]);
  });

  it('use_regex: false makes the whole piece one word, so merges cross what the regex would split', () => {
    const withRegex = Tokenizer.fromTokenizerJson(tinyTokenizerJson({}));
    const noRegex = Tokenizer.fromTokenizerJson(
      tinyTokenizerJson({ preTokenizer: { type: 'ByteLevel', add_prefix_space: false, use_regex: false } }),
    );
    // Regex: words "hello", " x" → hell o | Ġ x.  One word: h e l l o Ġ x → he, ll, hell, then o+Ġ → oĠ.
    expect(withRegex.encode('hello x')).toEqual([258, c('o'), 32, c('x')]);
    expect(noRegex.encode('hello x')).toEqual([258, 259, c('x')]);
  });

  it('ignore_merges takes a whole-word vocabulary entry as is', () => {
    // "ox" is in the vocabulary but no merge builds it.
    const plain = Tokenizer.fromTokenizerJson(tinyTokenizerJson({}));
    const ignoring = Tokenizer.fromTokenizerJson(tinyTokenizerJson({ modelExtras: { ignore_merges: true } }));
    expect(plain.encode('ox')).toEqual([c('o'), c('x')]);
    expect(ignoring.encode('ox')).toEqual([260]);
    // A word not in the vocabulary is still merged as usual.
    expect(ignoring.encode('hello')).toEqual([258, c('o')]);
  });

  it('added tokens: leftmost-longest, lstrip, rstrip, single_word, special', () => {
    const t = Tokenizer.fromTokenizerJson(
      tinyTokenizerJson({
        addedTokens: [
          { id: 300, content: '<mask>', special: true, lstrip: true },
          { id: 301, content: '[SEP]', special: true, rstrip: true },
          { id: 302, content: 'ony', single_word: true },
          { id: 303, content: '<m' },
        ],
      }),
    );
    // lstrip swallows " " before <mask>: "hello" + <mask> + "x".
    expect(t.encode('hello <mask>x')).toEqual([258, c('o'), 300, c('x')]);
    // rstrip swallows "  " after [SEP]; the space before it stays in "o ".
    expect(t.encode('o [SEP]  x')).toEqual([c('o'), 32, 301, c('x')]);
    // Longest match at the leftmost position: "<mask>" beats "<m"; where only "<m" matches, it is used.
    expect(t.encode('<mx')).toEqual([303, c('x')]);
    // single_word: "ony" alone is the token; inside "Anthony" or "onyx" it is not.
    expect(t.encode('ony')).toEqual([302]);
    expect(t.encode('a ony.')).toEqual([c('a'), 32, 302, c('.')]);
    expect(t.encode('Anthony')).not.toContain(302);
    expect(t.encode('onyx')).not.toContain(302);
    // Special tokens are left out of decode only on request; non-special added tokens never are.
    expect(t.decode([258, 300, 302])).toBe('hell<mask>ony');
    expect(t.decode([258, 300, 302], { skipSpecialTokens: true })).toBe('hellony');
  });

  it('added tokens with normalized: true are matched after normalization, in normalized form', () => {
    const t = Tokenizer.fromTokenizerJson(
      tinyTokenizerJson({
        normalizer: { type: 'NFC' },
        addedTokens: [
          { id: 310, content: 'e\u0301', normalized: true }, // pattern becomes "é" after NFC
          { id: 311, content: 'o\u0301', normalized: false }, // matched on the raw text only
        ],
      }),
    );
    expect(t.encode('é')).toEqual([310]);
    expect(t.encode('e\u0301')).toEqual([310]);
    expect(t.encode('o\u0301')).toEqual([311]);
    // Precomposed "ó" (C3 B3) is not the raw pattern "o\u0301": plain bytes, no merges.
    expect(t.encode('ó')).toEqual([0xc3, 0xb3]);
  });

  it('reports a byte missing from the vocabulary, or maps it to unk_token when there is one', () => {
    const strict = Tokenizer.fromTokenizerJson(tinyTokenizerJson({ dropBytes: [0x7e] }));
    expect(() => strict.encode('a~b')).toThrow(/no token for byte 0x7E/);
    const withUnk = Tokenizer.fromTokenizerJson(
      tinyTokenizerJson({ dropBytes: [0x7e, 0x7c], modelExtras: { unk_token: 'he' } }),
    );
    // "~|" is one word (punctuation run); each unknown byte becomes unk (256), then (he, he) has no merge.
    expect(withUnk.encode('~|')).toEqual([256, 256]);
    const fused = Tokenizer.fromTokenizerJson(
      tinyTokenizerJson({ dropBytes: [0x7e, 0x7c], modelExtras: { unk_token: 'he', fuse_unk: true } }),
    );
    expect(fused.encode('~|')).toEqual([256]);
  });

  it('decodes an added token written outside the byte-level alphabet as its own UTF-8 text', () => {
    // Pythia adds runs of plain spaces as tokens; the ByteLevel decoder passes such tokens through unchanged.
    const t = Tokenizer.fromTokenizerJson(tinyTokenizerJson({ addedTokens: [{ id: 320, content: '  ' }] }));
    expect(t.encode('a  b')).toEqual([c('a'), 320, c('b')]);
    expect(t.decode([c('a'), 320, c('b')])).toBe('a  b');
  });

});

describe('pre-tokenization', () => {
  it('treats U+0085 as whitespace and U+FEFF as not, as the reference (Oniguruma \\s) does', () => {
    // Expected splits observed from Hugging Face tokenizers 0.23.2 (ByteLevel.pre_tokenize_str); JavaScript's own
    // \s would get both wrong (it includes U+FEFF and excludes U+0085).
    const split = (text: string) => preTokenize(text, GPT2_BYTE_LEVEL);
    expect(split('a\u0085\u0085b \u0085 \u0085x')).toEqual(['a', '\u0085', '\u0085', 'b', ' \u0085 ', '\u0085', 'x']);
    expect(split('a\uFEFF\uFEFFb \uFEFF \uFEFFx')).toEqual(['a', '\uFEFF\uFEFF', 'b', ' \uFEFF', ' \uFEFF', 'x']);
    expect(split('a\u00A0\u00A0b \u00A0 \u00A0x')).toEqual(['a', '\u00A0', '\u00A0', 'b', ' \u00A0 ', '\u00A0', 'x']);
  });

  it('splits contractions, letters, numbers, punctuation and whitespace as GPT-2 does', () => {
    // Hand-derived from the pattern: "'ll" is a contraction; of "  " before "x" one space joins " x".
    expect(preTokenize("he'll 42!?  x\n\n", GPT2_BYTE_LEVEL)).toEqual(['he', "'ll", ' 42', '!?', ' ', ' x', '\n\n']);
    // The contractions are lower-case only (no (?i) flag in the reference pattern).
    expect(preTokenize("HE'LL", GPT2_BYTE_LEVEL)).toEqual(['HE', "'", 'LL']);
  });
});
