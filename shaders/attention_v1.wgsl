// Attention variant 1 (the engine's kernel before issue 12 step 3), kept for tests and profiling only: the engine runs
// shaders/attention.wgsl. Its online softmax rescales a running max inside one workgroup, so its last bits differ from
// the canonical tile order of attention.wgsl; it is checked against the same float64 reference (test/gpu/attention.test.ts).
// Causal self-attention over the paged KV cache, for prefill and decode alike.
// For query token t (position pos_t in sequence seq_t) and head h:
//   s_j = scale · q_t,h · k_j,h  for j = 0 … pos_t (the sequence's own earlier tokens and itself; causal),
//   out_t,h = Σ_j softmax(s)_j · v_j,h
// Keys and values are read through the sequence's block table: row j lives at slot
//   block_table[seq][j / B] · B + j % B of this layer's k_cache / v_cache. kv_write.wgsl has already stored this
//   step's tokens, so a prompt chunk attends to earlier chunks and to itself the same way a decode token does.
// Layout: qkv (T, 3C) (q = [0, C), head h at h·D); tokens (T) vec4<u32> (id, position, sequence, unused);
//   block_tables (S, MAXB) u32; k_cache, v_cache (NB · B, C); out (T, C).
// Mapping: one workgroup of 64 threads per (head, query token): grid (H, T). Keys are taken in tiles of 64 aligned at
//   position 0, one key per thread; the softmax is online (running max m and sum l, rescaled per tile); each thread
//   accumulates output dims d = lid, lid + 64, … (D ≤ 64 · ACC).
// Reduction order: fixed by the query's own position (tiles from 0, fixed-shape tree reductions), never by the batch,
//   the chunking of the prompt or the other sequences in the step: the batch-invariance contract.
// Hazards: scores are finite; masked lanes are skipped (p = 0) instead of set to −inf, so no inf − inf NaN arises.

struct Params {
  rows: u32,        // T
  channels: u32,    // C
  head_dim: u32,    // D
  block_size: u32,  // B
  max_blocks: u32,  // MAXB
  scale: f32,
}

const WG: u32 = 64u;
const ACC: u32 = ${ACC_PER_THREAD}u;        // output dims per thread: ceil(D / 64)
const MAX_HEAD_DIM: u32 = ${MAX_HEAD_DIM}u; // 64 · ACC
const NEG_BIG: f32 = -3.0e38;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;             // (T, 3C)
@group(0) @binding(2) var<storage, read> tokens: array<vec4<u32>>;    // (T)
@group(0) @binding(3) var<storage, read> block_tables: array<u32>;    // (S, MAXB)
@group(0) @binding(4) var<storage, read> k_cache: array<f32>;         // (NB · B, C)
@group(0) @binding(5) var<storage, read> v_cache: array<f32>;         // (NB · B, C)
@group(0) @binding(6) var<storage, read_write> out: array<f32>;       // (T, C)

var<workgroup> q_s: array<f32, MAX_HEAD_DIM>;
var<workgroup> p_s: array<f32, WG>;     // this tile's probabilities (unnormalized)
var<workgroup> slot_s: array<u32, WG>;  // this tile's cache rows
var<workgroup> red_s: array<f32, WG>;

fn reduce_max(lid: u32, value: f32) -> f32 {
  workgroupBarrier();  // see layernorm.wgsl: llvmpipe needs it between consecutive reductions
  red_s[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      red_s[lid] = max(red_s[lid], red_s[lid + stride]);
    }
    workgroupBarrier();
  }
  let result = red_s[0];
  workgroupBarrier();
  return result;
}

fn reduce_sum(lid: u32, value: f32) -> f32 {
  workgroupBarrier();  // see layernorm.wgsl: llvmpipe needs it between consecutive reductions
  red_s[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      red_s[lid] = red_s[lid] + red_s[lid + stride];
    }
    workgroupBarrier();
  }
  let result = red_s[0];
  workgroupBarrier();
  return result;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let head = wid.x;
  let t = wid.y;
  if (t >= p.rows) {
    return;
  }
  let token = tokens[t];
  let num_keys = token.y + 1u;
  let table = token.z * p.max_blocks;
  let head_offset = head * p.head_dim;

  for (var d = lid; d < p.head_dim; d = d + WG) {
    q_s[d] = qkv[t * 3u * p.channels + head_offset + d];
  }
  workgroupBarrier();

  var m = NEG_BIG;   // running max of the scores seen so far
  var l = 0.0;       // running Σ exp(s - m)
  var acc = array<f32, ACC>();  // explicit initializers: see gemv.wgsl, Hazards

  for (var tile = 0u; tile < num_keys; tile = tile + WG) {
    let j = tile + lid;
    var score = NEG_BIG;
    var slot = 0u;
    if (j < num_keys) {
      slot = block_tables[table + j / p.block_size] * p.block_size + j % p.block_size;
      let k_row = slot * p.channels + head_offset;
      var dot = 0.0;
      for (var d = 0u; d < p.head_dim; d = d + 1u) {
        dot = fma(q_s[d], k_cache[k_row + d], dot);
      }
      score = dot * p.scale;
    }
    let m_new = max(m, reduce_max(lid, score));
    var prob = 0.0;
    if (j < num_keys) {
      prob = exp(score - m_new);
    }
    p_s[lid] = prob;
    slot_s[lid] = slot;
    let correction = exp(m - m_new);
    l = l * correction + reduce_sum(lid, prob);  // reduce_sum's barriers also publish p_s and slot_s
    let tile_keys = min(WG, num_keys - tile);
    for (var a = 0u; a < ACC; a = a + 1u) {
      let d = lid + a * WG;
      if (d < p.head_dim) {
        var sum = acc[a] * correction;
        for (var jj = 0u; jj < tile_keys; jj = jj + 1u) {
          sum = fma(p_s[jj], v_cache[slot_s[jj] * p.channels + head_offset + d], sum);
        }
        acc[a] = sum;
      }
    }
    m = m_new;
    workgroupBarrier();  // p_s and slot_s are rewritten by the next tile
  }

  let inv_l = 1.0 / l;
  for (var a = 0u; a < ACC; a = a + 1u) {
    let d = lid + a * WG;
    if (d < p.head_dim) {
      out[t * p.channels + head_offset + d] = acc[a] * inv_l;
    }
  }
}
