// Byte-pair encoding of one pre-token ("word"): start from one symbol per UTF-8 byte, then repeatedly merge the
// adjacent pair with the lowest merge rank until no adjacent pair has a merge.
//
// Algorithm: the one Hugging Face tokenizers uses (`Word::merge_all`), so results are identical to it by
// construction: a doubly linked list of symbols plus a binary min-heap of candidate merges keyed by (rank, left
// position). Popping the lowest (rank, position) and merging it, then pushing the two pairs the new symbol forms with
// its neighbours, costs O(n log n) for an n-byte word. Entries made stale by an earlier merge are recognised on pop
// (the symbol was absorbed, or its current pair no longer has that rank) and skipped. OpenAI's original loop (find
// the lowest-rank pair, merge all its occurrences left to right, repeat) gives the same result for any merges list
// learned by BPE training, since a merge that uses a merged symbol always ranks after the merge that made it; its
// cost, though, is O(n²) per word, which a single 200,000-character word (a run of one letter, a long base64 blob)
// turns into minutes. With the heap such a word takes a fraction of a second, so no capping or chunking of long
// words is needed, and none is done: output is always exactly the reference's.
//
// Words recur constantly in real text (" the", ","), so results are kept in a bounded cache (first-in first-out,
// at most CACHE_CAPACITY words of at most CACHE_MAX_WORD_LENGTH UTF-16 units each: memory stays bounded whatever
// the input; long words are rare and cheap enough relative to their length to recompute).

import { TokenizerError } from '../errors.ts';
import { BYTE_TO_CHAR } from './byteLevel.ts';

const CACHE_CAPACITY = 10_000;
const CACHE_MAX_WORD_LENGTH = 256;

/** Heap keys pack (rank, position) into one float64: rank * 2^32 + position, exact while rank < 2^21. */
const POSITION_RANGE = 2 ** 32;
const MAX_MERGES = 2 ** 21;

export interface BpeOptions {
  /** Id used for a byte whose character is not in the vocabulary (HF `unk_token`); without one that is an error. */
  readonly unkId?: number;
  /** Merge consecutive unknown symbols into one (HF `fuse_unk`). */
  readonly fuseUnk?: boolean;
  /** If a whole word is itself a vocabulary entry, use it without merging (HF `ignore_merges`, Llama-3 style). */
  readonly ignoreMerges?: boolean;
}

export class BytePairEncoder {
  /** Vocabulary id of the byte-level character of each byte, or -1 where the vocabulary lacks it. */
  private readonly byteIds = new Int32Array(256);
  /** pairKey(left id, right id) → merge rank. */
  private readonly mergeRanks = new Map<number, number>();
  /** Merge rank → id of the merged symbol. */
  private readonly mergedIds: Int32Array;
  private readonly idBase: number;
  private readonly cache = new Map<string, readonly number[]>();
  private readonly utf8 = new TextEncoder();

  /**
   * @param vocab token string (byte-level alphabet) → id.
   * @param merges merge rules in rank order (index = rank); a pair listed twice keeps its last rank, as in HF.
   * @param describeMerge names merge i for error messages ("merges.txt line 7").
   */
  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    merges: readonly (readonly [string, string])[],
    describeMerge: (index: number) => string,
    private readonly options: BpeOptions = {},
  ) {
    let maxId = 0;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    this.idBase = maxId + 1;
    if (this.idBase * this.idBase > Number.MAX_SAFE_INTEGER) {
      throw new TokenizerError(`the vocabulary's largest id (${maxId}) is too large; ids must be below 94,906,265`);
    }
    if (merges.length >= MAX_MERGES) {
      throw new TokenizerError(`the tokenizer has ${merges.length} merges; at most ${MAX_MERGES - 1} are supported`);
    }
    for (let b = 0; b < 256; b++) this.byteIds[b] = vocab.get(BYTE_TO_CHAR[b]) ?? -1;

    this.mergedIds = new Int32Array(merges.length);
    for (let rank = 0; rank < merges.length; rank++) {
      const [left, right] = merges[rank];
      const leftId = vocab.get(left);
      const rightId = vocab.get(right);
      const mergedId = vocab.get(left + right);
      const missing =
        leftId === undefined ? left : rightId === undefined ? right : mergedId === undefined ? left + right : undefined;
      if (missing !== undefined) {
        throw new TokenizerError(
          `${describeMerge(rank)} merges "${left}" + "${right}", but the vocabulary has no token "${missing}"; ` +
            `the merges do not belong to this vocabulary (load the vocab and merges files of the same model)`,
        );
      }
      this.mergeRanks.set(leftId! * this.idBase + rightId!, rank);
      this.mergedIds[rank] = mergedId!;
    }
  }

  /** Append the ids of one pre-token (plain text, not yet byte-level) to `out`. */
  encodeWordInto(word: string, out: number[]): void {
    const cached = this.cache.get(word);
    if (cached !== undefined) {
      for (const id of cached) out.push(id);
      return;
    }
    const ids = this.encodeWord(word);
    if (word.length <= CACHE_MAX_WORD_LENGTH) {
      if (this.cache.size >= CACHE_CAPACITY) this.cache.delete(this.cache.keys().next().value!);
      this.cache.set(word, ids);
    }
    for (const id of ids) out.push(id);
  }

  private encodeWord(word: string): number[] {
    const bytes = this.utf8.encode(word); // lone surrogates become U+FFFD, as any UTF-8 encoder does
    if (this.options.ignoreMerges) {
      let byteLevel = '';
      for (const b of bytes) byteLevel += BYTE_TO_CHAR[b];
      const whole = this.vocab.get(byteLevel);
      if (whole !== undefined) return [whole];
    }

    // Initial symbols: one per byte (consecutive unknown bytes fused into one when fuse_unk is set).
    const n = bytes.length;
    const ids = new Int32Array(n);
    let count = 0;
    let previousWasUnk = false;
    for (let i = 0; i < n; i++) {
      let id = this.byteIds[bytes[i]];
      if (id < 0) {
        if (this.options.unkId === undefined) {
          const hex = bytes[i].toString(16).toUpperCase().padStart(2, '0');
          throw new TokenizerError(
            `the vocabulary has no token for byte 0x${hex} (byte-level character "${BYTE_TO_CHAR[bytes[i]]}") and ` +
              `no unk_token, so the text "${word.length > 40 ? word.slice(0, 40) + '…' : word}" cannot be encoded`,
          );
        }
        if (this.options.fuseUnk && previousWasUnk) continue;
        id = this.options.unkId;
        previousWasUnk = true;
      } else {
        previousWasUnk = false;
      }
      ids[count++] = id;
    }
    if (count <= 1) return Array.from(ids.subarray(0, count));
    return this.mergeAll(ids, count);
  }

  /** HF's `Word::merge_all` on symbols ids[0, count). */
  private mergeAll(ids: Int32Array, count: number): number[] {
    const prev = new Int32Array(count);
    const next = new Int32Array(count);
    const alive = new Uint8Array(count).fill(1);
    for (let i = 0; i < count; i++) {
      prev[i] = i - 1;
      next[i] = i + 1 < count ? i + 1 : -1;
    }
    const heap = new MinHeap(count);
    for (let i = 0; i + 1 < count; i++) {
      const rank = this.mergeRanks.get(ids[i] * this.idBase + ids[i + 1]);
      if (rank !== undefined) heap.push(rank * POSITION_RANGE + i);
    }

    while (heap.size > 0) {
      const key = heap.pop();
      const rank = Math.floor(key / POSITION_RANGE);
      const pos = key - rank * POSITION_RANGE;
      if (!alive[pos]) continue; // absorbed into the symbol on its left
      const right = next[pos];
      if (right < 0) continue;
      // Stale entry: the symbol or its right neighbour changed since it was pushed.
      if (this.mergeRanks.get(ids[pos] * this.idBase + ids[right]) !== rank) continue;

      ids[pos] = this.mergedIds[rank];
      alive[right] = 0;
      const after = next[right];
      next[pos] = after;
      if (after >= 0) prev[after] = pos;

      const before = prev[pos];
      if (before >= 0) {
        const r = this.mergeRanks.get(ids[before] * this.idBase + ids[pos]);
        if (r !== undefined) heap.push(r * POSITION_RANGE + before);
      }
      if (after >= 0) {
        const r = this.mergeRanks.get(ids[pos] * this.idBase + ids[after]);
        if (r !== undefined) heap.push(r * POSITION_RANGE + pos);
      }
    }

    const result: number[] = [];
    for (let i = 0; i >= 0; i = next[i]) result.push(ids[i]);
    return result;
  }
}

/** Binary min-heap of float64 keys in a growable typed array (no per-entry objects: long words push millions). */
class MinHeap {
  private keys: Float64Array;
  size = 0;

  constructor(capacity: number) {
    this.keys = new Float64Array(Math.max(16, capacity));
  }

  push(key: number): void {
    if (this.size === this.keys.length) {
      const grown = new Float64Array(this.keys.length * 2);
      grown.set(this.keys);
      this.keys = grown;
    }
    const keys = this.keys;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent] <= key) break;
      keys[i] = keys[parent];
      i = parent;
    }
    keys[i] = key;
  }

  /** Remove and return the smallest key; only call when size > 0. */
  pop(): number {
    const keys = this.keys;
    const top = keys[0];
    const last = keys[--this.size];
    const n = this.size;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && keys[child + 1] < keys[child]) child++;
      if (keys[child] >= last) break;
      keys[i] = keys[child];
      i = child;
    }
    keys[i] = last;
    return top;
  }
}
