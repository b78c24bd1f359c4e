// LayerNorm over the last axis: y[t, :] = (x[t, :] - mean) / sqrt(var + eps) * gamma + beta.
// Layout: x, y are (T, C) row-major; gamma, beta are (C).
// Mapping: one workgroup of 64 threads per row t; each thread sums a strided slice, then a tree reduction in
//   workgroup memory. Two passes (mean, then the mean of squared deviations) rather than E[x²] - E[x]², which
//   cancels catastrophically when |mean| is large relative to the spread.
// Hazards: none beyond the reduction order, which is fixed (a row's result does not depend on other rows).
// y may alias nothing; x is read-only.

struct Params {
  rows: u32,      // T
  channels: u32,  // C
  eps: f32,
}

const WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // (T, C)
@group(0) @binding(2) var<storage, read> gamma: array<f32>;       // (C)
@group(0) @binding(3) var<storage, read> beta: array<f32>;        // (C)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;     // (T, C)

var<workgroup> partial: array<f32, WG>;

// The leading barrier is not redundant: without it Mesa llvmpipe (OpenGL ES) let a second call's write to partial[0]
// overtake the first call's read of it, in spite of the trailing barrier (seen on Mesa 22.3).
fn workgroup_sum(lid: u32, value: f32) -> f32 {
  workgroupBarrier();
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      partial[lid] = partial[lid] + partial[lid + stride];
    }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  if (row >= p.rows) {
    return;
  }
  let base = row * p.channels;
  let n = f32(p.channels);

  var sum = 0.0;
  for (var c = lid; c < p.channels; c = c + WG) {
    sum = sum + x[base + c];
  }
  let mean = workgroup_sum(lid, sum) / n;

  var squares = 0.0;
  for (var c = lid; c < p.channels; c = c + WG) {
    let d = x[base + c] - mean;
    squares = fma(d, d, squares);
  }
  let inv_std = inverseSqrt(workgroup_sum(lid, squares) / n + p.eps);

  for (var c = lid; c < p.channels; c = c + WG) {
    y[base + c] = fma((x[base + c] - mean) * inv_std, gamma[c], beta[c]);
  }
}
