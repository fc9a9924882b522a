export * from './autodiff.js';
export * from './dtype.js';
export type { BinaryOp, Meta, OpName, OpParams, UnaryOp } from './op-spec.js';
export * from './ops.js';
export * from './random.js';
export * from './shape.js';
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
