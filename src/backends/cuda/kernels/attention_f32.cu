// Grouped attention in fp32 (any D <= 256, plain CUDA cores): the exact path for float32 tensors
// and for head sizes the tensor-core kernels do not cover. One warp per (plan position, head);
// lane l holds elements d = l, l+32, ... of its row. Positions past the plan's end exit.
#include <math.h>
#include <stdint.h>
#define MAXR 8  // 256 / 32

__device__ __forceinline__ int seg_of(const int* __restrict__ offsets, int S, int p) {
  int lo = 0, hi = S;  // offsets[lo] <= p < offsets[hi]
  while (hi - lo > 1) {
    int mid = (lo + hi) >> 1;
    if (__ldg(offsets + mid) <= p) lo = mid; else hi = mid;
  }
  return lo;
}
__device__ __forceinline__ float warp_sum(float s) {
  for (int o = 16; o; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  return s;
}

// o [Nq,H,D], lse [Nq,H]. grid.x*8 warps >= positions, grid.y = H.
extern "C" __global__ void attn_fwd_f32(const float* __restrict__ q, const float* __restrict__ k,
                                        const float* __restrict__ v, float* __restrict__ o, float* __restrict__ lse,
                                        const int* __restrict__ qIndex, const int* __restrict__ qOffsets,
                                        const int* __restrict__ kvIndex, const int* __restrict__ kvOffsets, int S,
                                        int H, int D, float scale) {
  const int p = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31, h = blockIdx.y;
  if (p >= __ldg(qOffsets + S)) return;
  const int s = seg_of(qOffsets, S, p), g = __ldg(qIndex + p);
  const int kv0 = __ldg(kvOffsets + s), kv1 = __ldg(kvOffsets + s + 1);
  float qr[MAXR], acc[MAXR];
  const float* qp = q + ((size_t)g * H + h) * D;
#pragma unroll
  for (int i = 0; i < MAXR; ++i) {
    const int d = lane + 32 * i;
    qr[i] = d < D ? qp[d] * scale : 0.f;
    acc[i] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  for (int j = kv0; j < kv1; ++j) {
    const int r = __ldg(kvIndex + j);
    const float* kp = k + ((size_t)r * H + h) * D;
    const float* vp = v + ((size_t)r * H + h) * D;
    float t = 0.f;
#pragma unroll
    for (int i = 0; i < MAXR; ++i) {
      const int d = lane + 32 * i;
      if (d < D) t += qr[i] * kp[d];
    }
    t = warp_sum(t);
    const float mn = fmaxf(m, t), a = expf(m - mn), e = expf(t - mn);
    l = l * a + e;
    m = mn;
#pragma unroll
    for (int i = 0; i < MAXR; ++i) {
      const int d = lane + 32 * i;
      if (d < D) acc[i] = acc[i] * a + e * vp[d];
    }
  }
  float* op = o + ((size_t)g * H + h) * D;
  const float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
  for (int i = 0; i < MAXR; ++i) {
    const int d = lane + 32 * i;
    if (d < D) op[d] = acc[i] * inv;
  }
  if (lane == 0) lse[(size_t)g * H + h] = l > 0.f ? m + logf(l) : -INFINITY;
}

// delta[r] = sum_d dO[r,d] * O[r,d] over rows of length D; one warp per row.
extern "C" __global__ void attn_bwd_delta_f32(const float* __restrict__ dO, const float* __restrict__ O,
                                              float* __restrict__ delta, long long rows, int D) {
  const long long w = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  const int lane = threadIdx.x & 31;
  if (w >= rows) return;
  float s = 0.f;
  for (int d = lane; d < D; d += 32) s += dO[w * D + d] * O[w * D + d];
  s = warp_sum(s);
  if (lane == 0) delta[w] = s;
}

// dq (added into zeroed fp32 dq): one warp per query position.
extern "C" __global__ void attn_bwd_dq_f32(const float* __restrict__ q, const float* __restrict__ k,
                                           const float* __restrict__ v, const float* __restrict__ dO,
                                           const float* __restrict__ lse, const float* __restrict__ delta,
                                           float* __restrict__ dq, const int* __restrict__ qIndex,
                                           const int* __restrict__ qOffsets, const int* __restrict__ kvIndex,
                                           const int* __restrict__ kvOffsets, int S, int H, int D, float scale) {
  const int p = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31, h = blockIdx.y;
  if (p >= __ldg(qOffsets + S)) return;
  const int s = seg_of(qOffsets, S, p), g = __ldg(qIndex + p);
  const int kv0 = __ldg(kvOffsets + s), kv1 = __ldg(kvOffsets + s + 1);
  const size_t row = (size_t)g * H + h;
  const float L = lse[row], Dl = delta[row];
  float qr[MAXR], gr[MAXR], acc[MAXR];
#pragma unroll
  for (int i = 0; i < MAXR; ++i) {
    const int d = lane + 32 * i;
    qr[i] = d < D ? q[row * D + d] : 0.f;
    gr[i] = d < D ? dO[row * D + d] : 0.f;
    acc[i] = 0.f;
  }
  for (int j = kv0; j < kv1; ++j) {
    const size_t r = (size_t)__ldg(kvIndex + j) * H + h;
    float t = 0.f, u = 0.f;
#pragma unroll
    for (int i = 0; i < MAXR; ++i) {
      const int d = lane + 32 * i;
      if (d < D) {
        t += qr[i] * k[r * D + d];
        u += gr[i] * v[r * D + d];
      }
    }
    t = warp_sum(t);
    u = warp_sum(u);
    const float ds = expf(t * scale - L) * (u - Dl) * scale;
#pragma unroll
    for (int i = 0; i < MAXR; ++i) {
      const int d = lane + 32 * i;
      if (d < D) acc[i] += ds * k[r * D + d];
    }
  }
#pragma unroll
  for (int i = 0; i < MAXR; ++i) {
    const int d = lane + 32 * i;
    if (d < D) atomicAdd(dq + row * D + d, acc[i]);
  }
}

// dk, dv (added into zeroed fp32 buffers): one warp per key position.
extern "C" __global__ void attn_bwd_dkdv_f32(const float* __restrict__ q, const float* __restrict__ k,
                                             const float* __restrict__ v, const float* __restrict__ dO,
                                             const float* __restrict__ lse, const float* __restrict__ delta,
                                             float* __restrict__ dk, float* __restrict__ dv,
                                             const int* __restrict__ qIndex, const int* __restrict__ qOffsets,
                                             const int* __restrict__ kvIndex, const int* __restrict__ kvOffsets,
                                             int S, int H, int D, float scale) {
  const int p = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31, h = blockIdx.y;
  if (p >= __ldg(kvOffsets + S)) return;
  const int s = seg_of(kvOffsets, S, p);
  const size_t row = (size_t)__ldg(kvIndex + p) * H + h;
  const int q0 = __ldg(qOffsets + s), q1 = __ldg(qOffsets + s + 1);
  float kr[MAXR], vr[MAXR], ak[MAXR], av[MAXR];
#pragma unroll
  for (int i = 0; i < MAXR; ++i) {
    const int d = lane + 32 * i;
    kr[i] = d < D ? k[row * D + d] : 0.f;
    vr[i] = d < D ? v[row * D + d] : 0.f;
    ak[i] = av[i] = 0.f;
  }
  for (int j = q0; j < q1; ++j) {
    const size_t r = (size_t)__ldg(qIndex + j) * H + h;
    float t = 0.f, u = 0.f;
#pragma unroll
    for (int i = 0; i < MAXR; ++i) {
      const int d = lane + 32 * i;
      if (d < D) {
        t += kr[i] * q[r * D + d];
        u += vr[i] * dO[r * D + d];
      }
    }
    t = warp_sum(t);
    u = warp_sum(u);
    const float pr = expf(t * scale - lse[r]);
    const float ds = pr * (u - delta[r]) * scale;
#pragma unroll
    for (int i = 0; i < MAXR; ++i) {
      const int d = lane + 32 * i;
      if (d < D) {
        av[i] += pr * dO[r * D + d];
        ak[i] += ds * q[r * D + d];
      }
    }
  }
#pragma unroll
  for (int i = 0; i < MAXR; ++i) {
    const int d = lane + 32 * i;
    if (d < D) {
      atomicAdd(dk + row * D + d, ak[i]);
      atomicAdd(dv + row * D + d, av[i]);
    }
  }
}
