/**
 * The CUDA backend's entry: a probe that opens the driver, loads the compiled kernels and returns
 * the backend, or a reason (no driver, no device, kernels not built). Loaded lazily by the backend
 * registry so CPU-only machines never load the FFI.
 */
import type { Backend } from '../backend.js';
import { createCudaBackend } from './backend.js';
import { openCudaDriver } from './driver.js';
import { createCudaContext, findKernelDir } from './kernels.js';

export function probeCuda(): Backend | string {
  const driver = openCudaDriver();
  if (typeof driver === 'string') return driver;
  const dir = findKernelDir();
  if (!dir) return 'CUDA kernels are not built (run `npm run build` on a machine with nvcc)';
  return createCudaBackend(createCudaContext(driver, dir));
}

export { attentionBackward, attentionForward, type AttnDType, type AttnShape } from './attention.js';
export { type CudaBackend, type CudaStorage, createCudaBackend } from './backend.js';
export * from './driver-types.js';
export { openCudaDriver } from './driver.js';
export { type CudaContext, createCudaContext, findKernelDir } from './kernels.js';
export { buildPlanOnGpu, type DevicePlan, downloadPlan, freePlan, type HostPlan, uploadPlan, validatePlan } from './plan.js';
