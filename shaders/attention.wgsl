// Causal self-attention over the paged KV cache in one canonical order (docs: ../shared/perf-model.md §4 items 2, 7),
// for prefill and decode alike. For query token t (position pos_t in sequence seq_t) and head h:
//   s_j = scale · q_t,h · k_j,h  for j = 0 … pos_t (causal),   out_t,h = Σ_j softmax(s)_j · v_j,h
// Keys and values are read through the sequence's block table: row j lives at slot
//   block_table[seq][j / B] · B + j % B of this layer's k_cache / v_cache (kv_write.wgsl has stored this step's tokens).
//
// Canonical order, per (query, head), in every variant of this file: keys in 64-key tiles aligned at position 0
// (tile t holds keys 64t … min(64t + 63, pos_t)). For tile t:
//   dot_j = lane_tree(16 lane sums), lane ℓ summing q[d]·k_j[d] for d = 64r + 4ℓ + c (r = 0 … ACC−1, c = 0 … 3, d < D)
//           as one fma chain from 0 in that order;  s_j = dot_j · scale, stored in workgroup memory;
//   m_t = max_j s_j (tree);  p_j = exp(s_j − m_t) (0 for masked lanes);  l_t = Σ p_j by the fixed 64-wide tree of
//   tile_softmax;  o_t[d] = fma chain over the tile's keys in ascending j from 0: o = fma(p_j, v_j[d], o).
// Tiles merge in ascending t, starting from tile 0's (m, l, o): M' = max(M, m_t), a = exp(M − M'), b = exp(m_t − M'),
//   L' = fma(L, a, l_t·b), O' = fma(O, a, o_t·b) (merge_weights, merge_into); out = O / L.
// The arithmetic depends only on the query's own position and keys, never on the batch, the chunking of the prompt,
// the other sequences in the step or which variant runs: the batch-invariance contract (test/gpu/attention.test.ts
// checks decode == prefill bit for bit).
//
// Variants (one file so that they share the functions above; src/kernels/attention.ts picks one per dispatch):
//   PARTIALS (decode, few rows): grid (H, GY, T), 64 threads per (head, tile, row), GY ≤ TILES the tiles of the step's
//     largest position (src/kernels/attention.ts): workgroup y takes tiles y, y + GY, … of its row, so a short step
//     launches few workgroups and a row past GY · 64 keys is still whole. Scores: lane ℓ = lid % 16 of key
//     group lid / 16, 4 keys per step, so a key's 16 lanes read its head slice contiguously; the 16 lane sums go
//     through workgroup memory to the key's thread. Values: thread d accumulates dims d, d + 64, … Writes the tile's
//     (m, l, o[D]) to partials. Workgroups past the row's last tile exit at once.
//   MERGE: grid (H, T), 64 threads per (head, row): merges the row's tiles (ceil((pos + 1) / 64), from its own
//     position, all written by PARTIALS) in ascending t, writes out; partials of tiles past the row are never read.
//   PREFILL (many rows): grid (H, ceil(T / QB)), 64 threads per (head, block of QB consecutive rows). The block is
//     walked in runs of consecutive rows of one sequence (a step may mix sequences; each run uses its own block table
//     and each row its own position); each K / V tile is staged in workgroup memory KC keys at a time, once for all of
//     the run's rows, and per row the tile partial and merge above are computed exactly (tiles past a row's position
//     are skipped for that row).
// Layout: qkv (T, 3C) (q = [0, C), head h at h·D); tokens (T) vec4<u32> (id, position, sequence, unused);
//   block_tables (S, MAXB) u32; k_cache, v_cache (NB · B, C); partials (R, H, TILES, D + 2): per (row, head, tile)
//   m, l, o[0 … D); out (T, C).
// Hazards: scores are finite; masked lanes hold NEG_BIG and get p = 0 without an exp, and every merged tile has at
//   least one key, so no inf − inf NaN arises. Barriers sit in uniform control flow only: loop bounds come from the
//   params, the grid (num_workgroups) and the read-only tokens buffer.

struct Params {
  rows: u32,        // T
  channels: u32,    // C
  head_dim: u32,    // D
  block_size: u32,  // B
  max_blocks: u32,  // MAXB
  scale: f32,
  max_tiles: u32,   // TILES: tiles per (row, head) in partials
}

const WG: u32 = 64u;
const TILE: u32 = 64u;                      // keys per tile (= WG: one key per thread in the score phase)
const HALF: u32 = 32u;
const LANES: u32 = 16u;                     // lane sums per dot product
const PART_STRIDE: u32 = 17u;               // part_s row of a key: 16 lane sums, padded against bank conflicts
const ACC: u32 = ${ACC_PER_THREAD}u;        // dims per thread and 64-dim slabs per lane: ceil(D / 64)
const MAX_HEAD_DIM: u32 = ${MAX_HEAD_DIM}u; // 64 · ACC
const QB: u32 = ${QUERY_BLOCK}u;            // query rows per workgroup (1 except in PREFILL)
const KC: u32 = ${KEY_CHUNK}u;              // keys staged at a time in PREFILL
const KV_STRIDE: u32 = MAX_HEAD_DIM + 1u;   // kv_s row of a key, padded against bank conflicts
const NEG_BIG: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> p: Params;
#if ${MERGE}
@group(0) @binding(1) var<storage, read> tokens: array<vec4<u32>>;    // (T)
@group(0) @binding(2) var<storage, read> partials: array<f32>;        // (R, H, TILES, D + 2)
@group(0) @binding(3) var<storage, read_write> out: array<f32>;       // (T, C)
#else
@group(0) @binding(1) var<storage, read> qkv: array<f32>;             // (T, 3C)
@group(0) @binding(2) var<storage, read> tokens: array<vec4<u32>>;    // (T)
@group(0) @binding(3) var<storage, read> block_tables: array<u32>;    // (S, MAXB)
@group(0) @binding(4) var<storage, read> k_cache: array<f32>;         // (NB · B, C)
@group(0) @binding(5) var<storage, read> v_cache: array<f32>;         // (NB · B, C)
#if ${PARTIALS}
@group(0) @binding(6) var<storage, read_write> partials: array<f32>;  // (R, H, TILES, D + 2)
#else
@group(0) @binding(6) var<storage, read_write> out: array<f32>;       // (T, C)
#endif
#endif

var<workgroup> q_s: array<f32, QB * MAX_HEAD_DIM>;    // the rows' queries, row q at q · MAX_HEAD_DIM
var<workgroup> slot_s: array<u32, TILE>;              // this tile's cache rows
var<workgroup> s_s: array<f32, QB * TILE>;            // scores, then probabilities, row q at q · TILE
var<workgroup> red_s: array<f32, QB * HALF>;          // tree reductions, row q at q · HALF
var<workgroup> stat_s: array<f32, QB>;                // m_t per row
var<workgroup> keys_s: array<u32, QB>;                // keys of this tile each row sees (0: tile past its position)
var<workgroup> part_s: array<f32, TILE * PART_STRIDE>; // PARTIALS: lane sums per key
var<workgroup> kv_s: array<f32, KC * KV_STRIDE>;      // PREFILL: staged keys or values

/** The 16 lane sums of a dot product, added by a fixed tree (strides 8, 4, 2, 1). */
fn lane_tree(parts: array<f32, 16>) -> f32 {
  var a = parts;
  for (var s = LANES / 2u; s > 0u; s = s / 2u) {
    for (var i = 0u; i < s; i = i + 1u) {
      a[i] = a[i] + a[i + s];
    }
  }
  return a[0];
}

/** (M', a, b) of one merge step: the new max and the factors of the old state and of the tile. */
fn merge_weights(m_old: f32, m_tile: f32) -> vec3<f32> {
  let m_new = max(m_old, m_tile);
  return vec3<f32>(m_new, exp(m_old - m_new), exp(m_tile - m_new));
}

fn merge_into(acc: f32, a: f32, part: f32, b: f32) -> f32 {
  return fma(acc, a, part * b);
}

#if ${MERGE}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let head = wid.x;
  let t = wid.y;
  if (t >= p.rows) {
    return;
  }
  let tiles = (tokens[t].y + TILE) / TILE;  // ceil((pos + 1) / 64)
  let heads = p.channels / p.head_dim;
  let stride = p.head_dim + 2u;
  let row_base = (t * heads + head) * p.max_tiles * stride;
  for (var a = 0u; a < ACC; a = a + 1u) {
    let d = lid + a * WG;
    if (d < p.head_dim) {
      var m = partials[row_base];
      var l = partials[row_base + 1u];
      var o = partials[row_base + 2u + d];
      for (var tile = 1u; tile < tiles; tile = tile + 1u) {
        let b = row_base + tile * stride;
        let w = merge_weights(m, partials[b]);
        l = merge_into(l, w.y, partials[b + 1u], w.z);
        o = merge_into(o, w.y, partials[b + 2u + d], w.z);
        m = w.x;
      }
      out[t * p.channels + head * p.head_dim + d] = o / l;
    }
  }
}
#else

/**
 * Per-row tree reduction of the 64 entries of s_s (max or sum): the first level pairs j with j + 32 into red_s, then
 * strides 16 … 1 in place; the result of row q lands in red_s[q · HALF]. The same tree for every QB.
 */
fn tree(lid: u32, is_max: bool) {
  for (var e = lid; e < QB * HALF; e = e + WG) {
    let x = s_s[(e / HALF) * TILE + e % HALF];
    let y = s_s[(e / HALF) * TILE + e % HALF + HALF];
    if (is_max) {
      red_s[e] = max(x, y);
    } else {
      red_s[e] = x + y;
    }
  }
  workgroupBarrier();
  for (var stride = HALF / 2u; stride > 0u; stride = stride / 2u) {
    for (var e = lid; e < QB * stride; e = e + WG) {
      let at = (e / stride) * HALF + e % stride;
      if (is_max) {
        red_s[at] = max(red_s[at], red_s[at + stride]);
      } else {
        red_s[at] = red_s[at] + red_s[at + stride];
      }
    }
    workgroupBarrier();
  }
}

/**
 * The tile softmax of each row q: s_s holds its scores (NEG_BIG where masked), keys_s[q] its keys. Afterwards s_s holds
 * p_j = exp(s_j − m_t) (0 where masked), stat_s[q] = m_t and red_s[q · HALF] = l_t. Callers barrier before it.
 */
fn tile_softmax(lid: u32) {
  tree(lid, true);
  for (var e = lid; e < QB * TILE; e = e + WG) {
    let q = e / TILE;
    var prob = 0.0;
    if (e % TILE < keys_s[q]) {
      prob = exp(s_s[e] - red_s[q * HALF]);
    }
    s_s[e] = prob;
  }
  if (lid < QB) {
    stat_s[lid] = red_s[lid * HALF];
  }
  workgroupBarrier();
  tree(lid, false);
}

#if ${PARTIALS}
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let head = wid.x;
  let t = wid.z;
  if (t >= p.rows) {
    return;
  }
  let token = tokens[t];
  let num_keys = token.y + 1u;
  let row_tiles = min((num_keys + TILE - 1u) / TILE, p.max_tiles);
  let table = token.z * p.max_blocks;
  let head_offset = head * p.head_dim;
  let heads = p.channels / p.head_dim;
  for (var d = lid; d < p.head_dim; d = d + WG) {
    q_s[d] = qkv[t * 3u * p.channels + head_offset + d];
  }

  // Tiles wid.y, wid.y + GY, … of the row (GY = the grid's tiles): the host sizes GY to the step's largest position,
  // so each workgroup normally takes one tile or none, but a row past that still gets every tile written (by the
  // same arithmetic, so the same bits), never a merge of stale partials.
  for (var tile = wid.y; tile < row_tiles; tile = tile + nwg.y) {
    let first = tile * TILE;
    let tile_keys = min(TILE, num_keys - first);
    workgroupBarrier();  // the previous tile's readers of slot_s, s_s, stat_s and red_s are done

    // One page lookup per key of the tile.
    if (lid < tile_keys) {
      let j = first + lid;
      slot_s[lid] = block_tables[table + j / p.block_size] * p.block_size + j % p.block_size;
    }
    if (lid == 0u) {
      keys_s[0] = tile_keys;
    }
    workgroupBarrier();

    // Lane sums: 4 keys per step, 16 lanes each.
    let lane = lid % LANES;
    let group = lid / LANES;
    for (var step = 0u; step < TILE / 4u; step = step + 1u) {
      let jj = step * 4u + group;
      var part = 0.0;
      if (jj < tile_keys) {
        let k_row = slot_s[jj] * p.channels + head_offset;
        for (var r = 0u; r < ACC; r = r + 1u) {
          for (var c = 0u; c < 4u; c = c + 1u) {
            let d = 64u * r + 4u * lane + c;
            if (d < p.head_dim) {
              part = fma(q_s[d], k_cache[k_row + d], part);
            }
          }
        }
      }
      part_s[jj * PART_STRIDE + lane] = part;
    }
    workgroupBarrier();
    var score = NEG_BIG;
    if (lid < tile_keys) {
      var parts = array<f32, 16>();
      for (var i = 0u; i < LANES; i = i + 1u) {
        parts[i] = part_s[lid * PART_STRIDE + i];
      }
      score = lane_tree(parts) * p.scale;
    }
    s_s[lid] = score;
    workgroupBarrier();
    tile_softmax(lid);

    // Values: thread d walks the tile's keys in ascending order.
    let base = ((t * heads + head) * p.max_tiles + tile) * (p.head_dim + 2u);
    for (var a = 0u; a < ACC; a = a + 1u) {
      let d = lid + a * WG;
      if (d < p.head_dim) {
        var o = 0.0;
        for (var jj = 0u; jj < tile_keys; jj = jj + 1u) {
          o = fma(s_s[jj], v_cache[slot_s[jj] * p.channels + head_offset + d], o);
        }
        partials[base + 2u + d] = o;
      }
    }
    if (lid == 0u) {
      partials[base] = stat_s[0];
      partials[base + 1u] = red_s[0];
    }
  }
}
#else

/** Stages keys or values c0 … c0 + KC − 1 of the tile (those below run_keys) into kv_s; coalesced along d. */
fn stage(lid: u32, values: bool, c0: u32, run_keys: u32, head_offset: u32) {
  for (var e = lid; e < KC * MAX_HEAD_DIM; e = e + WG) {
    let jj = e / MAX_HEAD_DIM;
    let d = e % MAX_HEAD_DIM;
    if (c0 + jj < run_keys && d < p.head_dim) {
      let at = slot_s[c0 + jj] * p.channels + head_offset + d;
      if (values) {
        kv_s[jj * KV_STRIDE + d] = v_cache[at];
      } else {
        kv_s[jj * KV_STRIDE + d] = k_cache[at];
      }
    }
  }
}

/** Rows r0 … r0 + nq − 1 of the step, all of sequence seq, max_keys the most keys any of them sees: attention for head. */
fn attend_run(lid: u32, head: u32, r0: u32, nq: u32, seq: u32, max_keys: u32) {
  let head_offset = head * p.head_dim;
  workgroupBarrier();  // the previous run's readers of q_s, s_s and kv_s are done
  for (var e = lid; e < QB * MAX_HEAD_DIM; e = e + WG) {
    let q = e / MAX_HEAD_DIM;
    let d = e % MAX_HEAD_DIM;
    if (q < nq && d < p.head_dim) {
      q_s[e] = qkv[(r0 + q) * 3u * p.channels + head_offset + d];
    }
  }
  var big_m = array<f32, QB>();       // M per row
  var big_l = array<f32, QB>();       // L per row
  var big_o = array<f32, QB * ACC>(); // O per (row, dim lid + 64a)
  let tiles = (max_keys + TILE - 1u) / TILE;
  let table = seq * p.max_blocks;
  for (var tile = 0u; tile < tiles; tile = tile + 1u) {
    let first = tile * TILE;
    let run_keys = min(TILE, max_keys - first);
    workgroupBarrier();  // the previous tile's readers of slot_s, s_s, keys_s and kv_s are done
    if (lid < run_keys) {
      let j = first + lid;
      slot_s[lid] = block_tables[table + j / p.block_size] * p.block_size + j % p.block_size;
    }
    if (lid < QB) {
      var k = 0u;
      if (lid < nq) {
        let num_keys = tokens[r0 + lid].y + 1u;
        if (num_keys > first) {
          k = min(TILE, num_keys - first);
        }
      }
      keys_s[lid] = k;
    }
    for (var e = lid; e < QB * TILE; e = e + WG) {
      s_s[e] = NEG_BIG;
    }
    workgroupBarrier();

    // Scores: a thread per (row, key) pair of the staged chunk computes the 16 lane sums and their tree.
    for (var c0 = 0u; c0 < run_keys; c0 = c0 + KC) {
      stage(lid, false, c0, run_keys, head_offset);
      workgroupBarrier();
      for (var e = lid; e < QB * KC; e = e + WG) {
        let q = e / KC;
        let jj = e % KC;
        let j = c0 + jj;
        if (q < nq && j < keys_s[q]) {
          var parts = array<f32, 16>();
          for (var lane = 0u; lane < LANES; lane = lane + 1u) {
            var part = 0.0;
            for (var r = 0u; r < ACC; r = r + 1u) {
              for (var c = 0u; c < 4u; c = c + 1u) {
                let d = 64u * r + 4u * lane + c;
                if (d < p.head_dim) {
                  part = fma(q_s[q * MAX_HEAD_DIM + d], kv_s[jj * KV_STRIDE + d], part);
                }
              }
            }
            parts[lane] = part;
          }
          s_s[q * TILE + j] = lane_tree(parts) * p.scale;
        }
      }
      workgroupBarrier();
    }
    tile_softmax(lid);

    // Values: thread d of row q walks the tile's keys in ascending order, KC staged at a time.
    var o = array<f32, QB * ACC>();
    for (var c0 = 0u; c0 < run_keys; c0 = c0 + KC) {
      workgroupBarrier();  // kv_s readers (scores, or the previous chunk) are done
      stage(lid, true, c0, run_keys, head_offset);
      workgroupBarrier();
      for (var q = 0u; q < QB; q = q + 1u) {
        let keys = keys_s[q];
        for (var a = 0u; a < ACC; a = a + 1u) {
          let d = lid + a * WG;
          if (q < nq && d < p.head_dim) {
            var acc = o[q * ACC + a];
            for (var jj = 0u; jj < KC; jj = jj + 1u) {
              if (c0 + jj < keys) {
                acc = fma(s_s[q * TILE + c0 + jj], kv_s[jj * KV_STRIDE + d], acc);
              }
            }
            o[q * ACC + a] = acc;
          }
        }
      }
    }

    // Merge the tile into each row that sees it; tile 0 starts the state.
    for (var q = 0u; q < QB; q = q + 1u) {
      if (q < nq && keys_s[q] > 0u) {
        let m_tile = stat_s[q];
        let l_tile = red_s[q * HALF];
        if (tile == 0u) {
          big_m[q] = m_tile;
          big_l[q] = l_tile;
          for (var a = 0u; a < ACC; a = a + 1u) {
            big_o[q * ACC + a] = o[q * ACC + a];
          }
        } else {
          let w = merge_weights(big_m[q], m_tile);
          big_l[q] = merge_into(big_l[q], w.y, l_tile, w.z);
          for (var a = 0u; a < ACC; a = a + 1u) {
            big_o[q * ACC + a] = merge_into(big_o[q * ACC + a], w.y, o[q * ACC + a], w.z);
          }
          big_m[q] = w.x;
        }
      }
    }
  }

  for (var q = 0u; q < QB; q = q + 1u) {
    for (var a = 0u; a < ACC; a = a + 1u) {
      let d = lid + a * WG;
      if (q < nq && d < p.head_dim) {
        out[(r0 + q) * p.channels + head_offset + d] = big_o[q * ACC + a] / big_l[q];
      }
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let head = wid.x;
  let block_start = wid.y * QB;
  if (block_start >= p.rows) {
    return;
  }
  let block_end = min(p.rows, block_start + QB);
  // Runs of consecutive rows of one sequence.
  var r0 = block_start;
  loop {
    if (r0 >= block_end) {
      break;
    }
    let seq = tokens[r0].z;
    var max_keys = tokens[r0].y + 1u;
    var r1 = r0 + 1u;
    loop {
      if (r1 >= block_end) {
        break;
      }
      if (tokens[r1].z != seq) {
        break;
      }
      max_keys = max(max_keys, tokens[r1].y + 1u);
      r1 = r1 + 1u;
    }
    attend_run(lid, head, r0, r1 - r0, seq, max_keys);
    r0 = r1;
  }
}
#endif
#endif
