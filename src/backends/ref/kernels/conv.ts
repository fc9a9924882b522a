/**
 * 3D convolution (cross-correlation, PyTorch semantics), forward and the two backward kernels.
 * Layouts: x [B, Ci, T, H, W], w [Co, Ci, KT, KH, KW], y [B, Co, To, Ho, Wo]; zero padding given as
 * (before, after) per axis, so causal time padding is simply [KT - 1, 0].
 *
 * All three go through im2col on blocks of output rows, so their inner loops are long contiguous
 * axpy/dot loops (fast in plain JS) and share one index mapping. Buffers and sums are float64.
 */
import type { Shape } from '../../../core/shape.js';
import type { RefKernel } from '../view.js';

export interface ConvGeom {
  B: number;
  Ci: number;
  Co: number;
  T: number;
  H: number;
  W: number;
  KT: number;
  KH: number;
  KW: number;
  To: number;
  Ho: number;
  Wo: number;
  st: number;
  sh: number;
  sw: number;
  pt: number; // padding before, per axis
  ph: number;
  pw: number;
}

/** Output size along one axis; throws when the window does not fit. */
export function convOutSize(n: number, k: number, s: number, pad: readonly [number, number]): number {
  const span = n + pad[0] + pad[1] - k;
  if (span < 0) throw new Error(`kernel ${k} is larger than the padded input ${n + pad[0] + pad[1]}`);
  return Math.floor(span / s) + 1;
}

export function convGeom(
  xs: Shape,
  ws: Shape,
  stride: readonly number[],
  padding: readonly (readonly [number, number])[],
): ConvGeom {
  const [B, Ci, T, H, W] = xs;
  const [Co, , KT, KH, KW] = ws;
  return {
    B,
    Ci,
    Co,
    T,
    H,
    W,
    KT,
    KH,
    KW,
    To: convOutSize(T, KT, stride[0], padding[0]),
    Ho: convOutSize(H, KH, stride[1], padding[1]),
    Wo: convOutSize(W, KW, stride[2], padding[2]),
    st: stride[0],
    sh: stride[1],
    sw: stride[2],
    pt: padding[0][0],
    ph: padding[1][0],
    pw: padding[2][0],
  };
}

/** Output rows (to, ho) per block: bounds the im2col buffer to about 8k columns. */
function rowsPerBlock(g: ConvGeom): number {
  return Math.max(1, Math.floor(8192 / g.Wo));
}

/**
 * im2col for output rows [r0, r1) of batch b: col[k][j] = x[b, ci, ti, hi, wi] for k = (ci, kt, kh,
 * kw) and output position j (row-major within the block), zero where the tap falls in padding.
 */
function im2col(x: ArrayLike<number>, g: ConvGeom, b: number, r0: number, r1: number, col: Float64Array) {
  const np = (r1 - r0) * g.Wo;
  const xp = g.T * g.H * g.W;
  let k = 0;
  for (let ci = 0; ci < g.Ci; ci++) {
    const xb = (b * g.Ci + ci) * xp;
    for (let kt = 0; kt < g.KT; kt++)
      for (let kh = 0; kh < g.KH; kh++)
        for (let kw = 0; kw < g.KW; kw++, k++) {
          const cb = k * np;
          const wo0 = Math.max(0, Math.ceil((g.pw - kw) / g.sw));
          const wo1 = Math.max(wo0, Math.min(g.Wo, Math.floor((g.W - 1 - kw + g.pw) / g.sw) + 1));
          for (let r = r0; r < r1; r++) {
            const to = Math.floor(r / g.Ho);
            const ho = r - to * g.Ho;
            const ti = to * g.st + kt - g.pt;
            const hi = ho * g.sh + kh - g.ph;
            const o = cb + (r - r0) * g.Wo;
            if (ti < 0 || ti >= g.T || hi < 0 || hi >= g.H) {
              col.fill(0, o, o + g.Wo);
              continue;
            }
            const xo = xb + (ti * g.H + hi) * g.W + kw - g.pw;
            col.fill(0, o, o + wo0);
            for (let wo = wo0; wo < wo1; wo++) col[o + wo] = x[xo + wo * g.sw];
            col.fill(0, o + wo1, o + g.Wo);
          }
        }
  }
}

/** The adjoint of im2col: dx[b] += scatter of col (same indexing). */
function col2imAdd(col: Float64Array, g: ConvGeom, b: number, r0: number, r1: number, dx: Float64Array) {
  const np = (r1 - r0) * g.Wo;
  const xp = g.T * g.H * g.W;
  let k = 0;
  for (let ci = 0; ci < g.Ci; ci++) {
    const xb = (b * g.Ci + ci) * xp;
    for (let kt = 0; kt < g.KT; kt++)
      for (let kh = 0; kh < g.KH; kh++)
        for (let kw = 0; kw < g.KW; kw++, k++) {
          const cb = k * np;
          const wo0 = Math.max(0, Math.ceil((g.pw - kw) / g.sw));
          const wo1 = Math.min(g.Wo, Math.floor((g.W - 1 - kw + g.pw) / g.sw) + 1);
          for (let r = r0; r < r1; r++) {
            const to = Math.floor(r / g.Ho);
            const ho = r - to * g.Ho;
            const ti = to * g.st + kt - g.pt;
            const hi = ho * g.sh + kh - g.ph;
            if (ti < 0 || ti >= g.T || hi < 0 || hi >= g.H) continue;
            const o = cb + (r - r0) * g.Wo;
            const xo = xb + (ti * g.H + hi) * g.W + kw - g.pw;
            for (let wo = wo0; wo < wo1; wo++) dx[xo + wo * g.sw] += col[o + wo];
          }
        }
  }
}

/** (x, w) -> y: per block, y[co, j] = sum_k w[co, k] col[k, j] (long contiguous inner loops). */
export const conv3d: RefKernel<'conv3d'> = ([x, w], [y], { stride, padding }) => {
  const g = convGeom(x.shape, w.shape, stride, padding);
  const K = g.Ci * g.KT * g.KH * g.KW;
  const yp = g.To * g.Ho * g.Wo;
  const R = g.To * g.Ho;
  const rb = rowsPerBlock(g);
  const col = new Float64Array(K * Math.min(R, rb) * g.Wo);
  const acc = new Float64Array(4 * Math.min(R, rb) * g.Wo);
  const wd = w.data;
  for (let b = 0; b < g.B; b++)
    for (let r0 = 0; r0 < R; r0 += rb) {
      const r1 = Math.min(R, r0 + rb);
      const np = (r1 - r0) * g.Wo;
      im2col(x.data, g, b, r0, r1, col);
      // Four output channels at a time: each col value is loaded once for four sums.
      for (let co = 0; co < g.Co; co += 4) {
        const n = Math.min(4, g.Co - co);
        acc.fill(0);
        for (let k = 0; k < K; k++) {
          const w0 = wd[co * K + k];
          const w1 = n > 1 ? wd[(co + 1) * K + k] : 0;
          const w2 = n > 2 ? wd[(co + 2) * K + k] : 0;
          const w3 = n > 3 ? wd[(co + 3) * K + k] : 0;
          const cb = k * np;
          for (let j = 0; j < np; j++) {
            const v = col[cb + j];
            acc[j] += w0 * v;
            acc[np + j] += w1 * v;
            acc[2 * np + j] += w2 * v;
            acc[3 * np + j] += w3 * v;
          }
        }
        for (let i = 0; i < n; i++) {
          const yo = (b * g.Co + co + i) * yp + r0 * g.Wo;
          for (let j = 0; j < np; j++) y.data[yo + j] = acc[i * np + j];
        }
      }
    }
};

/** (dy, w) -> dx: dcol[k, j] = sum_co w[co, k] dy[co, j], scattered back by col2im. */
export const conv3dBackwardInput: RefKernel<'conv3dBackwardInput'> = ([dy, w], [dx], { stride, padding }) => {
  const g = convGeom(dx.shape, w.shape, stride, padding);
  const K = g.Ci * g.KT * g.KH * g.KW;
  const yp = g.To * g.Ho * g.Wo;
  const R = g.To * g.Ho;
  const rb = rowsPerBlock(g);
  const col = new Float64Array(K * Math.min(R, rb) * g.Wo);
  const acc = new Float64Array(dx.data.length);
  const wd = w.data;
  const gd = dy.data;
  for (let b = 0; b < g.B; b++)
    for (let r0 = 0; r0 < R; r0 += rb) {
      const r1 = Math.min(R, r0 + rb);
      const np = (r1 - r0) * g.Wo;
      col.fill(0);
      for (let co = 0; co < g.Co; co++) {
        const yo = (b * g.Co + co) * yp + r0 * g.Wo;
        let k = 0;
        // Four col rows per pass: each dy value is loaded once for four updates.
        for (; k + 4 <= K; k += 4) {
          const w0 = wd[co * K + k];
          const w1 = wd[co * K + k + 1];
          const w2 = wd[co * K + k + 2];
          const w3 = wd[co * K + k + 3];
          const c0 = k * np;
          for (let j = 0; j < np; j++) {
            const v = gd[yo + j];
            col[c0 + j] += w0 * v;
            col[c0 + np + j] += w1 * v;
            col[c0 + 2 * np + j] += w2 * v;
            col[c0 + 3 * np + j] += w3 * v;
          }
        }
        for (; k < K; k++) {
          const wv = wd[co * K + k];
          const cb = k * np;
          for (let j = 0; j < np; j++) col[cb + j] += wv * gd[yo + j];
        }
      }
      col2imAdd(col, g, b, r0, r1, acc);
    }
  dx.data.set(acc);
};

/** (dy, x) -> dw: dw[co, k] = sum over positions of dy[co, j] col[k, j]. */
export const conv3dBackwardWeight: RefKernel<'conv3dBackwardWeight'> = (
  [dy, x],
  [dw],
  { stride, padding },
) => {
  const g = convGeom(x.shape, dw.shape, stride, padding);
  const K = g.Ci * g.KT * g.KH * g.KW;
  const yp = g.To * g.Ho * g.Wo;
  const R = g.To * g.Ho;
  const rb = rowsPerBlock(g);
  const col = new Float64Array(K * Math.min(R, rb) * g.Wo);
  const acc = new Float64Array(dw.data.length);
  const gd = dy.data;
  for (let b = 0; b < g.B; b++)
    for (let r0 = 0; r0 < R; r0 += rb) {
      const r1 = Math.min(R, r0 + rb);
      const np = (r1 - r0) * g.Wo;
      im2col(x.data, g, b, r0, r1, col);
      for (let co = 0; co < g.Co; co += 4) {
        const n = Math.min(4, g.Co - co);
        // Rows past Co alias row co (their sums are discarded), so the loop needs no branches.
        const y0 = (b * g.Co + co) * yp + r0 * g.Wo;
        const y1 = n > 1 ? y0 + yp : y0;
        const y2 = n > 2 ? y0 + 2 * yp : y0;
        const y3 = n > 3 ? y0 + 3 * yp : y0;
        for (let k = 0; k < K; k++) {
          const cb = k * np;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          for (let j = 0; j < np; j++) {
            const v = col[cb + j];
            s0 += gd[y0 + j] * v;
            s1 += gd[y1 + j] * v;
            s2 += gd[y2 + j] * v;
            s3 += gd[y3 + j] * v;
          }
          acc[co * K + k] += s0;
          if (n > 1) acc[(co + 1) * K + k] += s1;
          if (n > 2) acc[(co + 2) * K + k] += s2;
          if (n > 3) acc[(co + 3) * K + k] += s3;
        }
      }
    }
  dw.data.set(acc);
};
