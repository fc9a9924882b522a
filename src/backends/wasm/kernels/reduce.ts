/** sum / max over a contiguous run of axes (after dropping size-1 axes); other cases go to `ref`. */
import { sizeOf } from '../../../core/shape.js';
import { reduceSplit } from '../../kernel-args.js';
import { ptrOf, type WasmKernel } from '../context.js';
import { REDUCE_CODES } from './codes.js';

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
