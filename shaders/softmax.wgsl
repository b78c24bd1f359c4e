// Row softmax with a temperature per row, for sampling: probs[r, v] = exp((logits[r, v] - max_r) / τ_r) / Σ_v exp(…).
// Variant NORMALIZE = false leaves out the division (and the sum): probs[r, v] = exp((logits[r, v] - max_r) / τ_r),
//   the top token at exactly 1: the input of sample.wgsl's version 1, whose draw depends only on the ratios. The
//   engine runs neither: sample.wgsl's version 2 computes these weights itself with this file's expression
//   (exp((l - max) * inv_temperature), max seeded with -3e38), and the tests hold it to this chain bit for bit.
// Layout: logits, probs (R, V); inv_temperature (R) holds 1/τ_r. Mapping: one 64-thread workgroup per row; three strided passes (max, sum, write)
//   with tree reductions. Subtracting the row max first keeps exp() in range for any logits.

struct Params {
  rows: u32,        // R
  vocab: u32,       // V
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;       // (R, V)
@group(0) @binding(2) var<storage, read> inv_temperature: array<f32>;  // (R)
@group(0) @binding(3) var<storage, read_write> probs: array<f32>;  // (R, V)

var<workgroup> red: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.vocab;

  var local_max = -3.0e38;
  for (var i = lid; i < p.vocab; i = i + WG) {
    local_max = max(local_max, logits[base + i]);
  }
  red[lid] = local_max;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      red[lid] = max(red[lid], red[lid + stride]);
    }
    workgroupBarrier();
  }
  let row_max = red[0];
  workgroupBarrier();

  var local_sum = 0.0;
  for (var i = lid; i < p.vocab; i = i + WG) {
    let e = exp((logits[base + i] - row_max) * inv_temperature[row]);
    probs[base + i] = e;
    local_sum = local_sum + e;
  }
#if ${NORMALIZE}
  workgroupBarrier();  // see layernorm.wgsl: llvmpipe needs it between consecutive reductions
  red[lid] = local_sum;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      red[lid] = red[lid] + red[lid + stride];
    }
    workgroupBarrier();
  }
  let inv_sum = 1.0 / red[0];

  for (var i = lid; i < p.vocab; i = i + WG) {
    probs[base + i] = probs[base + i] * inv_sum;
  }
#endif
}
