/**
 * conv3d and its two gradients on the device, as blocked im2col + GEMM (the native backend's plan,
 * c/kernels.c conv3d): the output rows (to, ho) of each batch item go in blocks whose column matrix
 * col [K, np] (K = Ci*KT*KH*KW, np = rows * Wo) stays under `convColFloats`, so device scratch is
 * bounded however large the frames are.
 *   forward: col = im2col(x[b], block); y[b][:, block] = w [Co, K] . col
 *   dx:      dcol = w^T . dy[b][:, block]; dx[b] += col2im(dcol) (a gather, one thread per input
 *            element: no atomics, the same sums in the same order on every run)
 *   dw:      dw = sum over blocks, in order, of dy[b][:, block] . col^T
 * The GEMM is the matmul op's (gemm.ts: cuBLASLt, else gemm_f32). A block that is not the whole
 * item is a strided [Co, np] slice of y or dy; it goes through a contiguous scratch block by the
 * strided copy of movement.cu (Co * np words, against the GEMM's Co * K * np multiply-adds).
 */
import { sizeOf } from '../../core/shape.js';
import type { TensorRef } from '../backend.js';
import { type ConvGeom, convGeom } from '../ref/kernels/conv.js';
import type { DevPtr } from './driver-types.js';
import { gemm } from './gemm.js';
import type { CudaContext } from './kernels.js';
import { stridedStruct } from './movement.js';
import { type CudaOp, elementGrid, ptrOf } from './op-types.js';

export const CONV_COL_FLOATS = 1 << 24;

/** Fields of conv.cu's ConvArgs, in order (all int). */
const FIELDS = 22;

/** The ConvArgs struct of conv.cu for the block of output rows [r0, r1) (and, for col2im, its input box). */
export function convArgs(
  g: ConvGeom,
  r0: number,
  r1: number,
  box: { ti0: number; nti: number; hi0: number; nhi: number } = { ti0: 0, nti: 0, hi0: 0, nhi: 0 },
): Uint8Array {
  const v = [
    ...[g.Ci, g.T, g.H, g.W, g.KT, g.KH, g.KW, g.To, g.Ho, g.Wo],
    ...[g.st, g.sh, g.sw, g.pt, g.ph, g.pw, r0, r1],
    ...[box.ti0, box.nti, box.hi0, box.nhi],
  ];
  if (v.length !== FIELDS || v.some((x) => !Number.isInteger(x) || x < 0 || x >= 2 ** 31))
    throw new Error(`conv3d: geometry ${v} does not fit ConvArgs`);
  return new Uint8Array(Int32Array.from(v).buffer);
}

/** Output rows per block: col [K, rows*Wo] and the output block [Co, rows*Wo] under colFloats, at least 1. */
export function convRowsPerBlock(g: ConvGeom, Co: number, colFloats: number): number {
  const K = g.Ci * g.KT * g.KH * g.KW;
  const per = Math.max(K, Co, 1) * Math.max(g.Wo, 1);
  return Math.max(1, Math.min(g.To * g.Ho, Math.floor(colFloats / per)));
}

/**
 * The input rows the output rows [r0, r1) read: time rows of the first to the last output frame,
 * and, when the block lies in one output frame, only the height rows its output rows reach.
 */
export function col2imBox(g: ConvGeom, r0: number, r1: number) {
  const toA = Math.floor(r0 / g.Ho);
  const toB = Math.floor((r1 - 1) / g.Ho);
  const ti0 = Math.max(0, toA * g.st - g.pt);
  const ti1 = Math.min(g.T, toB * g.st - g.pt + g.KT);
  let [hi0, hi1] = [0, g.H];
  if (toA === toB) {
    hi0 = Math.max(0, (r0 - toA * g.Ho) * g.sh - g.ph);
    hi1 = Math.min(g.H, (r1 - 1 - toA * g.Ho) * g.sh - g.ph + g.KH);
  }
  return { ti0, nti: Math.max(0, ti1 - ti0), hi0, nhi: Math.max(0, hi1 - hi0) };
}

/** A [rows, cols] copy between matrices with row strides xld and yld (movement.cu's strided copy). */
function copyRows(
  ctx: CudaContext,
  x: DevPtr,
  xld: number,
  y: DevPtr,
  yld: number,
  rows: number,
  cols: number,
) {
  const n = rows * cols;
  if (n === 0) return;
  const s = stridedStruct({ shape: [rows, cols], xs: [xld, 1], ys: [yld, 1], x0: 0, y0: 0 })!;
  ctx.launch('movement', 'strided_copy_32', elementGrid(n), [
    { ptr: x },
    { ptr: y },
    { i64: n },
    { bytes: s },
  ]);
}

const f32 = (...ts: TensorRef[]) => ts.every((t) => t.dtype === 'float32');

interface Blocks {
  g: ConvGeom;
  Co: number;
  K: number;
  P: number;
  /** Output rows per block. */
  rb: number;
  /** Runs f on every block of every batch item, in order. */
  each(f: (b: number, r0: number, r1: number, np: number) => void): void;
}

function blocks(g: ConvGeom, Co: number, colFloats: number): Blocks {
  const K = g.Ci * g.KT * g.KH * g.KW;
  const R = g.To * g.Ho;
  const rb = convRowsPerBlock(g, Co, colFloats);
  return {
    g,
    Co,
    K,
    P: R * g.Wo,
    rb,
    each(f) {
      for (let b = 0; b < g.B; b++)
        for (let r0 = 0; r0 < R; r0 += rb) {
          const r1 = Math.min(R, r0 + rb);
          f(b, r0, r1, (r1 - r0) * g.Wo);
        }
    },
  };
}

function im2col(ctx: CudaContext, x: DevPtr, col: DevPtr, c: Blocks, r0: number, r1: number, np: number) {
  ctx.launch('conv', 'conv_im2col', elementGrid(c.K * np), [
    { ptr: x },
    { ptr: col },
    { i64: c.K * np },
    { bytes: convArgs(c.g, r0, r1) },
  ]);
}

/** Scratch buffers of the listed sizes (floats), released after the device is done with them. */
function withScratch(ctx: CudaContext, floats: number[], f: (ps: DevPtr[]) => void) {
  const ps = floats.map((n) => ctx.temp(Math.max(4, n * 4)));
  try {
    f(ps);
  } finally {
    ctx.driver.sync(); // the scratch is read until here
    for (const p of ps) ctx.release(p);
  }
}

const conv3d: CudaOp<'conv3d'> = (ctx, [x, w], [y], p, o) => {
  if (!f32(x, w, y)) return false;
  const c = blocks(
    convGeom(x.shape, w.shape, p.stride, p.padding),
    w.shape[0],
    o.convColFloats ?? CONV_COL_FLOATS,
  );
  const { g, Co, K, P } = c;
  if (g.B * Co * P === 0) return true;
  if (K === 0) {
    ctx.driver.memset(ptrOf(y), 0, g.B * Co * P * 4);
    return true;
  }
  const whole = c.rb * g.Wo === P; // one block per item: the GEMM writes y directly
  const xItem = g.Ci * g.T * g.H * g.W;
  withScratch(ctx, [K * c.rb * g.Wo, whole ? 0 : Co * c.rb * g.Wo], ([col, yb]) =>
    c.each((b, r0, r1, np) => {
      im2col(ctx, ptrOf(x) + 4 * b * xItem, col, c, r0, r1, np);
      const yAt = ptrOf(y) + 4 * (b * Co * P + r0 * g.Wo);
      gemm(ctx, {
        a: ptrOf(w),
        b: col,
        c: whole ? yAt : yb,
        m: Co,
        n: np,
        k: K,
        transA: false,
        transB: false,
      });
      if (!whole) copyRows(ctx, yb, np, yAt, P, Co, np);
    }),
  );
  return true;
};

const conv3dBackwardInput: CudaOp<'conv3dBackwardInput'> = (ctx, [dy, w], [dx], p, o) => {
  if (!f32(dy, w, dx)) return false;
  const c = blocks(
    convGeom(dx.shape, w.shape, p.stride, p.padding),
    w.shape[0],
    o.convColFloats ?? CONV_COL_FLOATS,
  );
  const { g, Co, K, P } = c;
  const xItem = g.Ci * g.T * g.H * g.W;
  if (g.B * xItem > 0) ctx.driver.memset(ptrOf(dx), 0, g.B * xItem * 4);
  if (g.B * xItem === 0 || P === 0 || Co === 0) return true;
  const whole = c.rb * g.Wo === P;
  withScratch(ctx, [K * c.rb * g.Wo, whole ? 0 : Co * c.rb * g.Wo], ([col, dyb]) =>
    c.each((b, r0, r1, np) => {
      const dyAt = ptrOf(dy) + 4 * (b * Co * P + r0 * g.Wo);
      if (!whole) copyRows(ctx, dyAt, P, dyb, np, Co, np);
      gemm(ctx, {
        a: ptrOf(w),
        b: whole ? dyAt : dyb,
        c: col,
        m: K,
        n: np,
        k: Co,
        transA: true,
        transB: false,
      });
      const box = col2imBox(g, r0, r1);
      const n = g.Ci * box.nti * box.nhi * g.W;
      if (n > 0)
        ctx.launch('conv', 'conv_col2im', elementGrid(n), [
          { ptr: col },
          { ptr: ptrOf(dx) + 4 * b * xItem },
          { i64: n },
          { bytes: convArgs(g, r0, r1, box) },
        ]);
    }),
  );
  return true;
};

const conv3dBackwardWeight: CudaOp<'conv3dBackwardWeight'> = (ctx, [dy, x], [dw], p, o) => {
  if (!f32(dy, x, dw)) return false;
  const c = blocks(
    convGeom(x.shape, dw.shape, p.stride, p.padding),
    dw.shape[0],
    o.convColFloats ?? CONV_COL_FLOATS,
  );
  const { g, Co, K, P } = c;
  const size = sizeOf(dw.shape);
  if (size === 0) return true;
  if (g.B * P === 0) {
    ctx.driver.memset(ptrOf(dw), 0, size * 4);
    return true;
  }
  const whole = c.rb * g.Wo === P;
  const many = g.B > 1 || !whole; // more than one block: partial sums added into dw in order
  const xItem = g.Ci * g.T * g.H * g.W;
  withScratch(ctx, [K * c.rb * g.Wo, whole ? 0 : Co * c.rb * g.Wo, many ? size : 0], ([col, dyb, part]) => {
    let first = true;
    c.each((b, r0, r1, np) => {
      im2col(ctx, ptrOf(x) + 4 * b * xItem, col, c, r0, r1, np);
      const dyAt = ptrOf(dy) + 4 * (b * Co * P + r0 * g.Wo);
      if (!whole) copyRows(ctx, dyAt, P, dyb, np, Co, np);
      const out = first ? ptrOf(dw) : part;
      gemm(ctx, { a: whole ? dyAt : dyb, b: col, c: out, m: Co, n: K, k: np, transA: false, transB: true });
      if (!first)
        ctx.launch('conv', 'conv_add_into', elementGrid(size), [
          { ptr: part },
          { ptr: ptrOf(dw) },
          { i64: size },
        ]);
      first = false;
    });
  });
  return true;
};

export const CONV_OPS = { conv3d, conv3dBackwardInput, conv3dBackwardWeight };
