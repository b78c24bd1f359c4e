// Streaming decode for token-by-token generation. One token can end in the middle of a UTF-8 character (GPT-2
// spells most emoji and CJK characters as 2-3 tokens of 1-2 bytes each), so decoding each id on its own would
// print U+FFFD garbage and then the wrong text. The stream keeps the bytes of an unfinished character until the
// tokens that complete it arrive, and returns only text that can no longer change.
//
// A WHATWG TextDecoder in `stream: true` mode does exactly this, with the same replacement rule as a one-shot
// decode: a byte that can never become part of a valid character is emitted as U+FFFD as soon as that is certain,
// and `flush()` turns a dangling incomplete sequence into U+FFFD. Hence push()es + flush() == decode(all ids),
// and a surrogate pair is never split across two push() results (the decoder emits whole code points).

/** Returned by `Tokenizer.createStreamDecoder()`. Reusable: after `flush()` it starts a new stream. */
export class StreamDecoder {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true }); // keep a leading U+FEFF: it is text here

  /** @param bytesOf the bytes one token id decodes to (throws a TokenizerError for an unknown id). */
  constructor(private readonly bytesOf: (id: number) => Uint8Array) {}

  /** Add one token; returns the text that is now complete (possibly ''). */
  push(id: number): string {
    // Look the id up before touching the decoder, so an unknown id leaves the stream as it was.
    const bytes = this.bytesOf(id);
    return this.decoder.decode(bytes, { stream: true });
  }

  /** End of the stream: returns the held-back bytes, an incomplete character as U+FFFD. */
  flush(): string {
    return this.decoder.decode();
  }
}
