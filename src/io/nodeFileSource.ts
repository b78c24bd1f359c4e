// ByteSource over a file on disk (Node only; browser code never imports this module).
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ByteSource } from './byteSource.ts';

export async function fileSource(path: string): Promise<ByteSource> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    name: basename(path),
    size,
    async read(offset, length) {
      const want = Math.max(0, Math.min(length, size - offset));
      const bytes = new Uint8Array(want);
      let done = 0;
      // A single read may return less than asked (large spans, network file systems): loop until the span is full.
      while (done < want) {
        const { bytesRead } = await handle.read(bytes, done, want - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === want ? bytes : bytes.subarray(0, done);
    },
    async close() {
      await handle.close();
    },
  };
}
