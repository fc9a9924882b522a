/** gatherRows / scatterAddRows: indices are checked here (a clear error, never a wild read). */
import { sizeOf } from '../../../core/shape.js';
import type { TensorRef } from '../../backend.js';
import { checkRowIndices } from '../../kernel-args.js';
import { ptrOf, type WasmCtx, type WasmKernel } from '../context.js';

/** The m int32 indices of `idx` on the heap. */
const indices = (ctx: WasmCtx, idx: TensorRef, m: number) =>
  ctx.heap.i32().subarray(ptrOf(idx) / 4, ptrOf(idx) / 4 + m);

export const gatherRows: WasmKernel<'gatherRows'> = (ctx, [x, idx], [y]) => {
  const rows = x.shape[0];
  const m = idx.shape[0];
  checkRowIndices(indices(ctx, idx, m), rows, 'gatherRows');
  const w = rows === 0 ? 0 : sizeOf(x.shape) / rows;
  ctx.k.gatherRows(ptrOf(x), ptrOf(idx), ptrOf(y), m, w);
  return true;
};

export const scatterAddRows: WasmKernel<'scatterAddRows'> = (ctx, [src, idx], [y], p) => {
  if (src.dtype !== 'float32') return false;
  const m = idx.shape[0];
  checkRowIndices(indices(ctx, idx, m), p.rows, 'scatterAddRows');
  const w = p.rows === 0 ? 0 : sizeOf(y.shape) / p.rows;
  ctx.k.scatterAddRows(ptrOf(src), ptrOf(idx), ptrOf(y), m, w, p.rows);
  return true;
};
