// Rotary position embedding (GPT-NeoX "rotate half" convention), in place on the q and k parts of qkv.
// For each head and each i < R/2 (R = rotary dims per head, the first R dims of the head; the rest pass through):
//   a = v[i], b = v[i + R/2], θ = pos · base^(-2i/R)
//   v[i] = a cos θ − b sin θ,   v[i + R/2] = b cos θ + a sin θ
// Layout: qkv (T, 3C) with q = [0, C), k = [C, 2C), v = [2C, 3C), head h at h·D within each; tokens (T) vec4<u32>
//   (id, position, sequence, unused); cos_table, sin_table (P, R/2), computed on the CPU in float64 (an f32 angle
//   pos · freq loses ~1e-4 rad by position 1000).
// Mapping: a workgroup per (q or k head, token): grid (2H, T); threads over the R/2 pairs. Each thread owns one pair,
//   so the update in place is race-free.

struct Params {
  rows: u32,        // T
  channels: u32,    // C
  head_dim: u32,    // D
  half_rotary: u32, // R/2
  positions: u32,   // P (rows of the tables)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> qkv: array<f32>;      // (T, 3C)
@group(0) @binding(2) var<storage, read> tokens: array<vec4<u32>>;   // (T)
@group(0) @binding(3) var<storage, read> cos_table: array<f32>;      // (P, R/2)
@group(0) @binding(4) var<storage, read> sin_table: array<f32>;      // (P, R/2)

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let t = wid.y;
  let head = wid.x;  // 0 … 2H-1: q heads then k heads, contiguous in qkv
  if (t >= p.rows) {
    return;
  }
  let pos = min(tokens[t].y, p.positions - 1u);
  let base = t * 3u * p.channels + head * p.head_dim;
  for (var i = lid; i < p.half_rotary; i = i + 64u) {
    let c = cos_table[pos * p.half_rotary + i];
    let s = sin_table[pos * p.half_rotary + i];
    let a = qkv[base + i];
    let b = qkv[base + i + p.half_rotary];
    qkv[base + i] = a * c - b * s;
    qkv[base + i + p.half_rotary] = b * c + a * s;
  }
}
