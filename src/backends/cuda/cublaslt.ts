/**
 * fp32 GEMM through cuBLASLt (koffi), used by the matmul op when libcublasLt is found; otherwise
 * the backend keeps its own gemm_f32 kernel. Row-major C[b] = op(A[b]) op(B[b]) is computed as the
 * column-major product C^T = op(B)^T op(A)^T, so no data is transposed. COMPUTE_32F: full fp32
 * (no TF32), to match the reference within 1e-4.
 */
import { createRequire } from 'node:module';
import type { Driver } from './driver-types.js';
import type { Gemm } from './gemm.js';

export interface BlasGemm {
  readonly name: string;
  /** c [batch, m, n] = op(a) op(b); batch strides in elements (0 broadcasts one matrix). */
  matmul(g: Required<Gemm>): void;
}

// from cublasLt.h / cublas_api.h / library_types.h
const COMPUTE_32F = 68;
const R_32F = 0;
const DESC_TRANSA = 3;
const DESC_TRANSB = 4;
const LAYOUT_BATCH_COUNT = 5;
const LAYOUT_STRIDED_BATCH_OFFSET = 6;
const WORKSPACE = 32 << 20;

// biome-ignore lint/suspicious/noExplicitAny: koffi function objects
type Fn = (...a: any[]) => any;

export function openCublasLt(driver: Driver): BlasGemm | string {
  // biome-ignore lint/suspicious/noExplicitAny: koffi module and library
  let koffi: any;
  // biome-ignore lint/suspicious/noExplicitAny: koffi library handle
  let lib: any;
  let found = '';
  try {
    koffi = createRequire(import.meta.url)('koffi');
  } catch (e) {
    return `koffi could not load (${(e as Error).message})`;
  }
  const names = [
    process.env.MOGA_CUBLASLT,
    'libcublasLt.so.13',
    'libcublasLt.so.12',
    'libcublasLt.so',
    '/usr/local/cuda/lib64/libcublasLt.so',
  ];
  for (const n of names) {
    if (!n) continue;
    try {
      lib = koffi.load(n);
      found = n;
      break;
    } catch {}
  }
  if (!lib) return 'libcublasLt not found';
  const f = (sig: string): Fn => lib.func(sig);
  const api = {
    create: f('int cublasLtCreate(_Out_ void **h)'),
    descCreate: f('int cublasLtMatmulDescCreate(_Out_ void **d, int compute, int scale)'),
    descSet: f('int cublasLtMatmulDescSetAttribute(void *d, int attr, const void *buf, size_t n)'),
    descDestroy: f('int cublasLtMatmulDescDestroy(void *d)'),
    layoutCreate: f(
      'int cublasLtMatrixLayoutCreate(_Out_ void **l, int type, uint64_t rows, uint64_t cols, int64_t ld)',
    ),
    layoutSet: f('int cublasLtMatrixLayoutSetAttribute(void *l, int attr, const void *buf, size_t n)'),
    layoutDestroy: f('int cublasLtMatrixLayoutDestroy(void *l)'),
    matmul: f(
      'int cublasLtMatmul(void *h, void *d, const void *alpha, uint64_t A, void *Ad, uint64_t B, void *Bd, const void *beta, uint64_t C, void *Cd, uint64_t D, void *Dd, const void *algo, uint64_t ws, size_t wsBytes, void *stream)',
    ),
  };
  const check = (r: number, what: string) => {
    if (r !== 0) throw new Error(`cuBLASLt ${what} failed with status ${r}`);
  };
  const h = [null];
  try {
    check(api.create(h), 'cublasLtCreate');
  } catch (e) {
    return (e as Error).message;
  }
  const ws = driver.alloc(WORKSPACE);
  const one = Float32Array.of(1);
  const zero = Float32Array.of(0);
  const layout = (rows: number, cols: number, ld: number, batch: number, stride: number) => {
    const l = [null];
    check(api.layoutCreate(l, R_32F, rows, cols, ld), 'cublasLtMatrixLayoutCreate');
    if (batch > 1) {
      check(api.layoutSet(l[0], LAYOUT_BATCH_COUNT, Int32Array.of(batch), 4), 'layout batch count');
      check(
        api.layoutSet(l[0], LAYOUT_STRIDED_BATCH_OFFSET, BigInt64Array.of(BigInt(stride)), 8),
        'layout batch stride',
      );
    }
    return l[0];
  };
  return {
    name: `cuBLASLt (${found}, fp32 compute)`,
    matmul({ a, b, c, m, n, k, transA, transB, batch, strideA, strideB }) {
      const d = [null];
      check(api.descCreate(d, COMPUTE_32F, R_32F), 'cublasLtMatmulDescCreate');
      // column-major view: C^T [n x m] = opB(B)^T [n x k] * opA(A)^T [k x m]
      check(api.descSet(d[0], DESC_TRANSA, Int32Array.of(transB ? 1 : 0), 4), 'desc transA');
      check(api.descSet(d[0], DESC_TRANSB, Int32Array.of(transA ? 1 : 0), 4), 'desc transB');
      const la = transB ? layout(k, n, k, batch, strideB) : layout(n, k, n, batch, strideB);
      const lb = transA ? layout(m, k, m, batch, strideA) : layout(k, m, k, batch, strideA);
      const lc = layout(n, m, n, batch, m * n);
      try {
        check(
          api.matmul(h[0], d[0], one, b, la, a, lb, zero, c, lc, c, lc, null, ws, WORKSPACE, null),
          'cublasLtMatmul',
        );
      } finally {
        for (const l of [la, lb, lc]) api.layoutDestroy(l);
        api.descDestroy(d[0]);
      }
    },
  };
}
