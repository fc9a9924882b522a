/**
 * Host versions of conv.cu's kernels for the mock driver: ConvArgs read back from the packed
 * argument block (so a struct laid out wrong by the host reads wrong here too), the same index
 * arithmetic, element by element, in float32 like the device (Math.fround on every add).
 */
import type { MockKernel } from './driver.js';

const NAMES = ['Ci', 'T', 'H', 'W', 'KT', 'KH', 'KW', 'To', 'Ho', 'Wo', 'st', 'sh', 'sw', 'pt', 'ph', 'pw'];
const MORE = ['r0', 'r1', 'ti0', 'nti', 'hi0', 'nhi'];

/** conv.cu's ConvArgs at offset `at` of the packed block. */
export function readConvArgs(v: DataView, at: number): Record<string, number> {
  return Object.fromEntries([...NAMES, ...MORE].map((n, i) => [n, v.getInt32(at + 4 * i, true)]));
}

export const MOCK_CONV_KERNELS: Record<string, MockKernel> = {
  conv_im2col: (mem, [x, col, n, s], _cfg, v) => {
    const a = readConvArgs(v, s);
    const np = (a.r1 - a.r0) * a.Wo;
    const xv = mem.f32(x, a.Ci * a.T * a.H * a.W);
    const cv = mem.f32(col, n);
    for (let i = 0; i < n; i++) {
      const k = Math.floor(i / np);
      const j = i - k * np;
      const kw = k % a.KW;
      let t = Math.floor(k / a.KW);
      const kh = t % a.KH;
      t = Math.floor(t / a.KH);
      const kt = t % a.KT;
      const ci = Math.floor(t / a.KT);
      const r = a.r0 + Math.floor(j / a.Wo);
      const wo = j % a.Wo;
      const to = Math.floor(r / a.Ho);
      const ho = r - to * a.Ho;
      const [ti, hi, wi] = [to * a.st + kt - a.pt, ho * a.sh + kh - a.ph, wo * a.sw + kw - a.pw];
      const inside = ti >= 0 && ti < a.T && hi >= 0 && hi < a.H && wi >= 0 && wi < a.W;
      cv[i] = inside ? xv[((ci * a.T + ti) * a.H + hi) * a.W + wi] : 0;
    }
  },
  conv_col2im: (mem, [col, dx, n, s], _cfg, v) => {
    const a = readConvArgs(v, s);
    const np = (a.r1 - a.r0) * a.Wo;
    const K = a.Ci * a.KT * a.KH * a.KW;
    const cv = mem.f32(col, K * np);
    const dv = mem.f32(dx, a.Ci * a.T * a.H * a.W);
    for (let i = 0; i < n; i++) {
      const wi = i % a.W;
      let t = Math.floor(i / a.W);
      const hi = a.hi0 + (t % a.nhi);
      t = Math.floor(t / a.nhi);
      const ti = a.ti0 + (t % a.nti);
      const ci = Math.floor(t / a.nti);
      let sum = 0;
      for (let kt = 0; kt < a.KT; kt++) {
        const tt = ti + a.pt - kt;
        if (tt < 0 || tt % a.st) continue;
        const to = tt / a.st;
        if (to >= a.To) continue;
        for (let kh = 0; kh < a.KH; kh++) {
          const hh = hi + a.ph - kh;
          if (hh < 0 || hh % a.sh) continue;
          const ho = hh / a.sh;
          if (ho >= a.Ho) continue;
          const r = to * a.Ho + ho;
          if (r < a.r0 || r >= a.r1) continue;
          for (let kw = 0; kw < a.KW; kw++) {
            const ww = wi + a.pw - kw;
            if (ww < 0 || ww % a.sw) continue;
            const wo = ww / a.sw;
            if (wo >= a.Wo) continue;
            const k = ((ci * a.KT + kt) * a.KH + kh) * a.KW + kw;
            sum = Math.fround(sum + cv[k * np + (r - a.r0) * a.Wo + wo]);
          }
        }
      }
      const at = ((ci * a.T + ti) * a.H + hi) * a.W + wi;
      dv[at] = dv[at] + sum;
    }
  },
  conv_add_into: (mem, [part, acc, n]) => {
    const p = mem.f32(part, n);
    const y = mem.f32(acc, n);
    for (let i = 0; i < n; i++) y[i] += p[i];
  },
};
