/** Reductions over any set of axes, and argmax along one axis. Sums accumulate in float64. */
import { type Shape, stridesOf } from '../../../core/shape.js';
import type { RefKernel } from '../view.js';
import { forEachStrided } from './strided.js';

/** Strides that map an input index to its reduced output index (0 along reduced axes). */
function reduceStrides(inShape: Shape, axes: readonly number[]): number[] {
  const kept = inShape.map((d, i) => (axes.includes(i) ? 1 : d));
  const s = stridesOf(kept);
  return inShape.map((_, i) => (axes.includes(i) ? 0 : s[i]));
}

export const sum: RefKernel<'sum'> = ([x], [y], p) => {
  const acc = new Float64Array(y.data.length);
  const xd = x.data;
  forEachStrided(x.shape, [reduceStrides(x.shape, p.axes)], (i, offs) => {
    acc[offs[0]] += xd[i];
  });
  y.data.set(acc);
};

export const max: RefKernel<'max'> = ([x], [y], p) => {
  if (x.data.length === 0) return;
  const out = y.data;
  out.fill(Number.NEGATIVE_INFINITY);
  const xd = x.data;
  forEachStrided(x.shape, [reduceStrides(x.shape, p.axes)], (i, offs) => {
    const v = xd[i];
    if (v > out[offs[0]] || Number.isNaN(v)) out[offs[0]] = v;
  });
};

/** Index of the first maximum along `axis`. */
export const argmax: RefKernel<'argmax'> = ([x], [y], p) => {
  const n = x.shape[p.axis];
  const inner = x.shape.slice(p.axis + 1).reduce((a, b) => a * b, 1);
  const outer = y.data.length / Math.max(inner, 1);
  const xd = x.data;
  for (let o = 0; o < outer; o++)
    for (let j = 0; j < inner; j++) {
      let best = 0;
      let bv = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const v = xd[(o * n + i) * inner + j];
        if (v > bv) {
          bv = v;
          best = i;
        }
      }
      y.data[o * inner + j] = best;
    }
};
