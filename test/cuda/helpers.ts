/** A mock CUDA context for host-side tests: signatures from the .cu sources, emulated kernels. */
import { type CudaContext, createCudaContext } from '../../src/backends/cuda/kernels.js';
import { readSignatures } from '../../src/backends/cuda/signatures.js';
import { MOCK_BACKWARD_KERNELS } from './mock/backward.js';
import { createMockDriver, type MockDriver } from './mock/driver.js';
import { MOCK_KERNELS } from './mock/kernels.js';

export const KERNEL_SRC = 'src/backends/cuda/kernels';
export const MODULES = [
  'attention_fwd',
  'attention_bwd',
  'attention_f32',
  'plan',
  'elementwise',
  'rows',
  'gemm',
];

export function mockContext(): { ctx: CudaContext; driver: MockDriver } {
  const driver = createMockDriver(readSignatures(KERNEL_SRC), { ...MOCK_KERNELS, ...MOCK_BACKWARD_KERNELS });
  const ctx = createCudaContext(driver, Object.fromEntries(MODULES.map((m) => [m, new Uint8Array(0)])));
  return { ctx, driver };
}

/** Seeded uniform numbers in [-1, 1). */
export function randoms(seed: number, n: number, scale = 1): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = ((a / 4294967296) * 2 - 1) * scale;
  }
  return out;
}
