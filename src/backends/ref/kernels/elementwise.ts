/** Unary and broadcasting binary/ternary elementwise kernels. */
import type { BinaryOp, UnaryOp } from '../../../core/op-spec.js';
import { sameShape } from '../../../core/shape.js';
import type { RefKernel, View } from '../view.js';
import { broadcastStrides, forEachStrided } from './strided.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

export const UNARY_FNS: Record<UnaryOp, (x: number) => number> = {
  neg: (x) => -x,
  exp: Math.exp,
  log: Math.log,
  sqrt: Math.sqrt,
  rsqrt: (x) => 1 / Math.sqrt(x),
  tanh: Math.tanh,
  sigmoid: (x) => 1 / (1 + Math.exp(-x)),
  silu: (x) => x / (1 + Math.exp(-x)),
  gelu: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x))),
  abs: Math.abs,
  sign: Math.sign,
  sin: Math.sin,
  cos: Math.cos,
};

export const BINARY_FNS: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  pow: Math.pow,
  maximum: Math.max,
  greater: (a, b) => (a > b ? 1 : 0),
  equal: (a, b) => (a === b ? 1 : 0),
};

export function unary(op: UnaryOp): RefKernel<UnaryOp> {
  const f = UNARY_FNS[op];
  return ([x], [y]) => {
    const a = x.data;
    const out = y.data;
    for (let i = 0; i < out.length; i++) out[i] = f(a[i]);
  };
}

export function binary(op: BinaryOp): RefKernel<BinaryOp> {
  const f = BINARY_FNS[op];
  return ([a, b], [y]) => {
    const out = y.data;
    const x = a.data;
    const z = b.data;
    if (sameShape(a.shape, b.shape)) {
      for (let i = 0; i < out.length; i++) out[i] = f(x[i], z[i]);
      return;
    }
    forEachStrided(y.shape, stridesFor([a, b], y), (o, offs) => {
      out[o] = f(x[offs[0]], z[offs[1]]);
    });
  };
}

export const where: RefKernel<'where'> = ([c, a, b], [y]) => {
  const out = y.data;
  forEachStrided(y.shape, stridesFor([c, a, b], y), (o, offs) => {
    out[o] = c.data[offs[0]] !== 0 ? a.data[offs[1]] : b.data[offs[2]];
  });
};

export const broadcastTo: RefKernel<'broadcastTo'> = ([x], [y]) => {
  const out = y.data;
  forEachStrided(y.shape, stridesFor([x], y), (o, offs) => {
    out[o] = x.data[offs[0]];
  });
};

export const cast: RefKernel<'cast'> = ([x], [y]) => {
  // Float -> int truncates toward zero (typed-array assignment does the conversion).
  y.data.set(x.data);
};

function stridesFor(ins: View[], y: View): number[][] {
  return ins.map((v) => broadcastStrides(v.shape, y.shape));
}
