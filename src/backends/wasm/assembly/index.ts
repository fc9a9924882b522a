// The WebAssembly kernel module: every export is a kernel over raw byte offsets into the one shared
// memory (which the JS side allocates); kernels keep no state, so any thread may run any of them.
export { attentionBackward, attentionForward, attentionWorkBytes } from './attention';
export { convCol2im, convIm2col } from './conv';
export { binary, binaryChunks, unary, unaryChunks } from './elementwise';
export { gemm, gemmBatched, gemmChunks, gemmWorkBytes, packBFull } from './gemm';
export { copyBytes, fill32, gatherRows, scatterAddRows, stridedCopy, transpose2d } from './movement';
export { addInto, layerNorm, layerNormBackward, rmsNorm, rmsNormBackward } from './norms';
export { reduce } from './reduce';
export { argmax, castF32I32, castI32F32, where } from './select';

/** First byte after the module's static data: the JS allocator starts here. */
export function heapBase(): usize {
  return __heap_base;
}
