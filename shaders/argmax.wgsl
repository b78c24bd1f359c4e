// Greedy decoding: ids[r] = argmax_v logits[r, v], ties to the lowest index (as torch.argmax).
// Layout: logits (R, V); ids (R) u32. Mapping: one 64-thread workgroup per row: strided scan, then a tree reduction
//   that keeps (value, index) pairs.
// Hazards: a NaN logit never wins (comparisons with NaN are false); a row of all NaN gives index 0.

struct Params {
  rows: u32,   // R
  vocab: u32,  // V
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;       // (R, V)
@group(0) @binding(2) var<storage, read_write> ids: array<u32>;    // (R)

var<workgroup> best_v: array<f32, WG>;
var<workgroup> best_i: array<u32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  if (row >= p.rows) {
    return;
  }
  var v = -3.0e38;
  var idx = 0xffffffffu;
  for (var i = lid; i < p.vocab; i = i + WG) {
    let x = logits[row * p.vocab + i];
    if (x > v) {  // strictly greater: within a thread, indices rise, so the first maximum is kept
      v = x;
      idx = i;
    }
  }
  best_v[lid] = v;
  best_i[lid] = idx;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let ov = best_v[lid + stride];
      let oi = best_i[lid + stride];
      if (ov > best_v[lid] || (ov == best_v[lid] && oi < best_i[lid])) {
        best_v[lid] = ov;
        best_i[lid] = oi;
      }
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    ids[row] = select(best_i[0], 0u, best_i[0] == 0xffffffffu);
  }
}
