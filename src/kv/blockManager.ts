// Block tables of the sequences that hold KV, over the shared BlockPool: which physical blocks each sequence reads,
// prefix reuse, copy-on-write, and giving blocks back. Pure data (no GPU): the scheduler asks it what a step needs and
// the engine performs the block copies it returns.
//
// A sequence's table covers positions 0 … n−1 in blocks of `blockSize`. Blocks shared with other sequences (or held
// by the prefix cache) are never written: a write into a block with more than one holder first copies it to a fresh
// block (`BlockCopy`), which only happens when a prompt is entirely cached and its last token must be recomputed.
import { BlockPool, blocksFor } from './blockPool.ts';
import { blockKeys } from './prefixHash.ts';

/** Copy all of physical block `from` (every layer, keys and values) into block `to` before the step runs. */
export interface BlockCopy {
  from: number;
  to: number;
}

export class KvBlockManager {
  private readonly tables = new Map<number, number[]>();

  constructor(
    readonly pool: BlockPool,
    readonly blockSize: number,
  ) {}

  /** The sequence's physical blocks in logical order (empty when it holds none). */
  table(seq: number): readonly number[] {
    return this.tables.get(seq) ?? [];
  }

  /**
   * The longest cached full-block prefix of `tokens`, taken for `seq` (which must hold no blocks yet). Returns how
   * many tokens it covers, at most tokens.length − 1: the last token is always computed, since its logits are wanted.
   */
  adoptCachedPrefix(seq: number, tokens: readonly number[], keys = blockKeys(tokens, this.blockSize)): number {
    if (this.tables.has(seq)) throw new Error(`sequence ${seq} already holds blocks`);
    const blocks: number[] = [];
    for (const key of keys) {
      const block = this.pool.lookup(key);
      if (block === undefined) break;
      blocks.push(block);
    }
    if (blocks.length > 0) this.tables.set(seq, blocks);
    return Math.min(blocks.length * this.blockSize, tokens.length - 1);
  }

  /** Blocks `append(seq, firstWrite, totalTokens)` would take from the pool (new blocks plus copies). */
  blocksNeeded(seq: number, firstWrite: number, totalTokens: number): number {
    const table = this.table(seq);
    return Math.max(0, blocksFor(totalTokens, this.blockSize) - table.length) + this.sharedInRange(table, firstWrite, totalTokens).length;
  }

  canAppend(seq: number, firstWrite: number, totalTokens: number): boolean {
    return this.pool.canAllocate(this.blocksNeeded(seq, firstWrite, totalTokens));
  }

  /**
   * Makes `seq` able to hold `totalTokens` positions, with positions firstWrite … totalTokens−1 about to be written:
   * allocates missing blocks and replaces shared blocks in that range by private copies. Returns the copies to do.
   */
  append(seq: number, firstWrite: number, totalTokens: number): BlockCopy[] {
    if (!this.canAppend(seq, firstWrite, totalTokens)) throw new RangeError(`sequence ${seq} needs ${this.blocksNeeded(seq, firstWrite, totalTokens)} KV blocks but ${this.pool.freeCount} are free`);
    const table = [...this.table(seq)];
    const copies: BlockCopy[] = [];
    for (const index of this.sharedInRange(table, firstWrite, totalTokens)) {
      const [copy] = this.pool.allocate(1);
      copies.push({ from: table[index], to: copy });
      this.pool.release([table[index]]);
      table[index] = copy;
    }
    const missing = blocksFor(totalTokens, this.blockSize) - table.length;
    if (missing > 0) table.push(...this.pool.allocate(missing));
    this.tables.set(seq, table);
    return copies;
  }

  /** Registers the sequence's full, computed blocks in the prefix cache (`keys` from blockKeys of its tokens). */
  cacheComputed(seq: number, keys: readonly string[], computedTokens: number): void {
    const table = this.table(seq);
    const full = Math.min(Math.floor(computedTokens / this.blockSize), keys.length, table.length);
    for (let i = 0; i < full; i++) this.pool.register(table[i], keys[i]);
  }

  /** Gives back every block of `seq` (cached ones stay reusable until evicted). */
  free(seq: number): void {
    const table = this.tables.get(seq);
    if (!table) return;
    this.tables.delete(seq);
    // Tail first: the pool evicts the least recently released block first, so the head of a prefix (what the most
    // prompts share) stays cached the longest, as in vLLM.
    this.pool.release([...table].reverse());
  }

  get sequences(): number {
    return this.tables.size;
  }

  /** Indices of blocks in the write range that another holder (or the prefix cache) also reads. */
  private sharedInRange(table: readonly number[], firstWrite: number, totalTokens: number): number[] {
    const out: number[] = [];
    const last = Math.min(table.length, blocksFor(totalTokens, this.blockSize)) - 1;
    for (let i = Math.floor(firstWrite / this.blockSize); i <= last; i++) {
      if (this.pool.refCount(table[i]) > 1 || this.pool.isRegistered(table[i])) out.push(i);
    }
    return out;
  }
}
