// The KV block pool as a pure data structure: invariants under random operation sequences (fast-check).
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BlockAllocator, blocksFor } from '../../src/kv/blockAllocator.ts';

describe('BlockAllocator', () => {
  it('hands out distinct blocks and takes them back', () => {
    const a = new BlockAllocator(4);
    const x = a.allocate(3);
    expect(new Set(x).size).toBe(3);
    expect(a.freeCount).toBe(1);
    expect(a.canAllocate(2)).toBe(false);
    expect(() => a.allocate(2)).toThrow(/only 1/);
    a.free(x);
    expect(a.freeCount).toBe(4);
  });

  it('rejects double frees, unknown blocks and empty pools', () => {
    const a = new BlockAllocator(2);
    const [b] = a.allocate(1);
    a.free([b]);
    expect(() => a.free([b])).toThrow(/not allocated/);
    expect(() => a.free([7])).toThrow(/outside/);
    expect(() => new BlockAllocator(0)).toThrow(/at least one/);
  });

  it('a retained block is freed only when its last holder lets go', () => {
    const a = new BlockAllocator(2);
    const [b] = a.allocate(1);
    a.retain(b);
    a.free([b]);
    expect(a.refCount(b)).toBe(1);
    expect(a.freeCount).toBe(1);
    a.free([b]);
    expect(a.freeCount).toBe(2);
  });

  it('keeps its invariants under any sequence of operations', () => {
    type Op = { kind: 'alloc'; n: number } | { kind: 'free'; pick: number } | { kind: 'retain'; pick: number };
    const op = fc.oneof(
      fc.record({ kind: fc.constant('alloc' as const), n: fc.integer({ min: 0, max: 6 }) }),
      fc.record({ kind: fc.constant('free' as const), pick: fc.nat() }),
      fc.record({ kind: fc.constant('retain' as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 16 }), fc.array(op, { maxLength: 80 }), (size, ops: Op[]) => {
        const a = new BlockAllocator(size);
        const held = new Map<number, number>(); // block → references we hold (the model)
        for (const o of ops) {
          if (o.kind === 'alloc') {
            if (a.canAllocate(o.n)) for (const b of a.allocate(o.n)) held.set(b, 1);
            else expect(() => a.allocate(o.n)).toThrow();
          } else if (held.size > 0) {
            const b = [...held.keys()][o.pick % held.size];
            if (o.kind === 'retain') {
              a.retain(b);
              held.set(b, held.get(b)! + 1);
            } else {
              a.free([b]);
              if (held.get(b) === 1) held.delete(b);
              else held.set(b, held.get(b)! - 1);
            }
          }
          expect(a.usedCount).toBe(held.size);
          expect(a.freeCount + a.usedCount).toBe(size);
          for (const [b, n] of held) expect(a.refCount(b)).toBe(n);
        }
        for (const [b, n] of held) for (let i = 0; i < n; i++) a.free([b]);
        expect(a.freeCount).toBe(size);
      }),
    );
  });

  it('blocksFor rounds up', () => {
    expect([0, 1, 16, 17, 32].map((t) => blocksFor(t, 16))).toEqual([0, 1, 1, 2, 2]);
  });
});
