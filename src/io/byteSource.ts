// Random access to the bytes of one file, wherever it lives: in memory, a browser Blob/File, a file on disk (see
// nodeFileSource.ts, kept apart so browser bundles never import `node:fs`), or a URL with Range requests. Readers ask
// for the spans they need, so a multi-GB checkpoint never has to become one ArrayBuffer.

export interface ByteSource {
  /** What to call the file in error messages (its name or path). */
  readonly name: string;
  /** Total size in bytes. */
  readonly size: number;
  /** Reads `length` bytes at `offset`; returns fewer only where the source ends first. */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases the handle, where there is one; a download still running is stopped. */
  close?(): Promise<void>;
  /**
   * The reader succeeded and needs nothing more: let whatever the source still does with the rest complete (a
   * download finishing into the cache), then release it. Sources without such work need not have it.
   */
  finish?(): Promise<void>;
}

/** A source over bytes already in memory (tests, small files, downloads that were buffered anyway). */
export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      return bytes.subarray(offset, Math.min(offset + length, bytes.byteLength));
    },
  };
}

/** A source over a Blob or File (browser file picker, drag and drop, Cache API responses). */
export function blobSource(name: string, blob: Blob): ByteSource {
  return {
    name,
    size: blob.size,
    async read(offset, length) {
      return new Uint8Array(await blob.slice(offset, Math.min(offset + length, blob.size)).arrayBuffer());
    },
  };
}
