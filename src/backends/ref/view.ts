import type { TypedArray } from '../../core/dtype.js';
import type { OpName, OpParams } from '../../core/op-spec.js';
import type { Shape } from '../../core/shape.js';

/** A contiguous row-major array with its shape: what reference kernels compute on. */
export interface View {
  readonly data: TypedArray;
  readonly shape: Shape;
}

/** A reference kernel: reads `ins`, writes every element of `outs`. */
export type RefKernel<K extends OpName> = (
  ins: readonly View[],
  outs: readonly View[],
  p: OpParams[K],
) => void;
