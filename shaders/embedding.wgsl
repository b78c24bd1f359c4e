// Token embedding lookup: x[t, c] = wte[id_t, c] (+ wpe[pos_t, c] for learned absolute positions, GPT-2).
// Layout: tokens (T) of vec4<u32> (id, position, sequence, unused); wte (V, C); wpe (P, C); x (T, C).
// Mapping: a 64-wide workgroup per (64 channels, token): grid (ceil(C/64), T).
// Variant W_F16: the tables hold f16 values packed two per u32 (see matmul.wgsl).
// Hazards: ids and positions are validated on the CPU before upload; they are clamped here as well so a bad id can
//   never read outside the table.

struct Params {
  rows: u32,       // T
  channels: u32,   // C
  vocab: u32,      // V
  positions: u32,  // P
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> tokens: array<vec4<u32>>;  // (T): id, position, sequence, unused
#if ${W_F16}
alias Table = array<u32>;  // f16, two per word
fn unpack_at(word: u32, i: u32) -> f32 {
  let pair = unpack2x16float(word);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}
#else
alias Table = array<f32>;
#endif
@group(0) @binding(2) var<storage, read> wte: Table;                // (V, C)
#if ${LEARNED_POSITIONS}
@group(0) @binding(3) var<storage, read> wpe: Table;                // (P, C)
@group(0) @binding(4) var<storage, read_write> x: array<f32>;       // (T, C)
#else
@group(0) @binding(3) var<storage, read_write> x: array<f32>;       // (T, C)
#endif

fn token_at(i: u32) -> f32 {
#if ${W_F16}
  return unpack_at(wte[i >> 1u], i);
#else
  return wte[i];
#endif
}

#if ${LEARNED_POSITIONS}
fn position_at(i: u32) -> f32 {
#if ${W_F16}
  return unpack_at(wpe[i >> 1u], i);
#else
  return wpe[i];
#endif
}
#endif

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let t = gid.y;
  if (c >= p.channels || t >= p.rows) {
    return;
  }
  let token = tokens[t];
  let id = min(token.x, p.vocab - 1u);
#if ${LEARNED_POSITIONS}
  let pos = min(token.y, p.positions - 1u);
  x[t * p.channels + c] = token_at(id * p.channels + c) + position_at(pos * p.channels + c);
#else
  x[t * p.channels + c] = token_at(id * p.channels + c);
#endif
}
