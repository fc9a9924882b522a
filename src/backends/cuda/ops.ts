/**
 * The ops the CUDA backend runs on the device: elementwise (with broadcasting), last-axis
 * reductions, norms, row gather/scatter, matmul. Each returns false when it does not cover the
 * case (dtype, layout), and the backend then runs the reference kernel on downloaded copies.
 */

import {
  BINARY_OPS,
  type BinaryOp,
  type OpName,
  type OpParams,
  UNARY_OPS,
  type UnaryOp,
} from '../../core/op-spec.js';
import { type Shape, sizeOf, stridesOf } from '../../core/shape.js';
import type { TensorRef } from '../backend.js';
import { type CudaOpOptions, groupedAttentionBackwardOp, groupedAttentionOp } from './attention-op.js';
import type { DevPtr, KernelArg } from './driver-types.js';
import { type CudaContext, grid1d } from './kernels.js';

export const ptrOf = (t: TensorRef): DevPtr => (t.storage as unknown as { ptr: DevPtr }).ptr;
type CudaOp<K extends OpName> = (
  ctx: CudaContext,
  ins: readonly TensorRef[],
  outs: readonly TensorRef[],
  p: OpParams[K],
  o: CudaOpOptions,
) => boolean;

const MAXRANK = 6;
const f32 = (...ts: TensorRef[]) => ts.every((t) => t.dtype === 'float32');
/** Grid-stride launches: enough blocks to fill the chip, capped. */
const elementGrid = (n: number) => grid1d(Math.min(n, 65535 * 256));

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

const binary =
  (op: BinaryOp): CudaOp<BinaryOp> =>
  (ctx, [a, b], [y]) => {
    if (!f32(a, b, y)) return false;
    const s = broadcastStruct(y.shape, [a.shape, b.shape]);
    if (!s) return false;
    const n = sizeOf(y.shape);
    if (n > 0)
      ctx.launch('elementwise', 'binary_f32', elementGrid(n), [
        { ptr: ptrOf(a) },
        { ptr: ptrOf(b) },
        { ptr: ptrOf(y) },
        { i64: n },
        { i32: BINARY_OPS.indexOf(op) },
        { bytes: s },
      ]);
    return true;
  };

const where: CudaOp<'where'> = (ctx, [c, a, b], [y]) => {
  if (!f32(c, a, b, y)) return false;
  const s = broadcastStruct(y.shape, [c.shape, a.shape, b.shape]);
  if (!s) return false;
  const n = sizeOf(y.shape);
  if (n > 0)
    ctx.launch('elementwise', 'where_f32', elementGrid(n), [
      { ptr: ptrOf(c) },
      { ptr: ptrOf(a) },
      { ptr: ptrOf(b) },
      { ptr: ptrOf(y) },
      { i64: n },
      { bytes: s },
    ]);
  return true;
};

/** sum/max over a trailing run of axes: rows = leading product, cols = reduced product. */
const reduce =
  (which: 0 | 1): CudaOp<'sum' | 'max'> =>
  (ctx, [x], [y], p) => {
    if (!f32(x, y)) return false;
    const r = x.shape.length;
    const axes = [...p.axes].map((a) => (a < 0 ? a + r : a)).sort((a, b) => a - b);
    if (axes.length === 0 || axes.some((a, i) => a !== r - axes.length + i)) return false;
    const cols = sizeOf(x.shape.slice(r - axes.length));
    const rows = sizeOf(x.shape.slice(0, r - axes.length));
    if (rows === 0) return true;
    if (cols === 0 || rows > 2 ** 31 - 1) return false;
    ctx.launch('rows', 'reduce_rows', { grid: [rows, 1, 1], block: [256, 1, 1], shared: 0 }, [
      { ptr: ptrOf(x) },
      { ptr: ptrOf(y) },
      { i64: cols },
      { i32: which },
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
  if (ctx.gemm) {
    ctx.gemm.matmul({
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
  }
  ctx.launch(
    'gemm',
    'gemm_f32',
    { grid: [Math.ceil(n / 64), Math.ceil(m / 64), batch], block: [256, 1, 1], shared: 0 },
    [
      { ptr: ptrOf(a) },
      { ptr: ptrOf(b) },
      { ptr: ptrOf(y) },
      { i32: m },
      { i32: n },
      { i32: k },
      { i32: p.transA ? 1 : 0 },
      { i32: p.transB ? 1 : 0 },
      { i64: ba === 1 ? 0 : m * k },
      { i64: bb === 1 ? 0 : k * n },
    ],
  );
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
  reshape: copy,
  matmul,
  gatherRows,
  scatterAddRows,
  rmsNorm,
  layerNorm,
  groupedAttention: groupedAttentionOp,
  groupedAttentionBackward: groupedAttentionBackwardOp,
};
