/** A mock CUDA context for host-side tests: signatures from the .cu sources, emulated kernels. */
import { type CudaContext, createCudaContext } from '../../src/backends/cuda/kernels.js';
import { readSignatures } from '../../src/backends/cuda/signatures.js';
import { MOCK_BACKWARD_KERNELS } from './mock/backward.js';
import { MOCK_CONV_KERNELS } from './mock/conv.js';
import { createMockDriver, type MockDriver, type MockKernel } from './mock/driver.js';
import { MOCK_ELEMENTWISE_KERNELS } from './mock/elementwise.js';
import { MOCK_KERNELS } from './mock/kernels.js';
import { MOCK_ROWS_KERNELS } from './mock/rows.js';

export const KERNEL_SRC = 'src/backends/cuda/kernels';
export const MODULES = [
  'attention_fwd',
  'attention_bwd',
  'attention_f32',
  'plan',
  'elementwise',
  'rows',
  'gemm',
  'movement',
  'conv',
];

/** A mock context; `kernels` replace the host versions of the same names (e.g. host builds of .cu files). */
export function mockContext(kernels: Record<string, MockKernel> = {}): {
  ctx: CudaContext;
  driver: MockDriver;
} {
  const driver = createMockDriver(readSignatures(KERNEL_SRC), {
    ...MOCK_KERNELS,
    ...MOCK_BACKWARD_KERNELS,
    ...MOCK_ELEMENTWISE_KERNELS,
    ...MOCK_ROWS_KERNELS,
    ...MOCK_CONV_KERNELS,
    ...kernels,
  });
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

/** Seeded integers for drawing shapes and parameters (mulberry32: consecutive seeds draw unalike). */
export function draws(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    /** An integer in [lo, hi]. */
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    /** A random order of 0..n-1. */
    perm: (n: number) => {
      const p = Array.from({ length: n }, (_, i) => i);
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(next() * (i + 1));
        [p[i], p[j]] = [p[j], p[i]];
      }
      return p;
    },
  };
}
