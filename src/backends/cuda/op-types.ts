/** What a CUDA op is (ops.ts, movement.ts): a function over device tensors, and a tensor's address. */
import type { OpName, OpParams } from '../../core/op-spec.js';
import type { TensorRef } from '../backend.js';
import type { CudaOpOptions } from './attention-op.js';
import type { DevPtr } from './driver-types.js';
import { type CudaContext, grid1d } from './kernels.js';

/** Runs op K on the device; false when it does not cover the case, and the backend falls back. */
export type CudaOp<K extends OpName> = (
  ctx: CudaContext,
  ins: readonly TensorRef[],
  outs: readonly TensorRef[],
  p: OpParams[K],
  o: CudaOpOptions,
) => boolean;

export const ptrOf = (t: TensorRef): DevPtr => (t.storage as unknown as { ptr: DevPtr }).ptr;

/** Storage with the releases to run when the backend frees it (device plans held by a tensor). */
export interface HoldingStorage {
  onFree?: (() => void)[];
}

/** Runs `release` when `t`'s storage is freed (by the backend's free: the last tensor on it disposed). */
export function freeWith(t: TensorRef, release: () => void): void {
  const s = t.storage as HoldingStorage;
  (s.onFree ??= []).push(release);
}

/** Grid-stride launches: enough blocks to fill the chip, capped. */
export const elementGrid = (n: number) => grid1d(Math.min(n, 65535 * 256));
