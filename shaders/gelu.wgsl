// GELU, in place: h = gelu(h) (shaders/gelu_fn.wgsl, prepended by src/kernels/gelu.ts: the tanh or the erf form).
// Layout: h (T, F) row-major. Mapping: grid (ceil(F/64), T).
// The linear layers can apply the same function in their epilogue instead (LinearCall's `epilogue`), saving this pass;
// this kernel stays as the unfused reference, which must give the same bits.

struct Params {
  rows: u32,     // T
  features: u32, // F
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> h: array<f32>;  // (T, F)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let f = gid.x;
  let t = gid.y;
  if (f >= p.features || t >= p.rows) {
    return;
  }
  let i = t * p.features + f;
  h[i] = gelu(h[i]);
}
