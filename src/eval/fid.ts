/**
 * The Frechet distance between two sets of feature vectors, each fitted by a Gaussian:
 *   |mu_a - mu_b|^2 + tr(S_a) + tr(S_b) - 2 tr((S_a^1/2 S_b S_a^1/2)^1/2)
 * (FID's formula; with the probes' per-shot features it is an FVD-like figure for this world).
 * Square roots of symmetric positive semi-definite matrices come from a Jacobi eigen-decomposition.
 */

/** Eigen-decomposition of a symmetric n x n matrix (row-major): values and column eigenvectors. */
export function symmetricEigen(a: Float64Array, n: number): { values: Float64Array; vectors: Float64Array } {
  const m = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += m[p * n + q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        const apq = m[p * n + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (m[q * n + q] - m[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const mkp = m[k * n + p];
          const mkq = m[k * n + q];
          m[k * n + p] = c * mkp - s * mkq;
          m[k * n + q] = s * mkp + c * mkq;
        }
        for (let k = 0; k < n; k++) {
          const mpk = m[p * n + k];
          const mqk = m[q * n + k];
          m[p * n + k] = c * mpk - s * mqk;
          m[q * n + k] = s * mpk + c * mqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  return { values: Float64Array.from({ length: n }, (_, i) => m[i * n + i]), vectors: v };
}

/** The PSD square root of a symmetric matrix (negative eigenvalues from rounding clamp to 0). */
export function sqrtPsd(a: Float64Array, n: number): Float64Array {
  const { values, vectors } = symmetricEigen(a, n);
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const s = Math.sqrt(Math.max(0, values[k]));
    if (s === 0) continue;
    for (let i = 0; i < n; i++) {
      const vi = vectors[i * n + k] * s;
      for (let j = 0; j < n; j++) out[i * n + j] += vi * vectors[j * n + k];
    }
  }
  return out;
}

function matmul(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let k = 0; k < n; k++) {
      const x = a[i * n + k];
      if (x === 0) continue;
      for (let j = 0; j < n; j++) out[i * n + j] += x * b[k * n + j];
    }
  return out;
}

/** Mean and covariance (1/(N-1)) of N vectors of length n. */
export function gaussianFit(xs: readonly Float64Array[]): {
  mean: Float64Array;
  cov: Float64Array;
  n: number;
} {
  if (xs.length < 2) throw new Error(`gaussianFit: need at least 2 vectors, got ${xs.length}`);
  const n = xs[0].length;
  const mean = new Float64Array(n);
  for (const x of xs) for (let i = 0; i < n; i++) mean[i] += x[i] / xs.length;
  const cov = new Float64Array(n * n);
  for (const x of xs)
    for (let i = 0; i < n; i++) {
      const di = x[i] - mean[i];
      for (let j = 0; j < n; j++) cov[i * n + j] += (di * (x[j] - mean[j])) / (xs.length - 1);
    }
  return { mean, cov, n };
}

export function frechetDistance(a: readonly Float64Array[], b: readonly Float64Array[]): number {
  const A = gaussianFit(a);
  const B = gaussianFit(b);
  const n = A.n;
  let d = 0;
  for (let i = 0; i < n; i++) d += (A.mean[i] - B.mean[i]) ** 2;
  const ra = sqrtPsd(A.cov, n);
  const inner = matmul(matmul(ra, B.cov, n), ra, n);
  // symmetrise against rounding before the second square root
  for (let i = 0; i < n; i++)
    for (let j = i + 1; j < n; j++) {
      const s = (inner[i * n + j] + inner[j * n + i]) / 2;
      inner[i * n + j] = s;
      inner[j * n + i] = s;
    }
  const { values } = symmetricEigen(inner, n);
  let tr = 0;
  for (let i = 0; i < n; i++) tr += A.cov[i * n + i] + B.cov[i * n + i];
  for (const v of values) tr -= 2 * Math.sqrt(Math.max(0, v));
  return Math.max(0, d + tr);
}
