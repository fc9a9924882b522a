/** The wasm kernel table: ops listed here run in WebAssembly; the rest run `ref` on views of the heap. */
import { elementwiseTable, type OpName } from '../../../core/op-spec.js';
import type { WasmKernel } from '../context.js';
import { conv3d, conv3dBackwardInput, conv3dBackwardWeight } from './conv.js';
import { binary, unary } from './elementwise.js';
import { groupedAttention, groupedAttentionBackward } from './grouped-attention.js';
import { gatherRows, scatterAddRows } from './indexing.js';
import { matmul } from './matmul.js';
import { broadcastTo, concat, pad, permute, reshape, slice } from './movement.js';
import { layerNorm, layerNormBackward, rmsNorm, rmsNormBackward } from './norms.js';
import { reduce } from './reduce.js';
import { argmax, cast, where } from './select.js';

export const WASM_KERNELS: { [K in OpName]?: WasmKernel<K> } = {
  ...elementwiseTable(unary, binary),
  where,
  sum: reduce('sum'),
  max: reduce('max'),
  argmax,
  cast,
  reshape,
  permute,
  broadcastTo,
  slice,
  concat,
  pad,
  matmul,
  gatherRows,
  scatterAddRows,
  layerNorm,
  layerNormBackward,
  rmsNorm,
  rmsNormBackward,
  groupedAttention,
  groupedAttentionBackward,
  conv3d,
  conv3dBackwardInput,
  conv3dBackwardWeight,
};
