/**
 * The public op functions. Primitives call `apply`; composites (mean, softmax, logsumexp, linear
 * algebra helpers) are written in terms of primitives, so their gradients come for free.
 * Numbers are accepted wherever a tensor is and become scalars on the other operand's backend.
 */
import type { DType } from '../core/dtype.js';
import type { BinaryOp, UnaryOp } from '../core/op-spec.js';
import { normAxes, type Shape, sizeOf } from '../core/shape.js';
import { apply, fromArray, full, Tensor } from './tensor.js';

export type TensorLike = Tensor | number;

function scalarLike(v: number, t: Tensor): Tensor {
  return full([], v, t.dtype, t.backend);
}

function pair(a: TensorLike, b: TensorLike): [Tensor, Tensor] {
  if (a instanceof Tensor && b instanceof Tensor) return [a, b];
  if (a instanceof Tensor) return [a, scalarLike(b as number, a)];
  if (b instanceof Tensor) return [scalarLike(a, b), b];
  throw new Error('at least one operand must be a tensor');
}

const un = (op: UnaryOp) => (x: Tensor) => apply(op, [x], {})[0];
const bin = (op: BinaryOp) => (a: TensorLike, b: TensorLike) => apply(op, pair(a, b), {})[0];

export const neg = un('neg');
export const exp = un('exp');
export const log = un('log');
export const sqrt = un('sqrt');
export const rsqrt = un('rsqrt');
export const tanh = un('tanh');
export const sigmoid = un('sigmoid');
export const silu = un('silu');
/** tanh approximation, as in Wan2.1 and GPT-2. */
export const gelu = un('gelu');
export const abs = un('abs');
export const sign = un('sign');
export const sin = un('sin');
export const cos = un('cos');

export const add = bin('add');
export const sub = bin('sub');
export const mul = bin('mul');
export const div = bin('div');
export const pow = bin('pow');
export const maximum = bin('maximum');
/** 1 where a > b, else 0 (float32). */
export const greater = bin('greater');
/** 1 where a == b, else 0 (float32). */
export const equal = bin('equal');

export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pair(a, b);
  return apply('where', [cond, x, y], {})[0];
}

// ---- reductions ----

export function sum(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  return apply('sum', [x], { axes: normAxes(axes, x.rank), keepDims })[0];
}
export function max(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  return apply('max', [x], { axes: normAxes(axes, x.rank), keepDims })[0];
}
export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = normAxes(axes, x.rank);
  const n = ax.reduce((acc, a) => acc * x.shape[a], 1);
  return mul(sum(x, ax, keepDims), 1 / Math.max(n, 1));
}
export function argmax(x: Tensor, axis = -1): Tensor {
  return apply('argmax', [x], { axis: normAxes(axis, x.rank)[0] })[0];
}
/** log(sum(exp(x))) along `axis`, stable. */
export function logsumexp(x: Tensor, axis = -1, keepDims = false): Tensor {
  const m = noGradMax(x, axis);
  const r = add(log(sum(exp(sub(x, m)), axis, true)), m);
  return keepDims ? r : squeeze(r, axis);
}
export function softmax(x: Tensor, axis = -1): Tensor {
  const e = exp(sub(x, noGradMax(x, axis)));
  return div(e, sum(e, axis, true));
}
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return sub(x, logsumexp(x, axis, true));
}
// The max shift cancels exactly in softmax/logsumexp, so it needs no gradient.
function noGradMax(x: Tensor, axis: number): Tensor {
  const m = max(x, axis, true);
  m.requiresGrad = false;
  m.node = undefined;
  return m;
}

// ---- movement ----

export function reshape(x: Tensor, shape: number[]): Tensor {
  return apply('reshape', [x], { shape })[0];
}
export function permute(x: Tensor, perm: number[]): Tensor {
  return apply('permute', [x], { perm: perm.map((p) => (p < 0 ? p + x.rank : p)) })[0];
}
/** Swaps two axes (default: the last two). */
export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  const perm = Array.from({ length: x.rank }, (_, i) => i);
  const [i, j] = normAxes([a], x.rank).concat(normAxes([b], x.rank));
  [perm[i], perm[j]] = [perm[j], perm[i]];
  return permute(x, perm);
}
export function broadcastTo(x: Tensor, shape: Shape): Tensor {
  return apply('broadcastTo', [x], { shape: [...shape] })[0];
}
/** Slice along one axis [start, end). */
export function sliceAxis(x: Tensor, axis: number, start: number, end: number): Tensor {
  const ax = normAxes(axis, x.rank)[0];
  const starts = x.shape.map((_, i) => (i === ax ? start : 0));
  const ends = x.shape.map((d, i) => (i === ax ? end : d));
  return apply('slice', [x], { starts, ends })[0];
}
export function slice(x: Tensor, starts: number[], ends: number[]): Tensor {
  return apply('slice', [x], { starts, ends })[0];
}
export function concat(xs: Tensor[], axis = 0): Tensor {
  if (xs.length === 1) return xs[0];
  return apply('concat', xs, { axis: normAxes(axis, xs[0].rank)[0] })[0];
}
export function split(x: Tensor, sizes: number[], axis = 0): Tensor[] {
  let at = 0;
  return sizes.map((s) => sliceAxis(x, axis, at, (at += s)));
}
export function pad(x: Tensor, pads: [number, number][], value = 0): Tensor {
  return apply('pad', [x], { pads, value })[0];
}
export function squeeze(x: Tensor, axis: number): Tensor {
  const ax = normAxes(axis, x.rank)[0];
  if (x.shape[ax] !== 1) throw new Error(`squeeze: axis ${axis} has size ${x.shape[ax]}`);
  return reshape(
    x,
    x.shape.filter((_, i) => i !== ax),
  );
}
export function unsqueeze(x: Tensor, axis: number): Tensor {
  const ax = axis < 0 ? axis + x.rank + 1 : axis;
  const s = [...x.shape];
  s.splice(ax, 0, 1);
  return reshape(x, s);
}
export function flatten(x: Tensor): Tensor {
  return reshape(x, [x.size]);
}
export function cast(x: Tensor, dtype: DType): Tensor {
  return x.dtype === dtype ? x : apply('cast', [x], { dtype })[0];
}

// ---- linear algebra, indexing, norms ----

export function matmul(a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean } = {}): Tensor {
  return apply('matmul', [a, b], { transA: opts.transA ?? false, transB: opts.transB ?? false })[0];
}
export function gatherRows(x: Tensor, idx: Tensor): Tensor {
  return apply('gatherRows', [x, idx], {})[0];
}
export function scatterAddRows(src: Tensor, idx: Tensor, rows: number): Tensor {
  return apply('scatterAddRows', [src, idx], { rows })[0];
}
/** Rows of `table` [V, D] for int32 ids of any shape -> [...ids.shape, D]. */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  const rows = gatherRows(table, reshape(ids, [ids.size]));
  return reshape(rows, [...ids.shape, table.shape[1]]);
}
/** Layer norm over the last axis; weight and bias default to ones and zeros. */
export function layerNorm(x: Tensor, weight?: Tensor, bias?: Tensor, eps = 1e-6): Tensor {
  const d = x.shape[x.rank - 1];
  const w = weight ?? full([d], 1, 'float32', x.backend);
  const b = bias ?? full([d], 0, 'float32', x.backend);
  return apply('layerNorm', [x, w, b], { eps })[0];
}
export function rmsNorm(x: Tensor, weight?: Tensor, eps = 1e-6): Tensor {
  const w = weight ?? full([x.shape[x.rank - 1]], 1, 'float32', x.backend);
  return apply('rmsNorm', [x, w], { eps })[0];
}

// ---- creation helpers on the same backend as a given tensor ----

export function zerosLike(t: Tensor): Tensor {
  return full(t.shape, 0, t.dtype, t.backend);
}
export function onesLike(t: Tensor): Tensor {
  return full(t.shape, 1, t.dtype, t.backend);
}
export function arange(n: number, dtype: DType = 'int32', backend?: Tensor['backend']): Tensor {
  const a = dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return fromArray(a, [n], backend);
}
export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  return full(shape, 0, dtype);
}
export function ones(shape: Shape, dtype: DType = 'float32'): Tensor {
  return full(shape, 1, dtype);
}
export function scalar(v: number): Tensor {
  return full([], v);
}
/** Sums `g` down to `shape` (the reverse of broadcasting). */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (g.rank === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  const s = sum(g, axes, true);
  return sizeOf(shape) === s.size ? reshape(s, [...shape]) : s;
}
