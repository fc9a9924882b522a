/**
 * The CUDA backend's entry: a probe that opens the driver, loads the compiled kernels and returns
 * the backend, or a reason (no driver, no device, kernels not built). Loaded lazily by the backend
 * registry so CPU-only machines never load the FFI.
 */
import type { Backend } from '../backend.js';
import { createCudaBackend } from './backend.js';
import { type BlasGemm, openCublasLt } from './cublaslt.js';
import { openCudaDriver } from './driver.js';
import type { Driver } from './driver-types.js';
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

/**
 * Uses cuBLASLt for matmul when the library loads and a small self-test product (all transposes,
 * a batch) comes out right; records why not otherwise, and the own gemm_f32 kernel stays in use.
 */
export function attachCublasLt(
  ctx: CudaContext,
  open: (d: Driver) => BlasGemm | string = openCublasLt,
): void {
  const g = open(ctx.driver);
  if (typeof g === 'string') {
    ctx.gemmMissing = g;
    return;
  }
  try {
    selfTest(ctx, g);
    ctx.gemm = g;
  } catch (e) {
    ctx.gemmMissing = `cuBLASLt self-test failed: ${(e as Error).message}`;
  }
}

function selfTest(ctx: CudaContext, g: BlasGemm): void {
  const [m, n, k, batch] = [3, 5, 4, 2];
  const a = Float32Array.from({ length: batch * m * k }, (_, i) => ((i * 7) % 11) - 5);
  const b = Float32Array.from({ length: k * n }, (_, i) => ((i * 5) % 7) - 3);
  const d = ctx.driver;
  const pa = d.alloc(a.byteLength);
  const pb = d.alloc(b.byteLength);
  const pc = d.alloc(batch * m * n * 4);
  try {
    d.upload(pa, a);
    d.upload(pb, b);
    for (const [transA, transB] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ]) {
      g.matmul({ a: pa, b: pb, c: pc, m, n, k, transA, transB, batch, strideA: m * k, strideB: 0 });
      const c = new Float32Array(batch * m * n);
      d.download(c, pc);
      for (let s = 0; s < batch; s++)
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let x = 0;
            for (let t = 0; t < k; t++)
              x += a[s * m * k + (transA ? t * m + i : i * k + t)] * b[transB ? j * k + t : t * n + j];
            if (c[(s * m + i) * n + j] !== x)
              throw new Error(`C[${s},${i},${j}] = ${c[(s * m + i) * n + j]}, expected ${x}`);
          }
    }
  } finally {
    for (const p of [pa, pb, pc]) d.free(p);
  }
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
  uploadPlan,
} from './plan.js';
export type { CudaContext };
