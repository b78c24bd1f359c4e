// Appends the new tokens' keys and values to the paged KV cache.
// slot(t) = block_table[seq_t][pos_t / B] · B + pos_t % B: the physical row of token t in this layer's cache.
// Layout: qkv (T, 3C) (k = [C, 2C), v = [2C, 3C)); tokens (T) vec4<u32> (id, position, sequence, unused);
//   block_tables (S, MAXB) u32, one row of physical block ids per sequence; k_cache, v_cache (NB · B, C).
// Mapping: grid (ceil(C/64), T).
// Hazards: the CPU allocates every block a step touches before the step runs; a block id past the pool is skipped.

struct Params {
  rows: u32,          // T
  channels: u32,      // C
  block_size: u32,    // B
  max_blocks: u32,    // MAXB: block-table row length
  num_slots: u32,     // NB · B
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;              // (T, 3C)
@group(0) @binding(2) var<storage, read> tokens: array<vec4<u32>>;     // (T)
@group(0) @binding(3) var<storage, read> block_tables: array<u32>;     // (S, MAXB)
@group(0) @binding(4) var<storage, read_write> k_cache: array<f32>;    // (NB · B, C)
@group(0) @binding(5) var<storage, read_write> v_cache: array<f32>;    // (NB · B, C)

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let t = gid.y;
  if (c >= p.channels || t >= p.rows) {
    return;
  }
  let token = tokens[t];
  let slot = block_tables[token.z * p.max_blocks + token.y / p.block_size] * p.block_size + token.y % p.block_size;
  if (slot >= p.num_slots) {
    return;
  }
  let src = t * 3u * p.channels;
  k_cache[slot * p.channels + c] = qkv[src + p.channels + c];
  v_cache[slot * p.channels + c] = qkv[src + 2u * p.channels + c];
}
