/**
 * permute, slice, broadcastTo, pad, concat and reshape as one strided copy (any 4-byte dtype).
 * Axes are coalesced first (size-1 axes dropped, adjacent axes contiguous in both layouts merged),
 * so the common cases become a few long row copies.
 */
import { type Shape, sizeOf, stridesOf } from '../../../core/shape.js';
import { broadcastStrides } from '../../ref/kernels/strided.js';
import { ptrOf, type WasmCtx, type WasmKernel } from '../context.js';

const MAX_RANK = 32; // the argument block holds 4 arrays of 32 int32

/** Copies elements of `shape` from x (strides xs) to y (strides ys), byte offsets x, y. */
export function stridedCopy(
  ctx: WasmCtx,
  x: number,
  y: number,
  shape: Shape,
  xs: readonly number[],
  ys: readonly number[],
): void {
  if (sizeOf(shape) === 0) return;
  const dims: [number, number, number][] = [];
  shape.forEach((d, i) => {
    if (d === 1) return;
    const prev = dims[dims.length - 1];
    if (prev && prev[1] === xs[i] * d && prev[2] === ys[i] * d) {
      prev[0] *= d;
      prev[1] = xs[i];
      prev[2] = ys[i];
    } else dims.push([d, xs[i], ys[i]]);
  });
  if (dims.length === 0) dims.push([1, 1, 1]);
  const rank = dims.length;
  // A transpose of the last two axes (x contiguous along the other one) goes tile by tile: the
  // plain odometer would read x with a large stride and touch a new cache line per element.
  if (rank >= 2 && rank <= 8) {
    const [rows, xr, yr] = dims[rank - 2];
    const [cols, xc, yc] = dims[rank - 1];
    if (xr === 1 && yc === 1 && xc !== 1 && rows >= 8 && cols >= 8) {
      forEachOuter(dims.slice(0, -2), (xo, yo) =>
        ctx.k.transpose2d(x + 4 * xo, y + 4 * yo, rows, cols, xc, yr),
      );
      return;
    }
  }
  if (rank > MAX_RANK) throw new Error(`wasm stridedCopy: rank ${rank} > ${MAX_RANK}`);
  const i32 = ctx.heap.i32();
  const base = ctx.argBlock / 4;
  dims.forEach(([d, sx, sy], i) => {
    i32[base + i] = d;
    i32[base + MAX_RANK + i] = sx;
    i32[base + 2 * MAX_RANK + i] = sy;
  });
  const at = ctx.argBlock;
  ctx.k.stridedCopy(x, y, rank, at, at + 4 * MAX_RANK, at + 8 * MAX_RANK, at + 12 * MAX_RANK);
}

/** Calls f(xOffset, yOffset) for every index of the outer axes [size, xStride, yStride][]. */
function forEachOuter(outer: [number, number, number][], f: (xo: number, yo: number) => void): void {
  const idx = new Array<number>(outer.length).fill(0);
  let xo = 0;
  let yo = 0;
  for (;;) {
    f(xo, yo);
    let a = outer.length - 1;
    for (; a >= 0; a--) {
      if (++idx[a] < outer[a][0]) {
        xo += outer[a][1];
        yo += outer[a][2];
        break;
      }
      xo -= outer[a][1] * (idx[a] - 1);
      yo -= outer[a][2] * (idx[a] - 1);
      idx[a] = 0;
    }
    if (a < 0) return;
  }
}

export const permute: WasmKernel<'permute'> = (ctx, [x], [y], p) => {
  const s = stridesOf(x.shape);
  stridedCopy(
    ctx,
    ptrOf(x),
    ptrOf(y),
    y.shape,
    p.perm.map((a) => s[a]),
    stridesOf(y.shape),
  );
  return true;
};

export const slice: WasmKernel<'slice'> = (ctx, [x], [y], p) => {
  const s = stridesOf(x.shape);
  const base = p.starts.reduce((acc, st, i) => acc + st * s[i], 0);
  stridedCopy(ctx, ptrOf(x) + 4 * base, ptrOf(y), y.shape, s, stridesOf(y.shape));
  return true;
};

export const broadcastTo: WasmKernel<'broadcastTo'> = (ctx, [x], [y]) => {
  stridedCopy(ctx, ptrOf(x), ptrOf(y), y.shape, broadcastStrides(x.shape, y.shape), stridesOf(y.shape));
  return true;
};

export const pad: WasmKernel<'pad'> = (ctx, [x], [y], p) => {
  const n = sizeOf(y.shape);
  const bits = y.dtype === 'int32' ? p.value | 0 : new Int32Array(Float32Array.of(p.value).buffer)[0];
  ctx.k.fill32(ptrOf(y), n, bits);
  const s = stridesOf(y.shape);
  const base = p.pads.reduce((acc, [before], i) => acc + before * s[i], 0);
  stridedCopy(ctx, ptrOf(x), ptrOf(y) + 4 * base, x.shape, stridesOf(x.shape), s);
  return true;
};

export const concat: WasmKernel<'concat'> = (ctx, ins, [y], p) => {
  const s = stridesOf(y.shape);
  let at = 0;
  for (const x of ins) {
    stridedCopy(ctx, ptrOf(x), ptrOf(y) + 4 * at * s[p.axis], x.shape, stridesOf(x.shape), s);
    at += x.shape[p.axis];
  }
  return true;
};

export const reshape: WasmKernel<'reshape'> = (ctx, [x], [y]) => {
  ctx.k.copyBytes(ptrOf(y), ptrOf(x), 4 * sizeOf(y.shape));
  return true;
};
