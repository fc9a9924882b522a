// Batched fp32 GEMM on CUDA cores, the fallback when cuBLASLt is not found: C[b] = op(A[b]) op(B[b])
// with op = optional transpose; C [batch, M, N] contiguous; batch strides may be 0 (broadcast).
// 64x64 tiles, 256 threads, 4x4 outputs per thread, K in steps of 16 through shared memory.
#include <stdint.h>

extern "C" __global__ void __launch_bounds__(256) gemm_f32(const float* __restrict__ A, const float* __restrict__ B,
                                                           float* __restrict__ C, int M, int N, int K, int transA,
                                                           int transB, long long strideA, long long strideB) {
  __shared__ float As[16][64 + 1], Bs[16][64 + 1];
  const int b = blockIdx.z, tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int m0 = blockIdx.y * 64, n0 = blockIdx.x * 64;
  const float* a = A + b * strideA;
  const float* bb = B + b * strideB;
  float acc[4][4] = {};
  for (int k0 = 0; k0 < K; k0 += 16) {
    for (int i = threadIdx.x; i < 16 * 64; i += 256) {
      const int kk = i / 64, mm = i % 64;
      const int m = m0 + mm, n = n0 + mm, k = k0 + kk;
      // A element (m, k): row-major [M,K] or, transposed, stored [K,M]
      As[kk][mm] = (m < M && k < K) ? (transA ? a[(long long)k * M + m] : a[(long long)m * K + k]) : 0.f;
      Bs[kk][mm] = (n < N && k < K) ? (transB ? bb[(long long)n * K + k] : bb[(long long)k * N + n]) : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < 16; ++kk) {
      float ar[4], br[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        ar[i] = As[kk][ty * 4 + i];
        br[i] = Bs[kk][tx * 4 + i];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] += ar[i] * br[j];
    }
    __syncthreads();
  }
  float* c = C + (long long)b * M * N;
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int m = m0 + ty * 4 + i, n = n0 + tx * 4 + j;
      if (m < M && n < N) c[(long long)m * N + n] = acc[i][j];
    }
}
