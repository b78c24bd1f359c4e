// Reads safetensors files (https://github.com/huggingface/safetensors) with the validation of the reference Rust crate,
// and streams tensor data in chunks.
//
// Why by hand: the npm package `safetensors` (0.0.1) parses the header with no validation at all (no size, offset,
// overlap or dtype checks) and needs the whole file as one buffer, which a multi-GB checkpoint cannot be in a browser.
//
// Layout: [u64 little-endian header length N][N bytes of UTF-8 JSON][data section]. The JSON maps tensor names to
// {dtype, shape, data_offsets: [begin, end]} (offsets relative to the data section) plus an optional "__metadata__"
// object of string → string. The crate's rules, each enforced below with its own message:
//   header length ≥ 8 bytes present, N ≤ 100 MB, N + 8 ≤ file size; header is UTF-8, starts with '{', parses as JSON;
//   every dtype known; shape entries are non-negative integers; elements × dtype size = end − begin;
//   sorted by offset, the tensors tile the data section exactly (no overlap, no hole) and end where the file ends.
import { SafetensorsError } from '../errors.ts';
import type { ByteSource } from './byteSource.ts';

/** Bits per element of every dtype the reference crate knows. */
const DTYPE_BITS = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
} as const;

export type Dtype = keyof typeof DTYPE_BITS;

export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** Absolute byte offset of the tensor's data in the file (header included). */
  readonly fileOffset: number;
  readonly byteLength: number;
}

export interface SafetensorsHeader {
  /** Tensors in file order (sorted by offset). */
  readonly tensors: readonly TensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
  /** Absolute offset of the data section. */
  readonly dataStart: number;
}

export function dtypeBits(dtype: Dtype): number {
  return DTYPE_BITS[dtype];
}

function isDtype(value: unknown): value is Dtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_BITS, value);
}

/** Reads the 8-byte length prefix; validates it against the file size. Returns N, the header's JSON length. */
export function parseHeaderLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || prefix.byteLength < 8) {
    throw new SafetensorsError(file, `header too small: the file has ${fileSize} bytes, fewer than the 8-byte header length; it is not a safetensors file or it is truncated`);
  }
  const view = new DataView(prefix.buffer, prefix.byteOffset, 8);
  const length = view.getBigUint64(0, true);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, `header too large: it declares ${length} bytes of JSON, more than the ${MAX_HEADER_BYTES}-byte limit; the file is corrupt or not safetensors`);
  }
  const n = Number(length);
  if (n + 8 > fileSize) {
    throw new SafetensorsError(file, `invalid header length: it declares ${n} bytes of JSON but the file has only ${fileSize - 8} bytes after the length; the file is truncated`);
  }
  return n;
}

/** Validates the JSON header against the file size (the crate's `read_metadata` + `validate`). */
export function parseHeaderJson(json: Uint8Array, fileSize: number, file: string): SafetensorsHeader {
  let text: string;
  try {
    // ignoreBOM: keep a leading byte-order mark in the text (the default strips it), so that it fails the '{' check as
    // it does in the crate instead of being silently accepted.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(json);
  } catch {
    throw new SafetensorsError(file, 'the header is not valid UTF-8; the file is corrupt or not safetensors');
  }
  if (!text.startsWith('{')) {
    throw new SafetensorsError(file, `the header must start with '{' but starts with ${JSON.stringify(text.slice(0, 8))}; the file is not safetensors`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(file, `the header is not valid JSON (${(e as Error).message})`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SafetensorsError(file, 'the header must be a JSON object of tensor entries');
  }

  const dataStart = 8 + json.byteLength;
  const dataSize = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const entries: { info: TensorInfo; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(parsed as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = readMetadata(raw, file);
      continue;
    }
    const { dtype, shape, begin, end } = readTensorEntry(raw, name, file);
    entries.push({ info: { name, dtype, shape, fileOffset: dataStart + begin, byteLength: end - begin }, begin, end });
  }

  // Sorted by offset, each tensor must begin exactly where the previous one ended: this rejects overlaps and holes.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const { info, begin, end } of entries) {
    if (begin !== cursor) {
      const what = begin < cursor ? 'overlaps the previous tensor' : `leaves a hole of ${begin - cursor} bytes before it`;
      throw new SafetensorsError(file, `invalid offset: data_offsets [${begin}, ${end}] ${what}`, info.name);
    }
    cursor = end;
  }
  if (cursor !== dataSize) {
    const problem =
      cursor > dataSize
        ? `the file is truncated: its tensors need ${cursor} bytes of data but only ${dataSize} follow the header`
        : `${dataSize - cursor} bytes after the last tensor are not covered by any tensor (incomplete metadata)`;
    throw new SafetensorsError(file, problem);
  }
  return { tensors: entries.map((e) => e.info), metadata, dataStart };
}

function readMetadata(raw: unknown, file: string): Record<string, string> {
  // The crate reads it as Option<HashMap<String, String>>: null is the same as no metadata.
  if (raw === null) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SafetensorsError(file, '"__metadata__" must be an object of strings');
  }
  const entries = Object.entries(raw);
  for (const [key, value] of entries) {
    if (typeof value !== 'string') throw new SafetensorsError(file, `"__metadata__.${key}" must be a string`);
  }
  // fromEntries defines own properties, so a key such as "__proto__" is kept (an assignment would set the prototype).
  return Object.fromEntries(entries) as Record<string, string>;
}

function readTensorEntry(raw: unknown, name: string, file: string) {
  const fail = (problem: string): never => {
    throw new SafetensorsError(file, problem, name);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('the entry must be an object {dtype, shape, data_offsets}');
  const entry = raw as Record<string, unknown>;
  if (!isDtype(entry.dtype)) fail(`unknown dtype ${JSON.stringify(entry.dtype)}`);
  const dtype = entry.dtype as Dtype;
  const isIndex = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  if (!Array.isArray(entry.shape) || !entry.shape.every(isIndex)) fail(`shape must be a list of non-negative integers, got ${JSON.stringify(entry.shape)}`);
  const shape = entry.shape as number[];
  const offsets = entry.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
    fail(`data_offsets must be [begin, end] with non-negative integers, got ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) fail(`data_offsets [${begin}, ${end}] end before they begin`);
  // BigInt: the product of a hostile shape can overflow a double's exact range (the crate's ValidationOverflow).
  const elements = shape.reduce((n, d) => n * BigInt(d), 1n);
  const bits = elements * BigInt(DTYPE_BITS[dtype]);
  if (bits % 8n !== 0n || bits / 8n !== BigInt(end - begin)) {
    fail(`shape ${JSON.stringify(shape)} of ${dtype} needs ${bits % 8n === 0n ? `${bits / 8n} bytes` : `${bits} bits`} but data_offsets span ${end - begin} bytes`);
  }
  return { dtype, shape, begin, end };
}

/** An open, validated safetensors file. Tensor data is read on demand, whole or in chunks. */
export class SafetensorsFile {
  readonly tensors: ReadonlyMap<string, TensorInfo>;

  private constructor(
    readonly source: ByteSource,
    readonly header: SafetensorsHeader,
  ) {
    this.tensors = new Map(header.tensors.map((t) => [t.name, t]));
  }

  /** Reads and validates the header (two small reads); no tensor data is read. */
  static async open(source: ByteSource): Promise<SafetensorsFile> {
    const prefix = await source.read(0, 8);
    const n = parseHeaderLength(prefix, source.size, source.name);
    const json = await source.read(8, n);
    if (json.byteLength !== n) throw new SafetensorsError(source.name, `could read only ${json.byteLength} of the ${n} header bytes; the file is truncated`);
    return new SafetensorsFile(source, parseHeaderJson(json, source.size, source.name));
  }

  get metadata(): Readonly<Record<string, string>> {
    return this.header.metadata;
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new SafetensorsError(this.source.name, 'no such tensor in the file', name);
    return info;
  }

  /** The tensor's bytes in one piece (fine for small tensors; use `chunks` for large ones). */
  async read(name: string): Promise<Uint8Array> {
    const info = this.info(name);
    return this.readSpan(info, 0, info.byteLength);
  }

  /**
   * The tensor's bytes in consecutive pieces of at most `maxChunkBytes`, each cut on an element boundary (a piece holds
   * at least one element, or the smallest whole-byte run of elements for sub-byte dtypes, even where that is more).
   */
  async *chunks(name: string, maxChunkBytes: number): AsyncGenerator<{ offset: number; bytes: Uint8Array }> {
    if (Number.isNaN(maxChunkBytes)) throw new RangeError('maxChunkBytes is NaN');
    const info = this.info(name);
    // The smallest run of whole elements that is also whole bytes: the element for byte-sized dtypes, 2 F4 elements
    // (1 byte) or 4 F6 elements (3 bytes) for the sub-byte ones.
    const bits = DTYPE_BITS[info.dtype];
    let groupBits = bits;
    while (groupBits % 8 !== 0) groupBits += bits;
    const groupBytes = groupBits / 8;
    const step = Math.max(groupBytes, Math.floor(maxChunkBytes / groupBytes) * groupBytes);
    for (let offset = 0; offset < info.byteLength; offset += step) {
      yield { offset, bytes: await this.readSpan(info, offset, Math.min(step, info.byteLength - offset)) };
    }
  }

  private async readSpan(info: TensorInfo, offset: number, length: number): Promise<Uint8Array> {
    const bytes = await this.source.read(info.fileOffset + offset, length);
    if (bytes.byteLength !== length) {
      throw new SafetensorsError(this.source.name, `the data is truncated: read ${bytes.byteLength} of ${length} bytes at offset ${info.fileOffset + offset}`, info.name);
    }
    return bytes;
  }

  async close(): Promise<void> {
    await this.source.close?.();
  }

  /** Done reading, successfully (see ByteSource.finish). */
  async finish(): Promise<void> {
    await (this.source.finish ?? this.source.close)?.call(this.source);
  }
}
