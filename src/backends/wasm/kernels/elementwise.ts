/**
 * Unary and binary elementwise kernels. Binary ops cover the broadcasts that models produce: same
 * shape, an operand broadcast along leading axes (bias rows: [n] against [m, n]), along trailing
 * axes (softmax's [m, 1] against [m, n]), and scalars; anything else goes to `ref`.
 */
import type { BinaryOp, UnaryOp } from '../../../core/op-spec.js';
import { sizeOf } from '../../../core/shape.js';
import { binaryMode } from '../../kernel-args.js';
import { ptrOf, type WasmKernel } from '../context.js';
import { BINARY_CODES, UNARY_CODES } from './codes.js';
import { runChunked } from './shared.js';

/** Elements at which an elementwise op is shared with the pool (~0.1 ms of exp on one core). */
export const SPLIT_MIN_ELEMS = 1 << 17;

export function unary(op: UnaryOp): WasmKernel<UnaryOp> {
  const code = UNARY_CODES[op];
  return (ctx, [x], [y]) => {
    if (x.dtype !== 'float32') return false;
    const n = sizeOf(y.shape);
    const T = ctx.pool.threads;
    if (T === 1 || n < SPLIT_MIN_ELEMS) ctx.k.unary(code, ptrOf(x), ptrOf(y), n);
    else {
      const chunk = Math.ceil(n / (4 * T) / 4) * 4;
      runChunked(ctx, 'unaryChunks', Math.ceil(n / chunk), [chunk, code, ptrOf(x), ptrOf(y), n]);
    }
    return true;
  };
}

export function binary(op: BinaryOp): WasmKernel<BinaryOp> {
  const code = BINARY_CODES[op];
  return (ctx, [a, b], [y]) => {
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return false;
    const n = sizeOf(y.shape);
    if (n === 0) return true;
    const bm = binaryMode(a.shape, b.shape, y.shape);
    if (!bm) return false;
    const { mode, inner } = bm;
    const T = ctx.pool.threads;
    const rows = mode === 0 ? n : n / inner;
    if (T === 1 || n < SPLIT_MIN_ELEMS || rows < 2)
      ctx.k.binary(code, ptrOf(a), ptrOf(b), ptrOf(y), n, mode, inner);
    else {
      // Mode 0 in chunks of elements (a multiple of 4), the row modes in chunks of whole rows.
      const chunk = mode === 0 ? Math.ceil(n / (4 * T) / 4) * 4 : Math.ceil(rows / (4 * T));
      const args = [chunk, code, ptrOf(a), ptrOf(b), ptrOf(y), n, mode, inner];
      runChunked(ctx, 'binaryChunks', Math.ceil(rows / chunk), args);
    }
    return true;
  };
}
