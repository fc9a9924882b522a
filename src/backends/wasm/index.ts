/**
 * The WebAssembly backend: storage is a block in one shared WebAssembly.Memory (heap.ts), kernels
 * are AssemblyScript compiled with SIMD (assembly/), large ops are split over a worker pool on the
 * same memory (pool.ts). Ops without a wasm kernel, or cases a kernel declines (int32 arithmetic,
 * unusual broadcasts), run the `ref` kernel on typed-array views of the heap, so every op works.
 */
import os from 'node:os';
import { BYTES, type DType, type TypedArray } from '../../core/dtype.js';
import type { OpName, OpParams } from '../../core/op-spec.js';
import type { Backend, Storage, TensorRef } from '../backend.js';
import { REF_KERNELS } from '../ref/kernels/index.js';
import type { RefKernel, View } from '../ref/view.js';
import { type KernelExports, ptrOf, type WasmCtx, type WasmKernel, type WasmStorage } from './context.js';
import { createHeap } from './heap.js';
import { WASM_KERNELS } from './kernels/index.js';
import { loadKernelModule } from './loader.js';
import { createPool } from './pool.js';
import { WA } from './wasm-api.js';

export interface WasmOptions {
  /** Threads for large ops, the calling thread included (default: available cores). */
  threads?: number;
  /** false forces the plain-SIMD build even where relaxed SIMD validates. */
  relaxed?: boolean;
  /** Folder holding kernels.wasm / kernels-relaxed.wasm (default: the package's build/wasm). */
  dir?: string;
}

export interface WasmBackend extends Backend {
  readonly threads: number;
  readonly relaxed: boolean;
  /** Bytes taken from the memory so far (live, free-listed and scratch blocks). */
  reservedBytes(): number;
  /** How often each op ran through the `ref` fallback (tests assert the hot ops never do). */
  refFallbacks(): Record<string, number>;
  /** Stops the worker threads; the backend must not be used afterwards. */
  dispose(): void;
}

const KERNEL_NAMES = [
  'gemmBatched',
  'gemmChunks',
  'unaryChunks',
  'binaryChunks',
  'unary',
  'binary',
  'reduce',
  'stridedCopy',
  'gatherRows',
  'scatterAddRows',
  'layerNorm',
  'layerNormBackward',
  'rmsNorm',
  'rmsNormBackward',
  'addInto',
  'where',
  'argmax',
  'castF32I32',
  'castI32F32',
  'attentionForward',
  'attentionBackward',
];

/** The backend, or a string saying why it is unavailable (no build, no SIMD). */
export function createWasmBackend(opts: WasmOptions = {}): WasmBackend | string {
  const threads = opts.threads ?? os.availableParallelism();
  if (!Number.isInteger(threads) || threads < 1)
    throw new Error(`wasm backend: threads must be an integer >= 1, got ${threads}`);
  const loaded = loadKernelModule({ relaxed: opts.relaxed, dir: opts.dir });
  if (typeof loaded === 'string') return loaded;
  const memory = new WA!.Memory({ initial: 64, maximum: 65536, shared: true });
  const instance = new WA!.Instance(loaded.module, {
    env: {
      memory,
      abort: () => {
        throw new Error('wasm kernel aborted');
      },
    },
  });
  const k = instance.exports as unknown as KernelExports;
  const heap = createHeap(memory, k.heapBase(), (p, n) => k.fill32(p, Math.ceil(n / 4), 0));
  const gemmWork = Array.from({ length: threads }, () => heap.alloc(k.gemmWorkBytes(), true));
  const argBlock = heap.alloc(512, true);
  const pool = createPool(loaded.module, memory, instance.exports, KERNEL_NAMES, threads);
  const sharedCtl = heap.alloc(16, true);
  let gen = 0;
  const ctx: WasmCtx = { k, heap, pool, gemmWork, argBlock, sharedCtl, nextGen: () => ++gen };
  const fallbacks: Record<string, number> = {};

  const view = (t: TensorRef): View => {
    const n = t.storage.bytes / BYTES[t.dtype];
    const buf = memory.buffer;
    const p = ptrOf(t);
    return {
      data: t.dtype === 'int32' ? new Int32Array(buf, p, n) : new Float32Array(buf, p, n),
      shape: t.shape,
    };
  };
  const array = (s: Storage, dtype: DType, size: number): TypedArray => {
    const p = (s as WasmStorage).ptr;
    return dtype === 'int32'
      ? heap.i32().subarray(p / 4, p / 4 + size)
      : heap.f32().subarray(p / 4, p / 4 + size);
  };

  const copyOut = (v: TypedArray): TypedArray => {
    const out = v instanceof Int32Array ? new Int32Array(v.length) : new Float32Array(v.length);
    out.set(v);
    return out;
  };

  return {
    name: 'wasm',
    threads,
    relaxed: loaded.relaxed,
    alloc(dtype: DType, size: number): WasmStorage {
      const bytes = size * BYTES[dtype];
      return { ptr: bytes === 0 ? 0 : heap.alloc(bytes), bytes };
    },
    free(s: Storage) {
      if (s.bytes > 0) heap.free((s as WasmStorage).ptr);
    },
    write(s: Storage, data: TypedArray) {
      if (data.byteLength > s.bytes)
        throw new Error(`wasm write: ${data.byteLength} bytes into a ${s.bytes}-byte block`);
      array(s, data instanceof Int32Array ? 'int32' : 'float32', data.length).set(data);
    },
    // new + set: slice() of a shared-memory view copies element by element in V8 (10x slower).
    read: async (s: Storage, dtype: DType, size: number) => copyOut(array(s, dtype, size)),
    readSync: (s: Storage, dtype: DType, size: number) => copyOut(array(s, dtype, size)),
    run<K extends OpName>(op: K, ins: readonly TensorRef[], outs: readonly TensorRef[], params: OpParams[K]) {
      const kern = WASM_KERNELS[op] as WasmKernel<K> | undefined;
      if (kern?.(ctx, ins, outs, params)) return;
      fallbacks[op] = (fallbacks[op] ?? 0) + 1;
      (REF_KERNELS[op] as RefKernel<K>)(ins.map(view), outs.map(view), params);
    },
    liveBytes: () => heap.liveBytes(),
    reservedBytes: () => heap.reservedBytes(),
    refFallbacks: () => ({ ...fallbacks }),
    dispose: () => pool.dispose(),
  };
}
