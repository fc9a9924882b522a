/**
 * Layer norm and RMS norm, forward and backward, over the last axis. Large inputs are split by rows
 * across the pool; in the backward pass each thread sums its rows' weight gradients into its own
 * scratch and the caller adds them up.
 */
import { sizeOf } from '../../../core/shape.js';
import { ptrOf, type WasmCtx, type WasmKernel } from '../context.js';
import { ranges } from './matmul.js';

/** Rows x d at which a norm is split across threads (smaller ones are not worth a wake-up). */
const SPLIT_MIN_ELEMS = 1 << 16;

function rowJobs(ctx: WasmCtx, rows: number, d: number): [number, number][] {
  const T = rows * d >= SPLIT_MIN_ELEMS ? ctx.pool.threads : 1;
  return ranges(rows, T, 1);
}

export const layerNorm: WasmKernel<'layerNorm'> = (ctx, [x, w, b], [y, mean, rstd], { eps }) => {
  const d = w.shape[0];
  const rows = sizeOf(mean.shape);
  if (d === 0 || rows === 0) return false;
  const [X, W, B, Y, M, R] = [x, w, b, y, mean, rstd].map(ptrOf);
  const jobs = rowJobs(ctx, rows, d).map(([s, e]) => [
    X + 4 * s * d,
    W,
    B,
    Y + 4 * s * d,
    M + 4 * s,
    R + 4 * s,
    e - s,
    d,
    eps,
  ]);
  ctx.pool.run('layerNorm', jobs);
  return true;
};

export const rmsNorm: WasmKernel<'rmsNorm'> = (ctx, [x, w], [y, rstd], { eps }) => {
  const d = w.shape[0];
  const rows = sizeOf(rstd.shape);
  if (d === 0 || rows === 0) return false;
  const [X, W, Y, R] = [x, w, y, rstd].map(ptrOf);
  const jobs = rowJobs(ctx, rows, d).map(([s, e]) => [
    X + 4 * s * d,
    W,
    Y + 4 * s * d,
    R + 4 * s,
    e - s,
    d,
    eps,
  ]);
  ctx.pool.run('rmsNorm', jobs);
  return true;
};

/** Runs `make(part, dwTargets)` per row range; parts after the first write weight grads to scratch, summed after. */
function withPartials(
  ctx: WasmCtx,
  rows: number,
  d: number,
  targets: number[],
  name: string,
  make: (s: number, e: number, dst: number[]) => number[],
): void {
  const parts = rowJobs(ctx, rows, d);
  const scratch = parts.slice(1).map(() => targets.map(() => ctx.heap.alloc(4 * d, true)));
  try {
    ctx.pool.run(
      name,
      parts.map(([s, e], i) => make(s, e, i === 0 ? targets : scratch[i - 1])),
    );
    for (const sc of scratch) sc.forEach((p, j) => ctx.k.addInto(targets[j], p, d));
  } finally {
    for (const sc of scratch) for (const p of sc) ctx.heap.free(p);
  }
}

export const layerNormBackward: WasmKernel<'layerNormBackward'> = (
  ctx,
  [dy, x, w, mean, rstd],
  [dx, dw, db],
) => {
  const d = w.shape[0];
  const rows = sizeOf(mean.shape);
  if (d === 0 || rows === 0) return false;
  const [DY, X, W, M, R, DX] = [dy, x, w, mean, rstd, dx].map(ptrOf);
  withPartials(ctx, rows, d, [ptrOf(dw), ptrOf(db)], 'layerNormBackward', (s, e, [gw, gb]) => [
    DY + 4 * s * d,
    X + 4 * s * d,
    W,
    M + 4 * s,
    R + 4 * s,
    DX + 4 * s * d,
    gw,
    gb,
    e - s,
    d,
  ]);
  return true;
};

export const rmsNormBackward: WasmKernel<'rmsNormBackward'> = (ctx, [dy, x, w, rstd], [dx, dw]) => {
  const d = w.shape[0];
  const rows = sizeOf(rstd.shape);
  if (d === 0 || rows === 0) return false;
  const [DY, X, W, R, DX] = [dy, x, w, rstd, dx].map(ptrOf);
  withPartials(ctx, rows, d, [ptrOf(dw)], 'rmsNormBackward', (s, e, [gw]) => [
    DY + 4 * s * d,
    X + 4 * s * d,
    W,
    R + 4 * s,
    DX + 4 * s * d,
    gw,
    e - s,
    d,
  ]);
  return true;
};
