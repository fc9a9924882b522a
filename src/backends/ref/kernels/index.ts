/** The reference kernel table: one plain-TypeScript kernel for every op (the compiler checks it). */
import type { OpName } from '../../../tensor/op-spec.js';
import type { RefKernel } from '../view.js';
import { conv3d, conv3dBackwardInput, conv3dBackwardWeight } from './conv.js';
import { binary, broadcastTo, cast, unary, where } from './elementwise.js';
import { gatherRows, scatterAddRows } from './indexing.js';
import { groupedAttention, groupedAttentionBackward } from './grouped-attention.js';
import { matmul } from './matmul.js';
import { concat, pad, permute, slice } from './movement.js';
import { layerNorm, layerNormBackward, rmsNorm, rmsNormBackward } from './norms.js';
import { argmax, max, sum } from './reduce.js';

export const REF_KERNELS: { [K in OpName]: RefKernel<K> } = {
  neg: unary('neg'),
  exp: unary('exp'),
  log: unary('log'),
  sqrt: unary('sqrt'),
  rsqrt: unary('rsqrt'),
  tanh: unary('tanh'),
  sigmoid: unary('sigmoid'),
  silu: unary('silu'),
  gelu: unary('gelu'),
  abs: unary('abs'),
  sign: unary('sign'),
  sin: unary('sin'),
  cos: unary('cos'),
  add: binary('add'),
  sub: binary('sub'),
  mul: binary('mul'),
  div: binary('div'),
  pow: binary('pow'),
  maximum: binary('maximum'),
  greater: binary('greater'),
  equal: binary('equal'),
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
