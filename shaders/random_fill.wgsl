// Fills a buffer with deterministic pseudo-random values, for random-weight benchmark models built on the GPU (a
// 1.5B-parameter model never has to exist in CPU memory): out[i] = center + spread · (2u − 1), u ∈ [0, 1) from a
// PCG hash of (seed, i). Uniform noise of spread a has standard deviation a/√3.
// Layout: out (N) f32, or with F16 (N) f16 packed two per u32 (each thread writes one word). Mapping: 64 threads per
//   workgroup over a 2D grid (x · 64 · 65535 would overflow one axis).

struct Params {
  count: u32,   // N (words when F16)
  seed: u32,
  center: f32,
  spread: f32,
  row: u32,     // workgroups per grid row (grid x)
}

@group(0) @binding(0) var<uniform> p: Params;
#if ${F16}
@group(0) @binding(1) var<storage, read_write> out: array<u32>;  // (N) words of two f16
#else
@group(0) @binding(1) var<storage, read_write> out: array<f32>;  // (N)
#endif

fn value(i: u32) -> f32 {
  let u = f32(pcg(pcg(i) ^ p.seed) >> 8u) / 16777216.0;
  return p.center + p.spread * (2.0 * u - 1.0);
}

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * p.row + wid.x) * 64u + lid;
  if (i >= p.count) {
    return;
  }
#if ${F16}
  out[i] = pack2x16float(vec2<f32>(value(2u * i), value(2u * i + 1u)));
#else
  out[i] = value(i);
#endif
}
