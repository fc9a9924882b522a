/** Row gather and scatter-add by an int32 index; an out-of-range index is an error, never a wild read. */
import type { RefKernel } from '../view.js';

function checkIndex(i: number, rows: number, op: string, at: number) {
  if (!(i >= 0 && i < rows))
    throw new Error(`${op}: index ${i} at position ${at} is out of range [0, ${rows})`);
}

export const gatherRows: RefKernel<'gatherRows'> = ([x, idx], [y]) => {
  const rows = x.shape[0];
  const w = rows === 0 ? 0 : x.data.length / rows;
  for (let r = 0; r < idx.data.length; r++) {
    const i = idx.data[r];
    checkIndex(i, rows, 'gatherRows', r);
    y.data.set(x.data.subarray(i * w, (i + 1) * w), r * w);
  }
};

export const scatterAddRows: RefKernel<'scatterAddRows'> = ([src, idx], [y], p) => {
  const w = p.rows === 0 ? 0 : y.data.length / p.rows;
  y.data.fill(0);
  for (let r = 0; r < idx.data.length; r++) {
    const i = idx.data[r];
    checkIndex(i, p.rows, 'scatterAddRows', r);
    for (let j = 0; j < w; j++) y.data[i * w + j] += src.data[r * w + j];
  }
};
