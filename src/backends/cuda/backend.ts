/**
 * The CUDA backend: storage in device memory, ops from ops.ts on the device, every other op (or
 * case) through the reference kernel on downloaded copies (correct, slow; counted in `fallbacks`).
 */

import type { AttentionPlan } from '../../core/attention-plan.js';
import { BYTES, type DType, makeArray, type TypedArray } from '../../core/dtype.js';
import type { OpName, OpParams } from '../../core/op-spec.js';
import { sizeOf } from '../../core/shape.js';
import type { Backend, Storage, TensorRef } from '../backend.js';
import { REF_KERNELS } from '../ref/kernels/index.js';
import type { RefKernel, View } from '../ref/view.js';
import { type CudaOpOptions, holdDevicePlan } from './attention-op.js';
import type { DevPtr } from './driver-types.js';
import type { CudaContext } from './kernels.js';
import { freeWith, type HoldingStorage, ptrOf } from './op-types.js';
import { CUDA_OPS } from './ops.js';
import { groupPlanOnGpu } from './plan.js';

export interface CudaStorage extends Storage {
  readonly ptr: DevPtr;
}

export interface CudaBackend extends Backend {
  readonly ctx: CudaContext;
  /** How many times each op ran through the reference fallback. */
  readonly fallbacks: Map<string, number>;
}

export function createCudaBackend(ctx: CudaContext, options: CudaOpOptions = {}): CudaBackend {
  const d = ctx.driver;
  let live = 0;
  const fallbacks = new Map<string, number>();
  const read = (s: Storage, dtype: DType, size: number): TypedArray => {
    const a = makeArray(dtype, size);
    d.download(a, (s as CudaStorage).ptr);
    return a;
  };
  const viewOf = (t: TensorRef): View => ({
    data: read(t.storage, t.dtype, sizeOf(t.shape)),
    shape: t.shape,
  });
  return {
    name: 'cuda',
    ctx,
    fallbacks,
    alloc(dtype: DType, size: number): CudaStorage {
      const bytes = size * BYTES[dtype];
      const ptr = d.alloc(bytes);
      d.memset(ptr, 0, bytes);
      live += bytes;
      return { ptr, bytes };
    },
    free(s: Storage) {
      for (const release of (s as HoldingStorage).onFree ?? []) release();
      d.free((s as CudaStorage).ptr);
      live -= s.bytes;
    },
    write(s: Storage, data: TypedArray) {
      if (data.byteLength > s.bytes) throw new Error(`write of ${data.byteLength} bytes into ${s.bytes}`);
      d.upload((s as CudaStorage).ptr, data);
    },
    read: async (s, dtype, size) => read(s, dtype, size),
    readSync: read,
    run<K extends OpName>(op: K, ins: readonly TensorRef[], outs: readonly TensorRef[], params: OpParams[K]) {
      const k = CUDA_OPS[op];
      if (k?.(ctx, ins, outs, params, options)) return;
      fallbacks.set(op, (fallbacks.get(op) ?? 0) + 1);
      const outViews = outs.map((t) => ({ data: makeArray(t.dtype, sizeOf(t.shape)), shape: t.shape }));
      (REF_KERNELS[op] as RefKernel<K>)(ins.map(viewOf), outViews, params);
      outs.forEach((t, i) => d.upload(ptrOf(t), outViews[i].data));
    },
    // what the context holds too: device plans (and any scratch of an op in flight)
    liveBytes: () => live + ctx.tempBytes(),
    routedPlan(keys: TensorRef, segments: number): AttentionPlan {
      if (keys.dtype !== 'int32') throw new Error(`routedPlan: keys must be int32, got ${keys.dtype}`);
      const n = sizeOf(keys.shape);
      const { handle, release } = holdDevicePlan(ctx, groupPlanOnGpu(ctx, ptrOf(keys), n, segments), n);
      freeWith(keys, release);
      return handle;
    },
  };
}
