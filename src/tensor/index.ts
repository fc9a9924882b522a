export * from '../core/dtype.js';
export type { BinaryOp, Meta, OpName, OpParams, UnaryOp } from '../core/op-spec.js';
export * from '../core/shape.js';
export * from './autodiff.js';
export * from './ops.js';
export * from './random.js';
export {
  apply,
  empty,
  fromArray,
  full,
  isGradEnabled,
  keep,
  noGrad,
  Tensor,
  tidy,
  tidyAsync,
} from './tensor.js';
