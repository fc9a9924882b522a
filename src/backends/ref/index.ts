/**
 * The reference backend: storage is a plain typed array, every kernel is obviously-correct
 * TypeScript (float64 accumulation where it matters). It is the oracle the other backends are
 * tested against, and the fallback for ops a faster backend does not accelerate.
 */
import { BYTES, type DType, makeArray, type TypedArray } from '../../core/dtype.js';
import type { OpName, OpParams } from '../../core/op-spec.js';
import type { Backend, Storage, TensorRef } from '../backend.js';
import { REF_KERNELS } from './kernels/index.js';
import type { RefKernel, View } from './view.js';

export interface RefStorage extends Storage {
  readonly array: TypedArray;
}

export function createRefBackend(): Backend {
  let live = 0;
  const view = (t: TensorRef): View => ({ data: (t.storage as RefStorage).array, shape: t.shape });
  return {
    name: 'ref',
    alloc(dtype: DType, size: number): RefStorage {
      live += size * BYTES[dtype];
      return { array: makeArray(dtype, size), bytes: size * BYTES[dtype] };
    },
    free(s: Storage) {
      live -= s.bytes;
    },
    write(s: Storage, data: TypedArray) {
      (s as RefStorage).array.set(data);
    },
    read: async (s: Storage) => (s as RefStorage).array.slice(),
    readSync: (s: Storage) => (s as RefStorage).array.slice(),
    run<K extends OpName>(op: K, ins: readonly TensorRef[], outs: readonly TensorRef[], params: OpParams[K]) {
      (REF_KERNELS[op] as RefKernel<K>)(ins.map(view), outs.map(view), params);
    },
    liveBytes: () => live,
  };
}
