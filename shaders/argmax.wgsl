// Greedy decoding: ids[r] = argmax_v logits[r, v], ties to the lowest index (as torch.argmax), with bit 31 set when
// the row holds a NaN or ±Inf logit, so the host learns, with the ids it reads anyway, that the row's token is not an
// answer (issue 10 §3: an all-NaN row used to give id 0, a silent wrong token).
// Layout: logits (R, V); ids (R) u32. Mapping: one 64-thread workgroup per row: strided scan, then a tree reduction
//   that keeps (value, index) pairs and ORs the non-finite flags.
// Hazards: NaN comparisons are false, and compilers may fold `x != x` away under fast-math assumptions, so a
//   non-finite value is found from its bits (exponent all ones), never by comparing floats. Vocabularies stay below
//   2^31, so bit 31 is free.

struct Params {
  rows: u32,   // R
  vocab: u32,  // V
}

const WG: u32 = 64u;
const EXPONENT_MASK: u32 = 0x7f800000u;
const NON_FINITE_FLAG: u32 = 0x80000000u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;       // (R, V)
@group(0) @binding(2) var<storage, read_write> ids: array<u32>;    // (R): argmax | NON_FINITE_FLAG if the row is bad

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;
var<workgroup> bad: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  if (row >= p.rows) {
    return;
  }
  var v = -3.0e38;
  var idx = 0xffffffffu;
  var non_finite = 0u;
  for (var i = lid; i < p.vocab; i = i + WG) {
    let x = logits[row * p.vocab + i];
    if ((bitcast<u32>(x) & EXPONENT_MASK) == EXPONENT_MASK) {
      non_finite = 1u;
    }
    if (x > v) {  // strictly greater: within a thread, indices rise, so the first maximum is kept
      v = x;
      idx = i;
    }
  }
  best_v[lid] = v;
  best_i[lid] = idx;
  bad[lid] = non_finite;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let ov = best_v[lid + stride];
      let oi = best_i[lid + stride];
      if (ov > best_v[lid] || (ov == best_v[lid] && oi < best_i[lid])) {
        best_v[lid] = ov;
        best_i[lid] = oi;
      }
      bad[lid] = bad[lid] | bad[lid + stride];
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let id = select(best_i[0], 0u, best_i[0] == 0xffffffffu);
    ids[row] = select(id, id | NON_FINITE_FLAG, bad[0] != 0u);
  }
}
