// Tiled GEMM for prefill: y = x · wᵀ (+ bias), i.e. y[m, n] = Σ_k x[m, k] · w[n, k] + bias[n].
// Layout: x (M, K), w (N, K) (PyTorch Linear orientation: one row per output feature), bias (N), y (M, N); row-major.
// Mapping: a workgroup of 8×8 threads computes a 32×32 tile of y; each thread owns 4×4 outputs at rows ty + 8i and
//   columns tx + 8j (strided, so neighbouring threads write neighbouring columns). K is walked in slabs of 32 staged in
//   workgroup memory.
// Reduction order (the canonical K-chunk order, the batch-invariance contract shared with gemv.wgsl): K is cut into
//   chunks of 64; each output's chunk partial pⱼ is ONE thread's sequential fma chain over k ∈ [64j, 64j + 64) from 0,
//   and the total is ((0 + p₀) + p₁) + … in ascending j, then + bias: the partial is folded into the total after every
//   second slab and after the last one. It never depends on M or on which kernel ran, so a row gives bit-identical
//   results alone, in a batch, or through the split-K GEMV. Padding past K adds fma(0, 0, acc) = acc.
// Variant W_F16: w holds f16 values packed two per u32 (element i in the low half of word i/2 when i is even, the
//   high half when odd), unpacked with unpack2x16float: half the bytes, no `shader-f16` needed. The unpacked f32 values
//   are exact, so the reduction is the same as with f32 weights holding those values.
// Epilogues as in gemv.wgsl: GELU (gelu_fn.wgsl on the biased sum), ADD_TO_Y (y = y + the biased sum: the residual).
// Hazards: sizes need not be multiples of the tile; out-of-range loads read as 0 and out-of-range stores are skipped.

struct Params {
  M: u32,
  N: u32,
  K: u32,
}

const TILE: u32 = 32u;
const WG_SIDE: u32 = 8u;
const PER_THREAD: u32 = 4u;
const CHUNK: u32 = 64u;  // k per chunk of the canonical order: two slabs

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;          // (M, K)
#if ${W_F16}
@group(0) @binding(2) var<storage, read> w: array<u32>;          // (N, K) f16, two per word
fn load_w(i: u32) -> f32 {
  let pair = unpack2x16float(w[i >> 1u]);
  return select(pair.x, pair.y, (i & 1u) == 1u);
}
#else
@group(0) @binding(2) var<storage, read> w: array<f32>;          // (N, K)
fn load_w(i: u32) -> f32 {
  return w[i];
}
#endif
#if ${HAS_BIAS}
@group(0) @binding(3) var<storage, read> bias: array<f32>;       // (N)
@group(0) @binding(4) var<storage, read_write> y: array<f32>;    // (M, N)
#else
@group(0) @binding(3) var<storage, read_write> y: array<f32>;    // (M, N)
#endif

var<workgroup> x_tile: array<array<f32, TILE>, TILE>;  // [m in tile][k in slab]
var<workgroup> w_tile: array<array<f32, TILE>, TILE>;  // [n in tile][k in slab]

@compute @workgroup_size(WG_SIDE, WG_SIDE)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let row0 = wid.y * TILE;
  let col0 = wid.x * TILE;
  let flat = lid.y * WG_SIDE + lid.x;

  var acc = array<array<f32, PER_THREAD>, PER_THREAD>();    // the current chunk's partials; explicit: see gemv.wgsl, Hazards
  var total = array<array<f32, PER_THREAD>, PER_THREAD>();  // the chunks so far, added in ascending order
  for (var k0 = 0u; k0 < p.K; k0 = k0 + TILE) {
    // 64 threads stage two 32×32 slabs, 16 elements each; consecutive threads read consecutive k (coalesced).
    for (var e = flat; e < TILE * TILE; e = e + WG_SIDE * WG_SIDE) {
      let r = e / TILE;
      let kk = e % TILE;
      let k = k0 + kk;
      var xv = 0.0;
      if (row0 + r < p.M && k < p.K) {
        xv = x[(row0 + r) * p.K + k];
      }
      x_tile[r][kk] = xv;
      var wv = 0.0;
      if (col0 + r < p.N && k < p.K) {
        wv = load_w((col0 + r) * p.K + k);
      }
      w_tile[r][kk] = wv;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE; kk = kk + 1u) {
      var xs = array<f32, PER_THREAD>();
      var ws = array<f32, PER_THREAD>();
      for (var i = 0u; i < PER_THREAD; i = i + 1u) {
        xs[i] = x_tile[lid.y + WG_SIDE * i][kk];
        ws[i] = w_tile[lid.x + WG_SIDE * i][kk];
      }
      for (var i = 0u; i < PER_THREAD; i = i + 1u) {
        for (var j = 0u; j < PER_THREAD; j = j + 1u) {
          acc[i][j] = fma(xs[i], ws[j], acc[i][j]);
        }
      }
    }
    workgroupBarrier();
    let slab_end = k0 + TILE;
    if (slab_end % CHUNK == 0u || slab_end >= p.K) {
      for (var i = 0u; i < PER_THREAD; i = i + 1u) {
        for (var j = 0u; j < PER_THREAD; j = j + 1u) {
          total[i][j] = total[i][j] + acc[i][j];
          acc[i][j] = 0.0;
        }
      }
    }
  }

  for (var i = 0u; i < PER_THREAD; i = i + 1u) {
    let m = row0 + lid.y + WG_SIDE * i;
    for (var j = 0u; j < PER_THREAD; j = j + 1u) {
      let n = col0 + lid.x + WG_SIDE * j;
      if (m < p.M && n < p.N) {
#if ${HAS_BIAS}
        var v = total[i][j] + bias[n];
#else
        var v = total[i][j];
#endif
#if ${GELU}
        v = gelu(v);
#endif
#if ${ADD_TO_Y}
        v = y[m * p.N + n] + v;
#endif
        y[m * p.N + n] = v;
      }
    }
  }
}
