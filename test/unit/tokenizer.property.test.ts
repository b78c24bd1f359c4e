// Property tests of the tokenizer with fast-check:
//  - round trip: decode(encode(s)) === s for well-formed Unicode strings;
//  - the merge algorithm against an independent oracle: OpenAI's original GPT-2 `bpe()` loop (merge every
//    occurrence of the lowest-ranked pair, repeat), written out again here with its own byte table and regex;
//  - streaming decode: the pieces concatenate to decode(ids), and never show a replacement character or a
//    half surrogate pair for text that was valid.

import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../src/tokenizer/index.ts';

const MODEL_DIR = new URL('../../models/gpt2-shakespeare/', import.meta.url);
const vocabText = readFileSync(new URL('vocab.json', MODEL_DIR), 'utf8');
const mergesText = readFileSync(new URL('merges.txt', MODEL_DIR), 'utf8');
const tokenizer = Tokenizer.fromVocabAndMerges(vocabText, mergesText);

const RUNS = 300;

/** Text that exercises the tokenizer's corners: contractions, whitespace kinds, digits, emoji, special tokens. */
const trickyPiece = fc.constantFrom(
  "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S",
  ' ', '  ', '\t', '\n', '\r\n', '\u00A0', '\u0085', '\u3000', '\uFEFF', '\u200B',
  'a', 'the', ' the', 'A', 'é', 'e\u0301', '中', '日本', '😀', '👩\u200D👧', '123', '٣', '½',
  '.', ',', '!?', '...', '<|endoftext|>', '<|endoftext|', 'aaaa', '\u0000', '\u007F', '\uFFFD', '\u{10FFFF}',
);
const trickyString = fc.string({
  unit: fc.oneof(trickyPiece, fc.string({ unit: 'grapheme', maxLength: 1 })),
  maxLength: 30,
});

const wellFormed = (s: string): boolean => {
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u >= 0xd800 && u <= 0xdbff) {
      const v = s.charCodeAt(i + 1);
      if (!(v >= 0xdc00 && v <= 0xdfff)) return false;
      i++;
    } else if (u >= 0xdc00 && u <= 0xdfff) {
      return false;
    }
  }
  return true;
};

describe('round trip decode(encode(s)) === s', () => {
  it.each([
    ['grapheme', fc.string({ unit: 'grapheme', maxLength: 40 })],
    ['grapheme-composite', fc.string({ unit: 'grapheme-composite', maxLength: 40 })],
    ['binary (any code point)', fc.string({ unit: 'binary', maxLength: 40 })],
    ['binary-ascii (controls included)', fc.string({ unit: 'binary-ascii', maxLength: 40 })],
    ['tricky pieces', trickyString],
  ] as const)('for %s strings', (_name, arbitrary) => {
    fc.assert(
      fc.property(arbitrary, (s) => {
        fc.pre(wellFormed(s)); // a lone surrogate has no UTF-8 form and cannot round-trip
        const ids = tokenizer.encode(s);
        expect(tokenizer.decode(ids)).toBe(s);
        for (const id of ids) expect(id >= 0 && id < tokenizer.vocabSize).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Oracle: GPT-2's encoder.py, transcribed. Quadratic, so only for short strings.

const oracle = (() => {
  const vocab = JSON.parse(vocabText) as Record<string, number>;
  const ranks = new Map<string, number>();
  mergesText
    .split('\n')
    .slice(1)
    .filter((l) => l.length > 0)
    .forEach((line, i) => ranks.set(line, i)); // key "a b", as the pair joined by one space
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
  const byteChar: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) byteChar.push(String.fromCodePoint(printable(b) ? b : 256 + extra++));
  // GPT-2's pattern; \s spelled \p{White_Space} (the reference tokenizer's regex engine's meaning of \s).
  const pattern = new RegExp(
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\p{White_Space}\\p{L}\\p{N}]+" +
      '|\\p{White_Space}+(?!\\P{White_Space})|\\p{White_Space}+',
    'gu',
  );

  function bpe(token: string): string[] {
    let word = [...token];
    for (;;) {
      let best: [string, string] | undefined;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const r = ranks.get(word[i] + ' ' + word[i + 1]);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = [word[i], word[i + 1]];
        }
      }
      if (best === undefined) return word;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (i + 1 < word.length && word[i] === best[0] && word[i + 1] === best[1]) {
          merged.push(best[0] + best[1]);
          i += 2;
        } else {
          merged.push(word[i++]);
        }
      }
      word = merged;
    }
  }

  return (text: string): number[] => {
    const ids: number[] = [];
    text.split('<|endoftext|>').forEach((part, k) => {
      if (k > 0) ids.push(vocab['<|endoftext|>']);
      for (const m of part.matchAll(pattern)) {
        const byteLevel = [...new TextEncoder().encode(m[0])].map((b) => byteChar[b]).join('');
        for (const t of bpe(byteLevel)) ids.push(vocab[t]);
      }
    });
    return ids;
  };
})();

describe('merging agrees with the original GPT-2 algorithm', () => {
  it('on the reference cases (sanity check of the oracle itself)', () => {
    const reference = JSON.parse(readFileSync(new URL('reference.json', MODEL_DIR), 'utf8')) as {
      tokenizer_cases: { text: string; ids: number[] }[];
    };
    for (const c of reference.tokenizer_cases) expect(oracle(c.text)).toEqual(c.ids);
  });

  it.each([
    ['tricky pieces', trickyString],
    ['graphemes', fc.string({ unit: 'grapheme', maxLength: 30 })],
    // Few distinct symbols, so words are long and many merges compete (ties, overlaps like "aaa").
    [
      'repetitive words',
      fc.string({ unit: fc.constantFrom('a', 'b', 'e', 'r', 'th', 'in', 'ing', 'er', 'an', 'ss'), maxLength: 40 }),
    ],
    ['repetitive multibyte', fc.string({ unit: fc.constantFrom('中', '国', '😀', 'é', 'ü', 'ä'), maxLength: 30 })],
  ] as const)('for %s', (_name, arbitrary) => {
    fc.assert(
      fc.property(arbitrary, (s) => {
        fc.pre(wellFormed(s));
        expect(tokenizer.encode(s)).toEqual(oracle(s));
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------

function streamPieces(ids: readonly number[]): string[] {
  const stream = tokenizer.createStreamDecoder();
  const pieces = ids.map((id) => stream.push(id));
  pieces.push(stream.flush());
  return pieces;
}

const endsInHighSurrogate = (s: string): boolean => {
  const u = s.charCodeAt(s.length - 1);
  return u >= 0xd800 && u <= 0xdbff;
};

describe('stream decoder', () => {
  it('reproduces valid text piece by piece, never emitting U+FFFD or half a surrogate pair', () => {
    fc.assert(
      fc.property(fc.oneof(trickyString, fc.string({ unit: 'binary', maxLength: 30 })), (s) => {
        fc.pre(wellFormed(s) && !s.includes('\uFFFD'));
        const pieces = streamPieces(tokenizer.encode(s));
        expect(pieces.join('')).toBe(s);
        for (const piece of pieces) {
          expect(piece).not.toContain('\uFFFD');
          expect(endsInHighSurrogate(piece)).toBe(false);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('matches decode() for arbitrary id sequences, including ones that cut characters apart', () => {
    // Ids 128-255 and 0-300 are mostly single bytes, many of them UTF-8 lead or continuation bytes.
    const id = fc.oneof(fc.integer({ min: 0, max: 50256 }), fc.integer({ min: 0, max: 300 }));
    fc.assert(
      fc.property(fc.array(id, { maxLength: 20 }), (ids) => {
        const pieces = streamPieces(ids);
        expect(pieces.join('')).toBe(tokenizer.decode(ids));
        for (const piece of pieces) expect(endsInHighSurrogate(piece)).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });
});
