// BlockPool (refcounts, free list, prefix cache with LRU eviction) and prefixHash (chained block keys), without a GPU.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BlockPool, blocksFor } from '../../src/kv/blockPool.ts';
import { blockKeys } from '../../src/kv/prefixHash.ts';

/** A pool whose every block is registered (key `k<block>`) and released in `releaseOrder`: all of them evictable. */
function allEvictable(numBlocks: number, releaseOrder: number[]): BlockPool {
  const pool = new BlockPool(numBlocks);
  const blocks = pool.allocate(numBlocks);
  expect([...blocks].sort((a, b) => a - b)).toEqual(Array.from({ length: numBlocks }, (_, i) => i));
  for (const b of blocks) pool.register(b, `k${b}`);
  for (const b of releaseOrder) pool.release([b]);
  return pool;
}

describe('BlockPool', () => {
  it('allocates distinct blocks with refcount 1 and counts them', () => {
    const pool = new BlockPool(5);
    expect(pool.freeCount).toBe(5);
    expect(pool.usedCount).toBe(0);
    expect(pool.allocate(0)).toEqual([]);
    const a = pool.allocate(3);
    expect(new Set(a).size).toBe(3);
    for (const b of a) {
      expect(b).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(5);
      expect(pool.refCount(b)).toBe(1);
    }
    expect(pool.usedCount).toBe(3);
    expect(pool.freeCount).toBe(2);
    expect(pool.canAllocate(2)).toBe(true);
    expect(pool.canAllocate(3)).toBe(false);
    expect(() => pool.allocate(3)).toThrow(RangeError);
    // a failed allocation changes nothing
    expect(pool.usedCount).toBe(3);
    expect(pool.freeCount).toBe(2);
    const b = pool.allocate(2);
    expect(new Set([...a, ...b]).size).toBe(5);
    expect(pool.freeCount).toBe(0);
    expect(pool.peakUsed).toBe(5);
  });

  it('retain adds a holder; the block returns to the pool only when the last holder releases it', () => {
    const pool = new BlockPool(2);
    const [b] = pool.allocate(1);
    pool.retain(b);
    pool.retain(b);
    expect(pool.refCount(b)).toBe(3);
    expect(pool.usedCount).toBe(1);
    pool.release([b]);
    pool.release([b]);
    expect(pool.refCount(b)).toBe(1);
    expect(pool.usedCount).toBe(1);
    expect(pool.freeCount).toBe(1);
    pool.release([b]);
    expect(pool.refCount(b)).toBe(0);
    expect(pool.usedCount).toBe(0);
    expect(pool.freeCount).toBe(2);
    expect(pool.peakUsed).toBe(1);
  });

  it('release of several references in one call, including the same block twice', () => {
    const pool = new BlockPool(3);
    const [a, b] = pool.allocate(2);
    pool.retain(a);
    pool.release([a, b, a]);
    expect(pool.usedCount).toBe(0);
    expect(pool.freeCount).toBe(3);
  });

  it('double release, unknown blocks and out-of-range blocks throw', () => {
    const pool = new BlockPool(4);
    const [b] = pool.allocate(1);
    pool.release([b]);
    expect(() => pool.release([b])).toThrow(/not allocated/);
    expect(() => pool.retain(b)).toThrow(/not allocated/);
    expect(() => pool.register(b, 'x')).toThrow(/not allocated/);
    for (const bad of [-1, 4, 1.5, Number.NaN]) {
      expect(() => pool.release([bad])).toThrow(RangeError);
      expect(() => pool.retain(bad)).toThrow(RangeError);
    }
    expect(pool.usedCount).toBe(0);
    expect(pool.freeCount).toBe(4);
  });

  it('needs at least one block', () => {
    expect(() => new BlockPool(0)).toThrow(RangeError);
    expect(() => new BlockPool(2.5)).toThrow(RangeError);
  });

  it('a released registered block stays cached and can be looked up again (revived, refcount 1)', () => {
    const pool = new BlockPool(3);
    const [b] = pool.allocate(1);
    expect(pool.has('p')).toBe(false);
    expect(pool.lookup('p')).toBeUndefined();
    pool.register(b, 'p');
    expect(pool.has('p')).toBe(true);
    expect(pool.isRegistered(b)).toBe(true);
    expect(pool.cachedCount).toBe(1);
    // held: lookup adds a holder
    expect(pool.lookup('p')).toBe(b);
    expect(pool.refCount(b)).toBe(2);
    expect(pool.usedCount).toBe(1);
    pool.release([b, b]);
    // evictable: free for allocation, still cached
    expect(pool.usedCount).toBe(0);
    expect(pool.freeCount).toBe(3);
    expect(pool.cachedCount).toBe(1);
    expect(pool.has('p')).toBe(true);
    expect(pool.lookup('p')).toBe(b);
    expect(pool.refCount(b)).toBe(1);
    expect(pool.usedCount).toBe(1);
    expect(pool.freeCount).toBe(2);
    // the revived block is no longer evictable: allocating everything else leaves it alone
    const rest = pool.allocate(2);
    expect(rest).not.toContain(b);
    expect(pool.canAllocate(1)).toBe(false);
    expect(pool.lookup('p')).toBe(b);
  });

  it('first registration wins, and a block keeps its first key', () => {
    const pool = new BlockPool(3);
    const [a, b] = pool.allocate(2);
    pool.register(a, 'k');
    pool.register(b, 'k'); // same prefix computed twice: the first block stays the cached one
    expect(pool.isRegistered(b)).toBe(false);
    pool.register(a, 'other'); // already registered under 'k'
    expect(pool.has('other')).toBe(false);
    expect(pool.lookup('k')).toBe(a);
    expect(pool.cachedCount).toBe(1);
    // the unregistered duplicate goes back to the free list, not the cache
    pool.release([b]);
    expect(pool.cachedCount).toBe(1);
    expect(pool.isRegistered(b)).toBe(false);
  });

  it('never-registered free blocks are used before any cached block is evicted', () => {
    const pool = new BlockPool(4);
    const [a, b, c, d] = pool.allocate(4);
    pool.register(a, 'ka');
    pool.register(b, 'kb');
    pool.release([a, b, c, d]);
    expect(pool.freeCount).toBe(4);
    const first = pool.allocate(2);
    expect(first.sort()).toEqual([c, d].sort());
    expect(pool.has('ka')).toBe(true);
    expect(pool.has('kb')).toBe(true);
    expect(pool.cachedCount).toBe(2);
    expect(pool.allocate(1)).toEqual([a]); // a was released before b
    expect(pool.has('ka')).toBe(false);
    expect(pool.isRegistered(a)).toBe(false);
    expect(pool.lookup('ka')).toBeUndefined();
    expect(pool.has('kb')).toBe(true);
    expect(pool.cachedCount).toBe(1);
  });

  it('evicts the least recently released cached block first', () => {
    const pool = allEvictable(4, [2, 0, 3, 1]);
    expect(pool.freeCount).toBe(4);
    expect(pool.allocate(1)).toEqual([2]);
    expect(pool.allocate(2)).toEqual([0, 3]);
    expect(pool.has('k1')).toBe(true);
    expect(pool.has('k0')).toBe(false);
    expect(pool.has('k2')).toBe(false);
    expect(pool.has('k3')).toBe(false);
    expect(pool.allocate(1)).toEqual([1]);
    expect(pool.cachedCount).toBe(0);
  });

  it('a block looked up and released again moves to the back of the eviction order', () => {
    const pool = allEvictable(3, [0, 1, 2]);
    expect(pool.lookup('k0')).toBe(0);
    pool.release([0]); // now the most recently released
    expect(pool.allocate(2)).toEqual([1, 2]);
    expect(pool.has('k0')).toBe(true);
  });

  it('an evicted block comes back unregistered and can be registered under a new key', () => {
    const pool = allEvictable(2, [0, 1]);
    const [b] = pool.allocate(1);
    expect(b).toBe(0);
    expect(pool.isRegistered(b)).toBe(false);
    pool.register(b, 'new');
    expect(pool.lookup('new')).toBe(b);
    expect(pool.refCount(b)).toBe(2);
  });

  it('peakUsed is the high-water mark, lookups of evictable blocks included', () => {
    const pool = new BlockPool(4);
    const a = pool.allocate(3);
    pool.register(a[0], 'x');
    pool.release(a);
    expect(pool.peakUsed).toBe(3);
    pool.lookup('x');
    expect(pool.peakUsed).toBe(3);
    pool.allocate(3);
    expect(pool.peakUsed).toBe(4);
  });

  it('blocksFor rounds up', () => {
    expect(blocksFor(0, 16)).toBe(0);
    expect(blocksFor(1, 16)).toBe(1);
    expect(blocksFor(16, 16)).toBe(1);
    expect(blocksFor(17, 16)).toBe(2);
    expect(blocksFor(5, 1)).toBe(5);
  });

  // Model-based: random operations against a plain model of holders, cache and eviction order.
  type Op =
    | { op: 'allocate'; n: number }
    | { op: 'retain'; pick: number }
    | { op: 'release'; pick: number }
    | { op: 'register'; pick: number; key: number }
    | { op: 'lookup'; key: number }
    | { op: 'badRelease'; pick: number };
  const opArb: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('allocate' as const), n: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ op: fc.constant('retain' as const), pick: fc.nat() }),
    fc.record({ op: fc.constant('release' as const), pick: fc.nat() }),
    fc.record({ op: fc.constant('release' as const), pick: fc.nat() }),
    fc.record({ op: fc.constant('register' as const), pick: fc.nat(), key: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('lookup' as const), key: fc.integer({ min: 0, max: 7 }) }),
    fc.record({ op: fc.constant('badRelease' as const), pick: fc.nat() }),
  );

  it('matches a reference model over random operation sequences', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(opArb, { maxLength: 80 }), (numBlocks, ops) => {
        const pool = new BlockPool(numBlocks);
        const ref = new Map<number, number>(); // block → refcount (held blocks only)
        const keyOf = new Map<number, string>();
        const blockOf = new Map<string, number>();
        let evictable: number[] = []; // oldest release first
        let peak = 0;
        const plainFree = () => Array.from({ length: numBlocks }, (_, b) => b).filter((b) => !ref.has(b) && !keyOf.has(b));
        const held = () => [...ref.keys()].sort((a, b) => a - b);
        const take = (b: number) => {
          ref.set(b, 1);
          peak = Math.max(peak, ref.size);
        };
        for (const o of ops) {
          switch (o.op) {
            case 'allocate': {
              const free = plainFree();
              if (o.n > free.length + evictable.length) {
                expect(pool.canAllocate(o.n)).toBe(false);
                expect(() => pool.allocate(o.n)).toThrow(RangeError);
                break;
              }
              const got = pool.allocate(o.n);
              expect(got).toHaveLength(o.n);
              const fromFree = Math.min(o.n, free.length);
              // the first `fromFree` come from never-registered blocks, the rest are the oldest evictable in order
              for (const b of got.slice(0, fromFree)) expect(free).toContain(b);
              const evicted = evictable.slice(0, o.n - fromFree);
              expect(got.slice(fromFree)).toEqual(evicted);
              evictable = evictable.slice(o.n - fromFree);
              for (const b of evicted) {
                blockOf.delete(keyOf.get(b)!);
                keyOf.delete(b);
              }
              for (const b of got) take(b);
              break;
            }
            case 'retain': {
              const h = held();
              if (h.length === 0) break;
              const b = h[o.pick % h.length];
              pool.retain(b);
              ref.set(b, ref.get(b)! + 1);
              break;
            }
            case 'release': {
              const h = held();
              if (h.length === 0) break;
              const b = h[o.pick % h.length];
              pool.release([b]);
              const n = ref.get(b)! - 1;
              if (n > 0) ref.set(b, n);
              else {
                ref.delete(b);
                if (keyOf.has(b)) evictable.push(b);
              }
              break;
            }
            case 'badRelease': {
              const notHeld = Array.from({ length: numBlocks }, (_, b) => b).filter((b) => !ref.has(b));
              const b = notHeld.length > 0 ? notHeld[o.pick % notHeld.length] : numBlocks + (o.pick % 3);
              expect(() => pool.release([b])).toThrow();
              break;
            }
            case 'register': {
              const h = held();
              if (h.length === 0) break;
              const b = h[o.pick % h.length];
              const key = `key${o.key}`;
              pool.register(b, key);
              if (!keyOf.has(b) && !blockOf.has(key)) {
                keyOf.set(b, key);
                blockOf.set(key, b);
              }
              break;
            }
            case 'lookup': {
              const key = `key${o.key}`;
              const expected = blockOf.get(key);
              expect(pool.has(key)).toBe(expected !== undefined);
              expect(pool.lookup(key)).toBe(expected);
              if (expected !== undefined) {
                if (ref.has(expected)) ref.set(expected, ref.get(expected)! + 1);
                else {
                  evictable = evictable.filter((x) => x !== expected);
                  take(expected);
                }
              }
              break;
            }
          }
          expect(pool.usedCount).toBe(ref.size);
          expect(pool.freeCount).toBe(numBlocks - ref.size);
          expect(pool.peakUsed).toBe(peak);
          expect(pool.cachedCount).toBe(keyOf.size);
          for (let b = 0; b < numBlocks; b++) {
            expect(pool.refCount(b)).toBe(ref.get(b) ?? 0);
            expect(pool.isRegistered(b)).toBe(keyOf.has(b));
          }
        }
        // Releasing every reference empties the pool; cached blocks stay cached (and evictable).
        for (const [b, n] of [...ref]) for (let i = 0; i < n; i++) pool.release([b]);
        expect(pool.usedCount).toBe(0);
        expect(pool.freeCount).toBe(numBlocks);
        expect(pool.cachedCount).toBe(keyOf.size);
        // ... and all of it can be allocated again, which evicts the whole cache
        expect(new Set(pool.allocate(numBlocks)).size).toBe(numBlocks);
        expect(pool.cachedCount).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});

describe('blockKeys (prefix hash)', () => {
  const tokensArb = (max = 80) => fc.array(fc.integer({ min: 0, max: 2 ** 31 - 1 }), { maxLength: max });
  const bsArb = fc.integer({ min: 1, max: 9 });

  it('gives one key per full block and none for a trailing partial block', () => {
    expect(blockKeys([], 4)).toEqual([]);
    expect(blockKeys([1, 2, 3], 4)).toEqual([]);
    expect(blockKeys([1, 2, 3, 4], 4)).toHaveLength(1);
    expect(blockKeys([1, 2, 3, 4, 5, 6, 7], 4)).toHaveLength(1);
    expect(blockKeys([1, 2, 3, 4, 5, 6, 7, 8], 4)).toHaveLength(2);
    fc.assert(
      fc.property(tokensArb(), bsArb, (t, bs) => {
        expect(blockKeys(t, bs)).toHaveLength(Math.floor(t.length / bs));
      }),
    );
  });

  it('depends only on the prefix: same prefix → same keys, whatever follows', () => {
    fc.assert(
      fc.property(tokensArb(), tokensArb(30), tokensArb(30), bsArb, (prefix, a, b, bs) => {
        const ka = blockKeys([...prefix, ...a], bs);
        const kb = blockKeys([...prefix, ...b], bs);
        const shared = Math.floor(prefix.length / bs);
        expect(ka.slice(0, shared)).toEqual(kb.slice(0, shared));
        expect(blockKeys(prefix, bs)).toEqual(ka.slice(0, shared));
      }),
    );
  });

  it('a change in any token changes the key of its block and of every later block, and no earlier one', () => {
    fc.assert(
      fc.property(tokensArb().filter((t) => t.length > 0), fc.nat(), fc.integer({ min: 1, max: 2 ** 31 - 1 }), bsArb, (t, at, delta, bs) => {
        const p = at % t.length;
        const u = [...t];
        u[p] = (u[p] + delta) % 2 ** 31;
        fc.pre(u[p] !== t[p]);
        const kt = blockKeys(t, bs);
        const ku = blockKeys(u, bs);
        const changed = Math.floor(p / bs);
        for (let i = 0; i < kt.length; i++) {
          if (i < changed) expect(ku[i]).toBe(kt[i]);
          else expect(ku[i]).not.toBe(kt[i]);
        }
      }),
    );
  });

  it('the same block contents behind a different history get a different key', () => {
    const block = [5, 6, 7, 8];
    const k1 = blockKeys([1, 2, 3, 4, ...block], 4);
    const k2 = blockKeys([1, 2, 3, 9, ...block], 4);
    expect(k1[1]).not.toBe(k2[1]);
    // and a block is not confused with the same tokens at a different position
    expect(blockKeys(block, 4)[0]).not.toBe(k1[1]);
    // token order matters within a block
    expect(blockKeys([1, 2], 2)[0]).not.toBe(blockKeys([2, 1], 2)[0]);
  });

  it('incremental computation (from, previous) equals the one-shot keys', () => {
    fc.assert(
      fc.property(tokensArb(120), fc.nat(), fc.nat(), bsArb, (t, cutA, cutB, bs) => {
        const full = blockKeys(t, bs);
        // keys of a shorter prefix, extended as tokens arrive (what the scheduler does as a sequence grows)
        const shortLen = cutA % (t.length + 1);
        const previous = blockKeys(t.slice(0, shortLen), bs);
        const from = cutB % (previous.length + 1);
        expect(blockKeys(t, bs, from, previous)).toEqual(full);
        // extending step by step, one token at a time
        let keys: string[] = [];
        for (let n = 0; n <= t.length; n++) keys = blockKeys(t.slice(0, n), bs, keys.length, keys);
        expect(keys).toEqual(full);
      }),
    );
  });

  it('does not mutate `previous`', () => {
    const t = Array.from({ length: 12 }, (_, i) => i);
    const previous = blockKeys(t.slice(0, 4), 4);
    const copy = [...previous];
    blockKeys(t, 4, 1, previous);
    expect(previous).toEqual(copy);
  });

  it('keys of distinct random prefixes do not collide', () => {
    const seen = new Map<string, string>();
    let x = 12345;
    const rand = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) % 50000;
    for (let i = 0; i < 20000; i++) {
      const t = Array.from({ length: 8 }, rand);
      const [k] = blockKeys(t, 8);
      const id = t.join(',');
      const prev = seen.get(k);
      if (prev !== undefined) expect(prev).toBe(id);
      seen.set(k, id);
    }
    // small vocabularies too: all 4^6 sequences of length 6 over {0,1,2,3}
    const keys = new Set<string>();
    for (let n = 0; n < 4 ** 6; n++) {
      const t = Array.from({ length: 6 }, (_, i) => Math.floor(n / 4 ** i) % 4);
      keys.add(blockKeys(t, 3)[1]);
    }
    expect(keys.size).toBe(4 ** 6);
  });
});
