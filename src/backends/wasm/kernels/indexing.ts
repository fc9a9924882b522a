/** gatherRows / scatterAddRows: indices are checked here (a clear error, never a wild read). */
import { sizeOf } from '../../../tensor/shape.js';
import { ptrOf, type WasmCtx, type WasmKernel } from '../context.js';

function checkIndices(ctx: WasmCtx, idx: number, m: number, rows: number, op: string): void {
  const i32 = ctx.heap.i32();
  for (let r = 0; r < m; r++) {
    const i = i32[idx / 4 + r];
    if (!(i >= 0 && i < rows))
      throw new Error(`${op}: index ${i} at position ${r} is out of range [0, ${rows})`);
  }
}

export const gatherRows: WasmKernel<'gatherRows'> = (ctx, [x, idx], [y]) => {
  const rows = x.shape[0];
  const m = idx.shape[0];
  checkIndices(ctx, ptrOf(idx), m, rows, 'gatherRows');
  const w = rows === 0 ? 0 : sizeOf(x.shape) / rows;
  ctx.k.gatherRows(ptrOf(x), ptrOf(idx), ptrOf(y), m, w);
  return true;
};

export const scatterAddRows: WasmKernel<'scatterAddRows'> = (ctx, [src, idx], [y], p) => {
  if (src.dtype !== 'float32') return false;
  const m = idx.shape[0];
  checkIndices(ctx, ptrOf(idx), m, p.rows, 'scatterAddRows');
  const w = p.rows === 0 ? 0 : sizeOf(y.shape) / p.rows;
  ctx.k.scatterAddRows(ptrOf(src), ptrOf(idx), ptrOf(y), m, w, p.rows);
  return true;
};
