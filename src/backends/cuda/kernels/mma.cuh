// Tensor-core helpers shared by the attention kernels: cp.async tile loads through an index array,
// ldmatrix (plain and transposed) from a swizzled shared tile, and mma.sync m16n8k16 bf16 -> fp32.
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>

#define DEV __device__ __forceinline__

DEV uint32_t smem_u32(const void* p) { return (uint32_t)__cvta_generic_to_shared(p); }

// 16-byte async copy; src_bytes = 0 zero-fills the destination (rows past a segment's end).
DEV void cp_async16(uint32_t dst, const void* src, bool valid) {
  int n = valid ? 16 : 0;
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(n));
}
DEV void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
DEV void cp_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

DEV void ldsm4(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}
DEV void ldsm4t(uint32_t (&r)[4], uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}

// c[16x8] += a[16x16] * b[16x8]; fragment layouts as in the PTX ISA (row.col).
DEV void mma16816(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

DEV uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// A shared tile of rows of D bf16 (D/8 chunks of 16 bytes per row). Chunk c of row r lives at
// chunk (c ^ (r & 7)) so that 8 consecutive rows read at one logical chunk hit 8 different banks.
template <int D>
DEV uint32_t tile_addr(uint32_t base, int row, int chunk) {
  return base + row * (D * 2) + ((chunk ^ (row & 7)) << 4);
}

// Loads ROWS rows of one head into a swizzled tile. Row i of the tile is global row rowIdx[i]
// (already looked up; -1 = past the end, zero-filled). Thread t copies chunks t, t+T, ...
template <int ROWS, int D, int T>
DEV void load_rows(uint32_t base, const __nv_bfloat16* __restrict__ g, const int (&rowIdx)[ROWS * (D / 8) / T],
                   int H, int h, int tid) {
  constexpr int CH = D / 8;
#pragma unroll
  for (int k = 0; k < ROWS * CH / T; ++k) {
    int i = tid + k * T;
    int r = i / CH, c = i % CH;
    int gr = rowIdx[k];
    const __nv_bfloat16* src = g + ((size_t)(gr < 0 ? 0 : gr) * H + h) * D + c * 8;
    cp_async16(tile_addr<D>(base, r, c), src, gr >= 0);
  }
}

// The global row numbers this thread will copy for a tile starting at position `start` of an index
// list with `len` valid entries (entries past len -> -1).
template <int ROWS, int D, int T>
DEV void fetch_rows(int (&rowIdx)[ROWS * (D / 8) / T], const int* __restrict__ index, int start, int len, int tid) {
  constexpr int CH = D / 8;
#pragma unroll
  for (int k = 0; k < ROWS * CH / T; ++k) {
    int r = (tid + k * T) / CH;
    rowIdx[k] = r < len ? __ldg(index + start + r) : -1;
  }
}

// Segment s owning tile `tile`: the last s with tileOffsets[s] <= tile (binary search, S+1 entries).
DEV int find_segment(const int* __restrict__ tileOffsets, int S, int tile) {
  int lo = 0, hi = S;  // invariant: tileOffsets[lo] <= tile < tileOffsets[hi]
  while (hi - lo > 1) {
    int mid = (lo + hi) >> 1;
    if (__ldg(tileOffsets + mid) <= tile) lo = mid; else hi = mid;
  }
  return lo;
}

// 4-byte async copies of per-row scalars (lse, delta) for the rows this thread copies in
// load_rows (only the thread that copies chunk 0 of a row copies its scalar). Zero-filled past the end.
template <int ROWS, int D, int T>
DEV void load_row_scalars(uint32_t base, const float* __restrict__ g, const int (&rowIdx)[ROWS * (D / 8) / T], int H,
                          int h, int tid) {
  constexpr int CH = D / 8;
#pragma unroll
  for (int k = 0; k < ROWS * CH / T; ++k) {
    int i = tid + k * T;
    if (i % CH != 0) continue;
    int gr = rowIdx[k];
    const float* src = g + (size_t)(gr < 0 ? 0 : gr) * H + h;
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(base + (i / CH) * 4), "l"(src),
                 "r"(gr >= 0 ? 4 : 0));
  }
}

DEV void red_add_f32x2(float* p, float a, float b) {
#if __CUDA_ARCH__ >= 900
  asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(p), "f"(a), "f"(b) : "memory");
#else
  atomicAdd(p, a);
  atomicAdd(p + 1, b);
#endif
}
