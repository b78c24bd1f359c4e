// Converts stored floating-point tensor bytes to float32, the compute type of every kernel. F16 and BF16 values are
// exactly representable in f32, so the conversion adds no error. All WebGPU hosts are little-endian, like the files.
import { ModelFormatError } from '../errors.ts';
import type { Dtype } from './safetensors.ts';

export type FloatDtype = 'F32' | 'F16' | 'BF16';

export function isFloatDtype(dtype: Dtype): dtype is FloatDtype {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

export function bytesPerElement(dtype: FloatDtype): number {
  return dtype === 'F32' ? 4 : 2;
}

let halfTable: Float32Array | undefined;

/** All 65536 half-precision values as f32: a table lookup beats bit-twiddling per element. */
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24; // zero and subnormals
    else if (exponent === 31) table[h] = mantissa ? NaN : sign * Infinity;
    else table[h] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return (halfTable = table);
}

/** Typed arrays need aligned offsets; a tensor inside a file may start anywhere, so copy when it is unaligned. */
function aligned(bytes: Uint8Array, alignment: number): Uint8Array {
  return bytes.byteOffset % alignment === 0 ? bytes : bytes.slice();
}

/** Decodes `bytes` of `dtype` into float32 (into `out` when given, which must hold the elements). */
export function decodeToFloat32(dtype: Dtype, bytes: Uint8Array, out?: Float32Array): Float32Array {
  if (!isFloatDtype(dtype)) {
    throw new ModelFormatError(`tensors of dtype ${dtype} are not supported; weights must be F32, F16 or BF16`);
  }
  const elementBytes = bytesPerElement(dtype);
  if (bytes.byteLength % elementBytes !== 0) {
    throw new ModelFormatError(`${bytes.byteLength} bytes are not a whole number of ${dtype} elements (${elementBytes} bytes each)`);
  }
  const count = bytes.byteLength / elementBytes;
  // A short `out` would drop values (F16) or, for a view into a larger buffer, write past its end (BF16).
  if (out && out.length < count) throw new RangeError(`decodeToFloat32: out holds ${out.length} values but ${count} were given`);
  const result = out ?? new Float32Array(count);
  if (dtype === 'F32') {
    const src = aligned(bytes, 4);
    result.set(new Float32Array(src.buffer, src.byteOffset, count));
    return result;
  }
  const src = aligned(bytes, 2);
  const halves = new Uint16Array(src.buffer, src.byteOffset, count);
  if (dtype === 'F16') {
    const table = halfToFloatTable();
    for (let i = 0; i < count; i++) result[i] = table[halves[i]];
  } else {
    // BF16 is the top half of an f32.
    const bits = new Uint32Array(result.buffer, result.byteOffset, count);
    for (let i = 0; i < count; i++) bits[i] = halves[i] << 16;
  }
  return result;
}

/**
 * Encodes float values as `dtype` bytes, each value rounded once, to nearest even, from the number given (not through
 * f32 first: that double rounding turns a value just past a halfway point into a tie, which may then round the wrong
 * way). For writing test and benchmark checkpoints.
 */
export function encodeFloats(dtype: FloatDtype, values: ArrayLike<number>): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(Float32Array.from(values).buffer);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = dtype === 'F16' ? floatToHalfBits(values[i]) : floatToBfloat16Bits(values[i]);
  return new Uint8Array(out.buffer);
}

const scratchF32 = new Float32Array(1);
const scratchBits = new Uint32Array(scratchF32.buffer);

function floatToBfloat16Bits(value: number): number {
  const f = Math.fround(value);
  scratchF32[0] = f;
  const f32bits = scratchBits[0];
  if ((f32bits & 0x7f800000) === 0x7f800000 && f32bits & 0x7fffff) return (f32bits >>> 16) | 0x40; // keep NaN a NaN
  // Every bf16 value and halfway point is an f32, so rounding to f32 cannot cross one, but it can land on a halfway
  // point: then the tie is not real, and which side of it `value` lies on decides (away from zero if beyond it).
  if ((f32bits & 0xffff) === 0x8000 && value !== f) return Math.abs(value) > Math.abs(f) ? (f32bits >>> 16) + 1 : f32bits >>> 16;
  const rounding = 0x7fff + ((f32bits >>> 16) & 1);
  return ((f32bits + rounding) >>> 16) & 0xffff;
}

function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const frac = x - floor;
  return frac > 0.5 || (frac === 0.5 && floor % 2 === 1) ? floor + 1 : floor;
}

function floatToHalfBits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const a = Math.abs(value);
  if (a >= 65520) return sign | 0x7c00; // rounds to infinity
  // Subnormals are multiples of 2^-24; rounding them may carry into the smallest normal (0x0400), which the bits express.
  if (a < 2 ** -14) return sign | roundHalfEven(a * 2 ** 24);
  let exponent = Math.floor(Math.log2(a));
  if (a / 2 ** exponent >= 2) exponent++; // log2 can be off by one ulp next to a power of two
  if (a / 2 ** exponent < 1) exponent--;
  let mantissa = roundHalfEven((a / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exponent++;
  }
  if (exponent > 15) return sign | 0x7c00;
  return sign | ((exponent + 15) << 10) | mantissa;
}
