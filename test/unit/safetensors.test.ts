// The safetensors reader (src/io/safetensors.ts) and writer (src/io/safetensorsWriter.ts), without a GPU.
//
// Files are built byte by byte here (8-byte little-endian length, JSON text, data) rather than with the writer, so a
// writer bug cannot hide a reader bug; expected offsets and sizes are worked out by hand from the format's rules.
// Every rejection class of the reference Rust crate (`safetensors`) has a case: the error must be a SafetensorsError
// whose `problem` names what is wrong and whose `tensor` names the culprit where there is one.

import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../../src/errors.ts';
import { bytesSource } from '../../src/io/byteSource.ts';
import type { ByteSource } from '../../src/io/byteSource.ts';
import { fileSource } from '../../src/io/nodeFileSource.ts';
import { dtypeBits, MAX_HEADER_BYTES, parseHeaderLength, SafetensorsFile } from '../../src/io/safetensors.ts';
import type { Dtype } from '../../src/io/safetensors.ts';
import { serializeSafetensors } from '../../src/io/safetensorsWriter.ts';
import type { TensorToWrite } from '../../src/io/safetensorsWriter.ts';

// ---------------------------------------------------------------------------------------------------------------------
// Helpers

/** Bits per element, from the safetensors format description (written out here, not taken from the module). */
const SPEC_BITS: Record<Dtype, number> = {
  BOOL: 8, U8: 8, I8: 8, F8_E5M2: 8, F8_E4M3: 8, F8_E8M0: 8,
  I16: 16, U16: 16, F16: 16, BF16: 16,
  I32: 32, U32: 32, F32: 32,
  I64: 64, U64: 64, F64: 64, C64: 64,
  F4: 4, F6_E2M3: 6, F6_E3M2: 6,
};
const ALL_DTYPES = Object.keys(SPEC_BITS) as Dtype[];
/** Mutated files per fuzz run: 10,000 in CI; `npm run fuzz` sets FUZZ_RUNS far higher. */
const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 10_000);

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

function u64le(value: bigint): Uint8Array {
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) out[i] = Number((value >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** [length prefix][header][data]; the prefix is the header's byte length unless `declared` says otherwise. */
function build(header: string | Uint8Array, data: Uint8Array | number = 0, declared?: bigint): Uint8Array {
  const h = typeof header === 'string' ? utf8(header) : header;
  const d = typeof data === 'number' ? pattern(data) : data;
  const out = new Uint8Array(8 + h.byteLength + d.byteLength);
  out.set(u64le(declared ?? BigInt(h.byteLength)), 0);
  out.set(h, 8);
  out.set(d, 8 + h.byteLength);
  return out;
}

/** Recognizable data bytes: byte i is (7i + 3) mod 256. */
function pattern(length: number): Uint8Array {
  return Uint8Array.from({ length }, (_, i) => (7 * i + 3) & 0xff);
}

function entry(dtype: string, shape: unknown, offsets: unknown): Record<string, unknown> {
  return { dtype, shape, data_offsets: offsets };
}

function header(entries: Record<string, unknown>): string {
  return JSON.stringify(entries);
}

const NAME = 'bad.safetensors';

async function openBytes(bytes: Uint8Array, name = NAME): Promise<SafetensorsFile> {
  return SafetensorsFile.open(bytesSource(name, bytes));
}

async function rejection(bytes: Uint8Array): Promise<SafetensorsError> {
  let accepted = false;
  try {
    await openBytes(bytes);
    accepted = true;
  } catch (e) {
    expect(e).toBeInstanceOf(SafetensorsError);
    return e as SafetensorsError;
  }
  expect(accepted, 'the file was accepted but should have been rejected').toBe(false);
  throw new Error('unreachable');
}

/** Opening must fail with a SafetensorsError whose problem matches, naming the tensor (or no tensor). */
async function expectRejected(bytes: Uint8Array, problem: RegExp, tensor?: string): Promise<SafetensorsError> {
  const e = await rejection(bytes);
  expect(e.file).toBe(NAME);
  expect(e.problem).toMatch(problem);
  expect(e.tensor).toBe(tensor);
  expect(e.message).toContain(NAME);
  expect(e.message).toContain(e.problem);
  if (tensor !== undefined) expect(e.message).toContain(`"${tensor}"`);
  return e;
}

async function collect(file: SafetensorsFile, name: string, max: number): Promise<{ offset: number; bytes: Uint8Array }[]> {
  const out: { offset: number; bytes: Uint8Array }[] = [];
  for await (const chunk of file.chunks(name, max)) out.push({ offset: chunk.offset, bytes: chunk.bytes.slice() });
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Whatever was accepted must be self-consistent: tensors tile [dataStart, size) in order, each sized by its shape. */
async function expectConsistent(file: SafetensorsFile, bytes: Uint8Array): Promise<void> {
  const declared = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  expect(file.header.dataStart).toBe(8 + declared);
  let cursor = file.header.dataStart;
  for (const t of file.header.tensors) {
    expect(t.fileOffset).toBe(cursor);
    const elements = t.shape.reduce((n, d) => n * d, 1);
    expect(t.byteLength * 8).toBe(elements * SPEC_BITS[t.dtype]);
    expect(file.tensors.get(t.name)).toBe(t);
    const data = await file.read(t.name);
    expect(data).toEqual(bytes.subarray(cursor, cursor + t.byteLength));
    cursor += t.byteLength;
  }
  expect(cursor).toBe(bytes.byteLength);
  expect(file.tensors.size).toBe(file.header.tensors.length);
}

// ---------------------------------------------------------------------------------------------------------------------

describe('rejections: the length prefix', () => {
  it('rejects an empty file', async () => {
    await expectRejected(new Uint8Array(0), /header too small.*0 bytes/);
  });

  it.each([1, 7])('rejects a %i-byte file (fewer than the 8-byte length)', async (n) => {
    await expectRejected(new Uint8Array(n).fill(0x20), new RegExp(`header too small.*${n} bytes`));
  });

  it('rejects a declared header length over 100 MB', async () => {
    await expectRejected(build('{}', 0, 100_000_001n), /header too large.*100000001/);
    await expectRejected(build('{}', 0, 2n ** 64n - 1n), /header too large/);
    await expectRejected(build('{}', 0, 2n ** 53n + 1n), /header too large/);
  });

  it('takes exactly 100 MB as not too large, but then as past the end of this small file', async () => {
    expect(MAX_HEADER_BYTES).toBe(100_000_000);
    await expectRejected(build('{}', 0, 100_000_000n), /invalid header length.*truncated/);
  });

  it('rejects a header length that runs past the end of the file', async () => {
    // 10 bytes of JSON declared, 9 present.
    await expectRejected(build('{"a":1}  ', 0, 10n), /invalid header length: it declares 10 bytes of JSON but the file has only 9/);
    // 8 bytes of prefix and nothing else, declaring one byte.
    await expectRejected(u64le(1n), /invalid header length/);
  });

  it('reads the prefix from a subarray that starts at an odd offset', () => {
    const buf = new Uint8Array(9);
    buf[0] = 0xaa;
    buf.set(u64le(0x1234n), 1);
    expect(parseHeaderLength(buf.subarray(1), 0x1234 + 8, NAME)).toBe(0x1234);
  });

  it('rejects a short prefix even when the file is said to be long', () => {
    expect(() => parseHeaderLength(new Uint8Array(4), 1000, NAME)).toThrow(SafetensorsError);
  });

  it('rejects a source that cannot deliver the header bytes it claims to hold', async () => {
    const bytes = build('{}      ');
    const lying: ByteSource = { name: NAME, size: bytes.byteLength, read: async (o, l) => bytes.subarray(o, Math.min(o + l, 12)) };
    await expect(SafetensorsFile.open(lying)).rejects.toThrow(/could read only 4 of the 8 header bytes/);
    await expect(SafetensorsFile.open(lying)).rejects.toBeInstanceOf(SafetensorsError);
  });
});

describe('rejections: the header text', () => {
  it('rejects a header that is not UTF-8', async () => {
    const bad = (bytes: number[]) => build(Uint8Array.from([...utf8('{"__metadata__":{"k":"'), ...bytes, ...utf8('"}}')]));
    await expectRejected(bad([0xff]), /not valid UTF-8/); // never valid in UTF-8
    await expectRejected(bad([0xc3]), /not valid UTF-8/); // a lead byte without its continuation
    await expectRejected(bad([0xc0, 0xaf]), /not valid UTF-8/); // overlong encoding of '/'
    await expectRejected(bad([0xed, 0xa0, 0x80]), /not valid UTF-8/); // an encoded surrogate (U+D800)
    await expectRejected(bad([0xf4, 0x90, 0x80, 0x80]), /not valid UTF-8/); // past U+10FFFF
  });

  it.each([
    ['a leading space', ' {}'],
    ['a leading newline', '\n{}'],
    ['a JSON array', '[{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}]'],
    ['a JSON string', '"{}"'],
    ['a number', '0'],
    ['null', 'null'],
    ['nothing (zero-length header)', ''],
  ])("rejects a header that does not start with '{' (%s)", async (_what, text) => {
    await expectRejected(build(text), /must start with '\{'/);
  });

  it("rejects a byte-order mark before the '{' (the crate does; TextDecoder would drop it silently)", async () => {
    await expectRejected(build(Uint8Array.from([0xef, 0xbb, 0xbf, ...utf8('{}')])), /must start with '\{'/);
  });

  it.each([
    ['unterminated', '{"a":'],
    ['trailing garbage', '{} x'],
    ['NUL padding', '{}\0\0\0\0\0\0'],
    ['a trailing comma', '{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},}'],
    ['single quotes', "{'a':1}"],
    ['two objects', '{}{}'],
  ])('rejects a header that is not valid JSON (%s)', async (_what, text) => {
    await expectRejected(build(text), /not valid JSON/);
  });
});

describe('rejections: tensor entries', () => {
  it('rejects an entry that is not an object', async () => {
    await expectRejected(build(header({ w: 5 })), /entry must be an object/, 'w');
    await expectRejected(build(header({ w: null })), /entry must be an object/, 'w');
    await expectRejected(build(header({ w: ['U8', [1], [0, 1]] }), 1), /entry must be an object/, 'w');
  });

  it.each([['F128'], ['f32'], ['float32'], ['Q4_0'], [''], [7], [null]])('rejects the unknown dtype %j', async (dtype) => {
    await expectRejected(build(header({ w: { dtype, shape: [1], data_offsets: [0, 4] } }), 4), /unknown dtype/, 'w');
  });

  it('rejects a missing dtype', async () => {
    await expectRejected(build(header({ w: { shape: [1], data_offsets: [0, 1] } }), 1), /unknown dtype/, 'w');
  });

  it.each([
    ['a negative dimension', [-1]],
    ['a fractional dimension', [1.5]],
    ['a dimension given as a string', ['2']],
    ['a null dimension', [null]],
    ['a nested list', [[2]]],
    ['a number instead of a list', 2],
    ['a string instead of a list', '[2]'],
    ['null', null],
    ['a dimension past 2^53', [2 ** 53 + 2]],
  ])('rejects a shape with %s', async (_what, shape) => {
    await expectRejected(build(header({ w: entry('U8', shape, [0, 2]) }), 2), /shape must be a list of non-negative integers/, 'w');
  });

  it('rejects a missing shape', async () => {
    await expectRejected(build(header({ w: { dtype: 'U8', data_offsets: [0, 2] } }), 2), /shape must be a list/, 'w');
  });

  it.each([
    ['one offset', [0]],
    ['three offsets', [0, 4, 8]],
    ['no offsets', []],
    ['a negative begin', [-4, 0]],
    ['a negative end', [0, -4]],
    ['a fractional offset', [0, 3.5]],
    ['offsets as strings', ['0', '4']],
    ['an object', { begin: 0, end: 4 }],
    ['null', null],
  ])('rejects data_offsets with %s', async (_what, offsets) => {
    await expectRejected(build(header({ w: entry('U8', [4], offsets) }), 4), /data_offsets must be \[begin, end\]/, 'w');
  });

  it('rejects missing data_offsets', async () => {
    await expectRejected(build(header({ w: { dtype: 'U8', shape: [4] } }), 4), /data_offsets must be/, 'w');
  });

  it('rejects data_offsets that end before they begin', async () => {
    await expectRejected(build(header({ w: entry('U8', [0], [4, 0]) }), 4), /data_offsets \[4, 0\] end before they begin/, 'w');
  });

  it.each([
    // [dtype, shape, span, what the shape needs]
    ['F32', [2], 4, /needs 8 bytes but data_offsets span 4 bytes/],
    ['F32', [2, 3], 25, /needs 24 bytes but data_offsets span 25 bytes/],
    ['F16', [3], 4, /needs 6 bytes but data_offsets span 4 bytes/],
    ['BF16', [], 4, /needs 2 bytes but data_offsets span 4 bytes/], // a scalar is one element
    ['I64', [0], 8, /needs 0 bytes but data_offsets span 8 bytes/],
    ['U8', [2, 0, 5], 1, /needs 0 bytes but data_offsets span 1 bytes/],
    ['BOOL', [3], 0, /needs 3 bytes but data_offsets span 0 bytes/],
    ['F4', [3], 2, /needs 12 bits/], // 3 × 4 bits is not a whole number of bytes (the crate's MisalignedSlice)
    ['F6_E2M3', [2], 2, /needs 12 bits/],
  ] as const)('rejects %s %j spanning %i bytes', async (dtype, shape, span, problem) => {
    await expectRejected(build(header({ w: entry(dtype, shape, [0, span]) }), span), problem, 'w');
  });

  it('rejects a shape whose element count overflows (no silent wrap-around)', async () => {
    // 2^32 × 2^32 = 2^64 elements: 0 mod 2^64, which a 64-bit product would wrap to and accept as 0 bytes.
    await expectRejected(build(header({ w: entry('U8', [2 ** 32, 2 ** 32], [0, 0]) })), /needs 18446744073709551616 bytes/, 'w');
    await expectRejected(build(header({ w: entry('F32', [2 ** 40, 2 ** 12], [0, 0]) })), /needs \d+ bytes but data_offsets span 0/, 'w');
  });

  it('rejects overlapping tensors, naming the later one', async () => {
    const text = header({ a: entry('U8', [8], [0, 8]), b: entry('U8', [8], [4, 12]) });
    await expectRejected(build(text, 12), /invalid offset: data_offsets \[4, 12\] overlaps the previous tensor/, 'b');
  });

  it('rejects two tensors on the same bytes', async () => {
    const e = await expectRejected(build(header({ a: entry('U8', [4], [0, 4]), b: entry('U8', [4], [0, 4]) }), 4), /overlaps the previous tensor/, 'b');
    expect(e.problem).toContain('[0, 4]');
  });

  it('rejects a tensor nested inside another', async () => {
    const text = header({ big: entry('U8', [16], [0, 16]), inner: entry('U8', [4], [4, 8]) });
    await expectRejected(build(text, 16), /overlaps the previous tensor/, 'inner');
  });

  it('rejects a hole between tensors, naming the tensor after it', async () => {
    const text = header({ a: entry('U8', [4], [0, 4]), b: entry('U8', [4], [8, 12]) });
    await expectRejected(build(text, 12), /invalid offset: data_offsets \[8, 12\] leaves a hole of 4 bytes before it/, 'b');
  });

  it('rejects a hole before the first tensor', async () => {
    await expectRejected(build(header({ a: entry('F32', [1], [2, 6]) }), 6), /leaves a hole of 2 bytes/, 'a');
  });

  it('rejects bytes after the last tensor that no tensor covers', async () => {
    const text = header({ a: entry('U8', [4], [0, 4]) });
    const e = await expectRejected(build(text, 6), /2 bytes after the last tensor are not covered by any tensor/);
    expect(e.tensor).toBeUndefined();
    await expectRejected(build('{}', 1), /1 bytes after the last tensor are not covered/);
  });

  it('rejects a file shorter than its offsets need (truncated data)', async () => {
    const text = header({ a: entry('F32', [2], [0, 8]), b: entry('F32', [2], [8, 16]) });
    await expectRejected(build(text, 12), /truncated: its tensors need 16 bytes of data but only 12 follow the header/);
    await expectRejected(build(text, 0), /truncated: its tensors need 16 bytes of data but only 0/);
  });

  it('rejects a file with its last byte cut off', async () => {
    const text = header({ a: entry('F16', [3, 5], [0, 30]) });
    const whole = build(text, 30);
    await openBytes(whole); // accepted whole
    await expectRejected(whole.subarray(0, whole.byteLength - 1), /truncated.*need 30 bytes.*only 29/);
  });
});

describe('rejections: __metadata__', () => {
  it('rejects a metadata value that is not a string', async () => {
    await expectRejected(build(header({ __metadata__: { format: 'pt', n: 1 } })), /"__metadata__\.n" must be a string/);
    await expectRejected(build(header({ __metadata__: { nested: { a: 'b' } } })), /"__metadata__\.nested" must be a string/);
    await expectRejected(build(header({ __metadata__: { flag: true } })), /"__metadata__\.flag" must be a string/);
    await expectRejected(build(header({ __metadata__: { nothing: null } })), /"__metadata__\.nothing" must be a string/);
  });

  it.each([['a string', 'pt'], ['a list', ['pt']], ['a number', 3]])('rejects __metadata__ that is %s', async (_what, value) => {
    await expectRejected(build(header({ __metadata__: value })), /"__metadata__" must be an object of strings/);
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('accepted files', () => {
  // Six dtypes, listed in the JSON in an order unrelated to their offsets. Sizes by hand:
  //   f32  F32  [2,2]  4 × 4 = 16  [0, 16]
  //   f16  F16  [3]    3 × 2 =  6  [16, 22]
  //   bf16 BF16 [1,3]  3 × 2 =  6  [22, 28]
  //   i64  I64  [2]    2 × 8 = 16  [28, 44]
  //   u8   U8   [5]    5 × 1 =  5  [44, 49]
  //   bool BOOL [3]    3 × 1 =  3  [49, 52]
  const layout = [
    { name: 'f32', dtype: 'F32', shape: [2, 2], begin: 0, end: 16 },
    { name: 'f16', dtype: 'F16', shape: [3], begin: 16, end: 22 },
    { name: 'bf16', dtype: 'BF16', shape: [1, 3], begin: 22, end: 28 },
    { name: 'i64', dtype: 'I64', shape: [2], begin: 28, end: 44 },
    { name: 'u8', dtype: 'U8', shape: [5], begin: 44, end: 49 },
    { name: 'bool', dtype: 'BOOL', shape: [3], begin: 49, end: 52 },
  ] as const;
  const jsonOrder = ['bool', 'f16', 'u8', 'f32', 'i64', 'bf16'];
  const entries: Record<string, unknown> = { __metadata__: { format: 'pt', note: 'café ☕' } };
  for (const n of jsonOrder) {
    const t = layout.find((l) => l.name === n)!;
    entries[n] = entry(t.dtype, t.shape, [t.begin, t.end]);
  }
  const jsonText = JSON.stringify(entries);
  const padded = jsonText + ' '.repeat(8 - (utf8(jsonText).byteLength % 8));
  const N = utf8(padded).byteLength;
  const data = pattern(52);
  const file = build(padded, data);

  it('opens a file with F32, F16, BF16, I64, U8 and BOOL tensors, sorted by offset', async () => {
    expect(N % 8).toBe(0);
    const f = await openBytes(file, 'ok.safetensors');
    expect(f.header.dataStart).toBe(8 + N);
    expect(f.header.tensors.map((t) => t.name)).toEqual(['f32', 'f16', 'bf16', 'i64', 'u8', 'bool']);
    for (const t of layout) {
      const info = f.info(t.name);
      expect(info).toEqual({ name: t.name, dtype: t.dtype, shape: t.shape, fileOffset: 8 + N + t.begin, byteLength: t.end - t.begin });
      expect(await f.read(t.name)).toEqual(data.subarray(t.begin, t.end));
    }
    expect(f.tensors.size).toBe(6);
  });

  it('reads __metadata__ back', async () => {
    const f = await openBytes(file);
    expect({ ...f.metadata }).toEqual({ format: 'pt', note: 'café ☕' });
  });

  it('has empty metadata when there is no __metadata__, or when it is null (as the crate, an Option)', async () => {
    expect({ ...(await openBytes(build('{}'))).metadata }).toEqual({});
    expect({ ...(await openBytes(build('{"__metadata__":null}'))).metadata }).toEqual({});
    expect({ ...(await openBytes(build('{"__metadata__":{}}'))).metadata }).toEqual({});
  });

  it('keeps a metadata key named "__proto__" as an ordinary key', async () => {
    const f = await openBytes(build('{"__metadata__":{"__proto__":"x","constructor":"y"}}'));
    expect(Object.keys(f.metadata).sort()).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(f.metadata, '__proto__')?.value).toBe('x');
    expect(f.metadata.constructor).toBe('y');
  });

  it('accepts the empty file of the crate: {} padded to 8 bytes, no tensors', async () => {
    const f = await openBytes(Uint8Array.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]));
    expect(f.tensors.size).toBe(0);
    expect(f.header.dataStart).toBe(16);
  });

  it('accepts a header with trailing spaces, with none, and pretty-printed with newlines', async () => {
    const t = { w: entry('F32', [2], [0, 8]) };
    for (const text of [JSON.stringify(t), `${JSON.stringify(t)}${' '.repeat(13)}`, JSON.stringify(t, null, 2), `${JSON.stringify(t)}\n\t\r `]) {
      const f = await openBytes(build(text, 8));
      expect(f.info('w').fileOffset).toBe(8 + utf8(text).byteLength);
      expect(f.info('w').byteLength).toBe(8);
    }
  });

  it('accepts zero-size tensors anywhere, reading them as no bytes', async () => {
    const text = header({
      first: entry('F32', [0], [0, 0]),
      mid: entry('F16', [3, 0, 2], [4, 4]),
      x: entry('F32', [1], [0, 4]),
      last: entry('I64', [0, 7], [4, 4]),
    });
    const f = await openBytes(build(text, 4));
    expect(f.header.tensors.map((t) => t.name)).toEqual(['first', 'x', 'mid', 'last']);
    expect(f.info('mid')).toMatchObject({ shape: [3, 0, 2], byteLength: 0 });
    expect(await f.read('first')).toEqual(new Uint8Array(0));
    expect(await f.read('last')).toEqual(new Uint8Array(0));
    expect(await collect(f, 'mid', 64)).toEqual([]);
  });

  it('accepts a file made only of zero-size tensors', async () => {
    const f = await openBytes(build(header({ a: entry('U8', [0], [0, 0]), b: entry('F32', [0, 1], [0, 0]) })));
    expect(f.tensors.size).toBe(2);
  });

  it('accepts scalar tensors (shape []: one element)', async () => {
    // 1.5 as F32 is 0x3FC00000; -2 as I64 is 0xFFFFFFFFFFFFFFFE.
    const bytes = Uint8Array.from([0x00, 0x00, 0xc0, 0x3f, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    const text = header({ s: entry('F32', [], [0, 4]), i: entry('I64', [], [4, 12]), b: entry('BOOL', [], [12, 13]) });
    const f = await openBytes(build(text, bytes));
    expect(f.info('s')).toMatchObject({ shape: [], byteLength: 4 });
    expect(await f.read('s')).toEqual(Uint8Array.from([0x00, 0x00, 0xc0, 0x3f]));
    expect(new DataView((await f.read('i')).slice().buffer).getBigInt64(0, true)).toBe(-2n);
    expect(await f.read('b')).toEqual(Uint8Array.from([1]));
  });

  it('accepts the sub-byte dtypes when their bits fill whole bytes', async () => {
    // F4 [2, 3]: 24 bits = 3 bytes. F6_E3M2 [4]: 24 bits = 3 bytes.
    const f = await openBytes(build(header({ a: entry('F4', [2, 3], [0, 3]), b: entry('F6_E3M2', [4], [3, 6]) }), 6));
    expect(f.info('a').byteLength).toBe(3);
    expect(f.info('b').byteLength).toBe(3);
  });

  it('ignores unknown fields inside a tensor entry, as the crate does', async () => {
    const f = await openBytes(build(header({ w: { dtype: 'U8', shape: [2], data_offsets: [0, 2], extra: 'x' } }), 2));
    expect(f.info('w').byteLength).toBe(2);
  });

  it('accepts tensor names that are odd as JavaScript keys', async () => {
    const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', '0', '', 'é.weight', 'a"b'];
    let at = 0;
    // Built as JSON text by hand, since an object literal cannot hold a "__proto__" key.
    const parts = names.map((n) => `${JSON.stringify(n)}:${JSON.stringify(entry('U8', [1], [at, ++at]))}`);
    const f = await openBytes(build(`{${parts.join(',')}}`, names.length));
    expect([...f.tensors.keys()].sort()).toEqual([...names].sort());
    for (let i = 0; i < names.length; i++) expect(f.info(names[i]).fileOffset).toBe(f.header.dataStart + i);
  });

  it('knows every dtype of the format, with its size', () => {
    for (const d of ALL_DTYPES) expect(dtypeBits(d), d).toBe(SPEC_BITS[d]);
  });

  it('names the tensor that is not there', async () => {
    const f = await openBytes(file);
    expect(() => f.info('nope')).toThrow(SafetensorsError);
    await expect(f.read('nope')).rejects.toMatchObject({ tensor: 'nope', problem: expect.stringMatching(/no such tensor/) });
  });

  it('reports a source that ends before the data it declared, naming the tensor', async () => {
    const bytes = build(header({ a: entry('U8', [4], [0, 4]), b: entry('U8', [8], [4, 12]) }), 12);
    // The source claims the full size but its bytes end 3 short.
    const short = bytes.subarray(0, bytes.byteLength - 3);
    const lying: ByteSource = { name: NAME, size: bytes.byteLength, read: async (o, l) => short.subarray(o, Math.min(o + l, short.byteLength)) };
    const f = await SafetensorsFile.open(lying);
    expect(await f.read('a')).toEqual(pattern(12).subarray(0, 4));
    await expect(f.read('b')).rejects.toBeInstanceOf(SafetensorsError);
    await expect(f.read('b')).rejects.toMatchObject({ tensor: 'b', problem: expect.stringMatching(/truncated: read 5 of 8 bytes/) });
    await expect(collect(f, 'b', 4)).rejects.toMatchObject({ tensor: 'b' });
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('chunks()', () => {
  // 10 F32 (40 bytes), 5 F16 (10 bytes), 10 U8, 8 F6 (6 bytes: 4 elements per 3 bytes), 6 F4 (3 bytes), 3 I64 (24 bytes).
  const text = header({
    f32: entry('F32', [2, 5], [0, 40]),
    f16: entry('F16', [5], [40, 50]),
    u8: entry('U8', [10], [50, 60]),
    f6: entry('F6_E2M3', [8], [60, 66]),
    f4: entry('F4', [6], [66, 69]),
    i64: entry('I64', [3], [69, 93]),
    empty: entry('F32', [0], [93, 93]),
  });
  const data = pattern(93);
  const bytes = build(text, data);

  // Expected piece lengths, worked out by hand: pieces are the largest multiple of the element size ≤ max, at least
  // one element.
  it.each([
    ['f32', 1, [4, 4, 4, 4, 4, 4, 4, 4, 4, 4]],
    ['f32', 3, [4, 4, 4, 4, 4, 4, 4, 4, 4, 4]],
    ['f32', 4, [4, 4, 4, 4, 4, 4, 4, 4, 4, 4]],
    ['f32', 5, [4, 4, 4, 4, 4, 4, 4, 4, 4, 4]],
    ['f32', 7, [4, 4, 4, 4, 4, 4, 4, 4, 4, 4]],
    ['f32', 8, [8, 8, 8, 8, 8]],
    ['f32', 13, [12, 12, 12, 4]],
    ['f32', 39, [36, 4]],
    ['f32', 40, [40]],
    ['f32', 41, [40]],
    ['f32', 1e9, [40]],
    ['f32', Infinity, [40]],
    ['f16', 3, [2, 2, 2, 2, 2]],
    ['f16', 9, [8, 2]],
    ['f16', 10, [10]],
    ['u8', 3, [3, 3, 3, 1]],
    ['u8', 1, [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]],
    ['i64', 20, [16, 8]],
    ['i64', 9, [8, 8, 8]],
    ['f6', 4, [3, 3]], // 4 F6 elements are the first whole-byte run: 3 bytes
    ['f6', 1, [3, 3]],
    ['f6', 6, [6]],
    ['f4', 2, [2, 1]], // 2 F4 elements = 1 byte
    ['f4', 1, [1, 1, 1]],
  ] as const)('%s in pieces of at most %d bytes: %j', async (name, max, lengths) => {
    const f = await openBytes(bytes);
    const pieces = await collect(f, name, max);
    expect(pieces.map((p) => p.bytes.byteLength)).toEqual(lengths);
    let offset = 0;
    for (const p of pieces) {
      expect(p.offset).toBe(offset);
      offset += p.bytes.byteLength;
    }
    expect(concat(pieces.map((p) => p.bytes))).toEqual(await f.read(name));
    const t = f.info(name);
    const begin = t.fileOffset - f.header.dataStart;
    expect(concat(pieces.map((p) => p.bytes))).toEqual(data.subarray(begin, begin + t.byteLength));
  });

  it('yields nothing for a zero-size tensor', async () => {
    const f = await openBytes(bytes);
    expect(await collect(f, 'empty', 8)).toEqual([]);
  });

  it('rejects a NaN chunk size instead of yielding a bogus piece', async () => {
    const f = await openBytes(bytes);
    await expect(collect(f, 'f32', NaN)).rejects.toThrow(RangeError);
  });

  it('reassembles any tensor exactly for any chunk size (property)', async () => {
    const f = await openBytes(bytes);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('f32', 'f16', 'u8', 'f6', 'f4', 'i64'), fc.integer({ min: 0, max: 100 }), async (name, max) => {
        const t = f.info(name);
        let group = SPEC_BITS[t.dtype];
        while (group % 8) group += SPEC_BITS[t.dtype];
        group /= 8;
        const pieces = await collect(f, name, max);
        for (const p of pieces) {
          expect(p.bytes.byteLength % group).toBe(0);
          expect(p.offset % group).toBe(0);
          expect(p.bytes.byteLength).toBeLessThanOrEqual(Math.max(max, group));
        }
        expect(concat(pieces.map((p) => p.bytes))).toEqual(await f.read(name));
      }),
      { numRuns: 300 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('the real fixture test/fixtures/gpt2-tiny/model.safetensors', () => {
  const path = fileURLToPath(new URL('../fixtures/gpt2-tiny/model.safetensors', import.meta.url));

  it('opens with the tensors of a 2-layer, 64-wide GPT-2 (vocab 50257, 128 positions)', async () => {
    const source = await fileSource(path);
    const f = await SafetensorsFile.open(source);
    try {
      // The GPT-2 architecture with n_embd 64, n_layer 2, n_positions 128, vocab 50257 (config.json), saved by
      // save_pretrained: `transformer.` prefix, lm_head tied and absent.
      const C = 64;
      const expected = new Map<string, number[]>([
        ['transformer.wte.weight', [50257, C]],
        ['transformer.wpe.weight', [128, C]],
        ['transformer.ln_f.weight', [C]],
        ['transformer.ln_f.bias', [C]],
      ]);
      for (const l of [0, 1]) {
        const h = `transformer.h.${l}`;
        expected.set(`${h}.ln_1.weight`, [C]).set(`${h}.ln_1.bias`, [C]);
        expected.set(`${h}.ln_2.weight`, [C]).set(`${h}.ln_2.bias`, [C]);
        expected.set(`${h}.attn.c_attn.weight`, [C, 3 * C]).set(`${h}.attn.c_attn.bias`, [3 * C]);
        expected.set(`${h}.attn.c_proj.weight`, [C, C]).set(`${h}.attn.c_proj.bias`, [C]);
        expected.set(`${h}.mlp.c_fc.weight`, [C, 4 * C]).set(`${h}.mlp.c_fc.bias`, [4 * C]);
        expected.set(`${h}.mlp.c_proj.weight`, [4 * C, C]).set(`${h}.mlp.c_proj.bias`, [C]);
      }
      expect(f.tensors.size).toBe(28);
      expect([...f.tensors.keys()].sort()).toEqual([...expected.keys()].sort());
      let total = 0;
      for (const [name, shape] of expected) {
        const info = f.info(name);
        expect(info.dtype, name).toBe('F32');
        expect(info.shape, name).toEqual(shape);
        expect(info.byteLength, name).toBe(shape.reduce((a, b) => a * b, 1) * 4);
        total += info.byteLength;
      }
      expect(f.header.dataStart + total).toBe(source.size);
      expect(source.size).toBe(13_301_576);
      expect(f.metadata.format).toBe('pt');
      const lnf = await f.read('transformer.ln_f.weight');
      expect(lnf.byteLength).toBe(256);
      // Stream the largest tensor in odd-sized pieces and compare with one read.
      const pieces: Uint8Array[] = [];
      for await (const { bytes } of f.chunks('transformer.wte.weight', 1_000_003)) {
        expect(bytes.byteLength % 4).toBe(0);
        pieces.push(bytes);
      }
      // Buffer.equals: toEqual walks a 12.9 MB array element by element (minutes).
      const whole = await f.read('transformer.wte.weight');
      expect(whole.byteLength).toBe(50257 * 64 * 4);
      expect(Buffer.from(concat(pieces)).equals(Buffer.from(whole.buffer, whole.byteOffset, whole.byteLength))).toBe(true);
    } finally {
      await f.close();
    }
  });

  it.each(['gpt2-tiny-f16', 'neox-tiny'])('also opens the %s fixture', async (dir) => {
    const f = await SafetensorsFile.open(await fileSource(fileURLToPath(new URL(`../fixtures/${dir}/model.safetensors`, import.meta.url))));
    try {
      expect(f.tensors.size).toBeGreaterThan(10);
      expect(f.header.tensors.at(-1)!.fileOffset + f.header.tensors.at(-1)!.byteLength).toBe(f.source.size);
    } finally {
      await f.close();
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('serializeSafetensors', () => {
  const text = (b: Uint8Array, from: number, to: number) => new TextDecoder().decode(b.subarray(from, to));

  it('writes the bytes of the crate for an empty file, with and without metadata', () => {
    // From the crate's own tests (test_empty).
    expect(serializeSafetensors([])).toEqual(Uint8Array.from([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]));
    const withMeta = serializeSafetensors([], { framework: 'pt' });
    expect([...withMeta.subarray(0, 8)]).toEqual([40, 0, 0, 0, 0, 0, 0, 0]);
    expect(text(withMeta, 8, 48)).toBe('{"__metadata__":{"framework":"pt"}}     ');
    expect(withMeta.byteLength).toBe(48);
  });

  it('writes the bytes of the crate for one F32 tensor (header 64 bytes, no padding needed)', () => {
    // From the crate's test_serialization: 0..5 as f32, shape [1, 2, 3].
    const floats = [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64];
    const out = serializeSafetensors([{ name: 'attn.0', dtype: 'F32', shape: [1, 2, 3], data: Uint8Array.from(floats) }]);
    expect([...out.subarray(0, 8)]).toEqual([64, 0, 0, 0, 0, 0, 0, 0]);
    expect(text(out, 8, 72)).toBe('{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}');
    expect([...out.subarray(72)]).toEqual(floats);
  });

  it('pads the header with spaces to a multiple of 8 bytes (crate test_serialization_forced_alignement)', () => {
    const out = serializeSafetensors([{ name: 'attn0', dtype: 'F32', shape: [1, 1, 2, 3], data: new Uint8Array(24) }]);
    expect([...out.subarray(0, 8)]).toEqual([72, 0, 0, 0, 0, 0, 0, 0]);
    expect(text(out, 8, 80)).toBe(`{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}${' '.repeat(7)}`);
  });

  it('pads by UTF-8 bytes, not UTF-16 units, when names are not ASCII', () => {
    // {"é":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}} is 53 characters but 54 bytes: 2 spaces make 56.
    const out = serializeSafetensors([{ name: 'é', dtype: 'U8', shape: [1], data: Uint8Array.from([9]) }]);
    expect([...out.subarray(0, 8)]).toEqual([56, 0, 0, 0, 0, 0, 0, 0]);
    expect(text(out, 8, 64)).toBe('{"é":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}  ');
    expect(out.byteLength).toBe(65);
    expect(out[64]).toBe(9);
  });

  it('writes a tensor named "__proto__" into the header', async () => {
    const out = serializeSafetensors([{ name: '__proto__', dtype: 'U8', shape: [2], data: Uint8Array.from([1, 2]) }]);
    const f = await openBytes(out);
    expect(await f.read('__proto__')).toEqual(Uint8Array.from([1, 2]));
  });

  const tensorArb: fc.Arbitrary<TensorToWrite> = fc
    .record({
      name: fc.oneof(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 10 }),
        fc.constantFrom('__proto__', 'constructor', 'toString', '0', '17', 'transformer.h.0.attn.c_attn.weight', '日本語', '😀'),
      ),
      dtype: fc.constantFrom(...ALL_DTYPES),
      shape: fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 3 }),
    })
    .filter(({ name, dtype, shape }) => name !== '__metadata__' && (shape.reduce((n, d) => n * d, 1) * SPEC_BITS[dtype]) % 8 === 0)
    .chain(({ name, dtype, shape }) => {
      const n = (shape.reduce((a, d) => a * d, 1) * SPEC_BITS[dtype]) / 8;
      return fc.uint8Array({ minLength: n, maxLength: n }).map((data) => ({ name, dtype, shape, data }));
    });

  it('round-trips random valid tensor lists through the reader (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(tensorArb, { selector: (t) => t.name, maxLength: 8 }),
        fc.option(fc.dictionary(fc.string({ unit: 'grapheme', maxLength: 6 }), fc.string({ unit: 'grapheme', maxLength: 6 }), { maxKeys: 4 }), { nil: undefined }),
        async (tensors, metadata) => {
          const bytes = serializeSafetensors(tensors, metadata);
          const declared = Number(new DataView(bytes.buffer).getBigUint64(0, true));
          expect(declared % 8).toBe(0);
          const f = await openBytes(bytes, 'roundtrip.safetensors');
          expect(f.header.dataStart).toBe(8 + declared);
          expect(f.tensors.size).toBe(tensors.length);
          let offset = f.header.dataStart;
          for (const t of tensors) {
            const info = f.info(t.name);
            expect(info.dtype).toBe(t.dtype);
            expect(info.shape).toEqual(t.shape);
            expect(info.byteLength).toBe(t.data.byteLength);
            // The writer packs the tensors in the order given; the reader orders by offset. Zero-size tensors share an
            // offset with their neighbours, so only the position is checked, not the order among equals.
            expect(info.fileOffset).toBe(offset);
            offset += t.data.byteLength;
            expect(await f.read(t.name)).toEqual(t.data);
          }
          expect(offset).toBe(bytes.byteLength);
          const sorted = (r: Readonly<Record<string, string>>) => Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
          expect(sorted(f.metadata)).toEqual(sorted(metadata ?? {}));
        },
      ),
      { numRuns: 400 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------------------

describe('fuzz: mutated and truncated files', () => {
  // A small valid file with metadata, several dtypes, a scalar and a zero-size tensor.
  const base = build(
    header({
      __metadata__: { format: 'pt' },
      'h.0.w': entry('F32', [2, 3], [0, 24]),
      'h.0.b': entry('F16', [3], [24, 30]),
      s: entry('BF16', [], [30, 32]),
      z: entry('I64', [0], [32, 32]),
      m: entry('BOOL', [2, 2], [32, 36]),
      q: entry('U8', [4], [36, 40]),
    }) + '    ',
    40,
  );
  const headerEnd = 8 + Number(new DataView(base.buffer).getBigUint64(0, true));
  const jsonBytes = [...'{}[]":,-0123456789 .eE\\'].map((c) => c.charCodeAt(0));

  const mutation = fc.record({
    edits: fc.array(
      fc.record({
        // Most edits hit the prefix and the header, where the parsing is; some the data, which is never parsed.
        at: fc.oneof(
          { arbitrary: fc.integer({ min: 0, max: headerEnd + 2 }), weight: 3 },
          { arbitrary: fc.integer({ min: headerEnd, max: base.byteLength - 1 }), weight: 1 },
          { arbitrary: fc.nat(), weight: 1 },
        ),
        value: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(...jsonBytes)),
      }),
      { maxLength: 4 },
    ),
    deletions: fc.oneof({ arbitrary: fc.constant([]), weight: 3 }, { arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 2 }), weight: 1 }),
    truncateTo: fc.option(fc.nat(), { nil: undefined, freq: 4 }),
    declaredDelta: fc.option(fc.integer({ min: -20, max: 20 }), { nil: undefined, freq: 4 }),
    appended: fc.oneof({ arbitrary: fc.constant(new Uint8Array(0)), weight: 3 }, fc.uint8Array({ minLength: 1, maxLength: 12 })),
  });

  function mutate(m: typeof mutation extends fc.Arbitrary<infer T> ? T : never): Uint8Array {
    let bytes = [...base];
    for (const e of m.edits) bytes[e.at % bytes.length] = e.value;
    for (const d of m.deletions) bytes.splice(d % bytes.length, 1);
    if (m.declaredDelta !== undefined) {
      const n = Math.max(0, headerEnd - 8 + m.declaredDelta);
      bytes.splice(0, 8, ...u64le(BigInt(n)));
    }
    bytes = [...bytes, ...m.appended];
    if (m.truncateTo !== undefined) bytes = bytes.slice(0, m.truncateTo % (bytes.length + 1));
    return Uint8Array.from(bytes);
  }

  it('the unmutated base file opens', async () => {
    await expectConsistent(await openBytes(base), base);
  });

  it(`either opens consistently or throws a SafetensorsError, never anything else (${FUZZ_RUNS} runs)`, async () => {
    let accepted = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const bytes = mutate(m);
        let file: SafetensorsFile | undefined;
        try {
          file = await openBytes(bytes);
        } catch (e) {
          if (!(e instanceof SafetensorsError)) throw new Error(`not a SafetensorsError: ${String(e)}`, { cause: e });
          expect(e.file).toBe(NAME);
          expect(e.problem.length).toBeGreaterThan(0);
          rejected++;
          return;
        }
        accepted++;
        await expectConsistent(file, bytes);
      }),
      { numRuns: FUZZ_RUNS, interruptAfterTimeLimit: 600_000 },
    );
    // Both outcomes must actually occur, or the fuzz is not exercising anything.
    expect(accepted).toBeGreaterThan(5); // about 1% of runs
    expect(rejected).toBeGreaterThan(1000);
  }, 90_000);

  it('every truncation of a valid file is rejected with a SafetensorsError', async () => {
    for (let n = 0; n < base.byteLength; n++) {
      const e = await rejection(base.subarray(0, n));
      expect(e).toBeInstanceOf(SafetensorsError);
    }
  });
});
