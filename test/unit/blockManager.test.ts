// KvBlockManager: per-sequence block tables over the BlockPool, prefix adoption, copy-on-write, caching, freeing.
import { describe, expect, it, vi } from 'vitest';
import fc from 'fast-check';
import { BlockPool, blocksFor } from '../../src/kv/blockPool.ts';
import { KvBlockManager } from '../../src/kv/blockManager.ts';
import { blockKeys } from '../../src/kv/prefixHash.ts';

const BS = 16;
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

/** A sequence of `tokens` computed from scratch and registered: what a finished prefill leaves behind. */
function computeAndCache(m: KvBlockManager, seq: number, tokens: number[]): readonly number[] {
  expect(m.adoptCachedPrefix(seq, tokens)).toBe(0);
  expect(m.append(seq, 0, tokens.length)).toEqual([]);
  m.cacheComputed(seq, blockKeys(tokens, m.blockSize), tokens.length);
  return m.table(seq);
}

function setup(numBlocks = 16) {
  const pool = new BlockPool(numBlocks);
  return { pool, m: new KvBlockManager(pool, BS) };
}

describe('KvBlockManager', () => {
  it('append allocates exactly the blocks that cover the positions', () => {
    const { pool, m } = setup();
    expect(m.table(1)).toEqual([]);
    expect(m.blocksNeeded(1, 0, 17)).toBe(2);
    expect(m.append(1, 0, 17)).toEqual([]);
    expect(m.table(1)).toHaveLength(2);
    expect(pool.usedCount).toBe(2);
    // growing within the last block takes nothing; crossing into the next takes one
    expect(m.blocksNeeded(1, 17, 32)).toBe(0);
    m.append(1, 17, 32);
    expect(m.table(1)).toHaveLength(2);
    expect(m.blocksNeeded(1, 32, 33)).toBe(1);
    const before = m.table(1);
    m.append(1, 32, 33);
    expect(m.table(1)).toHaveLength(3);
    expect(m.table(1).slice(0, 2)).toEqual(before);
    expect(m.sequences).toBe(1);
  });

  it('append that cannot be satisfied throws and changes nothing', () => {
    const { pool, m } = setup(3);
    m.append(1, 0, 20);
    const table = [...m.table(1)];
    expect(m.canAppend(1, 20, 64)).toBe(false);
    expect(() => m.append(1, 20, 64)).toThrow(RangeError);
    expect(m.table(1)).toEqual(table);
    expect(pool.usedCount).toBe(2);
    expect(m.canAppend(1, 20, 48)).toBe(true);
  });

  it('cacheComputed registers only full, computed blocks', () => {
    const { pool, m } = setup();
    const tokens = range(50);
    m.append(1, 0, 50); // 4 blocks, the last partial
    const keys = blockKeys(tokens, BS);
    expect(keys).toHaveLength(3);
    const t = m.table(1);
    m.cacheComputed(1, keys, 20); // 1 full block computed
    expect(t.map((b) => pool.isRegistered(b))).toEqual([true, false, false, false]);
    m.cacheComputed(1, keys, 47); // still only 2 full
    expect(t.map((b) => pool.isRegistered(b))).toEqual([true, true, false, false]);
    m.cacheComputed(1, keys, 50); // 3 full; the partial 4th never
    expect(t.map((b) => pool.isRegistered(b))).toEqual([true, true, true, false]);
    expect(pool.cachedCount).toBe(3);
    // fewer keys than computed blocks: only keyed blocks
    m.append(2, 0, 48);
    m.cacheComputed(2, blockKeys(range(48, 100), BS).slice(0, 1), 48);
    expect(m.table(2).map((b) => pool.isRegistered(b))).toEqual([true, false, false]);
    // the registered blocks are found under their keys
    expect(pool.lookup(keys[1])).toBe(t[1]);
  });

  it('adopts the longest cached prefix and shares its blocks', () => {
    const { pool, m } = setup();
    const a = range(40); // 2 full blocks + 8
    const ta = computeAndCache(m, 1, a);
    // same first 32 tokens, different tail: 2 blocks adopted
    const b = [...range(32), 900, 901, 902];
    expect(m.adoptCachedPrefix(2, b)).toBe(32);
    expect(m.table(2)).toEqual(ta.slice(0, 2));
    expect(pool.refCount(ta[0])).toBe(2);
    expect(pool.refCount(ta[1])).toBe(2);
    expect(pool.refCount(ta[2])).toBe(1);
    // writing the tail takes one fresh block and copies nothing
    expect(m.blocksNeeded(2, 32, b.length)).toBe(1);
    expect(m.append(2, 32, b.length)).toEqual([]);
    expect(m.table(2).slice(0, 2)).toEqual(ta.slice(0, 2));
    expect(m.table(2)[2]).not.toBe(ta[2]);
    // a difference in the second block: only the first is adopted
    const c = [...range(20), 777, ...range(20, 21)];
    expect(m.adoptCachedPrefix(3, c)).toBe(16);
    expect(m.table(3)).toEqual([ta[0]]);
    // a difference in the first block: nothing
    const d = [1000, ...range(40, 1)];
    expect(m.adoptCachedPrefix(4, d)).toBe(0);
    expect(m.table(4)).toEqual([]);
    expect(m.sequences).toBe(3);
    // a sequence that holds blocks cannot adopt again
    expect(() => m.adoptCachedPrefix(2, b)).toThrow();
  });

  it('counts at most tokens.length − 1 adopted tokens, and copies the shared last block before writing it', () => {
    const { pool, m } = setup();
    const a = range(32); // exactly 2 full blocks
    const ta = [...computeAndCache(m, 1, a)];
    expect(m.adoptCachedPrefix(2, a)).toBe(31); // the last token is recomputed for its logits
    expect(m.table(2)).toEqual(ta);
    expect(m.blocksNeeded(2, 31, 32)).toBe(1);
    const used = pool.usedCount;
    const copies = m.append(2, 31, 32);
    expect(copies).toHaveLength(1);
    const [copy] = copies;
    expect(copy.from).toBe(ta[1]);
    expect(copy.to).not.toBe(ta[1]);
    expect(ta).not.toContain(copy.to);
    expect(m.table(2)).toEqual([ta[0], copy.to]);
    expect(pool.refCount(ta[0])).toBe(2);
    expect(pool.refCount(ta[1])).toBe(1); // back to its only holder
    expect(pool.refCount(copy.to)).toBe(1);
    expect(pool.isRegistered(copy.to)).toBe(false);
    expect(pool.usedCount).toBe(used + 1);
    // a prompt of one token adopts nothing (no full block)
    expect(m.adoptCachedPrefix(3, [0])).toBe(0);
  });

  it('copies a registered block even when no one else holds it, and the original stays cached', () => {
    const { pool, m } = setup();
    const a = range(32);
    const ta = [...computeAndCache(m, 1, a)];
    m.free(1);
    expect(pool.usedCount).toBe(0);
    expect(m.adoptCachedPrefix(2, a)).toBe(31);
    expect(pool.refCount(ta[1])).toBe(1);
    expect(pool.isRegistered(ta[1])).toBe(true);
    const copies = m.append(2, 31, 32);
    expect(copies).toEqual([{ from: ta[1], to: m.table(2)[1] }]);
    expect(m.table(2)[1]).not.toBe(ta[1]);
    expect(pool.refCount(ta[1])).toBe(0);
    expect(pool.has(blockKeys(a, BS)[1])).toBe(true); // evictable, still reusable
    expect(pool.usedCount).toBe(2);
  });

  it('copies every shared block in the write range and none outside it', () => {
    const { pool, m } = setup();
    const a = range(48);
    const ta = [...computeAndCache(m, 1, a)];
    expect(m.adoptCachedPrefix(2, a)).toBe(47);
    // rewrite from position 20: blocks 1 and 2 are in the range, block 0 is not
    expect(m.blocksNeeded(2, 20, 60)).toBe(3); // 2 copies + 1 new block
    const copies = m.append(2, 20, 60);
    expect(copies.map((c) => c.from)).toEqual([ta[1], ta[2]]);
    const t2 = m.table(2);
    expect(t2).toHaveLength(4);
    expect(t2[0]).toBe(ta[0]);
    expect(copies.map((c) => c.to)).toEqual([t2[1], t2[2]]);
    for (const b of t2.slice(1)) {
      expect(pool.refCount(b)).toBe(1);
      expect(pool.isRegistered(b)).toBe(false);
    }
    expect(pool.refCount(ta[0])).toBe(2);
  });

  it('free returns every block; cached blocks stay cached until evicted; unknown sequences are ignored', () => {
    const { pool, m } = setup(8);
    const a = range(40);
    computeAndCache(m, 1, a);
    expect(m.adoptCachedPrefix(2, [...range(32), 5])).toBe(32);
    m.append(2, 32, 33);
    expect(pool.usedCount).toBe(4);
    m.free(1);
    expect(pool.usedCount).toBe(3); // the two shared blocks are still held by 2
    m.free(2);
    m.free(2);
    m.free(99);
    expect(pool.usedCount).toBe(0);
    expect(pool.freeCount).toBe(8);
    expect(m.sequences).toBe(0);
    expect(m.table(1)).toEqual([]);
    expect(pool.cachedCount).toBe(2);
    expect(m.adoptCachedPrefix(3, a)).toBe(32);
  });

  it('free gives the tail blocks back first, so evicting one cached block keeps the longest reusable prefix', () => {
    // A prefix is only reusable from its first block on (adoption stops at the first missing key). If a finished
    // sequence's blocks are released head first, the head becomes the least recently released block and is the first
    // evicted, which strands every later block of the chain (still cached, never reachable). vLLM frees in reverse
    // order for this reason ("so that the tail blocks are evicted first").
    const { pool, m } = setup(4);
    const a = range(48); // 3 full blocks
    computeAndCache(m, 1, a);
    m.free(1);
    expect(pool.cachedCount).toBe(3);
    m.append(2, 0, 32); // 2 blocks: the never-used one, then one eviction
    expect(pool.cachedCount).toBe(2);
    expect(m.adoptCachedPrefix(3, [...a, 1])).toBe(32);
  });

  it('blocksNeeded equals what append takes from the pool, and append leaves the write range private', () => {
    // Random states: sequences built over a few shared token streams, some computed and cached, some freed.
    const stepArb = fc.record({
      seq: fc.integer({ min: 0, max: 4 }),
      stream: fc.integer({ min: 0, max: 2 }),
      length: fc.integer({ min: 1, max: 70 }),
      extra: fc.integer({ min: 0, max: 40 }),
      rewrite: fc.nat(),
      action: fc.constantFrom('start', 'grow', 'free'),
    });
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 4, max: 30 }), fc.array(stepArb, { maxLength: 30 }), (bs, numBlocks, steps) => {
        const pool = new BlockPool(numBlocks);
        const m = new KvBlockManager(pool, bs);
        const streams = [range(200), range(200, 1000), [...range(30), ...range(170, 5000)]];
        const tokensOf = new Map<number, number[]>();
        const computed = new Map<number, number>();
        const allocate = vi.spyOn(pool, 'allocate');
        for (const s of steps) {
          const taken = () => allocate.mock.calls.reduce((n, [count]) => n + count, 0);
          if (s.action === 'free') {
            m.free(s.seq);
            tokensOf.delete(s.seq);
            computed.delete(s.seq);
          } else if (s.action === 'start' && !tokensOf.has(s.seq)) {
            const tokens = streams[s.stream].slice(0, s.length);
            const cached = m.adoptCachedPrefix(s.seq, tokens);
            expect(cached).toBeLessThanOrEqual(tokens.length - 1);
            expect(cached % bs === 0 || cached === tokens.length - 1).toBe(true);
            // adopted blocks cover the counted tokens, or the whole prompt when it is entirely cached
            const adopted = m.table(s.seq).length;
            if (adopted * bs === tokens.length) expect(cached).toBe(tokens.length - 1);
            else expect(adopted).toBe(Math.ceil(cached / bs));
            tokensOf.set(s.seq, tokens);
            computed.set(s.seq, cached);
            if (!m.canAppend(s.seq, cached, tokens.length)) {
              m.free(s.seq);
              tokensOf.delete(s.seq);
              computed.delete(s.seq);
              continue;
            }
            const need = m.blocksNeeded(s.seq, cached, tokens.length);
            const before = taken();
            const copies = m.append(s.seq, cached, tokens.length);
            expect(taken() - before).toBe(need);
            checkWriteRange(pool, m, s.seq, cached, tokens.length, copies.length);
            m.cacheComputed(s.seq, blockKeys(tokens, bs), tokens.length);
            computed.set(s.seq, tokens.length);
          } else if (s.action === 'grow' && tokensOf.has(s.seq)) {
            const total = computed.get(s.seq)! + s.extra;
            const firstWrite = s.rewrite % (total + 1);
            if (!m.canAppend(s.seq, firstWrite, total)) {
              expect(() => m.append(s.seq, firstWrite, total)).toThrow(RangeError);
              continue;
            }
            const need = m.blocksNeeded(s.seq, firstWrite, total);
            const before = taken();
            const copies = m.append(s.seq, firstWrite, total);
            expect(taken() - before).toBe(need);
            checkWriteRange(pool, m, s.seq, firstWrite, total, copies.length);
          }
          // refcounts are exactly the number of tables holding each block
          const counts = new Map<number, number>();
          for (const seq of tokensOf.keys()) for (const b of m.table(seq)) counts.set(b, (counts.get(b) ?? 0) + 1);
          for (let b = 0; b < numBlocks; b++) expect(pool.refCount(b)).toBe(counts.get(b) ?? 0);
          expect(pool.usedCount).toBe(counts.size);
        }
        for (const seq of [...tokensOf.keys()]) m.free(seq);
        expect(pool.usedCount).toBe(0);
        expect(pool.freeCount).toBe(numBlocks);
        expect(m.sequences).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

function checkWriteRange(pool: BlockPool, m: KvBlockManager, seq: number, firstWrite: number, total: number, copies: number): void {
  const t = m.table(seq);
  expect(t.length).toBeGreaterThanOrEqual(blocksFor(total, m.blockSize));
  expect(new Set(t).size).toBe(t.length);
  for (let i = Math.floor(firstWrite / m.blockSize); i < blocksFor(total, m.blockSize); i++) {
    expect(pool.refCount(t[i])).toBe(1);
    expect(pool.isRegistered(t[i])).toBe(false);
  }
  expect(copies).toBeLessThanOrEqual(t.length);
}
