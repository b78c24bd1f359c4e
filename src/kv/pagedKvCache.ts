// The KV cache on the GPU: per layer, one key and one value pool of fixed-size blocks, shape (NB · B, C) each:
// physical block b holds positions b·B … b·B + B − 1 of whichever sequence's block table points at it.
// Which blocks are free is the BlockPool's business (blockPool.ts); this module only owns the memory.
import type { GpuContext } from '../gpu/context.ts';
import { createStorageBuffer, formatBytes } from '../gpu/buffers.ts';
import { GpuLimitError } from '../errors.ts';

export const DEFAULT_BLOCK_SIZE = 16;

export interface KvCacheOptions {
  numLayers: number;
  channels: number; // C
  numBlocks: number; // NB
  blockSize: number; // B
}

export class PagedKvCache {
  readonly keys: GPUBuffer[]; // per layer, (NB · B, C)
  readonly values: GPUBuffer[]; // per layer, (NB · B, C)
  readonly blockSize: number;
  readonly numBlocks: number;

  constructor(gpu: GpuContext, o: KvCacheOptions) {
    this.blockSize = o.blockSize;
    this.numBlocks = o.numBlocks;
    const layerBytes = o.numBlocks * o.blockSize * o.channels * 4;
    if (layerBytes > gpu.limits.maxStorageBufferBindingSize) {
      throw new GpuLimitError(
        `a KV pool of ${o.numBlocks} blocks × ${o.blockSize} tokens needs ${formatBytes(layerBytes)} per layer, over this adapter's ` +
          `maxStorageBufferBindingSize (${formatBytes(gpu.limits.maxStorageBufferBindingSize)}); use fewer KV blocks`,
      );
    }
    this.keys = [];
    this.values = [];
    try {
      for (let l = 0; l < o.numLayers; l++) {
        this.keys.push(createStorageBuffer(gpu, `kv keys layer ${l}`, layerBytes));
        this.values.push(createStorageBuffer(gpu, `kv values layer ${l}`, layerBytes));
      }
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  get bytes(): number {
    return this.keys.reduce((n, b) => n + b.size, 0) * 2;
  }

  destroy(): void {
    for (const b of [...this.keys, ...this.values]) b.destroy();
  }
}
