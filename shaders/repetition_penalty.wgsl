// Repetition penalty (CTRL, as Hugging Face's RepetitionPenaltyLogitsProcessor), in place on the logits:
// for every distinct token id already in row r's history, l = l < 0 ? l · penalty_r : l / penalty_r.
// Layout: logits (R, V); history (H) u32, the distinct ids of all rows back to back; offsets (R + 1) u32, row r's ids
//   are history[offsets[r] … offsets[r+1]); penalty (R) f32 (1 = no penalty).
// Mapping: one 64-thread workgroup per row, threads over the row's ids. The ids of a row are distinct (the CPU
//   dedupes them), so no two threads touch the same logit.

struct Params {
  rows: u32,   // R
  vocab: u32,  // V
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> logits: array<f32>;  // (R, V)
@group(0) @binding(2) var<storage, read> history: array<u32>;       // (H)
@group(0) @binding(3) var<storage, read> offsets: array<u32>;       // (R + 1)
@group(0) @binding(4) var<storage, read> penalty: array<f32>;       // (R)

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = wid.x;
  if (row >= p.rows) {
    return;
  }
  let pen = penalty[row];
  for (var i = offsets[row] + lid; i < offsets[row + 1u]; i = i + 64u) {
    let id = history[i];
    if (id < p.vocab) {
      let at = row * p.vocab + id;
      let l = logits[at];
      logits[at] = select(l / pen, l * pen, l < 0.0);
    }
  }
}
