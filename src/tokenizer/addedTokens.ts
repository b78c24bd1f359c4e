// Added tokens (`<|endoftext|>`, Pythia's runs of spaces, ...) are found in the text before anything else and
// become one id each; only the text between them goes through pre-tokenization and BPE. Without this step
// "<|endoftext|>" would encode as seven ordinary tokens.
//
// This follows Hugging Face tokenizers' AddedVocabulary:
//  - Matching is leftmost-longest (its Aho-Corasick automaton's MatchKind::LeftmostLongest): scanning left to right,
//    the first position where any token matches wins, and there the longest token. We walk a trie from each
//    position, which is equivalent and cheap for the few short tokens real tokenizers add.
//  - `single_word`: a match touching a word character (Rust regex `\w`) on either side is skipped.
//  - `lstrip` / `rstrip`: the match swallows the whitespace on its left (never text already consumed) / right.
//  - Tokens with `normalized: false` are matched on the raw text; those with `normalized: true` are matched, in
//    their normalized form, on the normalized text of the pieces left over (see tokenizer.ts).

/** One entry of tokenizer.json's `added_tokens`. */
export interface AddedToken {
  readonly id: number;
  readonly content: string;
  readonly special: boolean;
  readonly singleWord: boolean;
  readonly lstrip: boolean;
  readonly rstrip: boolean;
  readonly normalized: boolean;
}

/** A piece of the input: either plain text still to tokenize, or an added token's id. */
export type Piece =
  | { readonly text: string; readonly id?: undefined }
  | { readonly id: number; readonly text?: undefined };

interface TrieNode {
  readonly children: Map<number, TrieNode>;
  token?: AddedToken;
}

// Rust regex's Unicode `\w` and `\s` (the crate HF uses for these checks).
const WORD_CHAR = /^[\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}]$/u;
const SPACE_CHAR = /^\p{White_Space}$/u;

export class AddedTokenMatcher {
  private readonly root: TrieNode = { children: new Map() };
  readonly isEmpty: boolean;

  /** `patterns[i]` is the string to find for `tokens[i]` (its content, normalized when the token is). */
  constructor(tokens: readonly AddedToken[], patterns: readonly string[]) {
    let any = false;
    tokens.forEach((token, i) => {
      const pattern = patterns[i];
      if (pattern.length === 0) return; // HF ignores empty tokens
      let node = this.root;
      for (let k = 0; k < pattern.length; k++) {
        const unit = pattern.charCodeAt(k);
        let child = node.children.get(unit);
        if (child === undefined) {
          child = { children: new Map() };
          node.children.set(unit, child);
        }
        node = child;
      }
      // Two tokens with the same pattern: the first one listed wins, as Aho-Corasick reports the lowest pattern id.
      if (node.token === undefined) node.token = token;
      any = true;
    });
    this.isEmpty = !any;
  }

  /** Split `text` into added tokens and the plain text between them (empty plain pieces are left out). */
  split(text: string): Piece[] {
    if (this.isEmpty) return text.length > 0 ? [{ text }] : [];
    const pieces: Piece[] = [];
    let consumed = 0; // text before this index is already in `pieces`
    let i = 0;
    while (i < text.length) {
      const match = this.longestAt(text, i);
      if (match === undefined) {
        i++;
        continue;
      }
      const { token, end: matchEnd } = match;
      // The search resumes right after the raw match, whatever rstrip does to it below (as HF's automaton does).
      i = matchEnd;
      let start = match.start;
      let end = matchEnd;
      if (token.singleWord && (endsWithWordChar(text, start) || startsWithWordChar(text, end))) continue;
      if (token.lstrip) start = Math.max(leftmostSpaceAtEnd(text, start), consumed);
      if (token.rstrip) end = rightmostSpaceAtStart(text, end);
      if (start > consumed) pieces.push({ text: text.slice(consumed, start) });
      pieces.push({ id: token.id });
      // HF quirk kept on purpose: after an rstrip swallowed whitespace, a token matching inside that whitespace is
      // still emitted, and `consumed` moves to its end (it can even move back, re-exposing swallowed whitespace).
      consumed = end;
    }
    if (consumed < text.length) pieces.push({ text: text.slice(consumed) });
    return pieces;
  }

  /** The longest token starting at `start`, if any. */
  private longestAt(text: string, start: number): { token: AddedToken; start: number; end: number } | undefined {
    let node: TrieNode | undefined = this.root;
    let best: { token: AddedToken; start: number; end: number } | undefined;
    for (let k = start; k < text.length; k++) {
      node = node.children.get(text.charCodeAt(k));
      if (node === undefined) break;
      if (node.token !== undefined) best = { token: node.token, start, end: k + 1 };
    }
    return best;
  }
}

function codePointBefore(text: string, index: number): string | undefined {
  if (index <= 0) return undefined;
  const low = text.charCodeAt(index - 1);
  if (low >= 0xdc00 && low <= 0xdfff && index >= 2) {
    const high = text.charCodeAt(index - 2);
    if (high >= 0xd800 && high <= 0xdbff) return text.slice(index - 2, index);
  }
  return text[index - 1];
}

function codePointFrom(text: string, index: number): string | undefined {
  if (index >= text.length) return undefined;
  return String.fromCodePoint(text.codePointAt(index)!);
}

function endsWithWordChar(text: string, index: number): boolean {
  const ch = codePointBefore(text, index);
  return ch !== undefined && WORD_CHAR.test(ch);
}

function startsWithWordChar(text: string, index: number): boolean {
  const ch = codePointFrom(text, index);
  return ch !== undefined && WORD_CHAR.test(ch);
}

/** Start of the run of whitespace that ends at `index` (HF `space_leftmost_at_end`). */
function leftmostSpaceAtEnd(text: string, index: number): number {
  let i = index;
  for (;;) {
    const ch = codePointBefore(text, i);
    if (ch === undefined || !SPACE_CHAR.test(ch)) return i;
    i -= ch.length;
  }
}

/** End of the run of whitespace that starts at `index` (HF `space_rightmost_at_start`). */
function rightmostSpaceAtStart(text: string, index: number): number {
  let i = index;
  for (;;) {
    const ch = codePointFrom(text, i);
    if (ch === undefined || !SPACE_CHAR.test(ch)) return i;
    i += ch.length;
  }
}
