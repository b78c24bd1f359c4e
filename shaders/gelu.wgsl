// GELU, in place: h = h · Φ(h), where Φ is the standard normal CDF.
// Variants: TANH = the tanh approximation GPT-2 uses ("gelu_new"): 0.5 h (1 + tanh(√(2/π) (h + 0.044715 h³)));
//           otherwise the exact form 0.5 h (1 + erf(h / √2)) (GPT-NeoX "gelu"). WGSL has no erf: see erf_approx.
// Layout: h (T, F) row-major. Mapping: grid (ceil(F/64), T).
// Hazards: tanh overflows to NaN for large |x| on some drivers, so its argument is clamped to ±10 (where tanh is ±1 in f32).

struct Params {
  rows: u32,     // T
  features: u32, // F
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> h: array<f32>;  // (T, F)

// erf by Abramowitz & Stegun 7.1.26: |error| ≤ 1.5e-7, about one f32 ulp of the result near 1.
fn erf_approx(z: f32) -> f32 {
  let a = abs(z);
  let t = 1.0 / fma(0.3275911, a, 1.0);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let r = 1.0 - poly * exp(-a * a);
  return select(r, -r, z < 0.0);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let f = gid.x;
  let t = gid.y;
  if (f >= p.features || t >= p.rows) {
    return;
  }
  let i = t * p.features + f;
  let v = h[i];
#if ${TANH}
  let inner = clamp(0.7978845608028654 * fma(0.044715 * v, v * v, v), -10.0, 10.0);
  h[i] = 0.5 * v * (1.0 + tanh(inner));
#else
  h[i] = 0.5 * v * (1.0 + erf_approx(v * 0.7071067811865476));
#endif
}
