/** Data movement: permute, slice, concat, pad. */
import { stridesOf } from '../../../core/shape.js';
import type { RefKernel } from '../view.js';
import { forEachStrided } from './strided.js';

export const permute: RefKernel<'permute'> = ([x], [y], p) => {
  const s = stridesOf(x.shape);
  const out = y.data;
  const xd = x.data;
  forEachStrided(y.shape, [p.perm.map((a) => s[a])], (o, offs) => {
    out[o] = xd[offs[0]];
  });
};

export const slice: RefKernel<'slice'> = ([x], [y], p) => {
  const s = stridesOf(x.shape);
  const base = p.starts.reduce((acc, st, i) => acc + st * s[i], 0);
  const out = y.data;
  const xd = x.data;
  forEachStrided(y.shape, [s], (o, offs) => {
    out[o] = xd[base + offs[0]];
  });
};

export const concat: RefKernel<'concat'> = (ins, [y], p) => {
  const inner = y.shape.slice(p.axis + 1).reduce((a, b) => a * b, 1);
  const outer = y.shape.slice(0, p.axis).reduce((a, b) => a * b, 1);
  const rowOut = y.shape[p.axis] * inner;
  let at = 0;
  for (const x of ins) {
    const row = x.shape[p.axis] * inner;
    for (let o = 0; o < outer; o++) y.data.set(x.data.subarray(o * row, (o + 1) * row), o * rowOut + at);
    at += row;
  }
};

export const pad: RefKernel<'pad'> = ([x], [y], p) => {
  y.data.fill(p.value);
  const s = stridesOf(y.shape);
  const base = p.pads.reduce((acc, [before], i) => acc + before * s[i], 0);
  const out = y.data;
  const xd = x.data;
  forEachStrided(x.shape, [s], (i, offs) => {
    out[base + offs[0]] = xd[i];
  });
};
