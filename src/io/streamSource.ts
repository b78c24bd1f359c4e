// A ByteSource over a stream that arrives front to back (a download, or a Cache API body), read in file order:
// each read waits until its bytes have arrived, and bytes before the read position are dropped, so a checkpoint flows
// from the network into GPU buffers without ever being held whole in memory. The loader reads safetensors in file
// order (header, then tensors by offset), which is all this source supports: a read that goes back before what was
// already dropped is a bug and throws.

export interface StreamSourceOptions {
  name: string;
  /** Total bytes (Content-Length). */
  size: number;
  /** Called with the running total of bytes received. */
  onBytes?: (received: number) => void;
}

export class StreamSource {
  readonly name: string;
  readonly size: number;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  /** Received chunks not yet dropped, in order; `start` is the file offset of chunks[0]. */
  private chunks: Uint8Array[] = [];
  private start = 0;
  private received = 0;
  private done = false;

  constructor(
    stream: ReadableStream<Uint8Array>,
    private readonly options: StreamSourceOptions,
  ) {
    this.name = options.name;
    this.size = options.size;
    this.reader = stream.getReader();
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (offset < this.start) throw new Error(`${this.name}: read at ${offset} after bytes up to ${this.start} were released (reads must go front to back)`);
    const end = Math.min(offset + length, this.size);
    while (this.received < end && !this.done) await this.pull();
    this.release(offset);
    const out = new Uint8Array(Math.max(0, Math.min(end, this.received) - offset));
    let at = this.start;
    for (const chunk of this.chunks) {
      const from = Math.max(offset, at);
      const to = Math.min(offset + out.length, at + chunk.length);
      if (from < to) out.set(chunk.subarray(from - at, to - at), from - offset);
      at += chunk.length;
      if (at >= offset + out.length) break;
    }
    return out;
  }

  /** Stops the download (if still running) and drops what is buffered. */
  async close(): Promise<void> {
    this.chunks = [];
    if (!this.done) await this.reader.cancel().catch(() => {});
    this.done = true;
  }

  private async pull(): Promise<void> {
    const { done, value } = await this.reader.read();
    if (done) {
      this.done = true;
      return;
    }
    this.chunks.push(value);
    this.received += value.length;
    this.options.onBytes?.(this.received);
  }

  /** Drops the chunks that end at or before `offset`. */
  private release(offset: number): void {
    while (this.chunks.length > 0 && this.start + this.chunks[0].length <= offset) {
      this.start += this.chunks[0].length;
      this.chunks.shift();
    }
  }
}
