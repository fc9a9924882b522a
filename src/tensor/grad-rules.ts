/**
 * Reverse-mode rules for every primitive op, in one table whose type covers every op name: a new
 * op without a rule (or an explicit `null` for non-differentiable ones) does not compile.
 * A rule gets the output gradients and the node's inputs/outputs/params, and returns one gradient
 * per input (undefined where none flows). Rules are written with ops, so they run on any backend.
 */
import type { OpName, OpParams } from '../core/op-spec.js';
import * as o from './ops.js';
import { apply, type Tensor } from './tensor.js';

export interface GradContext<K extends OpName> {
  readonly inputs: readonly Tensor[];
  readonly outputs: readonly Tensor[];
  readonly params: OpParams[K];
}
type Grads = (Tensor | undefined)[];
export type GradRule<K extends OpName> = (dys: readonly (Tensor | undefined)[], ctx: GradContext<K>) => Grads;

/** Gradient of a one-output op whose input gradient is `g * f(x, y)`. */
const pointwise =
  (f: (x: Tensor, y: Tensor) => Tensor): GradRule<OpName> =>
  ([g], { inputs: [x], outputs: [y] }) => [o.mul(g!, f(x, y))];

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export const GRAD_RULES: { [K in OpName]: GradRule<K> | null } = {
  neg: ([g]) => [o.neg(g!)],
  exp: pointwise((_, y) => y),
  log: ([g], { inputs: [x] }) => [o.div(g!, x)],
  sqrt: ([g], { outputs: [y] }) => [o.div(o.mul(g!, 0.5), y)],
  rsqrt: pointwise((_, y) => o.mul(o.mul(o.mul(y, y), y), -0.5)),
  tanh: pointwise((_, y) => o.sub(1, o.mul(y, y))),
  sigmoid: pointwise((_, y) => o.mul(y, o.sub(1, y))),
  silu: pointwise((x) => {
    const s = o.sigmoid(x);
    return o.mul(s, o.add(1, o.mul(x, o.sub(1, s))));
  }),
  // d/dx 0.5 x (1 + tanh(u)), u = c (x + 0.044715 x^3)
  gelu: pointwise((x) => {
    const x2 = o.mul(x, x);
    const t = o.tanh(o.mul(o.mul(x, o.add(1, o.mul(x2, 0.044715))), SQRT_2_OVER_PI));
    const du = o.mul(o.add(1, o.mul(x2, 3 * 0.044715)), SQRT_2_OVER_PI);
    return o.add(o.mul(o.add(1, t), 0.5), o.mul(o.mul(o.mul(x, 0.5), o.sub(1, o.mul(t, t))), du));
  }),
  abs: pointwise((x) => o.sign(x)),
  sign: null,
  sin: pointwise((x) => o.cos(x)),
  cos: pointwise((x) => o.neg(o.sin(x))),

  add: ([g], { inputs: [a, b] }) => [o.sumTo(g!, a.shape), o.sumTo(g!, b.shape)],
  sub: ([g], { inputs: [a, b] }) => [o.sumTo(g!, a.shape), o.sumTo(o.neg(g!), b.shape)],
  mul: ([g], { inputs: [a, b] }) => [
    a.requiresGrad ? o.sumTo(o.mul(g!, b), a.shape) : undefined,
    b.requiresGrad ? o.sumTo(o.mul(g!, a), b.shape) : undefined,
  ],
  div: ([g], { inputs: [a, b], outputs: [y] }) => [
    a.requiresGrad ? o.sumTo(o.div(g!, b), a.shape) : undefined,
    b.requiresGrad ? o.sumTo(o.neg(o.div(o.mul(g!, y), b)), b.shape) : undefined,
  ],
  pow: ([g], { inputs: [a, b], outputs: [y] }) => [
    a.requiresGrad ? o.sumTo(o.mul(o.mul(g!, b), o.pow(a, o.sub(b, 1))), a.shape) : undefined,
    b.requiresGrad ? o.sumTo(o.mul(o.mul(g!, y), o.log(a)), b.shape) : undefined,
  ],
  // Ties send the gradient to `a`.
  maximum: ([g], { inputs: [a, b] }) => {
    const toB = o.greater(b, a);
    return [o.sumTo(o.mul(g!, o.sub(1, toB)), a.shape), o.sumTo(o.mul(g!, toB), b.shape)];
  },
  greater: null,
  equal: null,
  where: ([g], { inputs: [c, a, b] }) => [
    undefined,
    o.sumTo(o.where(c, g!, 0), a.shape),
    o.sumTo(o.where(c, 0, g!), b.shape),
  ],

  sum: ([g], { inputs: [x], params }) => [o.broadcastTo(keepDimsView(g!, x, params.axes), x.shape)],
  // Ties share the gradient equally.
  max: ([g], { inputs: [x], outputs: [y], params }) => {
    const mask = o.equal(x, keepDimsView(y, x, params.axes));
    const count = o.sum(mask, params.axes, true);
    return [o.div(o.mul(mask, keepDimsView(g!, x, params.axes)), count)];
  },
  argmax: null,

  reshape: ([g], { inputs: [x] }) => [o.reshape(g!, [...x.shape])],
  permute: ([g], { params }) => {
    const inv = new Array<number>(params.perm.length);
    params.perm.forEach((p, i) => (inv[p] = i));
    return [o.permute(g!, inv)];
  },
  broadcastTo: ([g], { inputs: [x] }) => [o.sumTo(g!, x.shape)],
  slice: ([g], { inputs: [x], params }) => [
    o.pad(
      g!,
      x.shape.map((d, i) => [params.starts[i], d - params.ends[i]]),
    ),
  ],
  concat: ([g], { inputs, params }) =>
    o.split(
      g!,
      inputs.map((t) => t.shape[params.axis]),
      params.axis,
    ),
  pad: ([g], { inputs: [x], params }) => [
    o.slice(
      g!,
      params.pads.map((p) => p[0]),
      params.pads.map((p, i) => p[0] + x.shape[i]),
    ),
  ],
  cast: ([g], { inputs: [x] }) => [x.dtype === 'float32' ? g! : undefined],

  // C = op(A) op(B); see the derivation in docs: each case keeps operands in their stored layout.
  matmul: ([g], { inputs: [a, b], params: { transA, transB } }) => {
    const da = !a.requiresGrad
      ? undefined
      : transA
        ? o.matmul(b, g!, { transA: transB, transB: true })
        : o.matmul(g!, b, { transB: !transB });
    const db = !b.requiresGrad
      ? undefined
      : transB
        ? o.matmul(g!, a, { transA: true, transB: transA })
        : o.matmul(a, g!, { transA: !transA });
    return [da && o.sumTo(da, a.shape), db && o.sumTo(db, b.shape)];
  },
  gatherRows: ([g], { inputs: [x, idx] }) => [o.scatterAddRows(g!, idx, x.shape[0]), undefined],
  scatterAddRows: ([g], { inputs: [, idx] }) => [o.gatherRows(g!, idx), undefined],

  layerNorm: ([g], { inputs: [x, w], outputs: [, mean, rstd] }) =>
    apply('layerNormBackward', [g!, x, w, mean, rstd], {}),
  layerNormBackward: null,
  rmsNorm: ([g], { inputs: [x, w], outputs: [, rstd] }) => apply('rmsNormBackward', [g!, x, w, rstd], {}),
  rmsNormBackward: null,
  conv3d: ([g], { inputs: [x, w], params: { stride, padding } }) => [
    x.requiresGrad
      ? apply('conv3dBackwardInput', [g!, w], { stride, padding, inputShape: [...x.shape] })[0]
      : undefined,
    w.requiresGrad
      ? apply('conv3dBackwardWeight', [g!, x], { stride, padding, kernelShape: [...w.shape] })[0]
      : undefined,
  ],
  conv3dBackwardInput: null,
  conv3dBackwardWeight: null,
  // FlashAttention-2 style: the backward kernel recomputes the softmax from the saved lse. The lse
  // output itself is treated as a statistic (no gradient flows back through it).
  groupedAttention: ([g], { inputs: [q, k, v], outputs: [out, lse], params }) =>
    g ? apply('groupedAttentionBackward', [g, q, k, v, out, lse], params) : [undefined, undefined, undefined],
  groupedAttentionBackward: null,
};

/** Reshapes a reduced tensor to the keepDims shape of reducing `x` over `axes`. */
function keepDimsView(r: Tensor, x: Tensor, axes: readonly number[]): Tensor {
  return o.reshape(
    r,
    x.shape.map((d, i) => (axes.includes(i) ? 1 : d)),
  );
}
