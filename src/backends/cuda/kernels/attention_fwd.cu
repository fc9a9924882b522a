// Grouped attention forward, bf16 storage, fp32 accumulation on tensor cores (mma.sync m16n8k16),
// flash-style (online softmax, FA2 layout): a block owns BM = 16*WARPS query rows of one segment
// and one head, and streams the segment's keys/values in tiles of BN rows through shared memory.
// Rows are read through the plan's index arrays. q [Nq,H,D], k/v [Nk,H,D], o [Nq,H,D] bf16,
// lse [Nq,H] fp32 (natural log; -inf for a row whose segment has no keys).
// Grid: x = tile (upper bound; extra blocks exit), y = head. Tiles of one head are consecutive so
// blocks in flight share the same keys/values in L2.
#include "mma.cuh"

template <int WARPS, int D, int BN>
__device__ __forceinline__ void attn_fwd_bf16(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                                              const __nv_bfloat16* __restrict__ v, __nv_bfloat16* __restrict__ o,
                                              float* __restrict__ lse, const int* __restrict__ qIndex,
                                              const int* __restrict__ qOffsets, const int* __restrict__ kvIndex,
                                              const int* __restrict__ kvOffsets, const int* __restrict__ tileOffsets,
                                              int S, int H, float scaleLog2) {
  constexpr int T = WARPS * 32, BM = 16 * WARPS, CH = D / 8;
  constexpr int KQ = BM * CH / T, KK = BN * CH / T;
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sQ = smem_u32(smem), sK = sQ + BM * D * 2, sV = sK + BN * D * 2;

  const int tile = blockIdx.x, h = blockIdx.y, tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  if (tile >= __ldg(tileOffsets + S)) return;
  const int s = find_segment(tileOffsets, S, tile);
  const int q0 = __ldg(qOffsets + s) + (tile - __ldg(tileOffsets + s)) * BM;
  const int qlen = min(BM, __ldg(qOffsets + s + 1) - q0);
  const int kv0 = __ldg(kvOffsets + s), kvlen = __ldg(kvOffsets + s + 1) - kv0;
  const int nt = (kvlen + BN - 1) / BN;
  const int r0 = warp * 16 + (lane >> 2), r1 = r0 + 8;  // this thread's two query rows in the tile
  const int g0 = r0 < qlen ? __ldg(qIndex + q0 + r0) : -1, g1 = r1 < qlen ? __ldg(qIndex + q0 + r1) : -1;

  if (nt == 0) {  // no keys: zero output, lse = -inf
    for (int c = (lane & 3) * 2; c < D; c += 8) {
      if (g0 >= 0) *reinterpret_cast<uint32_t*>(o + ((size_t)g0 * H + h) * D + c) = 0u;
      if (g1 >= 0) *reinterpret_cast<uint32_t*>(o + ((size_t)g1 * H + h) * D + c) = 0u;
    }
    if ((lane & 3) == 0) {
      if (g0 >= 0) lse[(size_t)g0 * H + h] = -INFINITY;
      if (g1 >= 0) lse[(size_t)g1 * H + h] = -INFINITY;
    }
    return;
  }

  {
    int qi[KQ];
    fetch_rows<BM, D, T>(qi, qIndex, q0, qlen, tid);
    load_rows<BM, D, T>(sQ, q, qi, H, h, tid);
  }
  int cur[KK], nxt[KK];
  fetch_rows<BN, D, T>(cur, kvIndex, kv0, kvlen, tid);
  load_rows<BN, D, T>(sK, k, cur, H, h, tid);
  cp_commit();
  cp_wait<0>();
  __syncthreads();

  uint32_t qa[D / 16][4];
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks)
    ldsm4(qa[ks], tile_addr<D>(sQ, warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, ks * 2 + (lane >> 4)));

  float acc[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.f;
  float m0 = -INFINITY, m1 = -INFINITY, l0 = 0.f, l1 = 0.f;

  for (int j = 0; j < nt; ++j) {
    load_rows<BN, D, T>(sV, v, cur, H, h, tid);
    cp_commit();
    const bool more = j + 1 < nt;
    if (more) fetch_rows<BN, D, T>(nxt, kvIndex, kv0 + (j + 1) * BN, kvlen - (j + 1) * BN, tid);
    cp_wait<1>();  // K_j landed
    __syncthreads();

    float sc[BN / 8][4];
#pragma unroll
    for (int n = 0; n < BN / 8; ++n) sc[n][0] = sc[n][1] = sc[n][2] = sc[n][3] = 0.f;
#pragma unroll
    for (int n = 0; n < BN / 8; ++n) {
#pragma unroll
      for (int kk = 0; kk < D / 32; ++kk) {
        uint32_t b[4];
        ldsm4(b, tile_addr<D>(sK, n * 8 + (lane & 7), kk * 4 + (lane >> 3)));
        mma16816(sc[n], qa[2 * kk], b[0], b[1]);
        mma16816(sc[n], qa[2 * kk + 1], b[2], b[3]);
      }
    }
    __syncthreads();  // everyone is done with K_j
    if (more) load_rows<BN, D, T>(sK, k, nxt, H, h, tid);
    cp_commit();

    // online softmax in the log2 domain; masked keys past the segment's end
    const int left = kvlen - j * BN;
    float mx0 = -INFINITY, mx1 = -INFINITY;
#pragma unroll
    for (int n = 0; n < BN / 8; ++n) {
      const int c = n * 8 + (lane & 3) * 2;
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        float t = sc[n][e] * scaleLog2;
        if (c + (e & 1) >= left) t = -INFINITY;
        sc[n][e] = t;
      }
      mx0 = fmaxf(mx0, fmaxf(sc[n][0], sc[n][1]));
      mx1 = fmaxf(mx1, fmaxf(sc[n][2], sc[n][3]));
    }
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 1));
    mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, 2));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 1));
    mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, 2));
    const float n0 = fmaxf(m0, mx0), n1 = fmaxf(m1, mx1);  // finite: every tile has a valid key
    const float a0 = exp2f(m0 - n0), a1 = exp2f(m1 - n1);
    m0 = n0;
    m1 = n1;
    float s0 = 0.f, s1 = 0.f;
#pragma unroll
    for (int n = 0; n < BN / 8; ++n) {
      sc[n][0] = exp2f(sc[n][0] - n0);
      sc[n][1] = exp2f(sc[n][1] - n0);
      sc[n][2] = exp2f(sc[n][2] - n1);
      sc[n][3] = exp2f(sc[n][3] - n1);
      s0 += sc[n][0] + sc[n][1];
      s1 += sc[n][2] + sc[n][3];
    }
    l0 = l0 * a0 + s0;
    l1 = l1 * a1 + s1;
#pragma unroll
    for (int i = 0; i < D / 8; ++i) {
      acc[i][0] *= a0;
      acc[i][1] *= a0;
      acc[i][2] *= a1;
      acc[i][3] *= a1;
    }

    cp_wait<1>();  // V_j landed
    __syncthreads();
#pragma unroll
    for (int t = 0; t < BN / 16; ++t) {
      uint32_t pa[4] = {pack_bf16(sc[2 * t][0], sc[2 * t][1]), pack_bf16(sc[2 * t][2], sc[2 * t][3]),
                        pack_bf16(sc[2 * t + 1][0], sc[2 * t + 1][1]), pack_bf16(sc[2 * t + 1][2], sc[2 * t + 1][3])};
#pragma unroll
      for (int dp = 0; dp < D / 16; ++dp) {
        uint32_t b[4];
        ldsm4t(b, tile_addr<D>(sV, t * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, dp * 2 + (lane >> 4)));
        mma16816(acc[2 * dp], pa, b[0], b[1]);
        mma16816(acc[2 * dp + 1], pa, b[2], b[3]);
      }
    }
    __syncthreads();  // everyone is done with V_j
#pragma unroll
    for (int i = 0; i < KK; ++i) cur[i] = nxt[i];
  }

  l0 += __shfl_xor_sync(0xffffffffu, l0, 1);
  l0 += __shfl_xor_sync(0xffffffffu, l0, 2);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 1);
  l1 += __shfl_xor_sync(0xffffffffu, l1, 2);
  const float i0 = 1.f / l0, i1 = 1.f / l1;
#pragma unroll
  for (int i = 0; i < D / 8; ++i) {
    const int c = i * 8 + (lane & 3) * 2;
    if (g0 >= 0) *reinterpret_cast<uint32_t*>(o + ((size_t)g0 * H + h) * D + c) = pack_bf16(acc[i][0] * i0, acc[i][1] * i0);
    if (g1 >= 0) *reinterpret_cast<uint32_t*>(o + ((size_t)g1 * H + h) * D + c) = pack_bf16(acc[i][2] * i1, acc[i][3] * i1);
  }
  if ((lane & 3) == 0) {
    const float ln2 = 0.6931471805599453f;
    if (g0 >= 0) lse[(size_t)g0 * H + h] = (m0 + log2f(l0)) * ln2;
    if (g1 >= 0) lse[(size_t)g1 * H + h] = (m1 + log2f(l1)) * ln2;
  }
}

// Instantiations: WARPS x D. Shared memory = (16*WARPS + 2*BN) * D * 2 bytes (dynamic).
#define FWD(W, D)                                                                                                  \
  extern "C" __global__ void __launch_bounds__(W * 32) attn_fwd_bf16_w##W##_d##D(                                  \
      const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, __nv_bfloat16* o, float* lse,          \
      const int* qIndex, const int* qOffsets, const int* kvIndex, const int* kvOffsets, const int* tileOffsets,    \
      int S, int H, float scaleLog2) {                                                                             \
    attn_fwd_bf16<W, D, 64>(q, k, v, o, lse, qIndex, qOffsets, kvIndex, kvOffsets, tileOffsets, S, H, scaleLog2); \
  }
FWD(4, 64)
FWD(4, 128)
FWD(8, 64)
FWD(8, 128)
