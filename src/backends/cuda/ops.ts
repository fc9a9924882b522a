/**
 * The ops the CUDA backend runs on the device: elementwise (with broadcasting; binary ops and where
 * on float32 and int32), reductions over any axes, argmax, norms forward and backward, row
 * gather/scatter, matmul (gemm.ts), conv3d and its gradients (conv.ts), and the movement ops of
 * movement.ts. Each returns false when it does not cover the case (dtype, layout), and the backend
 * then runs the reference kernel on downloaded copies.
 */

import { BINARY_OPS, type BinaryOp, type OpName, UNARY_OPS, type UnaryOp } from '../../core/op-spec.js';
import { normAxes, type Shape, sizeOf, stridesOf } from '../../core/shape.js';
import type { TensorRef } from '../backend.js';
import { groupedAttentionBackwardOp, groupedAttentionOp } from './attention-op.js';
import { CONV_OPS } from './conv.js';
import type { DevPtr, KernelArg } from './driver-types.js';
import { gemm } from './gemm.js';
import { type CudaContext, grid1d } from './kernels.js';
import { MOVEMENT_OPS, stridedStruct } from './movement.js';
import { type CudaOp, elementGrid, ptrOf } from './op-types.js';

const MAXRANK = 6;
const f32 = (...ts: TensorRef[]) => ts.every((t) => t.dtype === 'float32');

/** The Bcast struct of elementwise.cu: rank, out shape, and each input's strides (0 = broadcast). */
export function broadcastStruct(out: Shape, inputs: readonly Shape[]): Uint8Array | undefined {
  if (out.length > MAXRANK || inputs.length > 3) return undefined;
  const b = new Uint8Array(8 + 8 * MAXRANK * 4);
  const v = new DataView(b.buffer);
  v.setInt32(0, out.length, true);
  const r = out.length;
  out.forEach((d, i) => v.setBigInt64(8 + 8 * i, BigInt(d), true));
  inputs.forEach((s, k) => {
    const st = stridesOf(s);
    for (let i = 0; i < r; i++) {
      const j = i - (r - s.length); // right-aligned dimension of the input
      const stride = j < 0 || s[j] === 1 ? 0 : st[j];
      v.setBigInt64(8 + 8 * MAXRANK * (k + 1) + 8 * i, BigInt(stride), true);
    }
  });
  return b;
}

const unary =
  (op: UnaryOp): CudaOp<UnaryOp> =>
  (ctx, [x], [y]) => {
    if (!f32(x, y)) return false;
    const n = sizeOf(y.shape);
    if (n > 0)
      ctx.launch('elementwise', 'unary_f32', elementGrid(n), [
        { ptr: ptrOf(x) },
        { ptr: ptrOf(y) },
        { i64: n },
        { i32: UNARY_OPS.indexOf(op) },
      ]);
    return true;
  };

/** int32 ops of binary_i32 / compare_i32 (pow stays on the host: see elementwise.cu). */
const I32_OPS: readonly BinaryOp[] = ['add', 'sub', 'mul', 'div', 'maximum', 'greater', 'equal'];

const binary =
  (op: BinaryOp): CudaOp<BinaryOp> =>
  (ctx, [a, b], [y]) => {
    const i32 = a.dtype === 'int32' && b.dtype === 'int32';
    if (!f32(a, b, y) && !(i32 && I32_OPS.includes(op))) return false;
    const s = broadcastStruct(y.shape, [a.shape, b.shape]);
    if (!s) return false;
    const kernel = !i32 ? 'binary_f32' : y.dtype === 'int32' ? 'binary_i32' : 'compare_i32';
    const n = sizeOf(y.shape);
    if (n > 0)
      ctx.launch('elementwise', kernel, elementGrid(n), [
        { ptr: ptrOf(a) },
        { ptr: ptrOf(b) },
        { ptr: ptrOf(y) },
        { i64: n },
        { i32: BINARY_OPS.indexOf(op) },
        { bytes: s },
      ]);
    return true;
  };

/** Any mix of float32 and int32: the values move as 32-bit words. */
const where: CudaOp<'where'> = (ctx, [c, a, b], [y]) => {
  const w32 = (t: TensorRef) => t.dtype === 'float32' || t.dtype === 'int32';
  if (![c, a, b, y].every(w32)) return false;
  const s = broadcastStruct(y.shape, [c.shape, a.shape, b.shape]);
  if (!s) return false;
  const n = sizeOf(y.shape);
  if (n > 0)
    ctx.launch('elementwise', 'where_32', elementGrid(n), [
      { ptr: ptrOf(c) },
      { ptr: ptrOf(a) },
      { ptr: ptrOf(b) },
      { ptr: ptrOf(y) },
      { i64: n },
      { i32: c.dtype === 'int32' ? 1 : 0 },
      { bytes: s },
    ]);
  return true;
};

/**
 * sum/max over any axes: reduce_rows over rows = kept product, cols = reduced product; reduced
 * axes that are not trailing are first moved last by a strided copy into a scratch buffer.
 */
const reduce =
  (which: 0 | 1): CudaOp<'sum' | 'max'> =>
  (ctx, [x], [y], p) => {
    if (!f32(x, y)) return false;
    const r = x.shape.length;
    const axes = normAxes(p.axes, r);
    const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const cols = sizeOf(axes.map((a) => x.shape[a]));
    const rows = sizeOf(kept.map((a) => x.shape[a]));
    if (rows === 0) return true;
    if (cols === 0) {
      // an empty reduction: 0 for sum, and for max what the reference leaves (its zero-filled output)
      ctx.driver.memset(ptrOf(y), 0, rows * 4);
      return true;
    }
    if (rows > 2 ** 31 - 1) return false;
    const launch = (src: DevPtr) =>
      ctx.launch('rows', 'reduce_rows', { grid: [rows, 1, 1], block: [256, 1, 1], shared: 0 }, [
        { ptr: src },
        { ptr: ptrOf(y) },
        { i64: cols },
        { i32: which },
      ]);
    if (axes.every((a, i) => a === r - axes.length + i)) {
      launch(ptrOf(x));
      return true;
    }
    const st = stridesOf(x.shape);
    const perm = [...kept, ...axes];
    const shape = perm.map((a) => x.shape[a]);
    const s = stridedStruct({ shape, xs: perm.map((a) => st[a]), ys: stridesOf(shape), x0: 0, y0: 0 });
    if (!s) return false;
    const tmp = ctx.temp(rows * cols * 4);
    ctx.launch('movement', 'strided_copy_32', elementGrid(rows * cols), [
      { ptr: ptrOf(x) },
      { ptr: tmp },
      { i64: rows * cols },
      { bytes: s },
    ]);
    launch(tmp);
    ctx.driver.sync(); // the scratch is read until here
    ctx.release(tmp);
    return true;
  };

/** Index of the first maximum along one axis, x seen as [outer, n, inner]; one thread per output. */
const argmax: CudaOp<'argmax'> = (ctx, [x], [y], p) => {
  if (x.dtype !== 'float32' || y.dtype !== 'int32') return false;
  const axis = normAxes(p.axis, x.shape.length)[0];
  const n = x.shape[axis];
  const outer = sizeOf(x.shape.slice(0, axis));
  const inner = sizeOf(x.shape.slice(axis + 1));
  if (n > 2 ** 31 - 1) return false;
  if (outer * inner > 0)
    ctx.launch('rows', 'argmax_axis', elementGrid(outer * inner), [
      { ptr: ptrOf(x) },
      { ptr: ptrOf(y) },
      { i64: outer },
      { i32: n },
      { i64: inner },
    ]);
  return true;
};

const rowsOf = (x: TensorRef) => sizeOf(x.shape.slice(0, -1));

const rmsNorm: CudaOp<'rmsNorm'> = (ctx, [x, w], [y, rstd], p) => {
  if (!f32(x, w, y, rstd) || rowsOf(x) > 2 ** 31 - 1) return false;
  const rows = rowsOf(x);
  if (rows > 0)
    ctx.launch('rows', 'rms_norm_rows', { grid: [rows, 1, 1], block: [256, 1, 1], shared: 0 }, [
      { ptr: ptrOf(x) },
      { ptr: ptrOf(w) },
      { ptr: ptrOf(y) },
      { ptr: ptrOf(rstd) },
      { i32: x.shape[x.shape.length - 1] },
      { f32: p.eps },
    ]);
  return true;
};

const layerNorm: CudaOp<'layerNorm'> = (ctx, [x, w, b], [y, mean, rstd], p) => {
  if (!f32(x, w, b, y, mean, rstd) || rowsOf(x) > 2 ** 31 - 1) return false;
  const rows = rowsOf(x);
  if (rows > 0)
    ctx.launch('rows', 'layer_norm_rows', { grid: [rows, 1, 1], block: [256, 1, 1], shared: 0 }, [
      { ptr: ptrOf(x) },
      { ptr: ptrOf(w) },
      { ptr: ptrOf(b) },
      { ptr: ptrOf(y) },
      { ptr: ptrOf(mean) },
      { ptr: ptrOf(rstd) },
      { i32: x.shape[x.shape.length - 1] },
      { f32: p.eps },
    ]);
  return true;
};

/**
 * dweight (and dbias) of a norm: column sums over the rows of dy * xh (and dy), in two passes so
 * that every chunk of rows runs in parallel and the order of the sums is fixed (deterministic).
 */
function normParamGrads(
  ctx: CudaContext,
  t: { dy: TensorRef; x: TensorRef; mean?: TensorRef; rstd: TensorRef; dw: TensorRef; db?: TensorRef },
  rows: number,
  cols: number,
) {
  const { mean, dw, db } = t;
  if (rows === 0) {
    for (const g of [dw, db]) if (g) ctx.driver.memset(ptrOf(g), 0, cols * 4);
    return;
  }
  const chunk = Math.ceil(rows / Math.min(Math.ceil(rows / 64), 1024));
  const chunks = Math.ceil(rows / chunk);
  const pw = ctx.temp(chunks * cols * 4);
  const pb = db ? ctx.temp(chunks * cols * 4) : 0;
  ctx.launch(
    'rows',
    'norm_bwd_partials',
    { grid: [Math.ceil(cols / 32), chunks, 1], block: [32, 8, 1], shared: 0 },
    [
      { ptr: ptrOf(t.dy) },
      { ptr: ptrOf(t.x) },
      { ptr: mean ? ptrOf(mean) : 0 },
      { ptr: ptrOf(t.rstd) },
      { ptr: pw },
      { ptr: pb },
      { i64: rows },
      { i32: cols },
      { i32: chunk },
    ],
  );
  for (const [part, out] of [
    [pw, dw],
    [pb, db],
  ] as const)
    if (out)
      ctx.launch('rows', 'sum_cols', grid1d(cols), [
        { ptr: part },
        { ptr: ptrOf(out) },
        { i32: chunks },
        { i32: cols },
      ]);
  ctx.driver.sync(); // the partials are read until here
  ctx.release(pw);
  if (pb) ctx.release(pb);
}

const layerNormBackward: CudaOp<'layerNormBackward'> = (ctx, [dy, x, w, mean, rstd], [dx, dw, db]) => {
  if (!f32(dy, x, w, mean, rstd, dx, dw, db) || rowsOf(x) > 2 ** 31 - 1) return false;
  const rows = rowsOf(x);
  const cols = x.shape[x.shape.length - 1];
  if (cols === 0) return true;
  if (rows > 0)
    ctx.launch('rows', 'layer_norm_bwd_rows', { grid: [rows, 1, 1], block: [256, 1, 1], shared: 0 }, [
      { ptr: ptrOf(dy) },
      { ptr: ptrOf(x) },
      { ptr: ptrOf(w) },
      { ptr: ptrOf(mean) },
      { ptr: ptrOf(rstd) },
      { ptr: ptrOf(dx) },
      { i32: cols },
    ]);
  normParamGrads(ctx, { dy, x, mean, rstd, dw, db }, rows, cols);
  return true;
};

const rmsNormBackward: CudaOp<'rmsNormBackward'> = (ctx, [dy, x, w, rstd], [dx, dw]) => {
  if (!f32(dy, x, w, rstd, dx, dw) || rowsOf(x) > 2 ** 31 - 1) return false;
  const rows = rowsOf(x);
  const cols = x.shape[x.shape.length - 1];
  if (cols === 0) return true;
  if (rows > 0)
    ctx.launch('rows', 'rms_norm_bwd_rows', { grid: [rows, 1, 1], block: [256, 1, 1], shared: 0 }, [
      { ptr: ptrOf(dy) },
      { ptr: ptrOf(x) },
      { ptr: ptrOf(w) },
      { ptr: ptrOf(rstd) },
      { ptr: ptrOf(dx) },
      { i32: cols },
    ]);
  normParamGrads(ctx, { dy, x, rstd, dw }, rows, cols);
  return true;
};

/** Runs a row kernel that flags bad indices, then reports them as the reference would. */
function indexed(
  ctx: CudaContext,
  kernel: string,
  op: string,
  args: KernelArg[],
  count: number,
  rows: number,
  idx: TensorRef,
) {
  const bad = ctx.temp(4);
  ctx.driver.memset(bad, 0, 4);
  ctx.launch('rows', kernel, { grid: [count, 1, 1], block: [256, 1, 1], shared: 0 }, [...args, { ptr: bad }]);
  const flag = new Int32Array(1);
  ctx.driver.download(flag, bad);
  ctx.release(bad);
  if (flag[0]) {
    const ids = new Int32Array(count);
    ctx.driver.download(ids, ptrOf(idx));
    const at = ids.findIndex((i) => !(i >= 0 && i < rows));
    throw new Error(`${op}: index ${ids[at]} at position ${at} is out of range [0, ${rows})`);
  }
}

const gatherRows: CudaOp<'gatherRows'> = (ctx, [x, idx], [y]) => {
  if (!f32(x, y) || idx.dtype !== 'int32') return false;
  const count = sizeOf(idx.shape),
    rows = x.shape[0];
  const cols = rows === 0 ? 0 : sizeOf(x.shape) / rows;
  if (count === 0) return true;
  indexed(
    ctx,
    'gather_rows_f32',
    'gatherRows',
    [{ ptr: ptrOf(x) }, { ptr: ptrOf(idx) }, { ptr: ptrOf(y) }, { i32: rows }, { i64: cols }],
    count,
    rows,
    idx,
  );
  return true;
};

const scatterAddRows: CudaOp<'scatterAddRows'> = (ctx, [src, idx], [y], p) => {
  if (!f32(src, y) || idx.dtype !== 'int32') return false;
  const count = sizeOf(idx.shape);
  const cols = p.rows === 0 ? 0 : sizeOf(y.shape) / p.rows;
  ctx.driver.memset(ptrOf(y), 0, sizeOf(y.shape) * 4);
  if (count === 0) return true;
  indexed(
    ctx,
    'scatter_add_rows_f32',
    'scatterAddRows',
    [{ ptr: ptrOf(src) }, { ptr: ptrOf(idx) }, { ptr: ptrOf(y) }, { i32: p.rows }, { i64: cols }],
    count,
    p.rows,
    idx,
  );
  return true;
};

/** Batched matmul when each operand's batch is either the output's or a single matrix. */
const matmul: CudaOp<'matmul'> = (ctx, [a, b], [y], p) => {
  if (!f32(a, b, y) || a.shape.length < 2 || b.shape.length < 2) return false;
  const [m, n] = y.shape.slice(-2);
  const k = p.transA ? a.shape[a.shape.length - 2] : a.shape[a.shape.length - 1];
  const batch = sizeOf(y.shape.slice(0, -2));
  const ba = sizeOf(a.shape.slice(0, -2)),
    bb = sizeOf(b.shape.slice(0, -2));
  if ((ba !== batch && ba !== 1) || (bb !== batch && bb !== 1) || batch > 65535) return false;
  if (batch * m * n === 0) return true;
  if (k === 0) {
    ctx.driver.memset(ptrOf(y), 0, batch * m * n * 4);
    return true;
  }
  gemm(ctx, {
    a: ptrOf(a),
    b: ptrOf(b),
    c: ptrOf(y),
    m,
    n,
    k,
    transA: p.transA,
    transB: p.transB,
    batch,
    strideA: ba === 1 ? 0 : m * k,
    strideB: bb === 1 ? 0 : k * n,
  });
  return true;
};

const copy: CudaOp<'reshape'> = (ctx, [x], [y]) => {
  ctx.driver.copy(ptrOf(y), ptrOf(x), sizeOf(y.shape) * 4);
  return true;
};

/** Which GEMM the matmul op uses on this context. */
export function gemmPath(ctx: CudaContext): string {
  return ctx.gemm ? ctx.gemm.name : `own gemm_f32 kernel (${ctx.gemmMissing ?? 'cuBLASLt not probed'})`;
}

export const CUDA_OPS: { [K in OpName]?: CudaOp<K> } = {
  ...Object.fromEntries(UNARY_OPS.map((op) => [op, unary(op)])),
  ...Object.fromEntries(BINARY_OPS.map((op) => [op, binary(op)])),
  where,
  sum: reduce(0),
  max: reduce(1),
  argmax,
  reshape: copy,
  ...MOVEMENT_OPS,
  matmul,
  gatherRows,
  scatterAddRows,
  rmsNorm,
  rmsNormBackward,
  layerNorm,
  layerNormBackward,
  groupedAttention: groupedAttentionOp,
  groupedAttentionBackward: groupedAttentionBackwardOp,
  ...CONV_OPS,
};
