// Plain CPU twins of every WGSL kernel, in float64, written from the math (not from the shaders) so a test compares two
// independent derivations. Shapes follow the shaders: row-major, (T, C) activations, (N, K) weights.

export function layerNormRef(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, rows: number, channels: number, eps: number): Float64Array {
  const y = new Float64Array(rows * channels);
  for (let t = 0; t < rows; t++) {
    let mean = 0;
    for (let c = 0; c < channels; c++) mean += x[t * channels + c];
    mean /= channels;
    let variance = 0;
    for (let c = 0; c < channels; c++) variance += (x[t * channels + c] - mean) ** 2;
    variance /= channels;
    const inv = 1 / Math.sqrt(variance + eps);
    for (let c = 0; c < channels; c++) y[t * channels + c] = (x[t * channels + c] - mean) * inv * gamma[c] + beta[c];
  }
  return y;
}

/** y = x · wᵀ + bias; x (M, K), w (N, K). */
export function linearRef(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | undefined, m: number, n: number, k: number): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let kk = 0; kk < k; kk++) acc += x[i * k + kk] * w[j * k + kk];
      y[i * n + j] = acc + (bias ? bias[j] : 0);
    }
  }
  return y;
}

/** k per chunk of the canonical reduction order (src/kernels/matmul.ts K_CHUNK, written here again on purpose). */
export const K_CHUNK = 64;

/** One f32 fma, a·b + c rounded once (fused) or the product rounded first (unfused, as an adapter without fma may do). */
export function fmaF32(a: number, b: number, c: number, fused: boolean): number {
  if (!fused) return Math.fround(Math.fround(a * b) + c);
  // a·b of two f32 is exact in float64; s = p + c rounds once, e is its exact error (Knuth's two-sum). Rounding s to f32
  // is then right unless s lies exactly halfway between two f32 values (f32 midpoints are float64 values, so the exact
  // sum cannot sit across one from s): there the sign of e breaks the tie.
  const p = a * b;
  const s = p + c;
  const bp = s - c;
  const e = (p - bp) + (c - (s - bp));
  const r = Math.fround(s);
  if (e === 0 || r === s) return r;
  const other = nextF32Toward(r, s);
  if (Math.abs(other - s) !== Math.abs(r - s)) return r; // not a tie
  return (e > 0) === (other > r) ? other : r; // the exact sum s + e lies on e's side of the midpoint s
}

/** The f32 next to r in the direction of t (r is an f32, t ≠ r). */
function nextF32Toward(r: number, t: number): number {
  const bits = new Uint32Array(new Float32Array([r]).buffer);
  const up = t > r;
  if (r === 0) bits[0] = up ? 1 : 0x80000001;
  else if ((r > 0) === up) bits[0] += 1;
  else bits[0] -= 1;
  return new Float32Array(bits.buffer)[0];
}

/**
 * y = x · wᵀ + bias in f32 in the canonical 64-k chunk order (shaders/gemv.wgsl header, written here from that
 * definition): pⱼ = the sequential fma chain over k ∈ [64j, 64j + 64) from 0, y = ((0 + p₀) + p₁ + …) + bias.
 * `fused`: whether the adapter's fma rounds once (test/gpu/linearBits.test.ts probes it).
 */
export function linearCanonicalF32(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | undefined, m: number, n: number, k: number, fused: boolean): Float32Array {
  const y = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let total = 0;
      for (let k0 = 0; k0 < k; k0 += K_CHUNK) {
        let partial = 0;
        for (let kk = k0; kk < Math.min(k0 + K_CHUNK, k); kk++) partial = fmaF32(x[i * k + kk], w[j * k + kk], partial, fused);
        total = Math.fround(total + partial);
      }
      y[i * n + j] = bias ? Math.fround(total + bias[j]) : total;
    }
  }
  return y;
}

/** The erf function to ~1e-15 (Taylor series near 0, continued fraction for erfc beyond). */
export function erf(x: number): number {
  const a = Math.abs(x);
  let r: number;
  if (a < 2.5) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(a) = exp(-a²)/√π · 1/(a + 1/2/(a + 1/(a + 3/2/(a + …)))) (Lentz would do; a fixed depth suffices for a ≥ 2.5)
    let f = 0;
    for (let n = 60; n >= 1; n--) f = n / 2 / (a + f);
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
  }
  return x < 0 ? -r : r;
}

export function geluRef(v: number, tanhApprox: boolean): number {
  if (tanhApprox) return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  return 0.5 * v * (1 + erf(v / Math.SQRT2));
}

/** Rotate-half RoPE on one head vector (length D) in place, first R dims, at position pos. */
export function ropeRef(head: Float64Array, pos: number, rotaryDims: number, base: number): void {
  const half = rotaryDims / 2;
  for (let i = 0; i < half; i++) {
    const theta = pos / base ** ((2 * i) / rotaryDims);
    const a = head[i];
    const b = head[i + half];
    head[i] = a * Math.cos(theta) - b * Math.sin(theta);
    head[i + half] = b * Math.cos(theta) + a * Math.sin(theta);
  }
}

/**
 * Causal attention of query rows over a sequence's keys/values given as plain arrays (no paging: the reference does
 * not know about blocks). q (D), keys/values (n, D). Returns (D).
 */
export function attendRef(q: ArrayLike<number>, keys: ArrayLike<number>[], values: ArrayLike<number>[], scale: number): Float64Array {
  const scores = keys.map((k) => {
    let s = 0;
    for (let d = 0; d < q.length; d++) s += q[d] * k[d];
    return s * scale;
  });
  const max = Math.max(...scores);
  const exps = scores.map((s) => Math.exp(s - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  const out = new Float64Array(q.length);
  for (let j = 0; j < keys.length; j++) for (let d = 0; d < q.length; d++) out[d] += (exps[j] / sum) * values[j][d];
  return out;
}

export function softmaxRef(row: ArrayLike<number>, temperature: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]);
  const out = new Float64Array(row.length);
  let sum = 0;
  for (let i = 0; i < row.length; i++) sum += out[i] = Math.exp((row[i] - max) / temperature);
  for (let i = 0; i < row.length; i++) out[i] /= sum;
  return out;
}

export function argmaxRef(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}
