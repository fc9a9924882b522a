/** where (full condition; full or scalar branches), argmax along one axis, and casts. */
import { sameShape, sizeOf } from '../../../core/shape.js';
import { ptrOf, type WasmKernel } from '../context.js';

export const where: WasmKernel<'where'> = (ctx, [c, a, b], [y]) => {
  // An int32 condition's bits cannot be tested as float (INT_MIN would read as -0).
  if (c.dtype !== 'float32' || !sameShape(c.shape, y.shape)) return false;
  const n = sizeOf(y.shape);
  const step = (t: typeof a) => (sameShape(t.shape, y.shape) ? 1 : sizeOf(t.shape) === 1 ? 0 : -1);
  const as = step(a);
  const bs = step(b);
  if (as < 0 || bs < 0) return false;
  if (n > 0) ctx.k.where(ptrOf(c), ptrOf(a), as, ptrOf(b), bs, ptrOf(y), n);
  return true;
};

export const argmax: WasmKernel<'argmax'> = (ctx, [x], [y], { axis }) => {
  if (x.dtype !== 'float32' || x.shape[axis] === 0) return false;
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  ctx.k.argmax(ptrOf(x), ptrOf(y), outer, x.shape[axis], inner);
  return true;
};

export const cast: WasmKernel<'cast'> = (ctx, [x], [y]) => {
  const n = sizeOf(x.shape);
  if (x.dtype === y.dtype) ctx.k.copyBytes(ptrOf(y), ptrOf(x), 4 * n);
  else if (x.dtype === 'float32') ctx.k.castF32I32(ptrOf(x), ptrOf(y), n);
  else ctx.k.castI32F32(ptrOf(x), ptrOf(y), n);
  return true;
};
