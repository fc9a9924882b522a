/**
 * The CUDA backend's entry: a probe that opens the driver, loads the compiled kernels and returns
 * the backend, or a reason (no driver, no device, kernels not built). Loaded lazily by the backend
 * registry so CPU-only machines never load the FFI.
 */
import type { Backend } from '../backend.js';
import { createCudaBackend } from './backend.js';
import { openCublasLt } from './cublaslt.js';
import { openCudaDriver } from './driver.js';
import { type CudaContext, createCudaContext, findKernelDir } from './kernels.js';

export function probeCuda(): Backend | string {
  const driver = openCudaDriver();
  if (typeof driver === 'string') return driver;
  const dir = findKernelDir();
  if (!dir) return 'CUDA kernels are not built (run `npm run build` on a machine with nvcc)';
  const ctx = createCudaContext(driver, dir);
  attachCublasLt(ctx);
  return createCudaBackend(ctx);
}

/** Uses cuBLASLt for matmul when the library loads; records why not otherwise. */
export function attachCublasLt(ctx: CudaContext): void {
  const g = openCublasLt(ctx.driver);
  if (typeof g === 'string') ctx.gemmMissing = g;
  else ctx.gemm = g;
}

export { type AttnDType, type AttnShape, attentionBackward, attentionForward } from './attention.js';
export type { CudaOpOptions } from './attention-op.js';
export { type CudaBackend, type CudaStorage, createCudaBackend } from './backend.js';
export { type BlasGemm, openCublasLt } from './cublaslt.js';
export { openCudaDriver } from './driver.js';
export * from './driver-types.js';
export { createCudaContext, findKernelDir } from './kernels.js';
export {
  buildPlanOnGpu,
  type DevicePlan,
  downloadPlan,
  freePlan,
  type HostPlan,
  uploadPlan,
  validatePlan,
} from './plan.js';
export type { CudaContext };
