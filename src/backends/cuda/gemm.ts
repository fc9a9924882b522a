/**
 * One fp32 GEMM on the device, by the path the matmul op takes: cuBLASLt when the context has it
 * (cublaslt.ts), else the gemm_f32 kernel (kernels/gemm.cu). Row-major c [batch, m, n] =
 * op(a) op(b), contiguous operands; batch strides in elements (0 broadcasts one matrix).
 */
import type { DevPtr } from './driver-types.js';
import type { CudaContext } from './kernels.js';

export interface Gemm {
  a: DevPtr;
  b: DevPtr;
  c: DevPtr;
  m: number;
  n: number;
  k: number;
  transA: boolean;
  transB: boolean;
  batch?: number;
  strideA?: number;
  strideB?: number;
}

/** Runs the GEMM (m, n, k and batch > 0; see ops.ts matmul for the k = 0 and empty cases). */
export function gemm(ctx: CudaContext, g: Gemm): void {
  const batch = g.batch ?? 1;
  const strideA = g.strideA ?? 0;
  const strideB = g.strideB ?? 0;
  if (ctx.gemm) {
    ctx.gemm.matmul({ ...g, batch, strideA, strideB });
    return;
  }
  ctx.launch(
    'gemm',
    'gemm_f32',
    { grid: [Math.ceil(g.n / 64), Math.ceil(g.m / 64), batch], block: [256, 1, 1], shared: 0 },
    [
      { ptr: g.a },
      { ptr: g.b },
      { ptr: g.c },
      { i32: g.m },
      { i32: g.n },
      { i32: g.k },
      { i32: g.transA ? 1 : 0 },
      { i32: g.transB ? 1 : 0 },
      { i64: strideA },
      { i64: strideB },
    ],
  );
}
