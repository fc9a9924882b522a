// Grouped attention backward, bf16 storage, fp32 accumulation on tensor cores (FA2-style math,
// split in two kernels that each have the forward's shape so no kernel needs atomics inside its
// loop): dq by query tiles streaming keys, dk/dv by key tiles streaming queries. Results are added
// (red.global.add) into fp32 dq [Nq,H,D], dk/dv [Nk,H,D] that the caller zeroed, so a key row used
// by several segments gets the sum. delta [Nq,H] = rowsum(dO * O) comes from attn_bwd_delta.
#include "mma.cuh"

// delta[r,h] = sum_d dO[r,h,d] * O[r,h,d]; one warp per (row, head).
extern "C" __global__ void attn_bwd_delta_bf16(const __nv_bfloat16* __restrict__ dO, const __nv_bfloat16* __restrict__ O,
                                               float* __restrict__ delta, long long rows, int D) {
  long long w = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
  int lane = threadIdx.x & 31;
  if (w >= rows) return;
  const __nv_bfloat162* a = reinterpret_cast<const __nv_bfloat162*>(dO + w * D);
  const __nv_bfloat162* b = reinterpret_cast<const __nv_bfloat162*>(O + w * D);
  float s = 0.f;
  for (int i = lane; i < D / 2; i += 32) {
    float2 x = __bfloat1622float2(a[i]), y = __bfloat1622float2(b[i]);
    s += x.x * y.x + x.y * y.y;
  }
  for (int o = 16; o; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  if (lane == 0) delta[w] = s;
}

// dq: block = 16*WARPS query rows of one segment x one head; keys/values in tiles of BN, double
// buffered. Shared: Q, dO [BM][D], then 2 x (K, V) [BN][D].
template <int WARPS, int D, int BN>
__device__ __forceinline__ void attn_bwd_dq(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                                            const __nv_bfloat16* __restrict__ v, const __nv_bfloat16* __restrict__ dO,
                                            const float* __restrict__ lse, const float* __restrict__ delta,
                                            float* __restrict__ dq, const int* __restrict__ qIndex,
                                            const int* __restrict__ qOffsets, const int* __restrict__ kvIndex,
                                            const int* __restrict__ kvOffsets, const int* __restrict__ tileOffsets,
                                            int S, int H, float scale) {
  constexpr int T = WARPS * 32, BM = 16 * WARPS, CH = D / 8;
  constexpr int KQ = BM * CH / T, KK = BN * CH / T;
  constexpr float LOG2E = 1.4426950408889634f;
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sQ = smem_u32(smem), sO = sQ + BM * D * 2, sKV = sO + BM * D * 2;
  const uint32_t TILE = BN * D * 2;  // one K or V tile; buffer b holds K at sKV + 2*b*TILE, V after it

  const int tile = blockIdx.x, h = blockIdx.y, tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  if (tile >= __ldg(tileOffsets + S)) return;
  const int s = find_segment(tileOffsets, S, tile);
  const int q0 = __ldg(qOffsets + s) + (tile - __ldg(tileOffsets + s)) * BM;
  const int qlen = min(BM, __ldg(qOffsets + s + 1) - q0);
  const int kv0 = __ldg(kvOffsets + s), kvlen = __ldg(kvOffsets + s + 1) - kv0;
  const int nt = (kvlen + BN - 1) / BN;
  if (nt == 0) return;
  const int r0 = warp * 16 + (lane >> 2), r1 = r0 + 8;
  const int g0 = r0 < qlen ? __ldg(qIndex + q0 + r0) : -1, g1 = r1 < qlen ? __ldg(qIndex + q0 + r1) : -1;
  const float L0 = g0 >= 0 ? __ldg(lse + (size_t)g0 * H + h) * LOG2E : 0.f;
  const float L1 = g1 >= 0 ? __ldg(lse + (size_t)g1 * H + h) * LOG2E : 0.f;
  const float D0 = g0 >= 0 ? __ldg(delta + (size_t)g0 * H + h) : 0.f;
  const float D1 = g1 >= 0 ? __ldg(delta + (size_t)g1 * H + h) : 0.f;
  const float scaleLog2 = scale * LOG2E;

  {
    int qi[KQ];
    fetch_rows<BM, D, T>(qi, qIndex, q0, qlen, tid);
    load_rows<BM, D, T>(sQ, q, qi, H, h, tid);
    load_rows<BM, D, T>(sO, dO, qi, H, h, tid);
  }
  int nxt[KK];
  {
    int cur[KK];
    fetch_rows<BN, D, T>(cur, kvIndex, kv0, kvlen, tid);
    load_rows<BN, D, T>(sKV, k, cur, H, h, tid);
    load_rows<BN, D, T>(sKV + TILE, v, cur, H, h, tid);
  }
  cp_commit();
  if (nt > 1) fetch_rows<BN, D, T>(nxt, kvIndex, kv0 + BN, kvlen - BN, tid);
  cp_wait<0>();
  __syncthreads();
  uint32_t qa[D / 16][4], oa[D / 16][4];
#pragma unroll
  for (int ks = 0; ks < D / 16; ++ks) {
    const int row = warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, ch = ks * 2 + (lane >> 4);
    ldsm4(qa[ks], tile_addr<D>(sQ, row, ch));
    ldsm4(oa[ks], tile_addr<D>(sO, row, ch));
  }
  float acc[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.f;

  for (int j = 0; j < nt; ++j) {
    const uint32_t bK = sKV + (j & 1) * 2 * TILE, bV = bK + TILE;
    if (j + 1 < nt) {
      const uint32_t nK = sKV + ((j + 1) & 1) * 2 * TILE;
      load_rows<BN, D, T>(nK, k, nxt, H, h, tid);
      load_rows<BN, D, T>(nK + TILE, v, nxt, H, h, tid);
    }
    cp_commit();
    if (j + 2 < nt) fetch_rows<BN, D, T>(nxt, kvIndex, kv0 + (j + 2) * BN, kvlen - (j + 2) * BN, tid);
    cp_wait<1>();
    __syncthreads();

    float sc[BN / 8][4], dp[BN / 8][4];
#pragma unroll
    for (int n = 0; n < BN / 8; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) sc[n][e] = dp[n][e] = 0.f;
#pragma unroll
    for (int n = 0; n < BN / 8; ++n) {
#pragma unroll
      for (int kk = 0; kk < D / 32; ++kk) {
        uint32_t b[4];
        ldsm4(b, tile_addr<D>(bK, n * 8 + (lane & 7), kk * 4 + (lane >> 3)));
        mma16816(sc[n], qa[2 * kk], b[0], b[1]);
        mma16816(sc[n], qa[2 * kk + 1], b[2], b[3]);
        ldsm4(b, tile_addr<D>(bV, n * 8 + (lane & 7), kk * 4 + (lane >> 3)));
        mma16816(dp[n], oa[2 * kk], b[0], b[1]);
        mma16816(dp[n], oa[2 * kk + 1], b[2], b[3]);
      }
    }
    const int left = kvlen - j * BN;
#pragma unroll
    for (int n = 0; n < BN / 8; ++n) {
      const int c = n * 8 + (lane & 3) * 2;
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const float p = c + (e & 1) < left ? exp2f(sc[n][e] * scaleLog2 - (e < 2 ? L0 : L1)) : 0.f;
        sc[n][e] = p * (dp[n][e] - (e < 2 ? D0 : D1));  // dS
      }
    }
#pragma unroll
    for (int t = 0; t < BN / 16; ++t) {
      uint32_t pa[4] = {pack_bf16(sc[2 * t][0], sc[2 * t][1]), pack_bf16(sc[2 * t][2], sc[2 * t][3]),
                        pack_bf16(sc[2 * t + 1][0], sc[2 * t + 1][1]), pack_bf16(sc[2 * t + 1][2], sc[2 * t + 1][3])};
#pragma unroll
      for (int d = 0; d < D / 16; ++d) {
        uint32_t b[4];
        ldsm4t(b, tile_addr<D>(bK, t * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, d * 2 + (lane >> 4)));
        mma16816(acc[2 * d], pa, b[0], b[1]);
        mma16816(acc[2 * d + 1], pa, b[2], b[3]);
      }
    }
    __syncthreads();  // buffer (j & 1) is refilled at iteration j + 1
  }
#pragma unroll
  for (int i = 0; i < D / 8; ++i) {
    const int c = i * 8 + (lane & 3) * 2;
    if (g0 >= 0) red_add_f32x2(dq + ((size_t)g0 * H + h) * D + c, acc[i][0] * scale, acc[i][1] * scale);
    if (g1 >= 0) red_add_f32x2(dq + ((size_t)g1 * H + h) * D + c, acc[i][2] * scale, acc[i][3] * scale);
  }
}

// dk, dv: block = 16*WARPS key rows of one segment x one head; queries (Q, dO, lse, delta) in
// tiles of BQ, double buffered. Shared: K, V [BM][D], then 2 x (Q, dO [BQ][D], lse2, delta [BQ]).
template <int WARPS, int D, int BQ>
__device__ __forceinline__ void attn_bwd_dkdv(const __nv_bfloat16* __restrict__ q, const __nv_bfloat16* __restrict__ k,
                                              const __nv_bfloat16* __restrict__ v, const __nv_bfloat16* __restrict__ dO,
                                              const float* __restrict__ lse, const float* __restrict__ delta,
                                              float* __restrict__ dk, float* __restrict__ dv,
                                              const int* __restrict__ qIndex, const int* __restrict__ qOffsets,
                                              const int* __restrict__ kvIndex, const int* __restrict__ kvOffsets,
                                              const int* __restrict__ tileOffsets, int S, int H, float scale) {
  constexpr int T = WARPS * 32, BM = 16 * WARPS, CH = D / 8;
  constexpr int KM = BM * CH / T, KQ = BQ * CH / T;
  constexpr float LOG2E = 1.4426950408889634f;
  extern __shared__ __align__(128) unsigned char smem[];
  const uint32_t sK = smem_u32(smem), sV = sK + BM * D * 2, sB = sV + BM * D * 2;
  const uint32_t TILE = BQ * D * 2, BUF = 2 * TILE + 2 * BQ * 4;  // Q, dO, lse[BQ], delta[BQ]
  const float* fB = reinterpret_cast<const float*>(smem + 2 * BM * D * 2);

  const int tile = blockIdx.x, h = blockIdx.y, tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  if (tile >= __ldg(tileOffsets + S)) return;
  const int s = find_segment(tileOffsets, S, tile);
  const int k0 = __ldg(kvOffsets + s) + (tile - __ldg(tileOffsets + s)) * BM;
  const int klen = min(BM, __ldg(kvOffsets + s + 1) - k0);
  const int qs = __ldg(qOffsets + s), qlen = __ldg(qOffsets + s + 1) - qs;
  const int nt = (qlen + BQ - 1) / BQ;
  if (nt == 0) return;
  const int r0 = warp * 16 + (lane >> 2), r1 = r0 + 8;
  const int g0 = r0 < klen ? __ldg(kvIndex + k0 + r0) : -1, g1 = r1 < klen ? __ldg(kvIndex + k0 + r1) : -1;
  const float scaleLog2 = scale * LOG2E;

  {
    int ki[KM];
    fetch_rows<BM, D, T>(ki, kvIndex, k0, klen, tid);
    load_rows<BM, D, T>(sK, k, ki, H, h, tid);
    load_rows<BM, D, T>(sV, v, ki, H, h, tid);
  }
  int nxt[KQ];
  {
    int cur[KQ];
    fetch_rows<BQ, D, T>(cur, qIndex, qs, qlen, tid);
    load_rows<BQ, D, T>(sB, q, cur, H, h, tid);
    load_rows<BQ, D, T>(sB + TILE, dO, cur, H, h, tid);
    load_row_scalars<BQ, D, T>(sB + 2 * TILE, lse, cur, H, h, tid);
    load_row_scalars<BQ, D, T>(sB + 2 * TILE + BQ * 4, delta, cur, H, h, tid);
  }
  cp_commit();
  if (nt > 1) fetch_rows<BQ, D, T>(nxt, qIndex, qs + BQ, qlen - BQ, tid);

  float dka[D / 8][4], dva[D / 8][4];
#pragma unroll
  for (int i = 0; i < D / 8; ++i)
#pragma unroll
    for (int e = 0; e < 4; ++e) dka[i][e] = dva[i][e] = 0.f;

  for (int j = 0; j < nt; ++j) {
    const uint32_t bQ = sB + (j & 1) * BUF, bO = bQ + TILE;
    const float* fL = fB + (j & 1) * (BUF / 4) + 2 * TILE / 4;
    const float* fD = fL + BQ;
    if (j + 1 < nt) {
      const uint32_t nQ = sB + ((j + 1) & 1) * BUF;
      load_rows<BQ, D, T>(nQ, q, nxt, H, h, tid);
      load_rows<BQ, D, T>(nQ + TILE, dO, nxt, H, h, tid);
      load_row_scalars<BQ, D, T>(nQ + 2 * TILE, lse, nxt, H, h, tid);
      load_row_scalars<BQ, D, T>(nQ + 2 * TILE + BQ * 4, delta, nxt, H, h, tid);
    }
    cp_commit();
    if (j + 2 < nt) fetch_rows<BQ, D, T>(nxt, qIndex, qs + (j + 2) * BQ, qlen - (j + 2) * BQ, tid);
    cp_wait<1>();
    __syncthreads();

    float sc[BQ / 8][4], dp[BQ / 8][4];  // S^T and dP^T: [16 key rows x BQ queries] per warp
#pragma unroll
    for (int n = 0; n < BQ / 8; ++n)
#pragma unroll
      for (int e = 0; e < 4; ++e) sc[n][e] = dp[n][e] = 0.f;
#pragma unroll
    for (int kk = 0; kk < D / 32; ++kk) {
      uint32_t ka[2][4], va[2][4];
      const int row = warp * 16 + (lane & 7) + ((lane >> 3) & 1) * 8;
#pragma unroll
      for (int u = 0; u < 2; ++u) {
        ldsm4(ka[u], tile_addr<D>(sK, row, (2 * kk + u) * 2 + (lane >> 4)));
        ldsm4(va[u], tile_addr<D>(sV, row, (2 * kk + u) * 2 + (lane >> 4)));
      }
#pragma unroll
      for (int n = 0; n < BQ / 8; ++n) {
        uint32_t b[4];
        ldsm4(b, tile_addr<D>(bQ, n * 8 + (lane & 7), kk * 4 + (lane >> 3)));
        mma16816(sc[n], ka[0], b[0], b[1]);
        mma16816(sc[n], ka[1], b[2], b[3]);
        ldsm4(b, tile_addr<D>(bO, n * 8 + (lane & 7), kk * 4 + (lane >> 3)));
        mma16816(dp[n], va[0], b[0], b[1]);
        mma16816(dp[n], va[1], b[2], b[3]);
      }
    }
    const int left = qlen - j * BQ;
#pragma unroll
    for (int n = 0; n < BQ / 8; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int c = n * 8 + (lane & 3) * 2 + (e & 1);
        const float p = c < left ? exp2f(sc[n][e] * scaleLog2 - fL[c] * LOG2E) : 0.f;
        sc[n][e] = p;                    // P^T
        dp[n][e] = p * (dp[n][e] - fD[c]);  // dS^T
      }
    }
#pragma unroll
    for (int t = 0; t < BQ / 16; ++t) {
      uint32_t pa[4] = {pack_bf16(sc[2 * t][0], sc[2 * t][1]), pack_bf16(sc[2 * t][2], sc[2 * t][3]),
                        pack_bf16(sc[2 * t + 1][0], sc[2 * t + 1][1]), pack_bf16(sc[2 * t + 1][2], sc[2 * t + 1][3])};
      uint32_t sa[4] = {pack_bf16(dp[2 * t][0], dp[2 * t][1]), pack_bf16(dp[2 * t][2], dp[2 * t][3]),
                        pack_bf16(dp[2 * t + 1][0], dp[2 * t + 1][1]), pack_bf16(dp[2 * t + 1][2], dp[2 * t + 1][3])};
#pragma unroll
      for (int d = 0; d < D / 16; ++d) {
        uint32_t b[4];
        const int row = t * 16 + (lane & 7) + ((lane >> 3) & 1) * 8, ch = d * 2 + (lane >> 4);
        ldsm4t(b, tile_addr<D>(bO, row, ch));
        mma16816(dva[2 * d], pa, b[0], b[1]);
        mma16816(dva[2 * d + 1], pa, b[2], b[3]);
        ldsm4t(b, tile_addr<D>(bQ, row, ch));
        mma16816(dka[2 * d], sa, b[0], b[1]);
        mma16816(dka[2 * d + 1], sa, b[2], b[3]);
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < D / 8; ++i) {
    const int c = i * 8 + (lane & 3) * 2;
    if (g0 >= 0) {
      red_add_f32x2(dk + ((size_t)g0 * H + h) * D + c, dka[i][0] * scale, dka[i][1] * scale);
      red_add_f32x2(dv + ((size_t)g0 * H + h) * D + c, dva[i][0], dva[i][1]);
    }
    if (g1 >= 0) {
      red_add_f32x2(dk + ((size_t)g1 * H + h) * D + c, dka[i][2] * scale, dka[i][3] * scale);
      red_add_f32x2(dv + ((size_t)g1 * H + h) * D + c, dva[i][2], dva[i][3]);
    }
  }
}

#define BWD(W, D)                                                                                                   \
  extern "C" __global__ void __launch_bounds__(W * 32) attn_bwd_dq_bf16_w##W##_d##D(                                \
      const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, const __nv_bfloat16* dO,              \
      const float* lse, const float* delta, float* dq, const int* qIndex, const int* qOffsets, const int* kvIndex,  \
      const int* kvOffsets, const int* tileOffsets, int S, int H, float scale) {                                    \
    attn_bwd_dq<W, D, 32>(q, k, v, dO, lse, delta, dq, qIndex, qOffsets, kvIndex, kvOffsets, tileOffsets, S, H,     \
                          scale);                                                                                   \
  }                                                                                                                 \
  extern "C" __global__ void __launch_bounds__(W * 32) attn_bwd_dkdv_bf16_w##W##_d##D(                              \
      const __nv_bfloat16* q, const __nv_bfloat16* k, const __nv_bfloat16* v, const __nv_bfloat16* dO,              \
      const float* lse, const float* delta, float* dk, float* dv, const int* qIndex, const int* qOffsets,           \
      const int* kvIndex, const int* kvOffsets, const int* tileOffsets, int S, int H, float scale) {                \
    attn_bwd_dkdv<W, D, 32>(q, k, v, dO, lse, delta, dk, dv, qIndex, qOffsets, kvIndex, kvOffsets, tileOffsets, S,  \
                            H, scale);                                                                              \
  }
BWD(4, 64)
BWD(4, 128)
