// Reading tokenizer files into one validated description (TokenizerSpec) that tokenizer.ts builds a Tokenizer from.
// Two formats:
//  - GPT-2's original pair `vocab.json` + `merges.txt` (what OpenAI published and `GPT2Tokenizer` reads);
//  - Hugging Face's single `tokenizer.json` (what GPT-NeoX / Pythia and most newer models ship).
// Anything this engine would have to guess about (another model type, another pre-tokenizer or normalizer,
// BPE dropout, subword prefixes) is rejected with a TokenizerError that names the field, rather than
// tokenized approximately: wrong ids give fluent-looking but wrong output, which is far worse than an error.

import { TokenizerError } from '../errors.ts';
import type { AddedToken } from './addedTokens.ts';
import type { BpeOptions } from './bpe.ts';
import type { ByteLevelOptions } from './pretokenize.ts';
import { GPT2_BYTE_LEVEL } from './pretokenize.ts';

export type NormalizerKind = 'none' | 'NFC';

export interface TokenizerSpec {
  readonly vocab: ReadonlyMap<string, number>;
  /** Merge rules in rank order. */
  readonly merges: readonly (readonly [string, string])[];
  readonly describeMerge: (index: number) => string;
  readonly bpe: BpeOptions;
  readonly addedTokens: readonly AddedToken[];
  readonly normalizer: NormalizerKind;
  readonly preTokenizer: ByteLevelOptions;
}

export const END_OF_TEXT = '<|endoftext|>';

// ---------------------------------------------------------------------------------------------------------------
// vocab.json + merges.txt

/**
 * GPT-2's own files. As Hugging Face's GPT-2 tokenizer does, `<|endoftext|>` (id 50256 in GPT-2's vocabulary) is
 * a special added token when the vocabulary has it: it is matched in the text and becomes that single id.
 */
export function specFromVocabAndMerges(vocabJsonText: string, mergesTxtText: string): TokenizerSpec {
  const vocab = parseVocab(parseJson(vocabJsonText, 'vocab.json'), 'vocab.json');
  const { merges, lineNumbers } = parseMergesTxt(mergesTxtText);
  const eot = vocab.get(END_OF_TEXT);
  const addedTokens: AddedToken[] =
    eot === undefined
      ? []
      : [
          {
            id: eot,
            content: END_OF_TEXT,
            special: true,
            singleWord: false,
            lstrip: false,
            rstrip: false,
            normalized: false,
          },
        ];
  return {
    vocab,
    merges,
    describeMerge: (i) => `merges.txt line ${lineNumbers[i]}`,
    bpe: {},
    addedTokens,
    normalizer: 'none',
    preTokenizer: GPT2_BYTE_LEVEL,
  };
}

/**
 * merges.txt: an optional `#version: ...` first line, then one merge per line, the two symbols separated by one
 * space, highest priority first. Blank lines (the final newline, CRLF files) are skipped.
 */
function parseMergesTxt(text: string): { merges: [string, string][]; lineNumbers: number[] } {
  if (typeof text !== 'string') {
    throw new TokenizerError('merges.txt must be passed as text (a string); read the file as UTF-8 first');
  }
  const merges: [string, string][] = [];
  const lineNumbers: number[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (line.length === 0 || (i === 0 && line.startsWith('#version'))) continue;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new TokenizerError(
        `merges.txt line ${i + 1} is "${truncate(line)}", not two symbols separated by one space; ` +
          `is this really a BPE merges.txt (and not, say, vocab.json passed in its place)?`,
      );
    }
    merges.push([parts[0], parts[1]]);
    lineNumbers.push(i + 1);
  }
  return { merges, lineNumbers };
}

// ---------------------------------------------------------------------------------------------------------------
// tokenizer.json

/** Hugging Face `tokenizer.json` with a byte-level BPE model (GPT-2, GPT-NeoX, Pythia, ...). */
export function specFromTokenizerJson(text: string): TokenizerSpec {
  const root = parseJson(text, 'tokenizer.json');
  if (!isObject(root)) throw new TokenizerError('tokenizer.json must hold a JSON object at the top level');
  const model = root.model;
  if (!isObject(model)) {
    throw new TokenizerError('tokenizer.json has no "model" object; is this a Hugging Face tokenizer.json?');
  }

  // Files written by older versions of the library may leave out model.type; HF then recognises BPE by its merges.
  const type = model.type ?? ('merges' in model ? 'BPE' : undefined);
  if (type !== 'BPE') {
    throw new TokenizerError(
      `tokenizer.json model.type is ${JSON.stringify(type)}; only "BPE" (byte-level, as in GPT-2 and GPT-NeoX) ` +
        `is supported`,
    );
  }
  if (model.dropout !== undefined && model.dropout !== null && model.dropout !== 0) {
    throw new TokenizerError(
      `tokenizer.json model.dropout is ${JSON.stringify(model.dropout)}; BPE dropout makes encoding random and is ` +
        `only for training; set it to null`,
    );
  }
  for (const field of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    const value = model[field];
    if (value !== undefined && value !== null && value !== '') {
      throw new TokenizerError(
        `tokenizer.json model.${field} is ${JSON.stringify(value)}; subword prefixes/suffixes are not used by ` +
          `byte-level BPE and are not supported`,
      );
    }
  }
  if (model.byte_fallback === true) {
    throw new TokenizerError(
      'tokenizer.json model.byte_fallback is true (a SentencePiece-style BPE); only byte-level BPE is supported',
    );
  }

  const vocab = parseVocab(model.vocab, 'tokenizer.json model.vocab');
  const merges = parseJsonMerges(model.merges);

  let unkId: number | undefined;
  if (model.unk_token !== undefined && model.unk_token !== null) {
    if (typeof model.unk_token !== 'string') {
      throw new TokenizerError('tokenizer.json model.unk_token must be a string or null');
    }
    unkId = vocab.get(model.unk_token);
    if (unkId === undefined) {
      throw new TokenizerError(`tokenizer.json model.unk_token "${model.unk_token}" is not in model.vocab`);
    }
  }
  const bpe: BpeOptions = { unkId, fuseUnk: model.fuse_unk === true, ignoreMerges: model.ignore_merges === true };

  checkDecoder(root.decoder);
  return {
    vocab,
    merges,
    describeMerge: (i) => `tokenizer.json model.merges[${i}]`,
    bpe,
    addedTokens: parseAddedTokens(root.added_tokens),
    normalizer: parseNormalizer(root.normalizer),
    preTokenizer: parsePreTokenizer(root.pre_tokenizer),
  };
}

/** Merges as "a b" strings (older files) or ["a", "b"] pairs (files written since tokenizers 0.20). */
function parseJsonMerges(value: unknown): [string, string][] {
  if (!Array.isArray(value)) throw new TokenizerError('tokenizer.json model.merges must be an array');
  return value.map((entry: unknown, i): [string, string] => {
    if (typeof entry === 'string') {
      const parts = entry.split(' ');
      if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return [parts[0], parts[1]];
    } else if (
      Array.isArray(entry) &&
      entry.length === 2 &&
      typeof entry[0] === 'string' &&
      typeof entry[1] === 'string'
    ) {
      return [entry[0], entry[1]];
    }
    throw new TokenizerError(
      `tokenizer.json model.merges[${i}] is ${truncate(JSON.stringify(entry))}; each merge must be "a b" ` +
        `(two symbols, one space) or a pair ["a", "b"]`,
    );
  });
}

function parseAddedTokens(value: unknown): AddedToken[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new TokenizerError('tokenizer.json added_tokens must be an array');
  return value.map((entry: unknown, i): AddedToken => {
    const where = `tokenizer.json added_tokens[${i}]`;
    if (!isObject(entry)) throw new TokenizerError(`${where} must be an object`);
    if (!isTokenId(entry.id)) throw new TokenizerError(`${where}.id must be a non-negative integer`);
    if (typeof entry.content !== 'string') throw new TokenizerError(`${where}.content must be a string`);
    const flag = (name: string, fallback: boolean): boolean => {
      const v = entry[name];
      if (v === undefined) return fallback;
      if (typeof v !== 'boolean') throw new TokenizerError(`${where}.${name} must be true or false`);
      return v;
    };
    const special = flag('special', false);
    return {
      id: entry.id,
      content: entry.content,
      special,
      singleWord: flag('single_word', false),
      lstrip: flag('lstrip', false),
      rstrip: flag('rstrip', false),
      normalized: flag('normalized', !special), // HF's default: special tokens are matched un-normalized
    };
  });
}

function parseNormalizer(value: unknown): NormalizerKind {
  if (value === undefined || value === null) return 'none';
  if (isObject(value) && value.type === 'NFC') return 'NFC';
  // A Sequence of only NFC steps (or none) means the same thing.
  if (isObject(value) && value.type === 'Sequence' && Array.isArray(value.normalizers)) {
    const kinds = value.normalizers.map(parseNormalizer);
    return kinds.includes('NFC') ? 'NFC' : 'none';
  }
  const type = isObject(value) ? value.type : value;
  throw new TokenizerError(
    `tokenizer.json normalizer ${JSON.stringify(type)} is not supported; only none (null) and "NFC" are`,
  );
}

function parsePreTokenizer(value: unknown): ByteLevelOptions {
  if (isObject(value) && value.type === 'ByteLevel') {
    const bool = (name: string, fallback: boolean): boolean => {
      const v = value[name];
      if (v === undefined) return fallback;
      if (typeof v !== 'boolean') {
        throw new TokenizerError(`tokenizer.json pre_tokenizer.${name} must be true or false`);
      }
      return v;
    };
    return { addPrefixSpace: bool('add_prefix_space', true), useRegex: bool('use_regex', true) };
  }
  if (isObject(value) && value.type === 'Sequence' && Array.isArray(value.pretokenizers)) {
    const steps = value.pretokenizers;
    if (steps.length === 1) return parsePreTokenizer(steps[0]);
    const types = steps.map((s: unknown) => (isObject(s) ? s.type : s));
    throw new TokenizerError(
      `tokenizer.json pre_tokenizer is a Sequence of ${JSON.stringify(types)}; only a single ByteLevel ` +
        `pre-tokenizer (GPT-2 / GPT-NeoX style) is supported`,
    );
  }
  const type = isObject(value) ? value.type : value;
  throw new TokenizerError(
    `tokenizer.json pre_tokenizer ${JSON.stringify(type)} is not supported; only ByteLevel (GPT-2 / GPT-NeoX style) is`,
  );
}

function checkDecoder(value: unknown): void {
  if (isObject(value) && value.type === 'ByteLevel') return;
  if (isObject(value) && value.type === 'Sequence' && Array.isArray(value.decoders) && value.decoders.length === 1) {
    checkDecoder(value.decoders[0]);
    return;
  }
  const type = isObject(value) ? value.type : value;
  throw new TokenizerError(
    `tokenizer.json decoder ${JSON.stringify(type)} is not supported; only ByteLevel (GPT-2 / GPT-NeoX style) is`,
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Shared helpers

function parseJson(text: string, file: string): unknown {
  if (typeof text !== 'string') {
    throw new TokenizerError(`${file} must be passed as text (a string); read the file as UTF-8 first`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new TokenizerError(
      `${file} is not valid JSON (${(error as Error).message}); pass the full, unmodified text of the model's ${file}`,
      { cause: error },
    );
  }
}

/** A token → id object, with every id a distinct non-negative integer. */
function parseVocab(value: unknown, where: string): Map<string, number> {
  if (!isObject(value) || Array.isArray(value)) {
    throw new TokenizerError(`${where} must be an object mapping each token to its id`);
  }
  const vocab = new Map<string, number>();
  const seen = new Map<number, string>();
  for (const [token, id] of Object.entries(value)) {
    if (!isTokenId(id)) {
      throw new TokenizerError(
        `${where}: token ${JSON.stringify(token)} has id ${truncate(JSON.stringify(id))}; ` +
          `ids must be non-negative integers`,
      );
    }
    const other = seen.get(id);
    if (other !== undefined) {
      throw new TokenizerError(
        `${where}: tokens ${JSON.stringify(other)} and ${JSON.stringify(token)} both have id ${id}; ` +
          `ids must be distinct`,
      );
    }
    seen.set(id, token);
    vocab.set(token, id);
  }
  if (vocab.size === 0) throw new TokenizerError(`${where} is empty`);
  return vocab;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTokenId(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0x7fffffff;
}

function truncate(text: string, max = 60): string {
  return text.length > max ? text.slice(0, max) + '…' : text;
}
