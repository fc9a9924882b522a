/**
 * The closed set of primitive ops: their parameters and output shapes. Every backend implements
 * kernels for these names; the gradient rules in grad-rules.ts cover every one of them.
 * Composite ops (softmax, mean, linear, ...) are built from these in ops.ts.
 */
import type { AttentionPlan } from './attention-plan.js';
import type { DType } from './dtype.js';
import {
  broadcastShapes,
  fmt,
  normAxes,
  reducedShape,
  resolveReshape,
  type Shape,
  sameShape,
} from './shape.js';

export type UnaryOp =
  | 'neg'
  | 'exp'
  | 'log'
  | 'sqrt'
  | 'rsqrt'
  | 'tanh'
  | 'sigmoid'
  | 'silu'
  | 'gelu'
  | 'abs'
  | 'sign'
  | 'sin'
  | 'cos';
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'pow' | 'maximum' | 'greater' | 'equal';

export const UNARY_OPS: readonly UnaryOp[] = [
  'neg',
  'exp',
  'log',
  'sqrt',
  'rsqrt',
  'tanh',
  'sigmoid',
  'silu',
  'gelu',
  'abs',
  'sign',
  'sin',
  'cos',
];
export const BINARY_OPS: readonly BinaryOp[] = [
  'add',
  'sub',
  'mul',
  'div',
  'pow',
  'maximum',
  'greater',
  'equal',
];

export type NoParams = Record<string, never>;
/** Convolution geometry over (T, H, W): strides and zero padding (before, after) per axis. */
export interface ConvParams {
  stride: number[];
  padding: [number, number][];
}

/** Parameters of each op (plain data, JSON-serialisable). */
export interface OpParams extends Record<UnaryOp | BinaryOp, NoParams> {
  where: NoParams; // (cond, a, b): cond != 0 ? a : b, broadcasting
  sum: { axes: number[]; keepDims: boolean };
  max: { axes: number[]; keepDims: boolean };
  argmax: { axis: number };
  reshape: { shape: number[] };
  permute: { perm: number[] };
  broadcastTo: { shape: number[] };
  slice: { starts: number[]; ends: number[] };
  concat: { axis: number };
  pad: { pads: [number, number][]; value: number };
  cast: { dtype: DType };
  /** Batched matmul over leading (broadcast) dims: a [..., m, k] x b [..., k, n] (after transposes). */
  matmul: { transA: boolean; transB: boolean };
  /** rows of x [N, ...] picked by int32 idx [M] -> [M, ...]; idx out of range is an error. */
  gatherRows: NoParams;
  /** src [M, ...] added into rows idx [M] of a zero [rows, ...]. */
  scatterAddRows: { rows: number };
  /** Over the last axis: (x, weight, bias) -> (y, mean, rstd). */
  layerNorm: { eps: number };
  /** (dy, x, weight, mean, rstd) -> (dx, dweight, dbias). */
  layerNormBackward: NoParams;
  /** Over the last axis: (x, weight) -> (y, rstd). */
  rmsNorm: { eps: number };
  /** (dy, x, weight, rstd) -> (dx, dweight). */
  rmsNormBackward: NoParams;
  /** x [B, Ci, T, H, W] * w [Co, Ci, KT, KH, KW] -> [B, Co, To, Ho, Wo]; zero padding (before, after) per axis. */
  conv3d: ConvParams;
  /** (dy, w) -> dx of shape `inputShape`. */
  conv3dBackwardInput: ConvParams & { inputShape: number[] };
  /** (dy, x) -> dw of shape `kernelShape`. */
  conv3dBackwardWeight: ConvParams & { kernelShape: number[] };
  /**
   * Attention executed through a plan (core/attention-plan.ts): (q [Nq,H,D], k [Nk,H,D], v [Nk,H,D])
   * -> (out [Nq,H,D], lse [Nq,H]); lse is the softmax's log-sum-exp (-Infinity for rows that see no key).
   */
  groupedAttention: GroupedAttentionParams;
  /** (dOut, q, k, v, out, lse) -> (dq, dk, dv), recomputing the softmax from lse. */
  groupedAttentionBackward: GroupedAttentionParams;
}

export type OpName = keyof OpParams;

/** An attention plan (validated by the op's caller or kernel) plus the softmax scale. */
export interface GroupedAttentionParams extends AttentionPlan {
  readonly scale: number;
}

export interface Meta {
  readonly shape: Shape;
  readonly dtype: DType;
}

type SpecFn<K extends OpName> = (ins: readonly Meta[], p: OpParams[K]) => Meta[];

const f32 = (shape: Shape): Meta => ({ shape, dtype: 'float32' });
const like = (m: Meta, shape: Shape = m.shape): Meta => ({ shape, dtype: m.dtype });

function unary(): SpecFn<UnaryOp> {
  return ([x]) => [like(x)];
}
function binary(): SpecFn<BinaryOp> {
  return ([a, b]) => {
    if (a.dtype !== b.dtype) throw new Error(`dtype mismatch: ${a.dtype} vs ${b.dtype}`);
    return [like(a, broadcastShapes(a.shape, b.shape))];
  };
}
function compare(): SpecFn<BinaryOp> {
  return ([a, b]) => [f32(broadcastShapes(a.shape, b.shape))];
}
function reduce(): SpecFn<'sum' | 'max'> {
  return ([x], p) => [like(x, reducedShape(x.shape, normAxes(p.axes, x.shape.length), p.keepDims))];
}
function lastDim(x: Meta, what: string): number {
  if (x.shape.length === 0) throw new Error(`${what} needs rank >= 1`);
  return x.shape[x.shape.length - 1];
}
function checkVector(v: Meta, d: number, what: string) {
  if (v.shape.length !== 1 || v.shape[0] !== d)
    throw new Error(`${what}: expected [${d}], got ${fmt(v.shape)}`);
}

function checkAttentionShapes(q: Meta, k: Meta, v: Meta) {
  if (
    q.shape.length !== 3 ||
    k.shape.length !== 3 ||
    !sameShape(k.shape, v.shape) ||
    q.shape[1] !== k.shape[1] ||
    q.shape[2] !== k.shape[2]
  )
    throw new Error(
      `grouped attention needs q [Nq,H,D] and k, v [Nk,H,D], got ${fmt(q.shape)}, ${fmt(k.shape)}, ${fmt(v.shape)}`,
    );
}

/** Output shapes and dtypes for every op, validating the inputs. */
export const OP_SPECS: { [K in OpName]: SpecFn<K> } = {
  neg: unary(),
  exp: unary(),
  log: unary(),
  sqrt: unary(),
  rsqrt: unary(),
  tanh: unary(),
  sigmoid: unary(),
  silu: unary(),
  gelu: unary(),
  abs: unary(),
  sign: unary(),
  sin: unary(),
  cos: unary(),
  add: binary(),
  sub: binary(),
  mul: binary(),
  div: binary(),
  pow: binary(),
  maximum: binary(),
  greater: compare(),
  equal: compare(),
  where: ([c, a, b]) => {
    if (a.dtype !== b.dtype) throw new Error(`where: dtype mismatch ${a.dtype} vs ${b.dtype}`);
    return [like(a, broadcastShapes(c.shape, a.shape, b.shape))];
  },
  sum: reduce(),
  max: reduce(),
  argmax: ([x], p) => [
    { shape: reducedShape(x.shape, normAxes(p.axis, x.shape.length), false), dtype: 'int32' },
  ],
  reshape: ([x], p) => [like(x, resolveReshape(x.shape, p.shape))],
  permute: ([x], p) => {
    const r = x.shape.length;
    if (p.perm.length !== r || [...p.perm].sort((a, b) => a - b).some((v, i) => v !== i))
      throw new Error(`permute ${fmt(p.perm)} is not a permutation of rank ${r}`);
    return [
      like(
        x,
        p.perm.map((a) => x.shape[a]),
      ),
    ];
  },
  broadcastTo: ([x], p) => {
    const out = broadcastShapes(x.shape, p.shape);
    if (!sameShape(out, p.shape)) throw new Error(`cannot broadcast ${fmt(x.shape)} to ${fmt(p.shape)}`);
    return [like(x, out)];
  },
  slice: ([x], p) => {
    const r = x.shape.length;
    if (p.starts.length !== r || p.ends.length !== r) throw new Error(`slice needs ${r} starts and ends`);
    return [
      like(
        x,
        x.shape.map((d, i) => {
          const s = p.starts[i];
          const e = p.ends[i];
          if (s < 0 || e > d || s > e)
            throw new Error(`slice [${s}, ${e}) out of range for axis ${i} of ${fmt(x.shape)}`);
          return e - s;
        }),
      ),
    ];
  },
  concat: (ins, p) => {
    const first = ins[0];
    const ax = normAxes(p.axis, first.shape.length)[0];
    let total = 0;
    for (const m of ins) {
      if (m.dtype !== first.dtype) throw new Error('concat: dtype mismatch');
      if (m.shape.length !== first.shape.length || m.shape.some((d, i) => i !== ax && d !== first.shape[i]))
        throw new Error(`concat on axis ${ax}: ${fmt(m.shape)} does not match ${fmt(first.shape)}`);
      total += m.shape[ax];
    }
    return [
      like(
        first,
        first.shape.map((d, i) => (i === ax ? total : d)),
      ),
    ];
  },
  pad: ([x], p) => {
    if (p.pads.length !== x.shape.length)
      throw new Error(`pad needs ${x.shape.length} (before, after) pairs`);
    // negative pads (cropping) are a slice; no kernel or gradient rule reads them
    if (p.pads.some((q) => q.length !== 2 || q.some((v) => !Number.isInteger(v) || v < 0)))
      throw new Error(`pad needs (before, after) pairs of integers >= 0, got ${JSON.stringify(p.pads)}`);
    return [
      like(
        x,
        x.shape.map((d, i) => d + p.pads[i][0] + p.pads[i][1]),
      ),
    ];
  },
  cast: ([x], p) => [{ shape: x.shape, dtype: p.dtype }],
  matmul: ([a, b], p) => {
    if (a.shape.length < 2 || b.shape.length < 2) throw new Error('matmul needs rank >= 2');
    const [m, k] = p.transA ? [a.shape.at(-1)!, a.shape.at(-2)!] : [a.shape.at(-2)!, a.shape.at(-1)!];
    const [k2, n] = p.transB ? [b.shape.at(-1)!, b.shape.at(-2)!] : [b.shape.at(-2)!, b.shape.at(-1)!];
    if (k !== k2) throw new Error(`matmul: inner sizes differ (${fmt(a.shape)} x ${fmt(b.shape)})`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [f32([...batch, m, n])];
  },
  gatherRows: ([x, idx]) => {
    if (idx.dtype !== 'int32' || idx.shape.length !== 1)
      throw new Error('gatherRows: index must be int32 [M]');
    if (x.shape.length < 1) throw new Error('gatherRows: x needs rank >= 1');
    return [like(x, [idx.shape[0], ...x.shape.slice(1)])];
  },
  scatterAddRows: ([src, idx], p) => {
    if (idx.dtype !== 'int32' || idx.shape.length !== 1 || idx.shape[0] !== src.shape[0])
      throw new Error('scatterAddRows: index must be int32 [M] matching src rows');
    return [like(src, [p.rows, ...src.shape.slice(1)])];
  },
  layerNorm: ([x, w, b]) => {
    const d = lastDim(x, 'layerNorm');
    checkVector(w, d, 'layerNorm weight');
    checkVector(b, d, 'layerNorm bias');
    const stat = x.shape.slice(0, -1);
    return [f32(x.shape), f32(stat), f32(stat)];
  },
  layerNormBackward: ([, x, w]) => [f32(x.shape), f32(w.shape), f32(w.shape)],
  rmsNorm: ([x, w]) => {
    checkVector(w, lastDim(x, 'rmsNorm'), 'rmsNorm weight');
    return [f32(x.shape), f32(x.shape.slice(0, -1))];
  },
  rmsNormBackward: ([, x, w]) => [f32(x.shape), f32(w.shape)],
  conv3d: ([x, w], p) => [f32(convOutShape(x.shape, w.shape, p))],
  conv3dBackwardInput: ([dy, w], p) => {
    checkConvGrad(dy.shape, convOutShape(p.inputShape, w.shape, p));
    return [f32(p.inputShape)];
  },
  conv3dBackwardWeight: ([dy, x], p) => {
    checkConvGrad(dy.shape, convOutShape(x.shape, p.kernelShape, p));
    return [f32(p.kernelShape)];
  },
  groupedAttention: ([q, k, v]) => {
    checkAttentionShapes(q, k, v);
    return [f32(q.shape), f32(q.shape.slice(0, 2))];
  },
  groupedAttentionBackward: ([dOut, q, k, v]) => {
    checkAttentionShapes(q, k, v);
    if (!sameShape(dOut.shape, q.shape))
      throw new Error(`groupedAttentionBackward: dOut ${fmt(dOut.shape)} must match q ${fmt(q.shape)}`);
    return [f32(q.shape), f32(k.shape), f32(v.shape)];
  },
};

/** Output shape of conv3d, validating ranks, channels, strides and padding. */
function convOutShape(x: Shape, w: Shape, p: ConvParams): Shape {
  if (x.length !== 5) throw new Error(`conv3d input must be [B, C, T, H, W], got ${fmt(x)}`);
  if (w.length !== 5) throw new Error(`conv3d weight must be [Co, Ci, KT, KH, KW], got ${fmt(w)}`);
  if (w[1] !== x[1]) throw new Error(`conv3d: weight expects ${w[1]} input channels, input has ${x[1]}`);
  if (p.stride.length !== 3 || p.stride.some((s) => !Number.isInteger(s) || s < 1))
    throw new Error(`conv3d stride must be 3 integers >= 1, got ${fmt(p.stride)}`);
  if (
    p.padding.length !== 3 ||
    p.padding.some((q) => q.length !== 2 || q.some((v) => !Number.isInteger(v) || v < 0))
  )
    throw new Error('conv3d padding must be 3 (before, after) pairs of integers >= 0');
  const out = [0, 1, 2].map((i) => {
    const span = x[2 + i] + p.padding[i][0] + p.padding[i][1] - w[2 + i];
    if (span < 0)
      throw new Error(`conv3d: kernel ${fmt(w.slice(2))} does not fit padded input ${fmt(x.slice(2))}`);
    return Math.floor(span / p.stride[i]) + 1;
  });
  return [x[0], w[0], ...out];
}
function checkConvGrad(got: Shape, want: Shape) {
  if (!sameShape(got, want)) throw new Error(`conv3d gradient has shape ${fmt(got)}, expected ${fmt(want)}`);
}

/** One kernel per elementwise op, made by the backend's unary and binary kernel factories. */
export function elementwiseTable<U, B>(
  unary: (op: UnaryOp) => U,
  binary: (op: BinaryOp) => B,
): Record<UnaryOp, U> & Record<BinaryOp, B> {
  return Object.fromEntries([
    ...UNARY_OPS.map((op) => [op, unary(op)]),
    ...BINARY_OPS.map((op) => [op, binary(op)]),
  ]) as Record<UnaryOp, U> & Record<BinaryOp, B>;
}
