// Keys for the prefix cache: block i of a sequence is keyed by a hash of ALL its tokens from position 0 to the end of
// block i, chained block by block (key_i = H(key_{i-1}, tokens of block i)), so equal keys mean equal prefixes and a
// block can only be reused behind the very same history. The hash is 64 bits (two independent 32-bit lanes, murmur3
// mixing); the chance of any collision among a million cached blocks is about 3·10⁻⁸.

function mix(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Keys of the full blocks of `tokens` (a trailing partial block gets none). */
export function blockKeys(tokens: readonly number[], blockSize: number, from = 0, previous: string[] = []): string[] {
  const keys = previous.slice(0, from);
  let [hi, lo] = from === 0 ? [0x2545f491, 0x9e3779b9] : parseKey(keys[from - 1]);
  for (let b = from; (b + 1) * blockSize <= tokens.length; b++) {
    for (let i = b * blockSize; i < (b + 1) * blockSize; i++) {
      hi = mix(hi, tokens[i]);
      lo = mix(lo, tokens[i] ^ 0x5bd1e995);
    }
    hi = finish(hi, (b + 1) * blockSize);
    lo = finish(lo, ~((b + 1) * blockSize));
    keys.push(`${hi.toString(16)}.${lo.toString(16)}`);
  }
  return keys;
}

function parseKey(key: string): [number, number] {
  const [hi, lo] = key.split('.');
  return [parseInt(hi, 16) | 0, parseInt(lo, 16) | 0];
}
