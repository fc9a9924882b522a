import type { OpName } from '../core/op-spec.js';

/** Ops whose outputs carry no gradient (integer or piecewise-constant results, backward kernels). */
export const NOT_DIFFERENTIABLE: ReadonlySet<OpName> = new Set<OpName>([
  'argmax',
  'greater',
  'equal',
  'sign',
  'layerNormBackward',
  'rmsNormBackward',
  'conv3dBackwardInput',
  'conv3dBackwardWeight',
  'groupedAttentionBackward',
]);
