// The GELU activation as a function, prepended by src/kernels/gelu.ts to every shader that applies it (gelu.wgsl, and
// the linear layers' GELU epilogue in gemv.wgsl / matmul.wgsl), so the in-place kernel and the fused epilogue run one
// text and give the same bits: g(v) = v · Φ(v), Φ the standard normal CDF.
// Variants: TANH = the tanh approximation GPT-2 uses ("gelu_new"): 0.5 v (1 + tanh(√(2/π) (v + 0.044715 v³)));
//           otherwise the exact form 0.5 v (1 + erf(v / √2)) (GPT-NeoX "gelu"). WGSL has no erf: see erf_approx.
// Hazards: tanh overflows to NaN for large |x| on some drivers, so its argument is clamped to ±10 (where tanh is ±1 in f32).

// erf by Abramowitz & Stegun 7.1.26: |error| ≤ 1.5e-7, about one f32 ulp of the result near 1.
fn erf_approx(z: f32) -> f32 {
  let a = abs(z);
  let t = 1.0 / fma(0.3275911, a, 1.0);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let r = 1.0 - poly * exp(-a * a);
  return select(r, -r, z < 0.0);
}

fn gelu(v: f32) -> f32 {
#if ${TANH}
  let inner = clamp(0.7978845608028654 * fma(0.044715 * v, v * v, v), -10.0, 10.0);
  return 0.5 * v * (1.0 + tanh(inner));
#else
  return 0.5 * v * (1.0 + erf_approx(v * 0.7071067811865476));
#endif
}
