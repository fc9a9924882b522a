/**
 * The native kernel table: ops listed here run in the C library (c/kernels.c); the rest, and cases
 * a kernel declines (int32 data, unusual broadcasts), run the `ref` kernel on the same typed arrays.
 * Each entry shapes the arguments (strides, plan arrays, broadcast modes) and makes one FFI call.
 */

import { validatePlan } from '../../core/attention-plan.js';
import {
  BINARY_OPS,
  type BinaryOp,
  elementwiseTable,
  type OpName,
  type OpParams,
  UNARY_OPS,
  type UnaryOp,
} from '../../core/op-spec.js';
import { type Shape, sizeOf, stridesOf } from '../../core/shape.js';
import type { Storage, TensorRef } from '../backend.js';
import { binaryMode, checkRowIndices, gemmArgs, reduceSplit } from '../kernel-args.js';
import { type ConvGeom, convGeom } from '../ref/kernels/conv.js';
import { broadcastStrides } from '../ref/kernels/strided.js';
import type { NativeLib } from './lib.js';

export interface NativeStorage extends Storage {
  /** Plain typed-array storage: koffi passes it to C by reference, and `ref` reads it directly. */
  readonly array: Float32Array | Int32Array;
  /** A recycled array not yet zeroed or overwritten (index.ts zeroes it before anything reads it). */
  dirty: boolean;
}

/** A native kernel: returns false when this case has no native path (the backend then runs `ref`). */
export type NativeKernel<K extends OpName> = (
  lib: NativeLib,
  ins: readonly TensorRef[],
  outs: readonly TensorRef[],
  p: OpParams[K],
) => boolean;

const arr = (t: TensorRef) => (t.storage as NativeStorage).array;
const f32 = (t: TensorRef) => t.dtype === 'float32';

/** A C entry point's status: 0 done, else it could not allocate its scratch. */
function done(status: number, op: OpName): true {
  if (status !== 0) throw new Error(`native ${op}: out of memory`);
  return true;
}

const matmul: NativeKernel<'matmul'> = (lib, [a, b], [y], { transA, transB }) => {
  if (!f32(a) || !f32(b)) return false;
  const g = gemmArgs(a.shape, b.shape, y.shape, transA, transB);
  if (g) lib.gemm(g.nb, g.offsets, g.m, g.n, g.k, arr(a), g.ars, g.acs, arr(b), g.brs, g.bcs, arr(y));
  return true;
};

const groupedAttention: NativeKernel<'groupedAttention'> = (lib, [q, k, v], [out, lse], p) => {
  if (![q, k, v].every(f32)) return false;
  const [nq, H, D] = q.shape;
  validatePlan(p, nq, k.shape[0]);
  const segs = p.qOffsets.length - 1;
  // The kernel writes every row of a segment with keys; the others (rows in no segment, or in a
  // segment without keys) are set here. The plan has each row at most once, so a count suffices.
  let written = 0;
  for (let s = 0; s < segs; s++)
    if (p.kvOffsets[s + 1] > p.kvOffsets[s]) written += p.qOffsets[s + 1] - p.qOffsets[s];
  if (written < nq) {
    arr(out).fill(0);
    arr(lse).fill(Number.NEGATIVE_INFINITY);
  }
  if (sizeOf(q.shape) === 0) return true;
  lib.attnFwd(
    p.qIndex,
    p.qOffsets,
    p.kvIndex,
    p.kvOffsets,
    segs,
    H,
    D,
    p.scale,
    arr(q),
    arr(k),
    arr(v),
    arr(out),
    arr(lse),
  );
  return true;
};

const groupedAttentionBackward: NativeKernel<'groupedAttentionBackward'> = (
  lib,
  [dOut, q, k, v, out, lse],
  [dq, dk, dv],
  p,
) => {
  if (![dOut, q, k, v, out, lse].every(f32)) return false;
  const [nq, H, D] = q.shape;
  const nk = k.shape[0];
  validatePlan(p, nq, nk);
  for (const t of [dq, dk, dv]) arr(t).fill(0);
  if (sizeOf(q.shape) === 0) return true;
  const segs = p.qOffsets.length - 1;
  return done(
    lib.attnBwd(
      p.qIndex,
      p.qOffsets,
      p.kvIndex,
      p.kvOffsets,
      segs,
      nk,
      H,
      D,
      p.scale,
      ...[dOut, q, k, v, out, lse, dq, dk, dv].map(arr),
    ),
    'groupedAttentionBackward',
  );
};

const layerNorm: NativeKernel<'layerNorm'> = (lib, [x, w, b], [y, mean, rstd], { eps }) => {
  if (![x, w, b].every(f32)) return false;
  const d = sizeOf(w.shape);
  lib.layerNorm(arr(x), arr(w), arr(b), arr(y), arr(mean), arr(rstd), sizeOf(mean.shape), d, eps);
  return true;
};

const layerNormBackward: NativeKernel<'layerNormBackward'> = (lib, [dy, x, w, mean, rstd], [dx, dw, db]) => {
  if (![dy, x, w, mean, rstd].every(f32)) return false;
  return done(
    lib.layerNormBwd(...[dy, x, w, mean, rstd, dx, dw, db].map(arr), sizeOf(mean.shape), sizeOf(w.shape)),
    'layerNormBackward',
  );
};

const rmsNorm: NativeKernel<'rmsNorm'> = (lib, [x, w], [y, rstd], { eps }) => {
  if (![x, w].every(f32)) return false;
  lib.rmsNorm(arr(x), arr(w), arr(y), arr(rstd), sizeOf(rstd.shape), sizeOf(w.shape), eps);
  return true;
};

const rmsNormBackward: NativeKernel<'rmsNormBackward'> = (lib, [dy, x, w, rstd], [dx, dw]) => {
  if (![dy, x, w, rstd].every(f32)) return false;
  const status = lib.rmsNormBwd(...[dy, x, w, rstd, dx, dw].map(arr), sizeOf(rstd.shape), sizeOf(w.shape));
  return done(status, 'rmsNormBackward');
};

/** Op codes: the index in op-spec's lists, mirrored by the enums in c/kernels.c. */
const UNARY_CODE = Object.fromEntries(UNARY_OPS.map((op, i) => [op, i])) as Record<UnaryOp, number>;
const BINARY_CODE = Object.fromEntries(BINARY_OPS.map((op, i) => [op, i])) as Record<BinaryOp, number>;

function unary(op: UnaryOp): NativeKernel<UnaryOp> {
  const code = UNARY_CODE[op];
  return (lib, [x], [y]) => {
    if (!f32(x)) return false;
    lib.unary(code, arr(x), arr(y), sizeOf(y.shape));
    return true;
  };
}

function binary(op: BinaryOp): NativeKernel<BinaryOp> {
  const code = BINARY_CODE[op];
  return (lib, [a, b], [y]) => {
    if (!f32(a) || !f32(b)) return false;
    const n = sizeOf(y.shape);
    if (n === 0) return true;
    const bm = binaryMode(a.shape, b.shape, y.shape);
    if (!bm) return general(lib, code, a, b, y);
    lib.binary(code, arr(a), arr(b), arr(y), n, bm.mode, bm.inner);
    return true;
  };
}

/** Any broadcast: the op over `y`'s (coalesced) index space, a and b read through broadcast strides. */
function general(lib: NativeLib, code: number, a: TensorRef, b: TensorRef, y: TensorRef): boolean {
  const [shape, [as, bs]] = coalesce(y.shape, [
    broadcastStrides(a.shape, y.shape),
    broadcastStrides(b.shape, y.shape),
  ]);
  if (shape.length > MAX_RANK) return false;
  lib.binaryStrided(
    code,
    arr(a),
    arr(b),
    arr(y),
    shape.length,
    Int32Array.from(shape),
    Int32Array.from(as),
    Int32Array.from(bs),
  );
  return true;
}

const MAX_RANK = 16; // c/pool.c

/**
 * Drops size-1 axes and merges adjacent axes that are contiguous in every stride set (so the
 * common cases become a few long rows); returns the shape and strides, at least one axis.
 */
function coalesce(shape: Shape, strides: readonly (readonly number[])[]): [number[], number[][]] {
  const dims: number[] = [];
  const ss: number[][] = strides.map(() => []);
  shape.forEach((d, i) => {
    if (d === 1) return;
    const last = dims.length - 1;
    if (last >= 0 && strides.every((s, k) => ss[k][last] === s[i] * d)) {
      dims[last] *= d;
      strides.forEach((s, k) => {
        ss[k][last] = s[i];
      });
    } else {
      dims.push(d);
      strides.forEach((s, k) => ss[k].push(s[i]));
    }
  });
  if (dims.length === 0) return [[1], ss.map(() => [1])];
  return [dims, ss];
}

/** Copies the elements of `shape` from x (offset xo, strides xs) to y (offset yo, strides ys). */
function stridedCopy(
  lib: NativeLib,
  x: TensorRef,
  xo: number,
  y: TensorRef,
  yo: number,
  shape: Shape,
  xs: readonly number[],
  ys: readonly number[],
): boolean {
  if (sizeOf(shape) === 0) return true;
  const [dims, [sx, sy]] = coalesce(shape, [xs, ys]);
  if (dims.length > MAX_RANK) return false;
  lib.stridedCopy(
    arr(x),
    xo,
    arr(y),
    yo,
    dims.length,
    Int32Array.from(dims),
    Int32Array.from(sx),
    Int32Array.from(sy),
  );
  return true;
}

const permute: NativeKernel<'permute'> = (lib, [x], [y], p) => {
  const s = stridesOf(x.shape);
  return stridedCopy(
    lib,
    x,
    0,
    y,
    0,
    y.shape,
    p.perm.map((a) => s[a]),
    stridesOf(y.shape),
  );
};

const slice: NativeKernel<'slice'> = (lib, [x], [y], p) => {
  const s = stridesOf(x.shape);
  const base = p.starts.reduce((acc, st, i) => acc + st * s[i], 0);
  return stridedCopy(lib, x, base, y, 0, y.shape, s, stridesOf(y.shape));
};

const broadcastTo: NativeKernel<'broadcastTo'> = (lib, [x], [y]) =>
  stridedCopy(lib, x, 0, y, 0, y.shape, broadcastStrides(x.shape, y.shape), stridesOf(y.shape));

const pad: NativeKernel<'pad'> = (lib, [x], [y], p) => {
  arr(y).fill(p.value);
  const s = stridesOf(y.shape);
  const base = p.pads.reduce((acc, [before], i) => acc + before * s[i], 0);
  return stridedCopy(lib, x, 0, y, base, x.shape, stridesOf(x.shape), s);
};

const concat: NativeKernel<'concat'> = (lib, ins, [y], p) => {
  const s = stridesOf(y.shape);
  if (ins.some((x) => x.shape.length > MAX_RANK)) return false;
  let at = 0;
  for (const x of ins) {
    stridedCopy(lib, x, 0, y, at * s[p.axis], x.shape, stridesOf(x.shape), s);
    at += x.shape[p.axis];
  }
  return true;
};

const reshape: NativeKernel<'reshape'> = (_lib, [x], [y]) => {
  arr(y).set(arr(x).subarray(0, sizeOf(y.shape)));
  return true;
};

function reduce(code: number): NativeKernel<'sum' | 'max'> {
  return (lib, [x], [y], p) => {
    if (!f32(x) || sizeOf(x.shape) === 0) return false;
    const split = reduceSplit(x.shape, p.axes);
    if (!split) return false;
    lib.reduce(code, arr(x), arr(y), ...split);
    return true;
  };
}

/** The geometry in c/kernels.c's conv_geom order. */
const geomArray = (g: ConvGeom) =>
  Int32Array.of(
    g.B,
    g.Ci,
    g.Co,
    g.T,
    g.H,
    g.W,
    g.KT,
    g.KH,
    g.KW,
    g.To,
    g.Ho,
    g.Wo,
    g.st,
    g.sh,
    g.sw,
    g.pt,
    g.ph,
    g.pw,
  );

const conv3d: NativeKernel<'conv3d'> = (lib, [x, w], [y], { stride, padding }) => {
  if (!f32(x) || !f32(w)) return false;
  const g = convGeom(x.shape, w.shape, stride, padding);
  return done(lib.conv3d(geomArray(g), arr(x), arr(w), arr(y)), 'conv3d');
};

const conv3dBackwardInput: NativeKernel<'conv3dBackwardInput'> = (
  lib,
  [dy, w],
  [dx],
  { stride, padding },
) => {
  if (!f32(dy) || !f32(w)) return false;
  const g = convGeom(dx.shape, w.shape, stride, padding);
  return done(lib.conv3dBwdInput(geomArray(g), arr(dy), arr(w), arr(dx)), 'conv3dBackwardInput');
};

const conv3dBackwardWeight: NativeKernel<'conv3dBackwardWeight'> = (
  lib,
  [dy, x],
  [dw],
  { stride, padding },
) => {
  if (!f32(dy) || !f32(x)) return false;
  const g = convGeom(x.shape, dw.shape, stride, padding);
  return done(lib.conv3dBwdWeight(geomArray(g), arr(dy), arr(x), arr(dw)), 'conv3dBackwardWeight');
};

const gatherRows: NativeKernel<'gatherRows'> = (lib, [x, idx], [y]) => {
  const rows = x.shape[0];
  checkRowIndices(arr(idx), rows, 'gatherRows');
  const m = idx.shape[0];
  const w = rows === 0 ? 0 : sizeOf(x.shape) / rows;
  if (m > 0 && w > 0) lib.gatherRows(arr(x), arr(idx), arr(y), m, w);
  return true;
};

const scatterAddRows: NativeKernel<'scatterAddRows'> = (lib, [src, idx], [y], p) => {
  if (!f32(src)) return false;
  checkRowIndices(arr(idx), p.rows, 'scatterAddRows');
  const w = p.rows === 0 ? 0 : sizeOf(y.shape) / p.rows;
  if (sizeOf(y.shape) > 0) lib.scatterAddRows(arr(src), arr(idx), arr(y), idx.shape[0], w, p.rows);
  return true;
};

const argmax: NativeKernel<'argmax'> = (lib, [x], [y], { axis }) => {
  const ax = axis < 0 ? axis + x.shape.length : axis;
  if (!f32(x) || x.shape[ax] === 0) return false;
  const outer = sizeOf(x.shape.slice(0, ax));
  const inner = sizeOf(x.shape.slice(ax + 1));
  if (outer * inner > 0) lib.argmax(arr(x), arr(y), outer, x.shape[ax], inner);
  return true;
};

export const NATIVE_KERNELS: { [K in OpName]?: NativeKernel<K> } = {
  ...elementwiseTable(unary, binary),
  sum: reduce(0),
  max: reduce(1),
  permute,
  slice,
  broadcastTo,
  pad,
  concat,
  reshape,
  matmul,
  layerNorm,
  layerNormBackward,
  rmsNorm,
  rmsNormBackward,
  groupedAttention,
  groupedAttentionBackward,
  conv3d,
  conv3dBackwardInput,
  conv3dBackwardWeight,
  gatherRows,
  scatterAddRows,
  argmax,
};
