// The KV cache's block pool as a pure data structure (no GPU): which physical blocks are free, and how many sequences
// hold each used block. Every mutation has its query (canAllocate / allocate, free), and misuse (double free, freeing
// a block never handed out) throws instead of corrupting the pool.

export class BlockAllocator {
  /** Free block ids; allocation pops from the end, so recently freed blocks are reused first (warm in caches). */
  private readonly freeList: number[];
  private readonly refCounts: Uint32Array;

  constructor(readonly numBlocks: number) {
    if (!Number.isInteger(numBlocks) || numBlocks < 1) throw new RangeError(`a KV pool needs at least one block, got ${numBlocks}`);
    this.freeList = Array.from({ length: numBlocks }, (_, i) => numBlocks - 1 - i);
    this.refCounts = new Uint32Array(numBlocks);
  }

  get freeCount(): number {
    return this.freeList.length;
  }

  get usedCount(): number {
    return this.numBlocks - this.freeList.length;
  }

  canAllocate(count: number): boolean {
    return count <= this.freeList.length;
  }

  /** Hands out `count` free blocks with a reference count of 1 each. */
  allocate(count: number): number[] {
    if (!this.canAllocate(count)) throw new RangeError(`asked for ${count} KV blocks but only ${this.freeList.length} are free`);
    const blocks = this.freeList.splice(this.freeList.length - count, count).reverse();
    for (const b of blocks) this.refCounts[b] = 1;
    return blocks;
  }

  /** One more holder of an allocated block (a sequence sharing a prefix). */
  retain(block: number): void {
    this.check(block);
    this.refCounts[block]++;
  }

  /** Drops one reference to each block; a block whose count reaches 0 returns to the free list. */
  free(blocks: readonly number[]): void {
    for (const b of blocks) {
      this.check(b);
      if (--this.refCounts[b] === 0) this.freeList.push(b);
    }
  }

  refCount(block: number): number {
    return this.refCounts[block];
  }

  private check(block: number): void {
    if (!Number.isInteger(block) || block < 0 || block >= this.numBlocks) throw new RangeError(`block ${block} is outside the pool of ${this.numBlocks}`);
    if (this.refCounts[block] === 0) throw new Error(`block ${block} is not allocated (double free?)`);
  }
}

/** Blocks needed to hold `tokens` positions. */
export function blocksFor(tokens: number, blockSize: number): number {
  return Math.ceil(tokens / blockSize);
}
