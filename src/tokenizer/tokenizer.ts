// The tokenizer: text ⇄ token ids, identical to Hugging Face's GPT-2 / GPT-NeoX tokenizers.
//
// encode(text), the pipeline of HF tokenizers' `encode(text, add_special_tokens=False)`:
//   1. split out added tokens with `normalized: false` (e.g. `<|endoftext|>`), matched on the raw text;
//   2. normalize each remaining piece (NFC, or nothing) and split out added tokens with `normalized: true`;
//   3. pre-tokenize each remaining piece into words (ByteLevel: GPT-2's regex, optional prefix space);
//   4. BPE each word's UTF-8 bytes (byte-level alphabet) into ids.
// No BOS/EOS is ever added (GPT-2 and GPT-NeoX add none; the post_processor of tokenizer.json is not consulted).
//
// decode(ids): each id's token string (added tokens first, then the vocabulary), mapped back to bytes by the
// ByteLevel decoder, then UTF-8-decoded with invalid sequences replaced by U+FFFD exactly as Rust's
// `String::from_utf8_lossy` / Python's `errors="replace"` do (WHATWG TextDecoder follows the same rule).
//
// Browser- and Node-safe: only TextEncoder/TextDecoder, no Node APIs.

import { TokenizerError } from '../errors.ts';
import type { Piece } from './addedTokens.ts';
import { AddedTokenMatcher } from './addedTokens.ts';
import { BytePairEncoder } from './bpe.ts';
import { tokenToBytes } from './byteLevel.ts';
import type { NormalizerKind, TokenizerSpec } from './formats.ts';
import { END_OF_TEXT, specFromTokenizerJson, specFromVocabAndMerges } from './formats.ts';
import type { ByteLevelOptions } from './pretokenize.ts';
import { preTokenize } from './pretokenize.ts';
import { StreamDecoder } from './streamDecoder.ts';

export interface DecodeOptions {
  /** Leave out special tokens (such as `<|endoftext|>`), like HF's `skip_special_tokens=True`. Default false. */
  readonly skipSpecialTokens?: boolean;
}

export class Tokenizer {
  /** One more than the largest id this tokenizer produces or decodes (vocabulary and added tokens). */
  readonly vocabSize: number;
  /** Id of `<|endoftext|>` (GPT-2: 50256, GPT-NeoX / Pythia: 0), or undefined if the tokenizer has none. */
  readonly eosTokenId: number | undefined;

  private readonly bpe: BytePairEncoder;
  private readonly normalizer: NormalizerKind;
  private readonly preTokenizer: ByteLevelOptions;
  private readonly rawMatcher: AddedTokenMatcher;
  private readonly normalizedMatcher: AddedTokenMatcher;
  private readonly tokenOfId: (string | undefined)[] = [];
  private readonly idOfToken: ReadonlyMap<string, number>;
  private readonly specialIds = new Set<number>();
  private readonly bytesOfId: (Uint8Array | undefined)[] = [];

  private constructor(spec: TokenizerSpec) {
    this.bpe = new BytePairEncoder(spec.vocab, spec.merges, spec.describeMerge, spec.bpe);
    this.normalizer = spec.normalizer;
    this.preTokenizer = spec.preTokenizer;

    const idOfToken = new Map(spec.vocab);
    for (const [token, id] of spec.vocab) this.tokenOfId[id] = token;
    // Added tokens take precedence over the vocabulary for their id (HF looks them up first).
    for (const token of spec.addedTokens) {
      this.tokenOfId[token.id] = token.content;
      idOfToken.set(token.content, token.id);
    }
    this.idOfToken = idOfToken;
    // HF skips, in decode, any id whose token string is a special token's content.
    const specialContents = new Set(spec.addedTokens.filter((t) => t.special).map((t) => t.content));
    this.tokenOfId.forEach((token, id) => {
      if (token !== undefined && specialContents.has(token)) this.specialIds.add(id);
    });
    this.vocabSize = this.tokenOfId.length;

    const raw = spec.addedTokens.filter((t) => !t.normalized);
    const normalized = spec.addedTokens.filter((t) => t.normalized);
    this.rawMatcher = new AddedTokenMatcher(raw, raw.map((t) => t.content));
    this.normalizedMatcher = new AddedTokenMatcher(normalized, normalized.map((t) => this.normalize(t.content)));

    this.eosTokenId = spec.addedTokens.find((t) => t.content === END_OF_TEXT)?.id ?? spec.vocab.get(END_OF_TEXT);
  }

  /** GPT-2's `vocab.json` and `merges.txt`, as text. `<|endoftext|>` is matched in the input as a special token. */
  static fromVocabAndMerges(vocabJsonText: string, mergesTxtText: string): Tokenizer {
    return new Tokenizer(specFromVocabAndMerges(vocabJsonText, mergesTxtText));
  }

  /** A Hugging Face `tokenizer.json` (byte-level BPE, as GPT-2 and GPT-NeoX / Pythia ship), as text. */
  static fromTokenizerJson(text: string): Tokenizer {
    return new Tokenizer(specFromTokenizerJson(text));
  }

  /** Token ids of `text`; no BOS/EOS is added. Lone surrogates (not valid Unicode) are encoded as U+FFFD. */
  encode(text: string): number[] {
    if (typeof text !== 'string') throw new TokenizerError(`encode() takes a string, not ${typeof text}`);
    const ids: number[] = [];
    for (const piece of this.rawMatcher.split(text)) {
      if (piece.id !== undefined) {
        ids.push(piece.id);
        continue;
      }
      for (const inner of this.normalizedMatcher.split(this.normalize(piece.text))) this.encodePiece(inner, ids);
    }
    return ids;
  }

  /**
   * Text of `ids` (an array or typed array); invalid UTF-8 (a character cut between ids) becomes U+FFFD.
   * An id that is not in the vocabulary is a TokenizerError.
   */
  decode(ids: ArrayLike<number>, options: DecodeOptions = {}): string {
    if (ids === null || typeof ids !== 'object' || typeof ids.length !== 'number') {
      throw new TokenizerError('decode() takes an array of token ids');
    }
    const parts: Uint8Array[] = [];
    let length = 0;
    for (let i = 0; i < ids.length; i++) {
      const bytes = this.tokenBytes(ids[i], options);
      parts.push(bytes);
      length += bytes.length;
    }
    const all = new Uint8Array(length);
    let offset = 0;
    for (const bytes of parts) {
      all.set(bytes, offset);
      offset += bytes.length;
    }
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(all);
  }

  /**
   * Incremental decoding for streaming generation: `push(id)` returns the text that is final so far, holding back
   * the bytes of a character split across tokens; `flush()` returns the rest. The pieces concatenate to `decode(ids)`.
   */
  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    return new StreamDecoder((id) => this.tokenBytes(id, options));
  }

  /** The token string of `id` in the byte-level alphabet ("Ġworld" for " world"), or undefined if there is none. */
  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 ? this.tokenOfId[id] : undefined;
  }

  /** The id of a token string (byte-level alphabet, or an added token's content), or undefined. */
  tokenToId(token: string): number | undefined {
    return this.idOfToken.get(token);
  }

  /** Whether `id` is a special token (e.g. `<|endoftext|>`), which `skipSpecialTokens` leaves out. */
  isSpecialToken(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** The bytes `id` decodes to (empty for a skipped special token); throws for an id outside the vocabulary. */
  private tokenBytes(id: number, options: DecodeOptions): Uint8Array {
    let bytes = Number.isInteger(id) && id >= 0 ? this.bytesOfId[id] : undefined;
    if (bytes === undefined) {
      const token = this.idToToken(id);
      if (token === undefined) {
        throw new TokenizerError(
          `token id ${String(id)} is not in the vocabulary (ids are integers from 0 to ${this.vocabSize - 1}` +
            `${this.hasGaps() ? ', with gaps' : ''}); the ids do not come from this tokenizer, or come from ` +
            `embedding rows past the tokenizer's vocabulary (padding), which sampling should exclude`,
        );
      }
      bytes = tokenToBytes(token);
      this.bytesOfId[id] = bytes;
    }
    return options.skipSpecialTokens && this.specialIds.has(id) ? EMPTY : bytes;
  }

  private hasGaps(): boolean {
    for (let i = 0; i < this.tokenOfId.length; i++) if (this.tokenOfId[i] === undefined) return true;
    return false;
  }

  private normalize(text: string): string {
    return this.normalizer === 'NFC' ? text.normalize('NFC') : text;
  }

  private encodePiece(piece: Piece, ids: number[]): void {
    if (piece.id !== undefined) {
      ids.push(piece.id);
      return;
    }
    for (const word of preTokenize(piece.text, this.preTokenizer)) this.bpe.encodeWordInto(word, ids);
  }
}

const EMPTY = new Uint8Array(0);

