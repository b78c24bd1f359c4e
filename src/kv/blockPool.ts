// The KV cache's physical blocks as a pure data structure (no GPU): reference counts, a free list, and a prefix cache.
//
// A block whose KV is fully computed can be registered under the hash of every token up to its end (prefixHash.ts).
// When its last holder lets go, a registered block is not wiped: it stays cached, "evictable", so a later prompt that
// starts the same way can take it back (refcount 0 → 1) and skip recomputing it. Allocation uses never-cached free
// blocks first, then evicts the least recently released cached block. So:
//   free blocks = free list + evictable cached blocks;  used blocks = blocks with refcount > 0.
// Each mutation has its query (canAllocate / allocate); misuse (double release, unknown block) throws.

export class BlockPool {
  private readonly refCounts: Uint32Array;
  /** Never-registered free blocks; popped from the end. */
  private readonly freeList: number[];
  /** Registered blocks with refcount 0, oldest release first (Map keeps insertion order): evicted in that order. */
  private readonly evictable = new Map<number, string>();
  /** Prefix key → the block holding that prefix's last block of KV. */
  private readonly cache = new Map<string, number>();
  /** Block → its prefix key, for registered blocks. */
  private readonly keyOf = new Map<number, string>();
  private used = 0;
  private peak = 0;

  constructor(readonly numBlocks: number) {
    if (!Number.isInteger(numBlocks) || numBlocks < 1) throw new RangeError(`a KV pool needs at least one block, got ${numBlocks}`);
    this.refCounts = new Uint32Array(numBlocks);
    this.freeList = Array.from({ length: numBlocks }, (_, i) => numBlocks - 1 - i);
  }

  /** Blocks that an allocation can take (free or evictable). */
  get freeCount(): number {
    return this.freeList.length + this.evictable.size;
  }

  /** Blocks held by at least one sequence. */
  get usedCount(): number {
    return this.used;
  }

  /** Most blocks ever held at once. */
  get peakUsed(): number {
    return this.peak;
  }

  /** Starts peak tracking again from the blocks held now. */
  resetPeak(): void {
    this.peak = this.used;
  }

  /** Registered blocks (held or evictable). */
  get cachedCount(): number {
    return this.keyOf.size;
  }

  canAllocate(count: number): boolean {
    return count <= this.freeCount;
  }

  /** `count` blocks, each with a reference count of 1 (evicting cached blocks when the free list runs out). */
  allocate(count: number): number[] {
    if (!this.canAllocate(count)) throw new RangeError(`asked for ${count} KV blocks but only ${this.freeCount} are free`);
    const blocks: number[] = [];
    for (let i = 0; i < count; i++) {
      let block = this.freeList.pop();
      if (block === undefined) {
        const [oldest] = this.evictable.keys();
        this.evictable.delete(oldest);
        this.unregister(oldest);
        block = oldest;
      }
      this.take(block);
      blocks.push(block);
    }
    return blocks;
  }

  /** One more holder of an allocated block (a sequence sharing it). */
  retain(block: number): void {
    this.checkHeld(block);
    this.refCounts[block]++;
  }

  /** Drops one reference to each block; at 0 a registered block becomes evictable, any other returns to the free list. */
  release(blocks: readonly number[]): void {
    for (const b of blocks) {
      this.checkHeld(b);
      if (--this.refCounts[b] > 0) continue;
      this.used--;
      const key = this.keyOf.get(b);
      if (key === undefined) this.freeList.push(b);
      else this.evictable.set(b, key);
    }
  }

  refCount(block: number): number {
    return this.refCounts[block];
  }

  /** The cached block holding prefix `key`, retained for the caller; undefined when not cached. */
  lookup(key: string): number | undefined {
    const block = this.cache.get(key);
    if (block === undefined) return undefined;
    if (this.refCounts[block] === 0) {
      this.evictable.delete(block);
      this.take(block);
    } else {
      this.refCounts[block]++;
    }
    return block;
  }

  /** Whether `key` is cached (without taking the block). */
  has(key: string): boolean {
    return this.cache.has(key);
  }

  /** Records that held block `block` now holds the fully computed KV of prefix `key` (first registration wins). */
  register(block: number, key: string): void {
    this.checkHeld(block);
    if (this.keyOf.has(block) || this.cache.has(key)) return;
    this.cache.set(key, block);
    this.keyOf.set(block, key);
  }

  isRegistered(block: number): boolean {
    return this.keyOf.has(block);
  }

  private take(block: number): void {
    this.refCounts[block] = 1;
    this.used++;
    if (this.used > this.peak) this.peak = this.used;
  }

  private unregister(block: number): void {
    const key = this.keyOf.get(block);
    if (key !== undefined) this.cache.delete(key);
    this.keyOf.delete(block);
  }

  private checkHeld(block: number): void {
    if (!Number.isInteger(block) || block < 0 || block >= this.numBlocks) throw new RangeError(`block ${block} is outside the pool of ${this.numBlocks}`);
    if (this.refCounts[block] === 0) throw new Error(`block ${block} is not allocated (double release?)`);
  }
}

/** Blocks needed to hold `tokens` positions. */
export function blocksFor(tokens: number, blockSize: number): number {
  return Math.ceil(tokens / blockSize);
}
