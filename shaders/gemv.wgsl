// Split-K matrix-vector product for decode (few rows): y = x · wᵀ (+ bias), y[m, n] = Σ_k x[m, k] · w[n, k] + bias[n].
// Layout: x (M, K), w (N, K), bias (N), y (M, N); row-major. Meant for M ≤ 16 (one new token per running sequence);
//   more rows are taken 16 at a time (the weights are then read once per 16 rows).
// Reduction order (the canonical K-chunk order, shared with matmul.wgsl): K is cut into J = ceil(K / 64) chunks of 64;
//   pⱼ is the sequential fma chain over k ∈ [64j, min(64j + 64, K)) starting at 0, and
//   y = ((((0 + p₀) + p₁) + …) + p_{J-1}) + bias. The GEMM resets a partial every 64 k and adds it in the same order,
//   so a row gives the same bits through either kernel, alone or in any batch.
// Mapping: a 256-thread workgroup takes `columns` output columns with `lanes` = min(J, 256) threads each (columns =
//   256 / lanes, host side: gemvWorkgroups in src/kernels/matmul.ts). Lane l of a column computes chunk l (then l + 256,
//   … when J > 256, in rounds): consecutive threads read consecutive 256-byte chunks of one weight row, instead of one
//   thread walking a whole 3–12 KB row as in gemv_v1.wgsl, so K = 3072 puts 48 threads on a column instead of 1.
//   Each thread keeps its chunk's partials for up to 16 rows in registers (each weight is read once per 16 rows),
//   stores them in workgroup memory, and one thread per (column, row) adds the lanes' partials in ascending lane order:
//   a fixed sequential sum, not subgroupAdd, whose order WGSL leaves unspecified. With more than one round the running
//   sum is kept in y itself (the same thread reads back what it wrote), and the bias is added in the last round.
// Variant VEC4 (K a multiple of 4) loads w and x four floats at a time (x, y, z, w in turn: the same chain). Variant
//   W_F16: w holds f16 values packed two per u32 (see matmul.wgsl), four of them in a vec2<u32> for VEC4.
// Epilogues (the unfused kernels stay the reference, same bits): GELU applies gelu_fn.wgsl's gelu to the biased sum
//   (mlp up, instead of gelu.wgsl's pass); ADD_TO_Y adds the biased sum to what y holds, as add.wgsl's x + r (the
//   residual stream: attention projection, mlp down), and needs a single round (J ≤ 256), since the rounds' running
//   sum lives in y (LinearCall refuses it otherwise).
// Hazards: N not a multiple of `columns` and J not a multiple of `lanes` (idle threads still reach every barrier);
//   any M ≥ 1, any K ≥ 1. Every function-scope var has an explicit initializer: Tint's SPIR-V output hoists a var
//   declared in a loop to the function's entry and zeroes it once (issue 9; test/unit/shaderHazards.test.ts).

struct Params {
  M: u32,
  N: u32,
  K: u32,
  lanes: u32,    // threads per column: min(J, 256)
  columns: u32,  // columns per workgroup: 256 / lanes
}

const WG: u32 = 256u;
const ROWS: u32 = 16u;   // rows kept in registers per pass (GEMV_MAX_ROWS)
const CHUNK: u32 = 64u;  // k per chunk of the canonical order

#if ${VEC4}
alias Chunk = vec4<f32>;
const LANES: u32 = 4u;
#else
alias Chunk = f32;
const LANES: u32 = 1u;
#endif

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<Chunk>;        // (M, K)
#if ${W_F16}
#if ${VEC4}
@group(0) @binding(2) var<storage, read> w: array<vec2<u32>>;    // (N, K) f16, four per vec2<u32>
fn load_w(c: u32) -> Chunk {
  let words = w[c];
  return vec4<f32>(unpack2x16float(words.x), unpack2x16float(words.y));
}
#else
@group(0) @binding(2) var<storage, read> w: array<u32>;          // (N, K) f16, two per word
fn load_w(c: u32) -> Chunk {
  let pair = unpack2x16float(w[c >> 1u]);
  return select(pair.x, pair.y, (c & 1u) == 1u);
}
#endif
#else
@group(0) @binding(2) var<storage, read> w: array<Chunk>;        // (N, K)
fn load_w(c: u32) -> Chunk {
  return w[c];
}
#endif
#if ${HAS_BIAS}
@group(0) @binding(3) var<storage, read> bias: array<f32>;       // (N)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;    // (M, N)
#else
@group(0) @binding(3) var<storage, read_write> y: array<f32>;    // (M, N)
#endif

var<workgroup> partials: array<f32, ROWS * WG>;  // [row in pass][thread]: 16 KiB, WebGPU's default limit

fn accumulate(acc: f32, xv: Chunk, wv: Chunk) -> f32 {
#if ${VEC4}
  return fma(xv.w, wv.w, fma(xv.z, wv.z, fma(xv.y, wv.y, fma(xv.x, wv.x, acc))));
#else
  return fma(xv, wv, acc);
#endif
}

// The biased sum s of one output, through the epilogue, into y[out].
fn finish(out: u32, n: u32, sum: f32) {
  var total = sum;
#if ${HAS_BIAS}
  total = total + bias[n];
#endif
#if ${GELU}
  total = gelu(total);
#endif
#if ${ADD_TO_Y}
  total = y[out] + total;
#endif
  y[out] = total;
}

#if ${ONE_LANE}
// Variant ONE_LANE, for adapters that are a CPU (llvmpipe, SwiftShader): one thread per column walks the chunks in
// order itself (chunk partial, then total + partial: the same canonical order, so the same bits), 4 rows at a time,
// with no workgroup memory and no barriers, which cost a software adapter far more than a GPU (PERF.md 2026-12-06).
// Its chain is about ⌈M/4⌉ · K/4 · 6 loop iterations per thread (K · 6 without vec4): llvmpipe stops a thread's loops
// at 65535, so the host takes it only well below that (gemvOneLaneFits in src/kernels/matmul.ts).
const SEQ_ROWS: u32 = 4u;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  if (n >= p.N) {
    return;
  }
  let k_units = p.K / LANES;
  let chunk_units = CHUNK / LANES;
  let w_row = n * k_units;
  for (var m0 = 0u; m0 < p.M; m0 = m0 + SEQ_ROWS) {
    let rows = min(SEQ_ROWS, p.M - m0);
    var total = array<f32, SEQ_ROWS>();  // explicit: see Hazards
    for (var begin = 0u; begin < k_units; begin = begin + chunk_units) {
      var acc = array<f32, SEQ_ROWS>();  // explicit: see Hazards
      let end = min(begin + chunk_units, k_units);
      for (var k = begin; k < end; k = k + 1u) {
        let wv = load_w(w_row + k);
        for (var i = 0u; i < rows; i = i + 1u) {
          acc[i] = accumulate(acc[i], x[(m0 + i) * k_units + k], wv);
        }
      }
      for (var i = 0u; i < rows; i = i + 1u) {
        total[i] = total[i] + acc[i];
      }
    }
    for (var i = 0u; i < rows; i = i + 1u) {
      finish((m0 + i) * p.N + n, n, total[i]);
    }
  }
}
#else
@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) t: u32) {
  let col = t / p.lanes;
  let lane = t % p.lanes;
  let n = wid.x * p.columns + col;
  let owns_column = col < p.columns && n < p.N;
  let chunks = (p.K + CHUNK - 1u) / CHUNK;  // J
  let k_units = p.K / LANES;                 // K in Chunk units
  let chunk_units = CHUNK / LANES;
  let w_row = n * k_units;

  for (var m0 = 0u; m0 < p.M; m0 = m0 + ROWS) {
    let rows = min(ROWS, p.M - m0);
    for (var j0 = 0u; j0 < chunks; j0 = j0 + p.lanes) {
      // This thread's chunk j: its sequential fma chain for each row of the pass.
      var acc = array<f32, ROWS>();  // explicit: see Hazards
      let j = j0 + lane;
      if (owns_column && j < chunks) {
        let begin = j * chunk_units;
        let end = min(begin + chunk_units, k_units);
        for (var k = begin; k < end; k = k + 1u) {
          let wv = load_w(w_row + k);
          for (var i = 0u; i < rows; i = i + 1u) {
            acc[i] = accumulate(acc[i], x[(m0 + i) * k_units + k], wv);
          }
        }
      }
      for (var i = 0u; i < rows; i = i + 1u) {
        partials[i * WG + t] = acc[i];
      }
      workgroupBarrier();
      // One thread per (column, row) adds the lanes of this round in ascending order.
      let lanes_now = min(p.lanes, chunks - j0);
      let last_round = j0 + p.lanes >= chunks;
      for (var q = t; q < p.columns * rows; q = q + WG) {
        let c = q / rows;
        let i = q % rows;
        let out_n = wid.x * p.columns + c;
        if (out_n < p.N) {
          let out = (m0 + i) * p.N + out_n;
          var total = 0.0;
          if (j0 > 0u) {
            total = y[out];
          }
          for (var l = 0u; l < lanes_now; l = l + 1u) {
            total = total + partials[i * WG + c * p.lanes + l];
          }
          if (last_round) {
            finish(out, out_n, total);
          } else {
            y[out] = total;
          }
        }
      }
      workgroupBarrier();
    }
  }
}
#endif
