/**
 * The backend interface: storage plus dispatch. A backend owns memory (alloc/free/write/read) and
 * runs kernels by op name. Every op has a `ref` kernel; a faster backend adds kernels for the ops
 * it accelerates and may run the rest through `ref` on views of its memory.
 */
import type { AttentionPlan } from '../core/attention-plan.js';
import type { DType, TypedArray } from '../core/dtype.js';
import type { OpName, OpParams } from '../core/op-spec.js';
import type { Shape } from '../core/shape.js';

/** Backend-owned memory; opaque to the tensor layer. */
export interface Storage {
  readonly bytes: number;
}

/** What a kernel sees of a tensor: its storage, shape and dtype (always contiguous, row-major). */
export interface TensorRef {
  readonly storage: Storage;
  readonly shape: Shape;
  readonly dtype: DType;
}

export interface Backend {
  readonly name: string;
  /** Zero-filled storage for `size` elements. */
  alloc(dtype: DType, size: number): Storage;
  free(storage: Storage): void;
  write(storage: Storage, data: TypedArray): void;
  /** A copy of the contents. GPU backends finish pending work first. */
  read(storage: Storage, dtype: DType, size: number): Promise<TypedArray>;
  readSync(storage: Storage, dtype: DType, size: number): TypedArray;
  /** Runs `op`, writing every element of `outs` (allocated by the caller). */
  run<K extends OpName>(
    op: K,
    ins: readonly TensorRef[],
    outs: readonly TensorRef[],
    params: OpParams[K],
  ): void;
  /** Bytes currently allocated and not freed (the memory-flatness tests read this). */
  liveBytes(): number;
  /**
   * Optional (cuda): MoGA's routed plan built where `keys` is, so routing never comes to the
   * host. keys: int32 [N], each row's segment in [0, segments); segment s holds the rows with key
   * s, as queries and as keys/values (row order inside a segment is unspecified). Returns a handle
   * for groupedAttention's params on this backend only (its host arrays are empty); the plan is
   * freed once `keys`' storage and every attention output that used it are.
   */
  routedPlan?(keys: TensorRef, segments: number): AttentionPlan;
}

/** Thrown by a backend asked for a routine it does not implement. */
export class UnsupportedRoutineError extends Error {
  constructor(op: string, backend: string) {
    super(`op '${op}' is not implemented on backend '${backend}'`);
  }
}
