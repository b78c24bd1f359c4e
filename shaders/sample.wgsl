// Sampling on the GPU: top-k, top-p and the draw for each row, with a counter-based generator, so only one id per row
// travels back. Two versions read the row's weights p (any non-negative values do: only ratios matter):
// - version 1 (FROM_LOGITS = false): p is read from `probs`, e.g. softmax.wgsl's exp((l - max) / τ) without the
//   normalization; kept as the reference the fused version is checked against (test/gpu/sampling.test.ts).
// - version 2 (FROM_LOGITS = true, the engine's): p is computed from the (penalized) logits each time it is read,
//   p = exp((l - max) · (1/τ)), the very f32 expression of softmax.wgsl, with max = max(-3e38, logits[argmax id])
//   (argmax.wgsl's output for the same logits, which equals softmax.wgsl's -3e38-seeded row max: the argmax is the first
//   largest value above -3e38, or id 0 when there is none), so the draw is bit for bit version 1's on softmax.wgsl's
//   output, without that extra pass over V and its (R, V) buffer. Recomputing exp on each of the kernel's 2–4 passes
//   costs ALU, not memory.
// Semantics (Hugging Face's processors, in their order), defined exactly on integers:
// - Each probability becomes a fixed-point weight w = floor(p / 2^(e_top - 166)), where 2^(e_top - 126) bounds the
//   row's largest value: the top token's weight is in [2^39, 2^40); values below 2^-40 of it weigh 0 (never drawn).
//   Sums of weights are exact 64-bit integers, so no result depends on a summation order, a workgroup size or a GPU.
// - Rank: larger probability first, ties by lower id. Only p > 0 ranks (zeros, negatives are never drawn).
// - top-k (0: no limit) keeps the first k of the rank. top-p, as a 24-bit fraction top_p = ceil(p · 2^24) (2^24: off),
//   keeps the shortest rank prefix of the top-k set whose weight reaches Q = ceil(top_p · W_k / 2^24), W_k the top-k
//   set's weight (top-p is relative to the top-k set, renormalized, as Hugging Face applies it after top-k).
// - The draw: u = philox(seed, stream 0, token index) >> 8 (24 bits), goal = floor(u · W / 2^24) for the kept weight
//   W; the token is the first kept one, in ascending id, whose running weight exceeds goal. So a kept token is drawn
//   with probability w / W up to 2^-24, and a seed replays exactly whatever the batch.
// The generator is Philox-4x32-10 (Salmon et al. 2011, Random123's constants and round), counter (index, stream, 0,
// 0), key (seed, 0), first output word; its CPU twin and the twin of the whole kernel are in test/reference/sampling.ts.
// Layout: probs or logits (R, V) f32; settings (R) RowSettings; drawn (R) u32: the id, or NON_FINITE_FLAG (bit 31)
//   when the row's p held a NaN or ±Inf (its weights are no distribution: the host fails that request); version 2 also
//   argmax_ids (R) u32 and inv_temperature (R) f32.
// Mapping: one 256-thread workgroup per row (rows with sampled = 0, greedy, return at once). The kept set is always
//   {key > T} ∪ {the first j tokens, by id, with key == T}, key the f32 bit pattern (for p ≥ 0, bit order = value
//   order). T and j come from a radix select over the keys, 8 bits a pass from the top: a pass counts and weighs the
//   tokens of each digit in workgroup atomics (exact integers), then one thread picks the digit where the running
//   count (top-k) or weight (top-p) reaches what is needed (the first pass over a long row counts in registers for
//   the 7 digits at the top and one slot below, and is redone with atomics only when the digit falls in that slot;
//   the sums are the same either way); once the keys still in the running fit in LIST_CAP, a
//   pass collects them and the next passes read that list, not the row (top-p after top-k reads only the top-k keys).
//   Ties at T need no pass: they all weigh w(T). The draw: each thread weighs a contiguous chunk of ids, one thread
//   scans the 256 chunk weights in order to find the chunk, and that chunk's thread walks it. So top-k 40 reads the
//   row 4 times (scan, two radix passes, draw), 2 with no top-k / top-p.
// Hazards: WGSL has no 64-bit integers and no mul-hi: 64-bit values are vec2u(lo, hi) and products go through 16-bit
//   halves (mul_wide). Non-finite values are found from their bits, never by comparing floats (see argmax.wgsl).

struct Params {
  rows: u32,   // R
  vocab: u32,  // V
}

struct RowSettings {
  sampled: u32,  // 0: greedy row, nothing to do
  top_k: u32,   // 0: no limit
  top_p: u32,   // ceil(p · 2^24), in [1, 2^24]; 2^24: no top-p
  seed: u32,
  index: u32,   // index of the token in the request's output (0: the first generated token)
}

struct Selection {
  prefix: u32,    // digits of the threshold key chosen so far
  need_c: u32,    // by count: rank still needed within the prefix
  need_lo: u32,   // by weight: weight still needed within the prefix (64-bit)
  need_hi: u32,
  tied: u32,      // tokens in the chosen digit's bucket (after the last pass: tokens with key == threshold)
  listed: u32,    // keys in `list` (when the pass collected them)
}

struct Draw {
  chunk: u32,   // the thread whose chunk holds the drawn token
  rem_lo: u32,  // goal minus the weight of the chunks before it (64-bit)
  rem_hi: u32,
}

const WG: u32 = 256u;
const DIGITS: u32 = 256u;
const NON_FINITE_FLAG: u32 = 0x80000000u;
const EXPONENT_MASK: u32 = 0x7f800000u;
const FULL_P: u32 = 0x1000000u;
const LIST_CAP: u32 = 1024u;

@group(0) @binding(0) var<uniform> p: Params;
#if ${FROM_LOGITS}
@group(0) @binding(1) var<storage, read> logits: array<f32>;             // (R, V) after the repetition penalty
#else
@group(0) @binding(1) var<storage, read> probs: array<f32>;              // (R, V) non-negative weights
#endif
@group(0) @binding(2) var<storage, read> settings: array<RowSettings>;   // (R)
@group(0) @binding(3) var<storage, read_write> drawn: array<u32>;        // (R): id | NON_FINITE_FLAG
#if ${FROM_LOGITS}
@group(0) @binding(4) var<storage, read> argmax_ids: array<u32>;         // (R): argmax.wgsl's id | NON_FINITE_FLAG
@group(0) @binding(5) var<storage, read> inv_temperature: array<f32>;    // (R): 1/τ, as softmax.wgsl reads it

// The row's max logit and 1/τ, set once at the top of main (every thread reads the same two words).
var<private> row_max: f32 = 0.0;
var<private> inv_t: f32 = 1.0;
#endif

var<workgroup> h_count: array<atomic<u32>, DIGITS>;
var<workgroup> h_lo: array<atomic<u32>, DIGITS>;
var<workgroup> h_hi: array<atomic<u32>, DIGITS>;
var<workgroup> s_bad: atomic<u32>;
var<workgroup> s_top: atomic<u32>;
var<workgroup> s_count: atomic<u32>;
var<workgroup> scan: vec3u;                    // bad, top key, positive count, for a uniform load
var<workgroup> sel: Selection;
var<workgroup> chunk_lo: array<u32, WG>;       // per thread: weight of its chunk (64-bit), then the kept weight
var<workgroup> chunk_hi: array<u32, WG>;
var<workgroup> chunk_tied: array<u32, WG>;     // per thread: tokens with key == T in its chunk, then those before it
var<workgroup> draw: Draw;
var<workgroup> list: array<u32, LIST_CAP>;     // keys still matching the prefix, once they fit (any order)
var<workgroup> list_len: atomic<u32>;
var<workgroup> retry: u32;                     // 1: the windowed first pass did not decide the digit

// ---- 64-bit unsigned arithmetic on vec2u(lo, hi) ----

fn add64(a: vec2u, b: vec2u) -> vec2u {
  let lo = a.x + b.x;
  return vec2u(lo, a.y + b.y + select(0u, 1u, lo < a.x));
}

fn sub64(a: vec2u, b: vec2u) -> vec2u {
  return vec2u(a.x - b.x, a.y - b.y - select(0u, 1u, a.x < b.x));
}

fn ge64(a: vec2u, b: vec2u) -> bool {
  return a.y > b.y || (a.y == b.y && a.x >= b.x);
}

fn gt64(a: vec2u, b: vec2u) -> bool {
  return a.y > b.y || (a.y == b.y && a.x > b.x);
}

/** a · b as vec2u(lo, hi), from 16-bit halves. */
fn mul_wide(a: u32, b: u32) -> vec2u {
  let a0 = a & 0xffffu;
  let a1 = a >> 16u;
  let b0 = b & 0xffffu;
  let b1 = b >> 16u;
  let p00 = a0 * b0;
  let p01 = a0 * b1;
  let p10 = a1 * b0;
  let p11 = a1 * b1;
  let mid = p01 + p10;
  let mid_carry = select(0u, 0x10000u, mid < p01);
  let lo = p00 + (mid << 16u);
  return vec2u(lo, p11 + (mid >> 16u) + mid_carry + select(0u, 1u, lo < p00));
}

/** w · j, low 64 bits (every product here fits: at most V · 2^40). */
fn mul64(w: vec2u, j: u32) -> vec2u {
  let l = mul_wide(w.x, j);
  return vec2u(l.x, l.y + w.y * j);
}

/** floor((f · m + round_up) / 2^24) for f ≤ 2^24, through the 96-bit product; round_up 2^24 - 1 makes it a ceiling. */
fn scale24(f: u32, m: vec2u, round_up: u32) -> vec2u {
  let a = mul_wide(f, m.x);  // words 0, 1
  let b = mul_wide(f, m.y);  // words 1, 2
  let w0 = a.x + round_up;
  let t1 = a.y + b.x;
  let w1 = t1 + select(0u, 1u, w0 < a.x);
  let w2 = b.y + select(0u, 1u, t1 < a.y) + select(0u, 1u, w1 < t1);
  return vec2u((w0 >> 24u) | (w1 << 8u), (w1 >> 24u) | (w2 << 8u));
}

// ---- the generator ----

/** Philox-4x32-10 of counter (index, stream, 0, 0) under key (seed, 0): the first output word. */
fn philox_bits(seed: u32, stream: u32, index: u32) -> u32 {
  var c = vec4u(index, stream, 0u, 0u);
  var k = vec2u(seed, 0u);
  for (var r = 0u; r < 10u; r = r + 1u) {
    let m0 = mul_wide(0xD2511F53u, c.x);
    let m1 = mul_wide(0xCD9E8D57u, c.z);
    c = vec4u(m1.y ^ c.y ^ k.x, m1.x, m0.y ^ c.w ^ k.y, m0.x);
    k = k + vec2u(0x9E3779B9u, 0xBB67AE85u);
  }
  return c.x;
}

// ---- keys and weights ----

/** The rank key of a probability's bits: the bits themselves for a finite p > 0, else 0 (never kept). */
fn key_of(bits: u32) -> u32 {
  return select(0u, bits, bits != 0u && bits < EXPONENT_MASK);
}

/** The fixed-point weight of a key, in units of 2^(e_top - 166): the mantissa (24 bits) shifted by exponent - e_top + 16. */
fn weight(key: u32, e_top: u32) -> vec2u {
  let e = key >> 23u;
  let m = select((key & 0x7fffffu) | 0x800000u, key & 0x7fffffu, e == 0u);
  let down = e_top - max(e, 1u);  // ≥ 0: e_top is the row's largest exponent (at least 1)
  if (down <= 16u) {
    let s = 16u - down;
    return vec2u(m << s, select(m >> (32u - s), 0u, s == 0u));
  }
  let t = down - 16u;
  return vec2u(select(m >> t, 0u, t >= 32u), 0u);
}

/** The weight p of token i of the row starting at base. */
fn prob_at(base: u32, i: u32) -> f32 {
#if ${FROM_LOGITS}
  return exp((logits[base + i] - row_max) * inv_t);  // softmax.wgsl's expression, operation for operation: same bits
#else
  return probs[base + i];
#endif
}

fn key_at(base: u32, i: u32) -> u32 {
  return key_of(bitcast<u32>(prob_at(base, i)));
}

/** Adds one token of key k to digit d's bucket: its count, and its weight when selecting by weight. */
fn histogram_add(d: u32, k: u32, e_top: u32, by_weight: bool) {
  atomicAdd(&h_count[d], 1u);
  if (by_weight) {
    let w = weight(k, e_top);
    let old = atomicAdd(&h_lo[d], w.x);
    let carry = select(0u, 1u, old + w.x < old);
    if (w.y + carry != 0u) {
      atomicAdd(&h_hi[d], w.y + carry);
    }
  }
}

/**
 * Radix select over the keys > floor_key (plus, for top-p, the first `extra` tokens with key == floor_key: the top-k
 * set's tie, weighed as extra · w(floor_key)). By count: the key of the need-th token of the rank; by weight: the key
 * where the running weight reaches `need` (top_p ≠ 0: need is Q, computed from the first pass's total). Leaves the
 * threshold in sel.prefix and what is still needed at it in sel.need_c / need_lo, need_hi. `expected`: how many keys
 * are > floor_key. Once the keys still matching the prefix fit in `list`, a pass collects them and the later passes
 * read the list instead of the row (the histograms are sums, so the list's order does not matter).
 */
fn radix_select(base: u32, lid: u32, e_top: u32, top_key: u32, floor_key: u32, extra: u32, by_weight: bool, need: u32, top_p: u32, expected: u32) -> Selection {
  if (lid == 0u) {
    sel = Selection(0u, need, 0u, 0u, expected, 0u);
  }
  var s = workgroupUniformLoad(&sel);
  var listed = false;
  for (var level = 0u; level < 4u; level = level + 1u) {
    let shift = 24u - 8u * level;
    let mask = select(0xffffffffu << (shift + 8u), 0u, level == 0u);
    // s.tied: the tokens matching the prefix (the virtual tie included, which is never listed)
    let collect = !listed && s.tied <= LIST_CAP;
    // The first pass over a long row counts in registers, for the 7 digits below the top one's (values down to about
    // 2^-14 of the top) and one slot for everything lower, then adds 8 totals per thread: 50k atomics on one
    // address range cost more than the rest of the kernel. When the digit falls in the lowest slot, the pass is redone
    // in full.
    var windowed = level == 0u && !collect;
    let lo_d = (top_key >> 24u) - min(top_key >> 24u, 6u);
    loop {
    atomicStore(&h_count[lid], 0u);
    atomicStore(&h_lo[lid], 0u);
    atomicStore(&h_hi[lid], 0u);
    if (lid == 0u && collect) {
      atomicStore(&list_len, 0u);
    }
    workgroupBarrier();
    if (lid == 0u && extra > 0u && (floor_key & mask) == s.prefix) {
      let d = (floor_key >> shift) & 0xffu;
      let w = mul64(weight(floor_key, e_top), extra);
      atomicAdd(&h_count[d], extra);
      let old = atomicAdd(&h_lo[d], w.x);
      atomicAdd(&h_hi[d], w.y + select(0u, 1u, old + w.x < old));
    }
    if (windowed) {
      var wc = array<u32, 8>();
      var wlo = array<u32, 8>();
      var whi = array<u32, 8>();
      for (var i = lid; i < p.vocab; i = i + WG) {
        let k = key_at(base, i);
        if (k > floor_key) {
          let d = k >> 24u;
          let x = select(d + 1u - lo_d, 0u, d < lo_d);
          wc[x] = wc[x] + 1u;
          if (by_weight) {
            let w = weight(k, e_top);
            let lo = wlo[x] + w.x;
            whi[x] = whi[x] + w.y + select(0u, 1u, lo < w.x);
            wlo[x] = lo;
          }
        }
      }
      for (var x = 0u; x < 8u; x = x + 1u) {
        if (wc[x] != 0u) {
          let d = lo_d + x - 1u;
          atomicAdd(&h_count[d], wc[x]);
          let old = atomicAdd(&h_lo[d], wlo[x]);
          atomicAdd(&h_hi[d], whi[x] + select(0u, 1u, old + wlo[x] < old));
        }
      }
    } else if (listed) {
      for (var n = lid; n < s.listed; n = n + WG) {
        let k = list[n];
        if ((k & mask) == s.prefix) {
          histogram_add((k >> shift) & 0xffu, k, e_top, by_weight);
        }
      }
    } else {
      for (var i = lid; i < p.vocab; i = i + WG) {
        let k = key_at(base, i);
        if (k > floor_key && (k & mask) == s.prefix) {
          histogram_add((k >> shift) & 0xffu, k, e_top, by_weight);
          if (collect) {
            let slot = atomicAdd(&list_len, 1u);
            if (slot < LIST_CAP) {
              list[slot] = k;
            }
          }
        }
      }
    }
    workgroupBarrier();
    if (lid == 0u) {
      var need_w = vec2u(sel.need_lo, sel.need_hi);
      if (by_weight && level == 0u) {
        var total = vec2u(0u, 0u);
        for (var d = 0u; d < DIGITS; d = d + 1u) {
          total = add64(total, vec2u(atomicLoad(&h_lo[d]), atomicLoad(&h_hi[d])));
        }
        need_w = scale24(top_p, total, FULL_P - 1u);
      }
      var cum_c = 0u;
      var cum_w = vec2u(0u, 0u);
      var chosen = 0u;
      var found = false;
      var in_bucket = 0u;
      for (var n = 0u; n < DIGITS; n = n + 1u) {
        let d = DIGITS - 1u - n;
        let c = atomicLoad(&h_count[d]);
        let w = vec2u(atomicLoad(&h_lo[d]), atomicLoad(&h_hi[d]));
        let reached = select(cum_c + c >= sel.need_c, ge64(add64(cum_w, w), need_w), by_weight);
        if (reached) {
          chosen = d;
          found = true;
          in_bucket = c;
          break;
        }
        cum_c = cum_c + c;
        cum_w = add64(cum_w, w);
      }
      retry = select(0u, 1u, windowed && (!found || (lo_d > 0u && chosen < lo_d)));
      if (retry == 0u) {
        let left = sub64(need_w, cum_w);
        let listed_now = select(sel.listed, atomicLoad(&list_len), collect);
        sel = Selection(sel.prefix | (chosen << shift), sel.need_c - select(cum_c, 0u, by_weight), left.x, left.y, in_bucket, listed_now);
      }
    }
    let again = workgroupUniformLoad(&retry);
    if (again == 0u) {
      break;
    }
    windowed = false;
    }
    s = workgroupUniformLoad(&sel);
    listed = listed || collect;
  }
  return s;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  if (row >= p.rows) {
    return;
  }
  let rs = settings[row];
#if ${BITS_ONLY}
  // Test variant (test/gpu/sampling.test.ts): the generator's raw word for the row's (seed, index).
  _ = &probs;  // keeps the binding in the layout
  if (lid == 0u) {
    drawn[row] = philox_bits(rs.seed, 0u, rs.index);
  }
#else
  if (rs.sampled == 0u) {
    return;
  }
  let base = row * p.vocab;
#if ${FROM_LOGITS}
  // -3e38 seeds softmax.wgsl's max too; the flag bit is argmax's non-finite mark, not part of the id.
  row_max = max(-3.0e38, logits[base + (argmax_ids[row] & ~NON_FINITE_FLAG)]);
  inv_t = inv_temperature[row];
#endif

  // Pass 1: non-finite values, the largest key, how many tokens have p > 0.
  var bad = 0u;
  var top = 0u;
  var count = 0u;
  for (var i = lid; i < p.vocab; i = i + WG) {
    let bits = bitcast<u32>(prob_at(base, i));
    bad = bad | select(0u, 1u, (bits & EXPONENT_MASK) == EXPONENT_MASK);
    let k = key_of(bits);
    top = max(top, k);
    count = count + select(0u, 1u, k != 0u);
  }
  atomicOr(&s_bad, bad);
  atomicMax(&s_top, top);
  atomicAdd(&s_count, count);
  workgroupBarrier();
  if (lid == 0u) {
    scan = vec3u(atomicLoad(&s_bad), atomicLoad(&s_top), atomicLoad(&s_count));
  }
  let row_scan = workgroupUniformLoad(&scan);
  if (row_scan.x != 0u || row_scan.z == 0u) {
    if (lid == 0u) {
      drawn[row] = select(0u, NON_FINITE_FLAG, row_scan.x != 0u);  // no positive probability: id 0, as argmax would
    }
    return;
  }
  let e_top = max(row_scan.y >> 23u, 1u);

  // The kept set {key > t} ∪ {first j of key == t}: everything positive until top-k / top-p narrow it.
  var t = 0u;
  var j = 0u;
  if (rs.top_k != 0u && rs.top_k < row_scan.z) {
    let s = radix_select(base, lid, e_top, row_scan.y, 0u, 0u, false, rs.top_k, 0u, row_scan.z);
    t = s.prefix;
    j = s.need_c;
  }
  if (rs.top_p < FULL_P) {
    // the tokens above t: all positive ones, or the top-k set but its tie at t
    let s = radix_select(base, lid, e_top, row_scan.y, t, j, true, 0u, rs.top_p, select(row_scan.z, rs.top_k - j, t != 0u));
    // The tokens tied at the threshold weigh the same: take the fewest that reach what is still needed (≥ 1).
    if (lid == 0u) {
      let w = weight(s.prefix, e_top);
      let need = vec2u(s.need_lo, s.need_hi);
      var lo = 1u;
      var hi = s.tied;
      while (lo < hi) {
        let mid = lo + (hi - lo) / 2u;
        if (ge64(mul64(w, mid), need)) {
          hi = mid;
        } else {
          lo = mid + 1u;
        }
      }
      sel.need_c = lo;
    }
    let done = workgroupUniformLoad(&sel);
    t = done.prefix;
    j = done.need_c;
  }

  // The draw. Pass: each thread weighs the kept tokens of its contiguous chunk of ids above t, and counts its ties.
  let w_t = weight(t, e_top);
  let chunk = (p.vocab + WG - 1u) / WG;
  let start = min(lid * chunk, p.vocab);
  let end = min(start + chunk, p.vocab);
  var above = vec2u(0u, 0u);
  var tied = 0u;
  for (var i = start; i < end; i = i + 1u) {
    let k = key_at(base, i);
    if (k > t) {
      above = add64(above, weight(k, e_top));
    } else if (k == t) {
      tied = tied + 1u;
    }
  }
  chunk_lo[lid] = above.x;
  chunk_hi[lid] = above.y;
  chunk_tied[lid] = tied;
  workgroupBarrier();
  if (lid == 0u) {
    // In id order: the chunk's kept ties are those of the first j; then the goal and the chunk that holds it.
    var tied_before = 0u;
    var total = vec2u(0u, 0u);
    for (var c = 0u; c < WG; c = c + 1u) {
      let n = chunk_tied[c];
      let kept = min(n, j - min(j, tied_before));
      let w = add64(vec2u(chunk_lo[c], chunk_hi[c]), mul64(w_t, kept));
      chunk_lo[c] = w.x;
      chunk_hi[c] = w.y;
      chunk_tied[c] = tied_before;
      tied_before = tied_before + n;
      total = add64(total, w);
    }
    let goal = scale24(philox_bits(rs.seed, 0u, rs.index) >> 8u, total, 0u);
    var acc = vec2u(0u, 0u);
    draw = Draw(0u, 0u, 0u);
    for (var c = 0u; c < WG; c = c + 1u) {
      let next = add64(acc, vec2u(chunk_lo[c], chunk_hi[c]));
      if (gt64(next, goal)) {
        let rem = sub64(goal, acc);
        draw = Draw(c, rem.x, rem.y);
        break;
      }
      acc = next;
    }
  }
  workgroupBarrier();
  if (lid == draw.chunk) {
    let rem = vec2u(draw.rem_lo, draw.rem_hi);
    var ties_seen = chunk_tied[lid];
    var running = vec2u(0u, 0u);
    var id = start;
    for (var i = start; i < end; i = i + 1u) {
      let k = key_at(base, i);
      let kept = k > t || (k == t && ties_seen < j);
      ties_seen = ties_seen + select(0u, 1u, k == t);
      if (kept) {
        running = add64(running, weight(k, e_top));
        if (gt64(running, rem)) {
          id = i;
          break;
        }
      }
    }
    drawn[row] = id;
  }
#endif
}
