// GPT-2's "byte-level" alphabet: every byte 0..255 is given a printable Unicode character, so BPE can work on
// strings of visible characters while still covering any UTF-8 input (no unknown tokens, ever). The vocabulary's
// token strings are written in this alphabet ("Ġworld" is " world"), so encoding maps UTF-8 bytes → these
// characters before BPE, and decoding maps the characters of each token back to bytes.
//
// The table is OpenAI's `bytes_to_unicode()` (also Hugging Face tokenizers' `bytes_char()`): printable Latin-1
// bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes (control characters, space,
// DEL, NBSP, soft hyphen, ...) are given U+0100, U+0101, ... in byte order. Space (0x20) therefore becomes 'Ġ'
// (U+0120) and newline (0x0A) 'Ċ' (U+010A).

/** BYTE_TO_CHAR[b] is the one-character string that stands for byte b in the vocabulary. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** Code point of a byte-level character → the byte it stands for. */
const CHAR_TO_BYTE: ReadonlyMap<number, number> = new Map(BYTE_TO_CHAR.map((ch, byte) => [ch.codePointAt(0)!, byte]));

function buildByteToChar(): string[] {
  const table = new Array<string>(256);
  const isPrintable = (b: number): boolean =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 0x100;
  for (let b = 0; b < 256; b++) table[b] = String.fromCharCode(isPrintable(b) ? b : next++);
  return table;
}

/** The byte-level string for bytes[start, end): one character per byte. */
export function bytesToByteLevel(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let out = '';
  for (let i = start; i < end; i++) out += BYTE_TO_CHAR[bytes[i]];
  return out;
}

const utf8Encoder = new TextEncoder();

/**
 * The bytes a token stands for, as Hugging Face's ByteLevel decoder computes them: if every character of the
 * token is in the byte-level alphabet, one byte per character; otherwise (an added token such as a run of plain
 * spaces, written outside the alphabet) the token's own UTF-8 bytes, unchanged.
 */
export function tokenToBytes(token: string): Uint8Array {
  const bytes = new Uint8Array(token.length); // every byte-level character is one UTF-16 unit
  let n = 0;
  for (let i = 0; i < token.length; i++) {
    const byte = CHAR_TO_BYTE.get(token.charCodeAt(i));
    if (byte === undefined) return utf8Encoder.encode(token);
    bytes[n++] = byte;
  }
  return bytes;
}
