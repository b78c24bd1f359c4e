// v1, kept as a numbered variant (issue 12 step 1): the GEMV before split-K (shaders/gemv.wgsl), one thread per output
// column walking the whole weight row; its chain over k = 0 … K-1 is not the canonical chunk order, so it matches the
// reference within rounding but not the current kernels bit for bit. Selectable as LinearCall variant 'gemv-v1'.
// Matrix-vector product for decode (few rows): y = x · wᵀ (+ bias), y[m, n] = Σ_k x[m, k] · w[n, k] + bias[n].
// Layout: x (M, K), w (N, K), bias (N), y (M, N); row-major. Meant for M ≤ 8 (one new token per running sequence).
// Mapping: one thread per output column n, 64 columns per workgroup; rows are taken four at a time so each weight is
//   read once per four rows. Variant VEC4 (K a multiple of 4) loads w and x four floats at a time. Variant W_F16: w
//   holds f16 values packed two per u32 (see matmul.wgsl), four of them in a vec2<u32> for VEC4.
// Reduction order: identical to matmul_v1.wgsl (one thread's sequential fma chain over k = 0 … K-1, then + bias); the
//   vec4 loads keep that order (x, y, z, w in turn).
// Hazards: N not a multiple of 64 (threads past N return); any M, any K. `acc` is declared inside the row loop with an
//   explicit zero initializer: WGSL zeroes a `var` without one each time its declaration runs, but Tint's SPIR-V
//   output (Chromium 156 on Vulkan/SwiftShader) hoists it to the function's entry with a one-time OpConstantNull
//   initializer, so the second pass (rows 4 … 7) kept the first pass's sums (issue 9; naga had the same bug,
//   gfx-rs/wgpu#9489). Every function-scope var in shaders/ has an initializer (test/unit/shaderHazards.test.ts).

struct Params {
  M: u32,
  N: u32,
  K: u32,
}

const WG: u32 = 64u;
const ROWS: u32 = 4u;

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

fn accumulate(acc: f32, xv: Chunk, wv: Chunk) -> f32 {
#if ${VEC4}
  return fma(xv.w, wv.w, fma(xv.z, wv.z, fma(xv.y, wv.y, fma(xv.x, wv.x, acc))));
#else
  return fma(xv, wv, acc);
#endif
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let n = gid.x;
  if (n >= p.N) {
    return;
  }
  let chunks = p.K / LANES;
  let w_row = n * chunks;
  for (var m0 = 0u; m0 < p.M; m0 = m0 + ROWS) {
    let rows = min(ROWS, p.M - m0);
    var acc = array<f32, ROWS>();  // explicit: see Hazards
    for (var k = 0u; k < chunks; k = k + 1u) {
      let wv = load_w(w_row + k);
      for (var i = 0u; i < rows; i = i + 1u) {
        acc[i] = accumulate(acc[i], x[(m0 + i) * chunks + k], wv);
      }
    }
    for (var i = 0u; i < rows; i = i + 1u) {
      let m = m0 + i;
#if ${HAS_BIAS}
      y[m * p.N + n] = acc[i] + bias[n];
#else
      y[m * p.N + n] = acc[i];
#endif
    }
  }
}
