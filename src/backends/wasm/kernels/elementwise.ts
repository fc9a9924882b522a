/**
 * Unary and binary elementwise kernels. Binary ops cover the broadcasts that models produce: same
 * shape, an operand broadcast along leading axes (bias rows: [n] against [m, n]), along trailing
 * axes (softmax's [m, 1] against [m, n]), and scalars; anything else goes to `ref`.
 */
import type { BinaryOp, UnaryOp } from '../../../tensor/op-spec.js';
import { type Shape, sameShape, sizeOf } from '../../../tensor/shape.js';
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

/** Where `s` (left-padded to `out`'s rank) is broadcast: 'full', 'suffix' (keeps a trailing run), 'prefix' (keeps a leading run) or null. */
function pattern(s: Shape, out: Shape): { kind: 'full' | 'suffix' | 'prefix'; size: number } | null {
  const p = [...new Array<number>(out.length - s.length).fill(1), ...s];
  if (sameShape(p, out)) return { kind: 'full', size: sizeOf(out) };
  const size = sizeOf(p);
  if (size === 1) return { kind: 'prefix', size }; // a scalar: one value held for the whole output
  // suffix: ones, then equal to out
  let i = 0;
  while (i < p.length && p[i] === 1 && out[i] !== 1) i++;
  if (p.slice(i).every((d, j) => d === out[i + j])) return { kind: 'suffix', size };
  // prefix: equal to out, then ones
  let e = p.length;
  while (e > 0 && p[e - 1] === 1) e--;
  if (p.slice(0, e).every((d, j) => d === out[j])) return { kind: 'prefix', size };
  return null;
}

export function binary(op: BinaryOp): WasmKernel<BinaryOp> {
  const code = BINARY_CODES[op];
  return (ctx, [a, b], [y]) => {
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return false;
    const n = sizeOf(y.shape);
    if (n === 0) return true;
    const pa = pattern(a.shape, y.shape);
    const pb = pattern(b.shape, y.shape);
    if (!pa || !pb) return false;
    let mode: number;
    let inner = n;
    if (pa.kind === 'full' && pb.kind === 'full') mode = 0;
    else if (pa.kind === 'full') [mode, inner] = pb.kind === 'suffix' ? [1, pb.size] : [3, n / pb.size];
    else if (pb.kind === 'full') [mode, inner] = pa.kind === 'suffix' ? [2, pa.size] : [4, n / pa.size];
    else return false;
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
