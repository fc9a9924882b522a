/** What a wasm kernel sees: the kernel exports, the heap, the worker pool, per-thread scratch. */
import type { OpName, OpParams } from '../../core/op-spec.js';
import type { Storage, TensorRef } from '../backend.js';
import type { Heap } from './heap.js';
import type { Pool } from './pool.js';

export interface WasmStorage extends Storage {
  /** Byte offset of the block in the shared memory (0 for an empty tensor). */
  readonly ptr: number;
}

/** The kernel module's exports (see assembly/index.ts); pointers are byte offsets. */
export interface KernelExports {
  heapBase(): number;
  gemmWorkBytes(): number;
  gemmBatched(...args: number[]): void;
  gemmChunks(...args: number[]): void;
  unaryChunks(...args: number[]): void;
  binaryChunks(...args: number[]): void;
  packBFull(dst: number, b: number, brs: number, bcs: number, k: number, n: number): void;
  unary(op: number, x: number, y: number, n: number): void;
  binary(op: number, a: number, b: number, y: number, n: number, mode: number, inner: number): void;
  reduce(op: number, x: number, y: number, outer: number, mid: number, inner: number): void;
  stridedCopy(x: number, y: number, rank: number, shape: number, xs: number, ys: number, idx: number): void;
  gatherRows(x: number, idx: number, y: number, m: number, w: number): void;
  scatterAddRows(src: number, idx: number, y: number, m: number, w: number, rows: number): void;
  layerNorm(...args: number[]): void;
  layerNormBackward(...args: number[]): void;
  rmsNorm(...args: number[]): void;
  rmsNormBackward(...args: number[]): void;
  addInto(dst: number, src: number, n: number): void;
  fill32(y: number, n: number, bits: number): void;
  copyBytes(dst: number, src: number, bytes: number): void;
  transpose2d(x: number, y: number, rows: number, cols: number, sxc: number, syr: number): void;
  where(c: number, a: number, as: number, b: number, bs: number, y: number, n: number): void;
  argmax(x: number, y: number, outer: number, n: number, inner: number): void;
  castF32I32(x: number, y: number, n: number): void;
  castI32F32(x: number, y: number, n: number): void;
  /** conv.ts: (x, col, Ci, T, H, W, KT, KH, KW, Ho, Wo, st, sh, sw, pt, ph, pw, r0, r1) */
  convIm2col(...args: number[]): void;
  /** conv.ts: (col, dx, ...the same geometry) adds the adjoint of im2col into dx. */
  convCol2im(...args: number[]): void;
}

export interface WasmCtx {
  readonly k: KernelExports;
  readonly heap: Heap;
  readonly pool: Pool;
  /** gemmWorkBytes() of scratch per thread (index 0: the calling thread). */
  readonly gemmWork: readonly number[];
  /** 512 bytes of scratch for small argument arrays (shapes, strides) of calling-thread kernels. */
  readonly argBlock: number;
  /** 16 bytes for work-sharing kernels (claim word + done count); never freed, as late workers may read it. */
  readonly sharedCtl: number;
  /** A new generation number for a work-sharing job. */
  nextGen(): number;
}

/** A wasm kernel: returns false when this case has no wasm path (the backend then runs `ref`). */
export type WasmKernel<K extends OpName> = (
  ctx: WasmCtx,
  ins: readonly TensorRef[],
  outs: readonly TensorRef[],
  p: OpParams[K],
) => boolean;

export const ptrOf = (t: TensorRef): number => (t.storage as WasmStorage).ptr;
