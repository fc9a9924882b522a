/**
 * 3D convolution (cross-correlation, PyTorch semantics), forward and the two backward kernels.
 * Layouts: x [B, Ci, T, H, W], w [Co, Ci, KT, KH, KW], y [B, Co, To, Ho, Wo]; zero padding given as
 * (before, after) per axis, so causal time padding is simply [KT - 1, 0].
 *
 * All three kernels share one loop nest: for each (tap, output row) the valid output columns are a
 * contiguous range, computed once, so the innermost loop has no bounds tests. Sums are float64.
 */
import type { Shape } from '../../../tensor/shape.js';
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

export function convGeom(xs: Shape, ws: Shape, stride: readonly number[], padding: readonly (readonly [number, number])[]): ConvGeom {
  const [B, Ci, T, H, W] = xs;
  const [Co, , KT, KH, KW] = ws;
  return {
    B, Ci, Co, T, H, W, KT, KH, KW,
    To: convOutSize(T, KT, stride[0], padding[0]),
    Ho: convOutSize(H, KH, stride[1], padding[1]),
    Wo: convOutSize(W, KW, stride[2], padding[2]),
    st: stride[0], sh: stride[1], sw: stride[2],
    pt: padding[0][0], ph: padding[1][0], pw: padding[2][0],
  };
}

/**
 * Calls `row(xOff, yOff, wo0, wo1, kw)` for every tap (kt, kh, kw) and output row (to, ho) whose
 * input row exists: output columns [wo0, wo1) read input column wo * sw + kw - pw, offsets are
 * relative to one (x channel plane, y channel plane).
 */
function forEachRow(
  g: ConvGeom,
  tap: (kt: number, kh: number, kw: number) => void,
  row: (xOff: number, yOff: number, wo0: number, wo1: number) => void,
) {
  for (let kt = 0; kt < g.KT; kt++)
    for (let kh = 0; kh < g.KH; kh++)
      for (let kw = 0; kw < g.KW; kw++) {
        tap(kt, kh, kw);
        const wo0 = Math.max(0, Math.ceil((g.pw - kw) / g.sw));
        const wo1 = Math.min(g.Wo, Math.floor((g.W - 1 - kw + g.pw) / g.sw) + 1);
        if (wo1 <= wo0) continue;
        for (let to = 0; to < g.To; to++) {
          const ti = to * g.st + kt - g.pt;
          if (ti < 0 || ti >= g.T) continue;
          for (let ho = 0; ho < g.Ho; ho++) {
            const hi = ho * g.sh + kh - g.ph;
            if (hi < 0 || hi >= g.H) continue;
            row((ti * g.H + hi) * g.W + kw - g.pw, (to * g.Ho + ho) * g.Wo, wo0, wo1);
          }
        }
      }
}

/** (x, w) -> y */
export const conv3d: RefKernel<'conv3d'> = ([x, w], [y], { stride, padding }) => {
  const g = convGeom(x.shape, w.shape, stride, padding);
  const xp = g.T * g.H * g.W;
  const yp = g.To * g.Ho * g.Wo;
  const taps = g.KT * g.KH * g.KW;
  const acc = new Float64Array(yp);
  const xd = x.data;
  const wd = w.data;
  const sw = g.sw;
  for (let b = 0; b < g.B; b++)
    for (let co = 0; co < g.Co; co++) {
      acc.fill(0);
      for (let ci = 0; ci < g.Ci; ci++) {
        const xb = (b * g.Ci + ci) * xp;
        let wv = 0;
        forEachRow(
          g,
          (kt, kh, kw) => (wv = wd[(co * g.Ci + ci) * taps + (kt * g.KH + kh) * g.KW + kw]),
          (xOff, yOff, wo0, wo1) => {
            const xo = xb + xOff;
            for (let wo = wo0; wo < wo1; wo++) acc[yOff + wo] += wv * xd[xo + wo * sw];
          },
        );
      }
      y.data.set(acc, (b * g.Co + co) * yp);
    }
};

/** (dy, w) -> dx, with x's shape in params. */
export const conv3dBackwardInput: RefKernel<'conv3dBackwardInput'> = ([dy, w], [dx], { stride, padding }) => {
  const g = convGeom(dx.shape, w.shape, stride, padding);
  const xp = g.T * g.H * g.W;
  const yp = g.To * g.Ho * g.Wo;
  const taps = g.KT * g.KH * g.KW;
  const acc = new Float64Array(xp);
  const gd = dy.data;
  const wd = w.data;
  const sw = g.sw;
  for (let b = 0; b < g.B; b++)
    for (let ci = 0; ci < g.Ci; ci++) {
      acc.fill(0);
      for (let co = 0; co < g.Co; co++) {
        const yb = (b * g.Co + co) * yp;
        let wv = 0;
        forEachRow(
          g,
          (kt, kh, kw) => (wv = wd[(co * g.Ci + ci) * taps + (kt * g.KH + kh) * g.KW + kw]),
          (xOff, yOff, wo0, wo1) => {
            const yo = yb + yOff;
            for (let wo = wo0; wo < wo1; wo++) acc[xOff + wo * sw] += wv * gd[yo + wo];
          },
        );
      }
      dx.data.set(acc, (b * g.Ci + ci) * xp);
    }
};

/** (dy, x) -> dw, with w's shape in params. */
export const conv3dBackwardWeight: RefKernel<'conv3dBackwardWeight'> = ([dy, x], [dw], { stride, padding }) => {
  const g = convGeom(x.shape, dw.shape, stride, padding);
  const xp = g.T * g.H * g.W;
  const yp = g.To * g.Ho * g.Wo;
  const taps = g.KT * g.KH * g.KW;
  const acc = new Float64Array(taps);
  const gd = dy.data;
  const xd = x.data;
  const sw = g.sw;
  for (let co = 0; co < g.Co; co++)
    for (let ci = 0; ci < g.Ci; ci++) {
      acc.fill(0);
      for (let b = 0; b < g.B; b++) {
        const xb = (b * g.Ci + ci) * xp;
        const yb = (b * g.Co + co) * yp;
        let t = 0;
        forEachRow(
          g,
          (kt, kh, kw) => (t = (kt * g.KH + kh) * g.KW + kw),
          (xOff, yOff, wo0, wo1) => {
            const xo = xb + xOff;
            const yo = yb + yOff;
            let s = 0;
            for (let wo = wo0; wo < wo1; wo++) s += gd[yo + wo] * xd[xo + wo * sw];
            acc[t] += s;
          },
        );
      }
      dw.data.set(acc, (co * g.Ci + ci) * taps);
    }
};
