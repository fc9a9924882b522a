import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BlasGemm } from '../../src/backends/cuda/cublaslt.js';
import { attachCublasLt } from '../../src/backends/cuda/index.js';
import { gemmPath } from '../../src/backends/cuda/ops.js';
import { mockContext } from './helpers.js';
import type { MockDriver } from './mock/driver.js';

/** A host GEMM over the mock's memory; `wrong` swaps the transposes (the classic binding bug). */
function hostGemm(driver: MockDriver, wrong = false): BlasGemm {
  return {
    name: 'host gemm',
    matmul({ a, b, c, m, n, k, transA, transB, batch, strideA, strideB }) {
      const [ta, tb] = wrong ? [transB, transA] : [transA, transB];
      for (let s = 0; s < batch; s++) {
        const A = driver.mem.f32(a + 4 * s * strideA, m * k);
        const B = driver.mem.f32(b + 4 * s * strideB, k * n);
        const C = driver.mem.f32(c + 4 * s * m * n, m * n);
        for (let i = 0; i < m; i++)
          for (let j = 0; j < n; j++) {
            let x = 0;
            for (let t = 0; t < k; t++) x += A[ta ? t * m + i : i * k + t] * B[tb ? j * k + t : t * n + j];
            C[i * n + j] = x;
          }
      }
    },
  };
}

describe('cuBLASLt attachment', () => {
  it('uses a GEMM that passes the self-test', () => {
    const { ctx, driver } = mockContext();
    attachCublasLt(ctx, () => hostGemm(driver));
    assert.equal(ctx.gemm?.name, 'host gemm');
    assert.equal(gemmPath(ctx), 'host gemm');
    assert.equal(driver.liveAllocations(), 0, 'self-test buffers are freed');
  });
  it('keeps the own kernel when the self-test fails or the library is missing', () => {
    const { ctx, driver } = mockContext();
    attachCublasLt(ctx, () => hostGemm(driver, true));
    assert.equal(ctx.gemm, undefined);
    assert.match(gemmPath(ctx), /own gemm_f32 kernel \(cuBLASLt self-test failed: C\[/);
    const other = mockContext();
    attachCublasLt(other.ctx, () => 'libcublasLt not found');
    assert.match(gemmPath(other.ctx), /own gemm_f32 kernel \(libcublasLt not found\)/);
  });
});
