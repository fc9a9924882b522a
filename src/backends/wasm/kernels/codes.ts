/** Op codes shared with assembly/elementwise.ts and assembly/reduce.ts (keep the orders equal). */
import type { BinaryOp, UnaryOp } from '../../../core/op-spec.js';

export const UNARY_CODES: Record<UnaryOp, number> = {
  neg: 0,
  exp: 1,
  log: 2,
  sqrt: 3,
  rsqrt: 4,
  tanh: 5,
  sigmoid: 6,
  silu: 7,
  gelu: 8,
  abs: 9,
  sign: 10,
  sin: 11,
  cos: 12,
};

export const BINARY_CODES: Record<BinaryOp, number> = {
  add: 0,
  sub: 1,
  mul: 2,
  div: 3,
  pow: 4,
  maximum: 5,
  greater: 6,
  equal: 7,
};

export const REDUCE_CODES = { sum: 0, max: 1 } as const;
