// Pre-tokenization: cutting text into the "words" that BPE then encodes one at a time (BPE never merges across a
// word boundary). This is the ByteLevel pre-tokenizer of GPT-2 / Hugging Face tokenizers.
//
// The pattern is GPT-2's
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// with one deliberate change: `\s` is written `\p{White_Space}`. Hugging Face runs this pattern with Oniguruma,
// whose Unicode `\s` is exactly the White_Space property; JavaScript's `\s` is not: it also matches U+FEFF (BOM)
// and misses U+0085 (NEL). Written as in GPT-2, a JS regex would split "a\u0085b" and "\uFEFF x" differently
// from the reference. (`\S` in the look-ahead becomes `\P{White_Space}` for the same reason.)

const WS = '\\p{White_Space}';
const NOT_WS = '\\P{White_Space}';

/** GPT-2's pre-tokenization pattern, with Oniguruma's meaning of `\s` (see the header comment). */
export const GPT2_PRETOKENIZE_PATTERN =
  `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|${WS}+(?!${NOT_WS})|${WS}+`;

const GPT2_REGEX = new RegExp(GPT2_PRETOKENIZE_PATTERN, 'gu');

/** Options of Hugging Face's ByteLevel pre-tokenizer that change the split (trim_offsets only affects offsets). */
export interface ByteLevelOptions {
  /** Put a space before a piece that does not already start with one, so a first word encodes like later ones. */
  readonly addPrefixSpace: boolean;
  /** Split with the GPT-2 pattern; when false the whole piece is one word. */
  readonly useRegex: boolean;
}

/** GPT-2's own settings (and GPT-NeoX / Pythia's). */
export const GPT2_BYTE_LEVEL: ByteLevelOptions = { addPrefixSpace: false, useRegex: true };

/**
 * Split one piece of text (text between added tokens, already normalized) into words, as HF's ByteLevel
 * pre-tokenizer does. Matches of the pattern become words and so would any unmatched text between them
 * ("Isolated" split behaviour; the GPT-2 pattern in fact matches every character). Empty words are dropped.
 */
export function preTokenize(piece: string, options: ByteLevelOptions): string[] {
  // HF checks for a literal ' ', not any whitespace, before prepending.
  const text = options.addPrefixSpace && !piece.startsWith(' ') ? ' ' + piece : piece;
  if (text.length === 0) return [];
  if (!options.useRegex) return [text];
  const words: string[] = [];
  let last = 0;
  GPT2_REGEX.lastIndex = 0;
  for (let m = GPT2_REGEX.exec(text); m !== null; m = GPT2_REGEX.exec(text)) {
    const start = m.index;
    const end = start + m[0].length;
    if (end === start) {
      // Cannot happen with this pattern (no alternative matches empty), but never loop forever on a zero-width match.
      GPT2_REGEX.lastIndex++;
      continue;
    }
    if (start > last) words.push(text.slice(last, start));
    words.push(m[0]);
    last = end;
  }
  if (last < text.length) words.push(text.slice(last));
  return words;
}
