// Residual add, in place: x[t, c] += r[t, c].
// Layout: x, r (T, C) row-major. Mapping: grid (ceil(C/64), T).

struct Params {
  rows: u32,      // T
  channels: u32,  // C
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;  // (T, C)
@group(0) @binding(2) var<storage, read> r: array<f32>;        // (T, C)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let t = gid.y;
  if (c >= p.channels || t >= p.rows) {
    return;
  }
  let i = t * p.channels + c;
  x[i] = x[i] + r[i];
}
