/**
 * The movement ops on the device (permute, slice, broadcastTo, concat, pad) as launches of the one
 * strided copy of movement.cu, and cast through the elementwise casts. Any 4-byte dtype moves
 * alike (float32, int32). The host folds the view first (size-1 axes dropped, axes contiguous on
 * both sides merged), so a rank-7 patchify permute runs at rank 6 or less; a view still above
 * MAXRANK axes is left to the reference fallback.
 */
import { BYTES, type DType } from '../../core/dtype.js';
import { normAxes, sizeOf, stridesOf } from '../../core/shape.js';
import type { TensorRef } from '../backend.js';
import type { DevPtr } from './driver-types.js';
import type { CudaContext } from './kernels.js';
import { type CudaOp, elementGrid, ptrOf } from './op-types.js';

const MAXRANK = 8;

/** One strided copy: y[y0 + c . ys] = x[x0 + c . xs] for every index c of `shape`. */
export interface StridedView {
  readonly shape: readonly number[];
  readonly xs: readonly number[];
  readonly ys: readonly number[];
  readonly x0: number;
  readonly y0: number;
}

/**
 * The same copy over fewer axes: size-1 axes dropped, and an axis merged into its inner neighbour
 * where both sides step contiguously across the two.
 */
export function foldView(v: StridedView): StridedView {
  const shape: number[] = [];
  const xs: number[] = [];
  const ys: number[] = [];
  v.shape.forEach((d, i) => {
    if (d === 1) return;
    const k = shape.length - 1;
    if (k >= 0 && xs[k] === v.xs[i] * d && ys[k] === v.ys[i] * d) {
      shape[k] *= d;
      xs[k] = v.xs[i];
      ys[k] = v.ys[i];
    } else {
      shape.push(d);
      xs.push(v.xs[i]);
      ys.push(v.ys[i]);
    }
  });
  return { shape, xs, ys, x0: v.x0, y0: v.y0 };
}

/** The Strided struct of movement.cu, or undefined when the folded view has too many axes. */
export function stridedStruct(view: StridedView): Uint8Array | undefined {
  const v = foldView(view);
  if (v.shape.length > MAXRANK) return undefined;
  const b = new Uint8Array(8 + 3 * 8 * MAXRANK + 16);
  const d = new DataView(b.buffer);
  d.setInt32(0, v.shape.length, true);
  const put = (at: number, xs: readonly number[]) =>
    xs.forEach((x, i) => d.setBigInt64(at + 8 * i, BigInt(x), true));
  put(8, v.shape);
  put(8 + 8 * MAXRANK, v.xs);
  put(8 + 16 * MAXRANK, v.ys);
  d.setBigInt64(8 + 24 * MAXRANK, BigInt(v.x0), true);
  d.setBigInt64(16 + 24 * MAXRANK, BigInt(v.y0), true);
  return b;
}

function launchCopy(ctx: CudaContext, x: DevPtr, y: DevPtr, view: StridedView, s: Uint8Array): void {
  const n = sizeOf(view.shape);
  if (n > 0)
    ctx.launch('movement', 'strided_copy_32', elementGrid(n), [
      { ptr: x },
      { ptr: y },
      { i64: n },
      { bytes: s },
    ]);
}

const words = (...ts: TensorRef[]) => ts.every((t) => BYTES[t.dtype] === 4);

/** A whole contiguous x written into y from offset y0 with y's strides `ys`. */
const placeInto = (shape: readonly number[], y0: number, ys: readonly number[]): StridedView => ({
  shape,
  xs: stridesOf(shape),
  ys,
  x0: 0,
  y0,
});

/** A copy of x into all of y through the x strides `xs` (offset x0). */
const gather = (ctx: CudaContext, x: TensorRef, y: TensorRef, xs: readonly number[], x0 = 0): boolean => {
  if (!words(x, y)) return false;
  const view = { shape: y.shape, xs, ys: stridesOf(y.shape), x0, y0: 0 };
  const s = stridedStruct(view);
  if (!s) return false;
  launchCopy(ctx, ptrOf(x), ptrOf(y), view, s);
  return true;
};

const permute: CudaOp<'permute'> = (ctx, [x], [y], p) => {
  const s = stridesOf(x.shape);
  return gather(
    ctx,
    x,
    y,
    p.perm.map((a) => s[a]),
  );
};

const slice: CudaOp<'slice'> = (ctx, [x], [y], p) => {
  const s = stridesOf(x.shape);
  return gather(
    ctx,
    x,
    y,
    s,
    p.starts.reduce((acc, st, i) => acc + st * s[i], 0),
  );
};

const broadcastTo: CudaOp<'broadcastTo'> = (ctx, [x], [y]) => {
  const s = stridesOf(x.shape);
  const lead = y.shape.length - x.shape.length;
  return gather(
    ctx,
    x,
    y,
    y.shape.map((_, i) => (i < lead || x.shape[i - lead] === 1 ? 0 : s[i - lead])),
  );
};

/** Each input copied into its block of y along the axis (all views checked before any launch). */
const concat: CudaOp<'concat'> = (ctx, ins, [y], p) => {
  if (!words(y, ...ins)) return false;
  const axis = normAxes(p.axis, y.shape.length)[0];
  const ys = stridesOf(y.shape);
  let at = 0;
  const copies = ins.map((x) => {
    const view = placeInto(x.shape, at * ys[axis], ys);
    at += x.shape[axis];
    return { x, view, s: stridedStruct(view) };
  });
  if (copies.some((c) => !c.s)) return false;
  for (const c of copies) launchCopy(ctx, ptrOf(c.x), ptrOf(y), c.view, c.s!);
  return true;
};

/** The bit pattern of `value` stored as `dtype` (an int32 store truncates, as the reference's does). */
function bitsOf(value: number, dtype: DType): number {
  const w = new Uint32Array(1);
  (dtype === 'int32' ? new Int32Array(w.buffer) : new Float32Array(w.buffer))[0] = value;
  return w[0];
}

/** y filled with the value, then x copied into its interior. */
const pad: CudaOp<'pad'> = (ctx, [x], [y], p) => {
  if (!words(x, y)) return false;
  const ys = stridesOf(y.shape);
  const view = placeInto(
    x.shape,
    p.pads.reduce((acc, [before], i) => acc + before * ys[i], 0),
    ys,
  );
  const s = stridedStruct(view);
  if (!s) return false;
  const n = sizeOf(y.shape);
  if (n > 0) ctx.driver.memset32(ptrOf(y), bitsOf(p.value, y.dtype), n);
  launchCopy(ctx, ptrOf(x), ptrOf(y), view, s);
  return true;
};

const cast: CudaOp<'cast'> = (ctx, [x], [y]) => {
  const n = sizeOf(y.shape);
  if (!words(x, y)) return false;
  if (x.dtype === y.dtype) {
    ctx.driver.copy(ptrOf(y), ptrOf(x), n * 4);
    return true;
  }
  const kernel = x.dtype === 'float32' ? 'cast_f32_i32' : 'cast_i32_f32';
  if (n > 0)
    ctx.launch('elementwise', kernel, elementGrid(n), [{ ptr: ptrOf(x) }, { ptr: ptrOf(y) }, { i64: n }]);
  return true;
};

export const MOVEMENT_OPS = { permute, slice, broadcastTo, concat, pad, cast };
