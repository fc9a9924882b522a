/** The reference kernel table: one plain-TypeScript kernel for every op (the compiler checks it). */
import { elementwiseTable, type OpName } from '../../../core/op-spec.js';
import type { RefKernel } from '../view.js';
import { conv3d, conv3dBackwardInput, conv3dBackwardWeight } from './conv.js';
import { binary, broadcastTo, cast, unary, where } from './elementwise.js';
import { groupedAttention, groupedAttentionBackward } from './grouped-attention.js';
import { gatherRows, scatterAddRows } from './indexing.js';
import { matmul } from './matmul.js';
import { concat, pad, permute, slice } from './movement.js';
import { layerNorm, layerNormBackward, rmsNorm, rmsNormBackward } from './norms.js';
import { argmax, max, sum } from './reduce.js';

export const REF_KERNELS: { [K in OpName]: RefKernel<K> } = {
  ...elementwiseTable(unary, binary),
  where,
  sum,
  max,
  argmax,
  // Reshape shares storage in the tensor layer; a kernel is only reached by a backend copying views.
  reshape: ([x], [y]) => y.data.set(x.data),
  permute,
  broadcastTo,
  slice,
  concat,
  pad,
  cast,
  matmul,
  gatherRows,
  scatterAddRows,
  layerNorm,
  layerNormBackward,
  rmsNorm,
  rmsNormBackward,
  conv3d,
  conv3dBackwardInput,
  conv3dBackwardWeight,
  groupedAttention,
  groupedAttentionBackward,
};
