/** sum / max over a contiguous run of axes (after dropping size-1 axes); other cases go to `ref`. */
import { sizeOf } from '../../../tensor/shape.js';
import { ptrOf, type WasmKernel } from '../context.js';
import { REDUCE_CODES } from './codes.js';

/** [outer, mid, inner] when the reduced axes of size > 1 are adjacent, else null. */
export function reduceSplit(
  shape: readonly number[],
  axes: readonly number[],
): [number, number, number] | null {
  const dims = shape.map((d, i) => ({ d, r: axes.includes(i) })).filter((x) => x.d !== 1);
  const first = dims.findIndex((x) => x.r);
  if (first < 0) return [sizeOf(shape), 1, 1];
  let last = first;
  while (last + 1 < dims.length && dims[last + 1].r) last++;
  if (dims.slice(last + 1).some((x) => x.r)) return null;
  const prod = (xs: typeof dims) => xs.reduce((a, x) => a * x.d, 1);
  return [prod(dims.slice(0, first)), prod(dims.slice(first, last + 1)), prod(dims.slice(last + 1))];
}

export function reduce(op: 'sum' | 'max'): WasmKernel<'sum' | 'max'> {
  const code = REDUCE_CODES[op];
  return (ctx, [x], [y], p) => {
    if (x.dtype !== 'float32' || sizeOf(x.shape) === 0) return false;
    const split = reduceSplit(x.shape, p.axes);
    if (!split) return false;
    ctx.k.reduce(code, ptrOf(x), ptrOf(y), split[0], split[1], split[2]);
    return true;
  };
}
