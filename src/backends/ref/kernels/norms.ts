/** Layer norm and RMS norm over the last axis, forward and backward (float64 row statistics). */
import type { RefKernel } from '../view.js';

export const layerNorm: RefKernel<'layerNorm'> = ([x, w, b], [y, mean, rstd], { eps }) => {
  const d = w.data.length;
  const rows = mean.data.length;
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let s = 0;
    for (let j = 0; j < d; j++) s += x.data[o + j];
    const mu = s / d;
    let v = 0;
    for (let j = 0; j < d; j++) v += (x.data[o + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(v / d + eps);
    for (let j = 0; j < d; j++) y.data[o + j] = (x.data[o + j] - mu) * rs * w.data[j] + b.data[j];
    mean.data[r] = mu;
    rstd.data[r] = rs;
  }
};

export const layerNormBackward: RefKernel<'layerNormBackward'> = ([dy, x, w, mean, rstd], [dx, dw, db]) => {
  const d = w.data.length;
  const rows = mean.data.length;
  const gw = new Float64Array(d);
  const gb = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    const mu = mean.data[r];
    const rs = rstd.data[r];
    let m1 = 0;
    let m2 = 0;
    for (let j = 0; j < d; j++) {
      const xh = (x.data[o + j] - mu) * rs;
      const g = dy.data[o + j] * w.data[j];
      m1 += g;
      m2 += g * xh;
      gw[j] += dy.data[o + j] * xh;
      gb[j] += dy.data[o + j];
    }
    m1 /= d;
    m2 /= d;
    for (let j = 0; j < d; j++) {
      const xh = (x.data[o + j] - mu) * rs;
      dx.data[o + j] = rs * (dy.data[o + j] * w.data[j] - m1 - xh * m2);
    }
  }
  dw.data.set(gw);
  db.data.set(gb);
};

export const rmsNorm: RefKernel<'rmsNorm'> = ([x, w], [y, rstd], { eps }) => {
  const d = w.data.length;
  const rows = rstd.data.length;
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let s = 0;
    for (let j = 0; j < d; j++) s += x.data[o + j] ** 2;
    const rs = 1 / Math.sqrt(s / d + eps);
    for (let j = 0; j < d; j++) y.data[o + j] = x.data[o + j] * rs * w.data[j];
    rstd.data[r] = rs;
  }
};

export const rmsNormBackward: RefKernel<'rmsNormBackward'> = ([dy, x, w, rstd], [dx, dw]) => {
  const d = w.data.length;
  const rows = rstd.data.length;
  const gw = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    const rs = rstd.data[r];
    let dot = 0;
    for (let j = 0; j < d; j++) {
      dot += dy.data[o + j] * w.data[j] * x.data[o + j];
      gw[j] += dy.data[o + j] * x.data[o + j] * rs;
    }
    const c = (rs * rs * rs * dot) / d;
    for (let j = 0; j < d; j++) dx.data[o + j] = rs * dy.data[o + j] * w.data[j] - x.data[o + j] * c;
  }
  dw.data.set(gw);
};
