// Float conversions of src/io/dtype.ts, checked against IEEE 754 bit patterns worked out by hand and against an
// independent oracle written here from the format definitions (half: 1 sign, 5 exponent bits biased by 15, 10 mantissa
// bits; bfloat16: the top 16 bits of an IEEE single).

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ModelFormatError } from '../../src/errors.ts';
import { bytesPerElement, decodeToFloat32, encodeFloats, isFloatDtype } from '../../src/io/dtype.ts';
import type { FloatDtype } from '../../src/io/dtype.ts';
import type { Dtype } from '../../src/io/safetensors.ts';

// ---------------------------------------------------------------------------------------------------------------------
// Oracles and helpers

/** The value of half-precision bits, from the definition. */
function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m === 0 ? sign * Infinity : NaN;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1024 + m) * 2 ** (e - 25);
}

/** The value of bfloat16 bits: the same bits in the top half of an f32. */
function bf16Value(b: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, b << 16 >>> 0);
  return view.getFloat32(0);
}

/** Little-endian bytes of 16-bit patterns. */
function le16(bits: readonly number[]): Uint8Array {
  const out = new Uint8Array(bits.length * 2);
  bits.forEach((b, i) => {
    out[2 * i] = b & 0xff;
    out[2 * i + 1] = b >> 8;
  });
  return out;
}

/** Little-endian bytes of 32-bit patterns. */
function le32(bits: readonly number[]): Uint8Array {
  const out = new Uint8Array(bits.length * 4);
  bits.forEach((b, i) => {
    for (let k = 0; k < 4; k++) out[4 * i + k] = (b >>> (8 * k)) & 0xff;
  });
  return out;
}

/** The 16-bit patterns in encoded bytes. */
function patterns16(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < bytes.byteLength; i += 2) out.push(bytes[i] | (bytes[i + 1] << 8));
  return out;
}

const encode16 = (dtype: 'F16' | 'BF16', value: number): number => patterns16(encodeFloats(dtype, [value]))[0];

/** The same bytes, starting at an odd offset of a larger buffer. */
function atOddOffset(bytes: Uint8Array, offset = 1): Uint8Array {
  const big = new Uint8Array(bytes.byteLength + offset + 3).fill(0xee);
  big.set(bytes, offset);
  return big.subarray(offset, offset + bytes.byteLength);
}

const hex = (n: number) => `0x${n.toString(16).padStart(4, '0')}`;

/**
 * Round-to-nearest-even of `x` to a 16-bit format, by search: among the finite positive patterns 0..maxFinite (whose
 * values increase with the pattern), find the two that bracket |x|, pick the nearer, the even one on a tie. Past the
 * last finite value, the next step up (2 × the last value's exponent) stands for infinity.
 */
function nearest(x: number, value: (bits: number) => number, maxFinite: number, inf: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  let lo = 0;
  let hi = maxFinite;
  if (a >= value(maxFinite)) {
    // Between the largest finite value and the value the next pattern would have (one more ulp).
    const top = value(maxFinite);
    const next = top + (top - value(maxFinite - 1));
    const mid = (top + next) / 2;
    // The largest finite pattern is odd (all mantissa bits set), so a tie rounds to infinity.
    return sign | (a < mid ? maxFinite : inf);
  }
  while (hi - lo > 1) {
    const m = (lo + hi) >> 1;
    if (value(m) <= a) lo = m;
    else hi = m;
  }
  if (value(lo) === a) return sign | lo;
  const dLo = a - value(lo);
  const dHi = value(hi) - a;
  if (dLo < dHi) return sign | lo;
  if (dHi < dLo) return sign | hi;
  return sign | (lo % 2 === 0 ? lo : hi);
}

const nearestHalf = (x: number) => nearest(x, halfValue, 0x7bff, 0x7c00);
const nearestBf16 = (x: number) => nearest(x, bf16Value, 0x7f7f, 0x7f80);

// ---------------------------------------------------------------------------------------------------------------------

describe('dtype helpers', () => {
  it('knows which dtypes are floats, and their sizes', () => {
    expect(isFloatDtype('F32')).toBe(true);
    expect(isFloatDtype('F16')).toBe(true);
    expect(isFloatDtype('BF16')).toBe(true);
    for (const d of ['F64', 'I64', 'U8', 'BOOL', 'F8_E4M3', 'I32'] as const) expect(isFloatDtype(d)).toBe(false);
    expect(bytesPerElement('F32')).toBe(4);
    expect(bytesPerElement('F16')).toBe(2);
    expect(bytesPerElement('BF16')).toBe(2);
  });
});

describe('decodeToFloat32: F16', () => {
  it.each([
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504], // largest finite
    [0x0001, 2 ** -24], // smallest subnormal, 5.960464477539063e-8
    [0x03ff, 1023 * 2 ** -24], // largest subnormal
    [0x0400, 2 ** -14], // smallest normal
    [0x0000, 0],
    [0x3555, 0.333251953125], // 1/3 rounded: (1024 + 341) × 2^-12
    [0x3bff, 1 - 2 ** -11], // just below 1
    [0x3c01, 1 + 2 ** -10], // just above 1
    [0x2e66, 0.0999755859375], // 0.1 rounded: (1024 + 614) × 2^-14
    [0x4248, 3.140625], // π rounded
    [0xfbff, -65504],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ])('%s decodes to %d', (bits, value) => {
    const out = decodeToFloat32('F16', le16([bits]));
    expect(out).toBeInstanceOf(Float32Array);
    expect(out.length).toBe(1);
    expect(out[0]).toBe(value);
  });

  it('0x8000 decodes to -0 (not +0)', () => {
    expect(Object.is(decodeToFloat32('F16', le16([0x8000]))[0], -0)).toBe(true);
    expect(Object.is(decodeToFloat32('F16', le16([0x0000]))[0], 0)).toBe(true);
  });

  it.each([0x7e00, 0x7c01, 0x7fff, 0xfe00, 0xfc01])('%s decodes to NaN', (bits) => {
    expect(decodeToFloat32('F16', le16([bits]))[0]).toBeNaN();
  });

  it('decodes all 65,536 patterns as the definition says', () => {
    const all = Array.from({ length: 65536 }, (_, h) => h);
    const out = decodeToFloat32('F16', le16(all));
    for (let h = 0; h < 65536; h++) {
      const want = halfValue(h);
      if (Number.isNaN(want)) {
        if (!Number.isNaN(out[h])) expect.unreachable(`${hex(h)} should be NaN, got ${out[h]}`);
      } else if (!Object.is(out[h], want)) {
        expect.unreachable(`${hex(h)} should be ${want}, got ${out[h]}`);
      }
    }
  });
});

describe('decodeToFloat32: BF16', () => {
  it.each([
    [0x3f80, 1],
    [0x4049, 3.140625], // 0x40490000 = (1 + 0x49/128) × 2
    [0xc000, -2],
    [0x3f81, 1 + 2 ** -7],
    [0x3e80, 0.25],
    [0x4780, 65536],
    [0x0080, 2 ** -126], // smallest normal
    [0x0001, 2 ** -133], // smallest subnormal: f32 bits 0x00010000 = 2^16 × 2^-149
    [0x7f7f, (2 - 2 ** -7) * 2 ** 127], // largest finite, 3.3895313892515355e38
    [0x7f80, Infinity],
    [0xff80, -Infinity],
    [0x0000, 0],
  ])('%s decodes to %d', (bits, value) => {
    expect(decodeToFloat32('BF16', le16([bits]))[0]).toBe(value);
  });

  it('0x8000 decodes to -0, and NaN patterns to NaN', () => {
    expect(Object.is(decodeToFloat32('BF16', le16([0x8000]))[0], -0)).toBe(true);
    for (const bits of [0x7fc0, 0x7f81, 0xffc0, 0x7fff]) expect(decodeToFloat32('BF16', le16([bits]))[0]).toBeNaN();
  });

  it('decodes all 65,536 patterns to the f32 with those top bits', () => {
    const all = Array.from({ length: 65536 }, (_, h) => h);
    const out = decodeToFloat32('BF16', le16(all));
    const outBits = new Uint32Array(out.buffer, out.byteOffset, out.length);
    for (let h = 0; h < 65536; h++) {
      if (outBits[h] !== (h << 16) >>> 0) expect.unreachable(`${hex(h)} should give f32 bits ${((h << 16) >>> 0).toString(16)}, got ${outBits[h].toString(16)}`);
    }
  });
});

describe('decodeToFloat32: F32', () => {
  it('passes f32 bit patterns through', () => {
    const bits = [0x3f800000, 0xc0490fdb, 0x00000001, 0x7f7fffff, 0x80000000, 0x7f800000, 0xff800000, 0x3dcccccd];
    const out = decodeToFloat32('F32', le32(bits));
    expect(out[0]).toBe(1);
    expect(out[1]).toBe(-3.1415927410125732); // -π as f32
    expect(out[2]).toBe(2 ** -149); // smallest subnormal
    expect(out[3]).toBe(3.4028234663852886e38); // largest finite
    expect(Object.is(out[4], -0)).toBe(true);
    expect(out[5]).toBe(Infinity);
    expect(out[6]).toBe(-Infinity);
    expect(out[7]).toBe(0.10000000149011612); // 0.1 as f32
    expect(decodeToFloat32('F32', le32([0x7fc00000]))[0]).toBeNaN();
  });

  it('returns a copy, not a view of the input bytes', () => {
    const bytes = le32([0x3f800000]);
    const out = decodeToFloat32('F32', bytes);
    bytes.fill(0);
    expect(out[0]).toBe(1);
  });

  it('decodes an empty input to an empty array', () => {
    for (const d of ['F32', 'F16', 'BF16'] as const) expect(decodeToFloat32(d, new Uint8Array(0)).length).toBe(0);
  });
});

describe('decodeToFloat32: unaligned input', () => {
  const f16 = [0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00];
  const bf16 = [0x3f80, 0x4049, 0xc000, 0x0001];
  const f32 = [0x3f800000, 0xc0490fdb, 0x00000001, 0x7f7fffff];

  it.each([1, 3, 5])('decodes F16 and BF16 from a subarray at byte offset %i', (offset) => {
    const a = atOddOffset(le16(f16), offset);
    expect(a.byteOffset % 2).toBe(1);
    expect([...decodeToFloat32('F16', a)]).toEqual([1, -2, 65504, 2 ** -24, -0, Infinity]);
    expect([...decodeToFloat32('BF16', atOddOffset(le16(bf16), offset))]).toEqual([1, 3.140625, -2, 2 ** -133]);
  });

  it.each([1, 2, 3])('decodes F32 from a subarray at byte offset %i', (offset) => {
    const a = atOddOffset(le32(f32), offset);
    expect(a.byteOffset % 4).not.toBe(0);
    expect([...decodeToFloat32('F32', a)]).toEqual([1, -3.1415927410125732, 2 ** -149, 3.4028234663852886e38]);
  });

  it('leaves the buffer around an unaligned input untouched', () => {
    const a = atOddOffset(le16(f16), 1);
    const before = new Uint8Array(a.buffer).slice();
    decodeToFloat32('F16', a);
    decodeToFloat32('BF16', a);
    expect(new Uint8Array(a.buffer)).toEqual(before);
  });
});

describe('decodeToFloat32: the out argument', () => {
  it('fills and returns the given array', () => {
    for (const [dtype, bytes] of [['F16', le16([0x3c00, 0xc000])], ['BF16', le16([0x3f80, 0xc000])], ['F32', le32([0x3f800000, 0xc0000000])]] as const) {
      const out = new Float32Array(2);
      expect(decodeToFloat32(dtype, bytes, out)).toBe(out);
      expect([...out]).toEqual([1, -2]);
    }
  });

  it('writes only the first elements of a larger array', () => {
    const out = new Float32Array([9, 9, 9, 9]);
    decodeToFloat32('BF16', le16([0x3f80, 0xc000]), out);
    expect([...out]).toEqual([1, -2, 9, 9]);
  });

  it('writes into a subarray at its own offset and nowhere else', () => {
    for (const dtype of ['F16', 'BF16', 'F32'] as const) {
      const big = new Float32Array([7, 7, 7, 7, 7, 7]);
      const bytes = dtype === 'F32' ? le32([0x3f800000, 0xc0000000]) : le16(dtype === 'F16' ? [0x3c00, 0xc000] : [0x3f80, 0xc000]);
      decodeToFloat32(dtype, bytes, big.subarray(2, 4));
      expect([...big], dtype).toEqual([7, 7, 1, -2, 7, 7]);
    }
  });

  it('refuses an out array too short for the input, instead of dropping or overrunning', () => {
    for (const dtype of ['F16', 'BF16', 'F32'] as const) {
      const big = new Float32Array([7, 7, 7, 7]);
      const bytes = dtype === 'F32' ? le32([0x3f800000, 0x3f800000, 0x3f800000]) : le16(dtype === 'F16' ? [0x3c00, 0x3c00, 0x3c00] : [0x3f80, 0x3f80, 0x3f80]);
      expect(() => decodeToFloat32(dtype, bytes, big.subarray(0, 2)), dtype).toThrow(RangeError);
      expect([...big.subarray(2)], dtype).toEqual([7, 7]);
    }
  });
});

describe('decodeToFloat32: rejections', () => {
  it.each(['I64', 'I32', 'I16', 'I8', 'U8', 'U16', 'U32', 'U64', 'BOOL', 'F64', 'C64', 'F8_E4M3', 'F8_E5M2', 'F8_E8M0', 'F4', 'F6_E2M3'] as Dtype[])(
    'rejects %s with a ModelFormatError naming it',
    (dtype) => {
      let error: unknown;
      try {
        decodeToFloat32(dtype, new Uint8Array(8));
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ModelFormatError);
      expect((error as Error).message).toContain(dtype);
      expect((error as Error).message).toMatch(/F32, F16 or BF16/);
    },
  );

  it.each([['F16', 3], ['BF16', 1], ['F32', 6], ['F32', 2]] as const)('rejects %s data of %i bytes (not whole elements) with a ModelFormatError', (dtype, n) => {
    expect(() => decodeToFloat32(dtype, new Uint8Array(n))).toThrow(ModelFormatError);
    expect(() => decodeToFloat32(dtype, new Uint8Array(n))).toThrow(new RegExp(`${n} bytes`));
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('encodeFloats: F32', () => {
  it('writes the f32 bit patterns, little-endian, rounding doubles to nearest', () => {
    expect([...encodeFloats('F32', [1, -2, 0.1, 2 ** -149, -0, Infinity])]).toEqual([
      ...le32([0x3f800000, 0xc0000000, 0x3dcccccd, 0x00000001, 0x80000000, 0x7f800000]),
    ]);
    // 1 + 2^-24 is halfway between 1 and 1 + 2^-23: ties to even (1). 1 + 3 × 2^-24: to 1 + 2^-22 (even).
    expect([...encodeFloats('F32', [1 + 2 ** -24, 1 + 3 * 2 ** -24])]).toEqual([...le32([0x3f800000, 0x3f800002])]);
  });

  it('accepts any array-like of numbers', () => {
    expect([...encodeFloats('F32', new Float64Array([1]))]).toEqual([0, 0, 0x80, 0x3f]);
    expect([...encodeFloats('F16', { length: 2, 0: 1, 1: -2 })]).toEqual([...le16([0x3c00, 0xc000])]);
    expect(encodeFloats('BF16', []).byteLength).toBe(0);
  });
});

describe('encodeFloats: F16', () => {
  it.each([
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [0, 0x0000],
    [-0, 0x8000],
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
    [Math.PI, 0x4248],
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [1023 * 2 ** -24, 0x03ff], // largest subnormal
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
  ])('%d encodes to %s', (value, bits) => {
    expect(hex(encode16('F16', value))).toBe(hex(bits));
  });

  it.each([
    // Halfway points: ties go to the even mantissa.
    ['1 + 2^-11, halfway between 0x3c00 and 0x3c01', 1 + 2 ** -11, 0x3c00],
    ['1 + 3 × 2^-11, halfway between 0x3c01 and 0x3c02', 1 + 3 * 2 ** -11, 0x3c02],
    ['2049, halfway between 2048 and 2050', 2049, 0x6800],
    ['2051, halfway between 2050 and 2052', 2051, 0x6802],
    ['-(1 + 2^-11)', -(1 + 2 ** -11), 0xbc00],
    ['2 - 2^-11, halfway between 0x3fff and 2 (0x4000)', 2 - 2 ** -11, 0x4000],
    // Just off a halfway point.
    ['1 + 2^-11 + 2^-20', 1 + 2 ** -11 + 2 ** -20, 0x3c01],
    ['1 + 2^-11 - 2^-20', 1 + 2 ** -11 - 2 ** -20, 0x3c00],
    // Just off a halfway point by less than an f32 ulp: must not be rounded to f32 first (that makes it a tie).
    ['1 + 2^-11 + 2^-40', 1 + 2 ** -11 + 2 ** -40, 0x3c01],
    ['2049 + 2^-30', 2049 + 2 ** -30, 0x6801],
    ['-(1 + 2^-11 + 2^-40)', -(1 + 2 ** -11 + 2 ** -40), 0xbc01],
  ])('rounds %s to nearest even', (_what, value, bits) => {
    expect(hex(encode16('F16', value))).toBe(hex(bits));
  });

  it.each([
    ['65519 (below the 65520 halfway point)', 65519, 0x7bff],
    ['65519.999', 65519.999, 0x7bff],
    ['65520 (halfway to 65536: odd 0x7bff loses the tie)', 65520, 0x7c00],
    ['65536', 65536, 0x7c00],
    ['1e6', 1e6, 0x7c00],
    ['-1e6', -1e6, 0xfc00],
    ['1e300', 1e300, 0x7c00],
    ['Number.MAX_VALUE', Number.MAX_VALUE, 0x7c00],
  ])('overflows %s correctly', (_what, value, bits) => {
    expect(hex(encode16('F16', value))).toBe(hex(bits));
  });

  it.each([
    ['2^-25 (halfway between 0 and the smallest subnormal: to even 0)', 2 ** -25, 0x0000],
    ['3 × 2^-25 (halfway between 1 and 2 ulps: to 2)', 3 * 2 ** -25, 0x0002],
    ['5 × 2^-25 (halfway between 2 and 3 ulps: to 2)', 5 * 2 ** -25, 0x0002],
    ['2^-25 + 2^-40 (just above halfway)', 2 ** -25 + 2 ** -40, 0x0001],
    ['1023.5 × 2^-24 (halfway from the largest subnormal to the smallest normal)', 1023.5 * 2 ** -24, 0x0400],
    ['1022.5 × 2^-24', 1022.5 * 2 ** -24, 0x03fe],
    ['-2^-25 (to -0)', -(2 ** -25), 0x8000],
    ['1e-30 (underflows to 0)', 1e-30, 0x0000],
    ['-1e-30 (underflows to -0)', -1e-30, 0x8000],
    ['Number.MIN_VALUE', Number.MIN_VALUE, 0x0000],
  ])('rounds the subnormal %s', (_what, value, bits) => {
    expect(hex(encode16('F16', value))).toBe(hex(bits));
  });

  it('encodes NaN as a NaN pattern', () => {
    const bits = encode16('F16', NaN);
    expect(bits & 0x7c00).toBe(0x7c00);
    expect(bits & 0x03ff).not.toBe(0);
  });

  it('round-trips every finite half value exactly', () => {
    const values: number[] = [];
    for (let h = 0; h < 65536; h++) if (!Number.isNaN(halfValue(h))) values.push(halfValue(h));
    const got = patterns16(encodeFloats('F16', values));
    let i = 0;
    for (let h = 0; h < 65536; h++) {
      if (Number.isNaN(halfValue(h))) continue;
      if (got[i] !== h) expect.unreachable(`${halfValue(h)} should encode to ${hex(h)}, got ${hex(got[i])}`);
      i++;
    }
  });

  it('rounds every halfway point between neighbouring halves to the even one', () => {
    for (let h = 0; h < 0x7bff; h++) {
      const mid = (halfValue(h) + halfValue(h + 1)) / 2; // exact in double
      const even = h % 2 === 0 ? h : h + 1;
      const got = encode16('F16', mid);
      if (got !== even) expect.unreachable(`halfway ${mid} should encode to ${hex(even)}, got ${hex(got)}`);
      if (encode16('F16', -mid) !== (even | 0x8000)) expect.unreachable(`halfway ${-mid}`);
    }
  });

  it('picks the nearest half for any double (property, against a search oracle)', () => {
    const nearHalfway = fc
      .record({ h: fc.integer({ min: 0, max: 0x7bfe }), k: fc.integer({ min: 12, max: 60 }), dir: fc.constantFrom(-1, 0, 1), neg: fc.boolean() })
      .map(({ h, k, dir, neg }) => {
        const mid = (halfValue(h) + halfValue(h + 1)) / 2;
        const v = mid + dir * mid * 2 ** -k;
        return neg ? -v : v;
      });
    fc.assert(
      fc.property(
        fc.oneof(fc.double({ min: -70000, max: 70000, noNaN: true }), fc.double({ min: -1e-3, max: 1e-3, noNaN: true }), nearHalfway, fc.double({ noNaN: true })),
        (x) => {
          expect(hex(encode16('F16', x))).toBe(hex(nearestHalf(x)));
        },
      ),
      { numRuns: 5000 },
    );
  });

  it('gives the same bits for a number and for the same value in a Float32Array', () => {
    const values = [0.1, -3.7, 1e-5, 12345.678, 2 ** -20];
    const fromF32 = encodeFloats('F16', Float32Array.from(values));
    const fromRounded = encodeFloats('F16', values.map(Math.fround));
    expect([...fromF32]).toEqual([...fromRounded]);
  });
});

describe('encodeFloats: BF16', () => {
  it.each([
    [1, 0x3f80],
    [3.140625, 0x4049],
    [Math.PI, 0x4049], // 3.14159...: between 3.140625 (0x4049) and 3.15625 (0x404a), nearer the first
    [-2, 0xc000],
    [0.25, 0x3e80],
    [65536, 0x4780],
    [0, 0x0000],
    [-0, 0x8000],
    [2 ** -126, 0x0080],
    [2 ** -133, 0x0001],
    [(2 - 2 ** -7) * 2 ** 127, 0x7f7f],
    [Infinity, 0x7f80],
    [-Infinity, 0xff80],
  ])('%d encodes to %s', (value, bits) => {
    expect(hex(encode16('BF16', value))).toBe(hex(bits));
  });

  it.each([
    ['1 + 2^-8, halfway between 0x3f80 and 0x3f81', 1 + 2 ** -8, 0x3f80],
    ['1 + 3 × 2^-8, halfway between 0x3f81 and 0x3f82', 1 + 3 * 2 ** -8, 0x3f82],
    ['-(1 + 2^-8)', -(1 + 2 ** -8), 0xbf80],
    ['257, halfway between 256 and 258', 257, 0x4380],
    ['259, halfway between 258 and 260', 259, 0x4382],
    ['1 + 2^-8 + 2^-20 (an f32 just above halfway)', 1 + 2 ** -8 + 2 ** -20, 0x3f81],
    ['1 + 2^-8 - 2^-20', 1 + 2 ** -8 - 2 ** -20, 0x3f80],
    // Off a halfway point by less than an f32 ulp: rounding to f32 first would make a false tie.
    ['1 + 2^-8 + 2^-40', 1 + 2 ** -8 + 2 ** -40, 0x3f81],
    ['1 + 3 × 2^-8 - 2^-40', 1 + 3 * 2 ** -8 - 2 ** -40, 0x3f81],
    ['-(1 + 2^-8 + 2^-40)', -(1 + 2 ** -8 + 2 ** -40), 0xbf81],
    ['2^-134 + 2^-160 (subnormal, above halfway)', 2 ** -134 + 2 ** -160, 0x0001],
  ])('rounds %s to nearest even', (_what, value, bits) => {
    expect(hex(encode16('BF16', value))).toBe(hex(bits));
  });

  it.each([
    ['the largest f32 (past the last bf16 halfway point)', 3.4028234663852886e38, 0x7f80],
    ['(2 - 2^-8) × 2^127, halfway to 2^128: odd 0x7f7f loses the tie', (2 - 2 ** -8) * 2 ** 127, 0x7f80],
    ['just below that halfway point', (2 - 2 ** -8 - 2 ** -20) * 2 ** 127, 0x7f7f],
    ['1e39 (past the f32 range)', 1e39, 0x7f80],
    ['-1e39', -1e39, 0xff80],
  ])('overflows %s correctly', (_what, value, bits) => {
    expect(hex(encode16('BF16', value))).toBe(hex(bits));
  });

  it.each([
    ['2^-134 (halfway between 0 and 2^-133: to 0)', 2 ** -134, 0x0000],
    ['3 × 2^-134 (to 2 ulps)', 3 * 2 ** -134, 0x0002],
    ['2^-126 - 2^-134 (halfway from the largest subnormal to the smallest normal)', 2 ** -126 - 2 ** -134, 0x0080],
    ['-2^-134 (to -0)', -(2 ** -134), 0x8000],
    ['1e-45 (under half the smallest bf16 subnormal)', 1e-45, 0x0000],
    ['1e-300 (past the f32 range)', 1e-300, 0x0000],
  ])('rounds the subnormal %s', (_what, value, bits) => {
    expect(hex(encode16('BF16', value))).toBe(hex(bits));
  });

  it('encodes NaN as a NaN pattern', () => {
    const bits = encode16('BF16', NaN);
    expect(bits & 0x7f80).toBe(0x7f80);
    expect(bits & 0x007f).not.toBe(0);
  });

  it('round-trips every finite bf16 value exactly', () => {
    const values: number[] = [];
    for (let b = 0; b < 65536; b++) if (!Number.isNaN(bf16Value(b))) values.push(bf16Value(b));
    const got = patterns16(encodeFloats('BF16', values));
    let i = 0;
    for (let b = 0; b < 65536; b++) {
      if (Number.isNaN(bf16Value(b))) continue;
      if (got[i] !== b) expect.unreachable(`${bf16Value(b)} should encode to ${hex(b)}, got ${hex(got[i])}`);
      i++;
    }
  });

  it('picks the nearest bf16 for any double (property, against a search oracle)', () => {
    const nearHalfway = fc
      .record({ b: fc.integer({ min: 0, max: 0x7f7e }), k: fc.integer({ min: 9, max: 60 }), dir: fc.constantFrom(-1, 0, 1), neg: fc.boolean() })
      .map(({ b, k, dir, neg }) => {
        const mid = (bf16Value(b) + bf16Value(b + 1)) / 2;
        const v = mid + dir * mid * 2 ** -k;
        return neg ? -v : v;
      });
    fc.assert(
      fc.property(fc.oneof(fc.double({ noNaN: true }), fc.double({ min: -1e5, max: 1e5, noNaN: true }), nearHalfway), (x) => {
        expect(hex(encode16('BF16', x))).toBe(hex(nearestBf16(x)));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('encode then decode', () => {
  it.each(['F32', 'F16', 'BF16'] as FloatDtype[])('%s: decoding what was encoded gives the rounded values', (dtype) => {
    const values = [0, 1, -2, 0.1, 1 / 3, 1000.5, -1e-3];
    const decoded = [...decodeToFloat32(dtype, encodeFloats(dtype, values))];
    const oracle = values.map((v) => (dtype === 'F32' ? Math.fround(v) : dtype === 'F16' ? halfValue(nearestHalf(v)) : bf16Value(nearestBf16(v))));
    expect(decoded).toEqual(oracle);
  });
});
