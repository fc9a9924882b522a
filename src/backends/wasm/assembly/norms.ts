// Layer norm and RMS norm over rows of length d, forward and backward. Row statistics in float32
// with four-lane partial sums (the reference accumulates in float64; differences stay ~1e-6).
import { hsum } from './simd';

// @ts-ignore: decorator
@inline
function rowSum(x: usize, d: i32): f32 {
  let s = f32x4.splat(0);
  let j = 0;
  for (; j + 4 <= d; j += 4) s = f32x4.add(s, v128.load(x + (<usize>j << 2)));
  let r = hsum(s);
  for (; j < d; j++) r += load<f32>(x + (<usize>j << 2));
  return r;
}

/** y = (x - mean) * rstd * w + b per row; writes mean[rows], rstd[rows]. */
export function layerNorm(x: usize, w: usize, b: usize, y: usize, mean: usize, rstd: usize, rows: i32, d: i32, eps: f32): void {
  for (let r = 0; r < rows; r++) {
    const xr = x + (<usize>(r * d) << 2);
    const yr = y + (<usize>(r * d) << 2);
    const mu = rowSum(xr, d) / <f32>d;
    const muv = f32x4.splat(mu);
    let sv = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const t = f32x4.sub(v128.load(xr + (<usize>j << 2)), muv);
      sv = f32x4.add(sv, f32x4.mul(t, t));
    }
    let v = hsum(sv);
    for (; j < d; j++) {
      const t = load<f32>(xr + (<usize>j << 2)) - mu;
      v += t * t;
    }
    const rs: f32 = 1 / Mathf.sqrt(v / <f32>d + eps);
    const rsv = f32x4.splat(rs);
    j = 0;
    for (; j + 4 <= d; j += 4) {
      const q = <usize>j << 2;
      const t = f32x4.mul(f32x4.sub(v128.load(xr + q), muv), rsv);
      v128.store(yr + q, f32x4.add(f32x4.mul(t, v128.load(w + q)), v128.load(b + q)));
    }
    for (; j < d; j++) {
      const q = <usize>j << 2;
      store<f32>(yr + q, (load<f32>(xr + q) - mu) * rs * load<f32>(w + q) + load<f32>(b + q));
    }
    store<f32>(mean + (<usize>r << 2), mu);
    store<f32>(rstd + (<usize>r << 2), rs);
  }
}

/** dx per row; dw, db (length d) are overwritten with the sums over these rows. */
export function layerNormBackward(
  dy: usize, x: usize, w: usize, mean: usize, rstd: usize,
  dx: usize, dw: usize, db: usize, rows: i32, d: i32,
): void {
  memory.fill(dw, 0, <usize>d << 2);
  memory.fill(db, 0, <usize>d << 2);
  for (let r = 0; r < rows; r++) {
    const o = <usize>(r * d) << 2;
    const mu = f32x4.splat(load<f32>(mean + (<usize>r << 2)));
    const rsS = load<f32>(rstd + (<usize>r << 2));
    const rs = f32x4.splat(rsS);
    let m1v = f32x4.splat(0), m2v = f32x4.splat(0);
    let m1: f32 = 0, m2: f32 = 0;
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const q = <usize>j << 2;
      const g = v128.load(dy + o + q);
      const xh = f32x4.mul(f32x4.sub(v128.load(x + o + q), mu), rs);
      const gw = f32x4.mul(g, v128.load(w + q));
      m1v = f32x4.add(m1v, gw);
      m2v = f32x4.add(m2v, f32x4.mul(gw, xh));
      v128.store(dw + q, f32x4.add(v128.load(dw + q), f32x4.mul(g, xh)));
      v128.store(db + q, f32x4.add(v128.load(db + q), g));
    }
    m1 = hsum(m1v);
    m2 = hsum(m2v);
    for (; j < d; j++) {
      const q = <usize>j << 2;
      const g = load<f32>(dy + o + q);
      const xh = (load<f32>(x + o + q) - f32x4.extract_lane(mu, 0)) * rsS;
      const gw = g * load<f32>(w + q);
      m1 += gw;
      m2 += gw * xh;
      store<f32>(dw + q, load<f32>(dw + q) + g * xh);
      store<f32>(db + q, load<f32>(db + q) + g);
    }
    m1 /= <f32>d;
    m2 /= <f32>d;
    const m1s = f32x4.splat(m1), m2s = f32x4.splat(m2);
    j = 0;
    for (; j + 4 <= d; j += 4) {
      const q = <usize>j << 2;
      const xh = f32x4.mul(f32x4.sub(v128.load(x + o + q), mu), rs);
      const t = f32x4.sub(f32x4.sub(f32x4.mul(v128.load(dy + o + q), v128.load(w + q)), m1s), f32x4.mul(xh, m2s));
      v128.store(dx + o + q, f32x4.mul(rs, t));
    }
    for (; j < d; j++) {
      const q = <usize>j << 2;
      const xh = (load<f32>(x + o + q) - f32x4.extract_lane(mu, 0)) * rsS;
      store<f32>(dx + o + q, rsS * (load<f32>(dy + o + q) * load<f32>(w + q) - m1 - xh * m2));
    }
  }
}

/** y = x * rstd * w per row; writes rstd[rows]. */
export function rmsNorm(x: usize, w: usize, y: usize, rstd: usize, rows: i32, d: i32, eps: f32): void {
  for (let r = 0; r < rows; r++) {
    const o = <usize>(r * d) << 2;
    let sv = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const t = v128.load(x + o + (<usize>j << 2));
      sv = f32x4.add(sv, f32x4.mul(t, t));
    }
    let s = hsum(sv);
    for (; j < d; j++) {
      const t = load<f32>(x + o + (<usize>j << 2));
      s += t * t;
    }
    const rs: f32 = 1 / Mathf.sqrt(s / <f32>d + eps);
    const rsv = f32x4.splat(rs);
    j = 0;
    for (; j + 4 <= d; j += 4) {
      const q = <usize>j << 2;
      v128.store(y + o + q, f32x4.mul(f32x4.mul(v128.load(x + o + q), rsv), v128.load(w + q)));
    }
    for (; j < d; j++) {
      const q = <usize>j << 2;
      store<f32>(y + o + q, load<f32>(x + o + q) * rs * load<f32>(w + q));
    }
    store<f32>(rstd + (<usize>r << 2), rs);
  }
}

/** dx per row; dw (length d) is overwritten with the sum over these rows. */
export function rmsNormBackward(dy: usize, x: usize, w: usize, rstd: usize, dx: usize, dw: usize, rows: i32, d: i32): void {
  memory.fill(dw, 0, <usize>d << 2);
  for (let r = 0; r < rows; r++) {
    const o = <usize>(r * d) << 2;
    const rsS = load<f32>(rstd + (<usize>r << 2));
    const rs = f32x4.splat(rsS);
    let dv = f32x4.splat(0);
    let j = 0;
    for (; j + 4 <= d; j += 4) {
      const q = <usize>j << 2;
      const g = v128.load(dy + o + q);
      const xv = v128.load(x + o + q);
      dv = f32x4.add(dv, f32x4.mul(f32x4.mul(g, v128.load(w + q)), xv));
      v128.store(dw + q, f32x4.add(v128.load(dw + q), f32x4.mul(f32x4.mul(g, xv), rs)));
    }
    let dot = hsum(dv);
    for (; j < d; j++) {
      const q = <usize>j << 2;
      const g = load<f32>(dy + o + q);
      const xv = load<f32>(x + o + q);
      dot += g * load<f32>(w + q) * xv;
      store<f32>(dw + q, load<f32>(dw + q) + g * xv * rsS);
    }
    const cS: f32 = (rsS * rsS * rsS * dot) / <f32>d;
    const c = f32x4.splat(cS);
    j = 0;
    for (; j + 4 <= d; j += 4) {
      const q = <usize>j << 2;
      const t = f32x4.mul(f32x4.mul(rs, v128.load(dy + o + q)), v128.load(w + q));
      v128.store(dx + o + q, f32x4.sub(t, f32x4.mul(v128.load(x + o + q), c)));
    }
    for (; j < d; j++) {
      const q = <usize>j << 2;
      store<f32>(dx + o + q, rsS * load<f32>(dy + o + q) * load<f32>(w + q) - load<f32>(x + o + q) * cS);
    }
  }
}

/** dst[i] += src[i] (combines per-thread partial weight gradients). */
export function addInto(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const q = <usize>i << 2;
    v128.store(dst + q, f32x4.add(v128.load(dst + q), v128.load(src + q)));
  }
  for (; i < n; i++) {
    const q = <usize>i << 2;
    store<f32>(dst + q, load<f32>(dst + q) + load<f32>(src + q));
  }
}
