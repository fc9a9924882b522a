/*
 * The native backend's kernels, written once with GCC vector extensions and compiled once per ISA
 * (scripts/build.mjs): -DMOGA_ISA_GENERIC (SSE2 / NEON width), -DMOGA_ISA_AVX2 (-mavx2 -mfma),
 * -DMOGA_ISA_AVX512 (-mavx512f). Everything here is static except the one kernel table at the end,
 * whose name carries the ISA, so the three builds link into one library and pool.c picks one.
 *
 * GEMM is BLIS-style: B packed into KC x NR panels, A into MR x KC panels, an MR x NR register tile
 * accumulated over KC (the micro-kernel), C updated once per KC block; one product cut into row
 * chunks shares one packed B, packed inside the same parallel job (gemm_job). Attention is
 * flash-style and reuses the micro-kernel for the backward products; the forward uses its
 * row-major-A twins (ukernel_scores, ukernel_rows_rescale) to read Q and the softmaxed scores in
 * place, one MR-row block at a time, with the softmax in base 2 (Q carries log2 e).
 * Determinism: every output element is summed in an order fixed by the shapes alone (k blocks in
 * order; key tiles in order; query tiles in order), never by which thread ran what, so any thread
 * count gives the same bits.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "moga.h"

#if defined(MOGA_ISA_AVX2) || defined(MOGA_ISA_AVX512)
#include <immintrin.h>
#endif

#if defined(MOGA_ISA_AVX512)
#define VW 16
#define MR 8
#define NR 32
#define ISA_NAME "avx512"
#define TABLE moga_kernels_avx512
#elif defined(MOGA_ISA_AVX2)
#define VW 8
#define MR 6
#define NR 16
#define ISA_NAME "avx2"
#define TABLE moga_kernels_avx2
#else
#define VW 4
#define MR 6
#define NR 8
#define ISA_NAME "generic"
#define TABLE moga_kernels_generic
#endif

#define NV (NR / VW) /* vectors per tile row */
#define KC 256       /* k block: an MR x KC panel of A and a KC x NR panel of B stay in L1 */
#define MC (MR * 16) /* rows of A packed at once (the A block stays in L2) */
#define BQ (MR * 8)  /* attention: query rows per tile */
#define BK 128       /* attention: keys per tile (a multiple of every NR; frame and window groups fit one) */
/* attention forward: keys per tile. The K and V tiles (BKF x D each) stay in L2 while a query tile's
 * blocks pass, and one block's scores (MR x BKF) in L1: 256 for AVX2 (Zen 3: 32 KiB L1d and 512 KiB
 * L2 per core, both shared by its two SMT threads), 512 where AVX-512 CPUs have more (fewer
 * softmax rescales and per-row overheads; 2.5% faster than 256 on a Zen 5). */
#if defined(MOGA_ISA_AVX512)
#define BKF 512
#else
#define BKF 256
#endif
#define MRV ((MR + VW - 1) / VW * VW) /* MR rounded up to whole vectors */

typedef float vf __attribute__((vector_size(VW * 4)));
typedef float vfu __attribute__((vector_size(VW * 4), aligned(4))); /* unaligned access */
typedef int vi __attribute__((vector_size(VW * 4)));

static inline int cdiv(int a, int b) { return (a + b - 1) / b; }
static inline int rup(int a, int b) { return cdiv(a, b) * b; }
static inline int imin(int a, int b) { return a < b ? a : b; }

/* ---------------------------------------------------------------- micro-kernel */

/* C[MR x NR] (row stride ldc) = (acc ? C : 0) + A . B, where a is packed [kc][MR] and b [kc][NR]. */
static inline void ukernel(int kc, const float *restrict a, const float *restrict b, float *restrict c,
                           int ldc, int acc) {
  vf s[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) s[i][v] = (vf){0};
  for (int p = 0; p < kc; p++) {
    vf bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) bv[v] = *(const vf *)(b + p * NR + v * VW);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      float ai = a[p * MR + i];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) s[i][v] += ai * bv[v];
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      vfu *dst = (vfu *)(c + i * ldc + v * VW);
      *dst = acc ? *dst + s[i][v] : s[i][v];
    }
}

/* The micro-kernel on a partial tile (mr <= MR rows, nr <= NR columns of C). */
static void ukernel_edge(int kc, const float *a, const float *b, float *c, int ldc, int acc, int mr, int nr) {
  float t[MR * NR] __attribute__((aligned(64)));
  ukernel(kc, a, b, t, NR, 0);
  for (int i = 0; i < mr; i++)
    for (int j = 0; j < nr; j++) c[i * ldc + j] = acc ? c[i * ldc + j] + t[i * NR + j] : t[i * NR + j];
}

/* s[MR][NV] = A . B over kc with A read in place, row-major: A(i, p) = a[i*lda + p] (the kernel
 * broadcasts A's elements one at a time, so A needs no packing when its rows are at hand). Inlined
 * into each kernel below, so s stays in registers. */
static inline void rows_product(int kc, const float *restrict a, int lda, const float *restrict b, vf s[MR][NV]) {
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) s[i][v] = (vf){0};
  for (int p = 0; p < kc; p++) {
    vf bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) bv[v] = *(const vf *)(b + p * NR + v * VW);
#pragma GCC unroll 16
    for (int i = 0; i < MR; i++) {
      float ai = a[(size_t)i * lda + p];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) s[i][v] += ai * bv[v];
    }
  }
}

/* The micro-kernel with A read in place, row-major: A(i, p) = a[i*lda + p] (the kernel broadcasts
 * A's elements one at a time, so A needs no packing when its rows are at hand; attention uses it for
 * Q.K^T and P.V on tiles it has just written). C[MR x NR] (row stride ldc) = (acc ? C : 0) + A . B,
 * or with `corr`, C * corr[row] + A . B (the forward's P . V: the online softmax's rescale of what O
 * holds rides on the kernel's one read of O). Inlined, so a NULL corr costs nothing. */
static inline void ukernel_rows(int kc, const float *restrict a, int lda, const float *restrict b,
                                float *restrict c, int ldc, int acc, const float *restrict corr) {
  vf s[MR][NV];
  rows_product(kc, a, lda, b, s);
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      vfu *dst = (vfu *)(c + i * ldc + v * VW);
      *dst = corr ? *dst * corr[i] + s[i][v] : acc ? *dst + s[i][v] : s[i][v];
    }
}

/* ---------------------------------------------------------------- GEMM */

/* A(i, p) = a[i*ars + p*acs]; rows [i0, i0+mc), k [p0, p0+kc) -> dst[ir][p][MR], zero-padded rows. */
static void pack_a(float *dst, const float *a, int ars, int acs, int i0, int mc, int p0, int kc) {
  for (int ir = 0; ir < mc; ir += MR) {
    int mr = imin(MR, mc - ir);
    for (int p = 0; p < kc; p++) {
      const float *src = a + (size_t)(i0 + ir) * ars + (size_t)(p0 + p) * acs;
      int i = 0;
      for (; i < mr; i++) dst[p * MR + i] = src[(size_t)i * ars];
      for (; i < MR; i++) dst[p * MR + i] = 0;
    }
    dst += (size_t)kc * MR;
  }
}

/* B(p, j) = b[p*brs + j*bcs]; k [p0, p0+kc), columns [j0, j0+nc) -> dst[jr][p][NR], zero-padded. */
static void pack_b(float *dst, const float *b, int brs, int bcs, int p0, int kc, int j0, int nc) {
  for (int jr = 0; jr < nc; jr += NR) {
    int nr = imin(NR, nc - jr);
    for (int p = 0; p < kc; p++) {
      const float *src = b + (size_t)(p0 + p) * brs + (size_t)(j0 + jr) * bcs;
      int j = 0;
      if (bcs == 1)
        for (; j < nr; j++) dst[p * NR + j] = src[j];
      else
        for (; j < nr; j++) dst[p * NR + j] = src[(size_t)j * bcs];
      for (; j < NR; j++) dst[p * NR + j] = 0;
    }
    dst += (size_t)kc * NR;
  }
}

/* Floats of a whole packed B (all k blocks, n padded to NR); block kb starts at kb*KC*np. */
static size_t packed_b_size(int k, int n) { return (size_t)k * rup(n, NR); }

static void pack_b_all(float *dst, const float *b, int brs, int bcs, int k, int n) {
  int np = rup(n, NR);
  for (int p0 = 0; p0 < k; p0 += KC) pack_b(dst + (size_t)p0 * np, b, brs, bcs, p0, imin(KC, k - p0), 0, n);
}

static inline void spin_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

/*
 * One GEMM call. With one product split into chunks (the usual large case), B is packed once into a
 * buffer shared by every chunk, inside the same parallel job: its first `packTasks` tasks pack one
 * k block each, and a chunk reaching a k block that is not packed yet packs it itself (state 0 -> 1)
 * or waits for the thread packing it (state 1 -> 2). So there is one fork-join per GEMM, a thread
 * never waits for a thread that is waiting, and chunks start on k block 0 while later blocks pack.
 */
typedef struct {
  int nb, m, n, k, ars, acs, brs, bcs, ldc;
  const int *offs; /* per batch: A offset, B offset, C offset (elements) */
  const float *a, *b;
  float *c;
  float *bp;            /* shared packed B (one product), or NULL: each task packs its own */
  _Atomic int *state;   /* per k block of the shared B: 0 unpacked, 1 packing, 2 ready */
  int packTasks;        /* leading tasks that only pack B blocks (0 without a shared B) */
  int rowChunk, colChunk, rowTasks, colTasks;
} gemm_job;

static void pack_shared_block(gemm_job *g, int kb) {
  int p0 = kb * KC;
  pack_b(g->bp + (size_t)p0 * rup(g->n, NR), g->b + g->offs[1], g->brs, g->bcs, p0, imin(KC, g->k - p0), 0,
         g->n);
}

/* Makes k block kb of the shared B ready: packs it when no thread has begun to, else waits for it. */
static void need_block(gemm_job *g, int kb) {
  _Atomic int *s = g->state + kb;
  int v = __atomic_load_n(s, __ATOMIC_ACQUIRE);
  if (v == 2) return;
  int expect = 0;
  if (v == 0 && __atomic_compare_exchange_n(s, &expect, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
    pack_shared_block(g, kb);
    __atomic_store_n(s, 2, __ATOMIC_RELEASE);
    return;
  }
  while (__atomic_load_n(s, __ATOMIC_ACQUIRE) != 2) spin_pause();
}

/* C rows [i0, i1), columns [j0, j1) (j0 a multiple of NR) from a whole packed B (bp) and A; C has
 * row stride ldc. `g` non-NULL: bp is the job's shared B, each k block made ready before use. */
static void gemm_tile(int i0, int i1, int j0, int j1, int n, int k, const float *a, int ars, int acs,
                      const float *bp, float *c, int ldc, gemm_job *g) {
  int np = rup(n, NR);
  float *ap = moga_scratch(0, (size_t)MC * KC);
  for (int p0 = 0; p0 < k; p0 += KC) {
    int kc = imin(KC, k - p0);
    const float *bblock = bp + (size_t)p0 * np;
    for (int ic = i0; ic < i1; ic += MC) {
      int mc = imin(MC, i1 - ic);
      pack_a(ap, a, ars, acs, ic, mc, p0, kc);
      if (g && ic == i0) need_block(g, p0 / KC);
      for (int jr = j0; jr < j1; jr += NR) {
        int nr = imin(NR, j1 - jr);
        const float *bpan = bblock + (size_t)(jr / NR) * kc * NR;
        for (int ir = 0; ir < mc; ir += MR) {
          int mr = imin(MR, mc - ir);
          float *ct = c + (size_t)(ic + ir) * ldc + jr;
          const float *apan = ap + (size_t)ir * kc;
          if (mr == MR && nr == NR) ukernel(kc, apan, bpan, ct, ldc, p0 > 0);
          else ukernel_edge(kc, apan, bpan, ct, ldc, p0 > 0, mr, nr);
        }
      }
    }
  }
}

static void gemm_task(void *vctx, int task, int thread) {
  (void)thread;
  gemm_job *g = vctx;
  if (task < g->packTasks) {
    need_block(g, task);
    return;
  }
  task -= g->packTasks;
  int t = task / (g->rowTasks * g->colTasks);
  int r = task % (g->rowTasks * g->colTasks);
  int i0 = (r / g->colTasks) * g->rowChunk, j0 = (r % g->colTasks) * g->colChunk;
  int i1 = imin(g->m, i0 + g->rowChunk), j1 = imin(g->n, j0 + g->colChunk);
  const float *a = g->a + g->offs[3 * t], *b = g->b + g->offs[3 * t + 1];
  float *c = g->c + g->offs[3 * t + 2];
  if (g->bp) {
    gemm_tile(i0, i1, j0, j1, g->n, g->k, a, g->ars, g->acs, g->bp, c, g->ldc, g);
    return;
  }
  float *own = moga_scratch(1, packed_b_size(g->k, g->n));
  pack_b_all(own, b, g->brs, g->bcs, g->k, g->n);
  gemm_tile(i0, i1, j0, j1, g->n, g->k, a, g->ars, g->acs, own, c, g->ldc, NULL);
}

/* A shared packed B up to this size stays allocated (the calling thread's scratch) between calls. */
#define SHARED_B_KEEP ((size_t)1 << 24) /* floats: 64 MiB */

/*
 * nb products C_t [m, n] = op(A_t) [m, k] . op(B_t) [k, n]; op(A)(i, p) at a[offs[3t] + i*ars + p*acs],
 * op(B)(p, j) at b[offs[3t+1] + p*brs + j*bcs], C_t at c + offs[3t+2] with row stride ldc.
 * Called from the pool's caller only (never inside a task).
 */
static void gemm_ld(int nb, const int *offs, int m, int n, int k, const float *a, int ars, int acs,
                    const float *b, int brs, int bcs, float *c, int ldc) {
  if (nb <= 0 || m <= 0 || n <= 0) return;
  if (k <= 0) {
    for (int t = 0; t < nb; t++)
      for (int i = 0; i < m; i++) memset(c + offs[3 * t + 2] + (size_t)i * ldc, 0, sizeof(float) * (size_t)n);
    return;
  }
  int T = moga_threads();
  double macs = (double)nb * m * n * k;
  gemm_job g = {nb, m, n, k, ars, acs, brs, bcs, ldc, offs, a, b, c, NULL, NULL, 0, m, rup(n, NR), 1, 1};
  int serial = T <= 1 || macs < (1 << 20);
  float *owned = NULL;
  if (!serial && nb < 2 * T) {
    /* Few products: cut each into row chunks, about 8 per thread (tasks are claimed dynamically,
     * so a thread that loses its core to another process leaves little behind); columns only when
     * C is too short for one row chunk per thread, since every column chunk packs its rows of A
     * again. */
    int want = cdiv(8 * T, nb);
    g.rowChunk = rup(cdiv(m, want), MR);
    /* but at least 8 register tiles of rows: every chunk streams all of B through the cache */
    if (g.rowChunk < 8 * MR) g.rowChunk = imin(8 * MR, rup(cdiv(m, T), MR));
    g.rowTasks = cdiv(m, g.rowChunk);
    if (g.rowTasks * nb < T) {
      g.colChunk = rup(cdiv(n, cdiv(want, g.rowTasks)), NR);
      g.colTasks = cdiv(n, g.colChunk);
    }
    /* One product split into chunks: its B is packed once, shared by every chunk (same job). */
    if (nb == 1 && g.rowTasks * g.colTasks > 1) {
      int kblocks = cdiv(k, KC);
      size_t bf = packed_b_size(k, n), need = bf + (size_t)kblocks + 16;
      float *buf = need <= SHARED_B_KEEP ? moga_scratch(2, need) : (owned = aligned_alloc(64, ((need * 4 + 63) & ~(size_t)63)));
      if (buf) {
        g.bp = buf;
        g.state = (_Atomic int *)(buf + bf);
        for (int i = 0; i < kblocks; i++) g.state[i] = 0;
        g.packTasks = kblocks;
      }
    }
  }
  int ntasks = g.packTasks + nb * g.rowTasks * g.colTasks;
  if (serial)
    for (int t = 0; t < ntasks; t++) gemm_task(&g, t, 0);
  else
    moga_parallel(ntasks, gemm_task, &g);
  free(owned);
}

static void gemm(int nb, const int *offs, int m, int n, int k, const float *a, int ars, int acs, const float *b,
                 int brs, int bcs, float *c) {
  gemm_ld(nb, offs, m, n, k, a, ars, acs, b, brs, bcs, c, n);
}

/* ---------------------------------------------------------------- exp */

static inline vf vsel(vi m, vf a, vf b) { return (vf)((m & (vi)a) | (~m & (vi)b)); }

/* exp on VW lanes (Cephes expf: range reduction by ln 2, degree-5 polynomial, ~2 ulp). Above 88.72
 * gives +inf, below -87.34 gives 0 (so exp(-inf) = 0, which masked scores rely on); NaN stays NaN. */
static inline vf vexp(vf x) {
  vi hi = x > 88.72283f;
  vi lo = x < -87.33654f;
  vf t = vsel(lo, (vf){0} - 87.33654f, x);
  t = vsel(t > 88.37626f, (vf){0} + 88.37626f, t);
  /* n = round(t / ln 2): adding 1.5 * 2^23 rounds to an integer held in the low mantissa bits. */
  const float magic = 12582912.0f;
  vf nm = t * 1.44269504088896341f + magic;
  vf nn = nm - magic;
  t = t - nn * 0.693359375f;
  t = t - nn * -2.12194440e-4f;
  vf p = (vf){0} + 1.9875691500e-4f;
  p = p * t + 1.3981999507e-3f;
  p = p * t + 8.3334519073e-3f;
  p = p * t + 4.1665795894e-2f;
  p = p * t + 1.6666665459e-1f;
  p = p * t + 5.0000001201e-1f;
  p = p * (t * t) + (t + 1.0f);
  vi e = ((vi)nm - (0x4b400000 - 127)) << 23;
  vf r = p * (vf)e;
  r = vsel(hi, (vf){0} + INFINITY, r);
  return vsel(lo, (vf){0}, r);
}

/* ---------------------------------------------------------------- attention */

#if defined(MOGA_ISA_AVX512)
/* r[16] (16 rows of 16 floats) -> its transpose, in place. */
static inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 4) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]), t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    t[i + 2] = _mm512_unpacklo_ps(r[i + 2], r[i + 3]), t[i + 3] = _mm512_unpackhi_ps(r[i + 2], r[i + 3]);
  }
  for (int i = 0; i < 16; i += 4) { /* per 128-bit lane l: r[i + c] holds column 4l + c of rows i..i+3 */
    r[i] = (__m512)_mm512_unpacklo_pd((__m512d)t[i], (__m512d)t[i + 2]);
    r[i + 1] = (__m512)_mm512_unpackhi_pd((__m512d)t[i], (__m512d)t[i + 2]);
    r[i + 2] = (__m512)_mm512_unpacklo_pd((__m512d)t[i + 1], (__m512d)t[i + 3]);
    r[i + 3] = (__m512)_mm512_unpackhi_pd((__m512d)t[i + 1], (__m512d)t[i + 3]);
  }
  for (int c = 0; c < 4; c++) { /* a 4 x 4 transpose of 128-bit lanes: column 4l + c from lane l */
    __m512 u0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x44), u1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xee);
    __m512 u2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x44), u3 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xee);
    t[c] = _mm512_shuffle_f32x4(u0, u2, 0x88), t[4 + c] = _mm512_shuffle_f32x4(u0, u2, 0xdd);
    t[8 + c] = _mm512_shuffle_f32x4(u1, u3, 0x88), t[12 + c] = _mm512_shuffle_f32x4(u1, u3, 0xdd);
  }
  for (int i = 0; i < 16; i++) r[i] = t[i];
}
#endif

/* Rows kvIndex[k0..k0+nk) of x (head h) -> panels dst[jr][d][NR] (B of S = Q.K^T), zero-padded keys.
 * Only the padding is zeroed; on AVX-512, 16 keys x 16 d at a time are transposed in registers
 * (less than half the time of element-wise copies). */
static void pack_keys_b(float *dst, const float *x, const int *idx, int nk, int H, int h, int D) {
  if (nk % NR) memset(dst + (size_t)(nk / NR) * D * NR, 0, sizeof(float) * (size_t)D * NR);
  int j = 0;
#if defined(MOGA_ISA_AVX512)
  if (D % 16 == 0)
    for (; j + 16 <= nk; j += 16) {
      const float *src[16];
      for (int i = 0; i < 16; i++) src[i] = x + ((size_t)idx[j + i] * H + h) * D;
      float *col = dst + (size_t)(j / NR) * D * NR + (j % NR);
      for (int d0 = 0; d0 < D; d0 += 16) {
        __m512 r[16];
        for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src[i] + d0);
        transpose16(r);
        for (int d = 0; d < 16; d++) _mm512_store_ps(col + (size_t)(d0 + d) * NR, r[d]);
      }
    }
#endif
  for (; j < nk; j++) {
    const float *src = x + ((size_t)idx[j] * H + h) * D;
    float *col = dst + (size_t)(j / NR) * D * NR + (j % NR);
    for (int d = 0; d < D; d++) col[d * NR] = src[d];
  }
}

/* Rows idx[0..nr) of x (head h) as B of (something . X): dst[dpanel][row][NR] over D padded to DP;
 * `rows` (>= nr) rows are laid out per panel, extra rows zero (only the padding is zeroed). */
static void pack_rows_b(float *dst, const float *x, const int *idx, int nr, int rows, int H, int h, int D,
                        float mul) {
  int dp = rup(D, NR);
  if (D < dp) memset(dst + (size_t)(D / NR) * rows * NR, 0, sizeof(float) * (size_t)rows * NR);
  if (nr < rows)
    for (int d0 = 0; d0 < D; d0 += NR)
      memset(dst + (size_t)(d0 / NR) * rows * NR + (size_t)nr * NR, 0, sizeof(float) * (size_t)(rows - nr) * NR);
  for (int j = 0; j < nr; j++) {
    const float *src = x + ((size_t)idx[j] * H + h) * D;
    for (int d0 = 0; d0 < D; d0 += NR) {
      float *out = dst + (size_t)(d0 / NR) * rows * NR + j * NR;
      int n = imin(NR, D - d0);
      if (n == NR)
        for (int d = 0; d < NR; d++) out[d] = src[d0 + d] * mul; /* a whole panel row: vectorized */
      else
        for (int d = 0; d < n; d++) out[d] = src[d0 + d] * mul;
    }
  }
}

/* Rows idx[0..n) of x (head h), scaled, -> A panels dst[ir][d][MR] for BQ rows (zero-padded). */
static void pack_rows_a(float *dst, const float *x, const int *idx, int n, int H, int h, int D, float mul) {
  memset(dst, 0, sizeof(float) * (size_t)BQ * D);
  for (int i = 0; i < n; i++) {
    const float *src = x + ((size_t)idx[i] * H + h) * D;
    float *col = dst + (size_t)(i / MR) * D * MR + (i % MR);
    for (int d = 0; d < D; d++) col[d * MR] = src[d] * mul;
  }
}

/* S [BQ x BK] (row stride BK) = A panels (rows of `blocks` MR-blocks, depth D) . B key panels from jr0. */
static void tile_product(const float *a, const float *b, int blocks, int panels, int D, float *s, int lds) {
  for (int ir = 0; ir < blocks; ir++)
    for (int jr = 0; jr < panels; jr++)
      ukernel(D, a + (size_t)ir * D * MR, b + (size_t)jr * D * NR, s + (size_t)ir * MR * lds + jr * NR, lds, 0);
}

typedef struct {
  const int *qi, *qo, *ki, *ko;
  int H, D, nk, kvLen;
  float scale;
  const float *q, *k, *v, *dO, *o, *lse;
  float *out, *lseOut, *dq, *dk, *dv, *part; /* part: dK/dV partials [kv position][H][D] x 2, or NULL */
  int *items;                                /* 4 ints per task: seg, h, start, end */
} attn_job;

/* Rows idx[0..n) of x (head h), scaled, -> dst [BQ][D] row-major (rows n..BQ zero). */
static void gather_rows_scaled(float *dst, const float *x, const int *idx, int n, int H, int h, int D, float mul) {
  for (int i = 0; i < n; i++) {
    const float *src = x + ((size_t)idx[i] * H + h) * D;
    float *d = dst + (size_t)i * D;
    for (int e = 0; e < D; e++) d[e] = src[e] * mul;
  }
  memset(dst + (size_t)n * D, 0, sizeof(float) * (size_t)(BQ - n) * D);
}

/* Rows idx[0..n) of x (head h) towards the cache, ahead of a gather (rw 0) or a write (rw 1): they
 * come from memory, a few microseconds the compute can hide. */
static void prefetch_rows(const float *x, const int *idx, int n, int H, int h, int D, int rw) {
  for (int i = 0; i < n; i++)
    for (int e = 0; e < D; e += 16) {
      const float *p = x + ((size_t)idx[i] * H + h) * D + e;
      if (rw) __builtin_prefetch(p, 1);
      else __builtin_prefetch(p, 0);
    }
}

/* Lane-wise a > b ? a : b (so a NaN in a gives b, a NaN in b gives b: maxps semantics). */
static inline vf vmax(vf a, vf b) {
#if defined(MOGA_ISA_AVX512)
  return (vf)_mm512_max_ps((__m512)a, (__m512)b);
#elif defined(MOGA_ISA_AVX2)
  return (vf)_mm256_max_ps((__m256)a, (__m256)b);
#else
  return vsel(a > b, a, b);
#endif
}

/* The forward's scores for MR query rows x NR keys: C (row stride ldc) = A . B with A read in place,
 * row-major, and each row's running lane-wise maximum mx[i] taken while C is in registers. */
static inline void ukernel_scores(int kc, const float *restrict a, int lda, const float *restrict b,
                                  float *restrict c, int ldc, vf *restrict mx) {
  vf s[MR][NV];
  rows_product(kc, a, lda, b, s);
#pragma GCC unroll 16
  for (int i = 0; i < MR; i++) {
    vf m = mx[i];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      *(vf *)(c + i * ldc + v * VW) = s[i][v];
      m = vmax(s[i][v], m); /* a NaN score is skipped */
    }
    mx[i] = m;
  }
}

/* 2^x on VW lanes for x <= 0 (the forward's softmax works in base 2: Q carries log2(e)): range
 * reduction to f in [-1/2, 1/2] by rounding, a degree-6 polynomial for 2^f (relative error 2e-9,
 * so the float evaluation's rounding dominates: about 1 ulp), 2^n put in the exponent. x below
 * -127 (exp2(-inf) included) gives 0, NaN stays NaN. Above 0 it is not valid (the caller never
 * passes it: x = score - running max). AVX-512 has the reduction and the scaling as instructions:
 * f = x - floor(x) in [0, 1) by vreduceps (0 for -inf), then vscalefps: p * 2^floor(x) (0 for
 * -inf), with the polynomial fitted on [0, 1) (same error); a quarter fewer cycles a vector on a
 * Zen 5. There x in (-150, -127) gives denormals, not 0. */
static inline vf vexp2_neg(vf x) {
#if defined(MOGA_ISA_AVX512)
  vf f = (vf)_mm512_reduce_ps((__m512)x, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  vf p = (vf){0} + 2.1612919226754457e-4f;
  p = p * f + 1.2467844644561410e-3f;
  p = p * f + 9.6754515543580060e-3f;
  p = p * f + 5.5485282093286514e-2f;
  p = p * f + 2.4022930860519409e-1f;
  p = p * f + 6.9314706325531006e-1f;
  p = p * f + 1.0f;
  return (vf)_mm512_scalef_ps((__m512)p, (__m512)x);
#else
  vf t = vmax((vf){0} - 127.0f, x); /* NaN in x passes through */
  const float magic = 12582912.0f;  /* 1.5 * 2^23: adding it rounds to an integer in the low bits */
  vf nm = t + magic;
  vf f = t - (nm - magic);
  vf p = (vf){0} + 1.5353361959569156e-4f;
  p = p * f + 1.3398875016719103e-3f;
  p = p * f + 9.6184369176626200e-3f;
  p = p * f + 5.5503323674201965e-2f;
  p = p * f + 2.4022647738456726e-1f;
  p = p * f + 6.9314718246459961e-1f;
  p = p * f + 1.0f;
  vi e = ((vi)nm - (0x4b400000 - 127)) << 23; /* n = -127 gives the bits of +0 */
  return p * (vf)e;
#endif
}

/* The largest and the sum of a vector's lanes (the maximum's lanes hold no NaN). */
static inline float hmax(vf v) {
#if defined(MOGA_ISA_AVX512)
  return _mm512_reduce_max_ps((__m512)v);
#else
  float x = v[0];
  for (int k = 1; k < VW; k++) x = v[k] > x ? v[k] : x;
  return x;
#endif
}

static inline float hsum(vf v) {
#if defined(MOGA_ISA_AVX512)
  return _mm512_reduce_add_ps((__m512)v);
#else
  float x = 0;
  for (int k = 0; k < VW; k++) x += v[k];
  return x;
#endif
}

/* Online softmax on the MR rows of one query block (row stride BKF; nkt keys, the padded ones at
 * -inf): mx holds each row's lane-wise maximum over this tile's scores and the old maximum; the
 * rows' running maxima m and sums l move on, corr gets exp2(old max - new max) per row (what O is
 * rescaled by), and the scores become P = exp2(score - max) in place. */
static void softmax_block(float *s, int nkt, const vf *mx, float *m, float *l, float *corr) {
  float mo[MRV] __attribute__((aligned(64))), mn[MRV] __attribute__((aligned(64)));
  for (int i = 0; i < MR; i++) {
    float x = hmax(mx[i]);
    mo[i] = m[i], mn[i] = x, m[i] = x;
  }
  for (int i = MR; i < MRV; i++) mo[i] = mn[i] = 0;
  for (int i = 0; i < MR; i += VW) {
    vf c = vexp2_neg(*(vf *)(mo + i) - *(vf *)(mn + i)); /* the first tile: exp2(-inf) = 0 */
    for (int k = 0; k < VW && i + k < MR; k++) corr[i + k] = c[k];
  }
  for (int i = 0; i < MR; i++) {
    float *row = s + (size_t)i * BKF;
    vf x = (vf){0} + mn[i], s0 = (vf){0}, s1 = (vf){0};
    int j = 0;
    for (; j + 2 * VW <= nkt; j += 2 * VW) {
      vf e0 = vexp2_neg(*(vf *)(row + j) - x), e1 = vexp2_neg(*(vf *)(row + j + VW) - x);
      *(vf *)(row + j) = e0, *(vf *)(row + j + VW) = e1;
      s0 += e0, s1 += e1;
    }
    for (; j < nkt; j += VW) {
      vf e = vexp2_neg(*(vf *)(row + j) - x);
      *(vf *)(row + j) = e;
      s0 += e;
    }
    l[i] = l[i] * corr[i] + hsum(s0 + s1);
  }
}

/* Forward item: queries qIndex[qa..qb) of segment `seg`, head h, against all its keys, a BQ x BKF
 * tile at a time and, inside it, MR query rows at a time: S = Q.K^T for the block (Q rows read in
 * place, scaled by scale * log2(e)), online softmax in base 2 on the block's rows while they are in
 * L1, O = O * corr + P.V with P read in place. The K and V tiles stay in L2 across the blocks. */
static void attn_fwd_task(void *vctx, int task, int thread) {
  (void)thread;
  attn_job *J = vctx;
  int seg = J->items[4 * task], h = J->items[4 * task + 1], qa = J->items[4 * task + 2], qb = J->items[4 * task + 3];
  int H = J->H, D = J->D, dp = rup(D, NR);
  int k0 = J->ko[seg], nkv = J->ko[seg + 1] - k0, nkp = rup(nkv, NR);
  const int *kidx = J->ki + k0;
  float *kp = moga_scratch(0, (size_t)nkp * D);  /* K panels [jr][d][NR] */
  float *vp = moga_scratch(1, (size_t)dp * nkp); /* V panels [dpanel][j][NR] */
  float *qt = moga_scratch(2, (size_t)BQ * D);   /* Q tile [i][d], scaled */
  float *s = moga_scratch(3, (size_t)MR * BKF);  /* one block's scores, then P [i][j] */
  float *acc = moga_scratch(5, (size_t)BQ * dp); /* O accumulator [i][dp] */
  float *ml = moga_scratch(6, 2 * BQ + MR);      /* running max (base 2), running sum; corr */
  if (!kp || !vp || !qt || !s || !acc || !ml) abort();
  float *corr = ml + 2 * BQ;
  vf mx[MR];
  pack_keys_b(kp, J->k, kidx, nkv, H, h, D);
  pack_rows_b(vp, J->v, kidx, nkv, nkp, H, h, D, 1.0f);
  for (int i0 = qa; i0 < qb; i0 += BQ) {
    int nq = imin(BQ, qb - i0), blocks = cdiv(nq, MR);
    gather_rows_scaled(qt, J->q, J->qi + i0, nq, H, h, D, J->scale * 1.44269504088896341f);
    memset(acc, 0, sizeof(float) * (size_t)BQ * dp);
    for (int i = 0; i < BQ; i++) ml[i] = -INFINITY, ml[BQ + i] = 0;
    for (int j0 = 0; j0 < nkv; j0 += BKF) {
      int nk = imin(BKF, nkv - j0), nkt = rup(nk, NR);
      const float *kt = kp + (size_t)j0 * D;
      if (j0 + BKF >= nkv) { /* the last key tile: fetch the next Q tile's rows and this one's O rows */
        prefetch_rows(J->q, J->qi + i0 + nq, imin(BQ, qb - i0 - nq), H, h, D, 0);
        prefetch_rows(J->out, J->qi + i0, nq, H, h, D, 1);
      }
      for (int ir = 0; ir < blocks; ir++) {
        const float *qb_ = qt + (size_t)ir * MR * D;
        for (int i = 0; i < MR; i++) mx[i] = (vf){0} + ml[ir * MR + i];
        for (int jr = 0; jr < nk / NR; jr++) ukernel_scores(D, qb_, D, kt + (size_t)jr * D * NR, s + jr * NR, BKF, mx);
        if (nk < nkt) { /* a last panel with padded keys: -inf there, before the maximum */
          int j1 = nkt - NR;
          ukernel_rows(D, qb_, D, kt + (size_t)j1 * D, s + j1, BKF, 0, NULL);
          for (int i = 0; i < MR; i++) {
            float *row = s + (size_t)i * BKF;
            for (int j = nk; j < nkt; j++) row[j] = -INFINITY;
            for (int j = j1; j < nkt; j += VW) mx[i] = vmax(*(vf *)(row + j), mx[i]);
          }
        }
        /* rows past nq are zero queries: softmaxed like the others, never written out */
        softmax_block(s, nkt, mx, ml + ir * MR, ml + BQ + ir * MR, corr);
        for (int dpn = 0; dpn < dp / NR; dpn++)
          ukernel_rows(nk, s, BKF, vp + (size_t)dpn * nkp * NR + (size_t)j0 * NR,
                       acc + (size_t)ir * MR * dp + dpn * NR, dp, 0, corr);
      }
    }
    for (int i = 0; i < nq; i++) {
      int r = J->qi[i0 + i];
      float inv = 1.0f / ml[BQ + i];
      float *o = J->out + ((size_t)r * H + h) * D;
      for (int d = 0; d < D; d++) o[d] = acc[(size_t)i * dp + d] * inv;
      J->lseOut[(size_t)r * H + h] = (float)((double)ml[i] * 0.69314718055994531 + log((double)ml[BQ + i]));
    }
  }
}

/* Items (seg, h, start, end) over [0, len) of every segment with keys, cut into pieces of at most
 * `chunk` (a multiple of `unit`) so threads share big segments; returns the count (caller frees).
 * byKeys: 0 query ranges, 1 key ranges, 2 query ranges of segments with more than BK keys only. */
static int make_items(const int *qo, const int *ko, int segs, int H, int byKeys, int unit, int target, int **out) {
  int n = 0;
  for (int pass = 0; pass < 2; pass++) {
    n = 0;
    for (int s = 0; s < segs; s++) {
      int nq = qo[s + 1] - qo[s], nkv = ko[s + 1] - ko[s];
      if (nq == 0 || nkv == 0 || (byKeys == 2 && nkv <= BK)) continue;
      int len = byKeys == 1 ? nkv : nq, a0 = byKeys == 1 ? 0 : qo[s];
      int chunk = rup(cdiv(len, cdiv(len, target)), unit);
      for (int h = 0; h < H; h++)
        for (int a = 0; a < len; a += chunk) {
          if (pass) {
            int *it = *out + 4 * n;
            it[0] = s, it[1] = h, it[2] = a0 + a, it[3] = a0 + imin(len, a + chunk);
          }
          n++;
        }
    }
    if (!pass) *out = malloc(sizeof(int) * 4 * (size_t)(n ? n : 1));
  }
  return n;
}

/* Query rows per forward/dQ item: enough items for the pool, but each item packs its segment's keys
 * once (for N = 4096, D = 64 that costs about as much as 100 query rows), so segments are cut only
 * as far as balance needs. Segments of one size (dense, equal groups): the fewest pieces per head
 * that give every thread the same number of items (4 heads on 2 threads: whole heads, about 4%
 * less time than halves); else about 4 items per thread from the largest segment's heads, items >= 2 tiles. */
static int query_chunk(const int *qo, const int *ko, int segs, int H) {
  double work = 0;
  for (int s = 0; s < segs; s++) work += (double)(qo[s + 1] - qo[s]) * (ko[s + 1] - ko[s]) * H;
  int T = moga_threads();
  if (T <= 1 || work < (1 << 16)) return 1 << 30;
  int maxq = 0, units = 0, same = 1, q0 = -1, k0 = -1;
  for (int s = 0; s < segs; s++) {
    int nq = qo[s + 1] - qo[s], nkv = ko[s + 1] - ko[s];
    if (nq == 0 || nkv == 0) continue;
    if (q0 >= 0 && (nq != q0 || nkv != k0)) same = 0;
    q0 = nq, k0 = nkv, units += H;
    maxq = nq > maxq ? nq : maxq;
  }
  int c;
  if (same) {
    int p = 1;
    while ((units * p) % T) p++;
    c = cdiv(maxq, p);
  } else
    c = cdiv(maxq * H, 4 * T);
  return c < 2 * BQ ? 2 * BQ : c;
}

static void attn_fwd(const int *qi, const int *qo, const int *ki, const int *ko, int segs, int H, int D,
                     float scale, const float *q, const float *k, const float *v, float *out, float *lse) {
  attn_job J = {qi, qo, ki, ko, H, D, 0, 0, scale, q, k, v, NULL, NULL, NULL, out, lse, NULL, NULL, NULL, NULL, NULL};
  int n = make_items(qo, ko, segs, H, 0, BQ, query_chunk(qo, ko, segs, H), &J.items);
  moga_parallel(n, attn_fwd_task, &J);
  free(J.items);
}

/* delta_i = dO_i . O_i for the rows idx[0..n) of head h. */
static void row_delta(float *delta, const float *dO, const float *o, const int *idx, int n, int H, int h, int D) {
  for (int i = 0; i < n; i++) {
    size_t off = ((size_t)idx[i] * H + h) * D;
    float t = 0;
    for (int d = 0; d < D; d++) t += dO[off + d] * o[off + d];
    delta[i] = t;
  }
}

/*
 * Probabilities and score gradients of one (query tile x key tile): s = scaled Q.K^T on entry,
 * dp = dO.V^T; leaves P in s and dS = P * (dP - delta) * scale in dp. Rows >= nq and keys >= nk get 0.
 */
static void softmax_grad(float *s, float *dp, int lds, int nq, int nk, int nkt, const float *lse,
                         const float *delta, float scale) {
  for (int i = 0; i < BQ; i++) {
    float *srow = s + (size_t)i * lds, *drow = dp + (size_t)i * lds;
    if (i >= nq) {
      memset(srow, 0, sizeof(float) * nkt);
      memset(drow, 0, sizeof(float) * nkt);
      continue;
    }
    for (int j = nk; j < nkt; j++) srow[j] = -INFINITY;
    float L = lse[i], dl = delta[i];
    for (int j = 0; j < nkt; j += VW) {
      vf p = vexp(*(vf *)(srow + j) - L);
      *(vf *)(srow + j) = p;
      *(vf *)(drow + j) = p * (*(vf *)(drow + j) - dl) * scale;
    }
  }
}

/* x [BQ rows][lds] (first ncols columns) -> A panels of x^T: dst[cb][i][MR] with i < BQ (rows), cb over columns. */
static void pack_transposed_a(float *dst, const float *x, int lds, int ncols) {
  for (int cb = 0; cb < ncols; cb += MR)
    for (int i = 0; i < BQ; i++)
      for (int c = 0; c < MR; c++)
        dst[(size_t)(cb / MR) * BQ * MR + i * MR + c] = cb + c < ncols ? x[(size_t)i * lds + cb + c] : 0;
}

/* x [BQ rows][lds] -> A panels dst[ir][j][MR] over ncols columns. */
static void pack_a_rows(float *dst, const float *x, int lds, int ncols) {
  for (int ir = 0; ir < BQ; ir += MR)
    for (int j = 0; j < ncols; j++)
      for (int i = 0; i < MR; i++) dst[(size_t)(ir / MR) * ncols * MR + j * MR + i] = x[(size_t)(ir + i) * lds + j];
}

/* Backward pass 1 item: keys [ja, jb) of segment `seg`, head h: dK and dV over all the segment's queries. */
static void attn_dkdv_task(void *vctx, int task, int thread) {
  (void)thread;
  attn_job *J = vctx;
  int seg = J->items[4 * task], h = J->items[4 * task + 1], ja = J->items[4 * task + 2], jb = J->items[4 * task + 3];
  int H = J->H, D = J->D, dpd = rup(D, NR);
  int q0 = J->qo[seg], q1 = J->qo[seg + 1];
  const int *kidx = J->ki + J->ko[seg] + ja;
  int nk = jb - ja, nkt = rup(nk, NR), nkm = rup(nk, MR);
  float *kp = moga_scratch(0, (size_t)nkt * D);   /* K panels [jr][d][NR] */
  float *vp = moga_scratch(1, (size_t)nkt * D);   /* V panels [jr][d][NR] */
  float *qa_ = moga_scratch(2, (size_t)BQ * D * 2 + (size_t)dpd * BQ * 2); /* Q, dO as A; Q, dO as B */
  float *s = moga_scratch(3, (size_t)BQ * BK * 2);                          /* S / P, dP / dS */
  float *t = moga_scratch(4, (size_t)2 * rup(BK, MR) * BQ);                 /* P^T, dS^T as A */
  float *acc = moga_scratch(5, (size_t)2 * nkm * dpd);                      /* dK, dV */
  float *row = moga_scratch(6, 2 * BQ);                                     /* lse, delta */
  if (!kp || !vp || !qa_ || !s || !t || !acc || !row) abort();
  float *doa = qa_ + (size_t)BQ * D, *qb = doa + (size_t)BQ * D, *dob = qb + (size_t)dpd * BQ;
  float *dps = s + (size_t)BQ * BK, *dst_ = t + (size_t)rup(BK, MR) * BQ, *dka = acc, *dva = acc + (size_t)nkm * dpd;
  pack_keys_b(kp, J->k, kidx, nk, H, h, D);
  pack_keys_b(vp, J->v, kidx, nk, H, h, D);
  memset(acc, 0, sizeof(float) * 2 * (size_t)nkm * dpd);
  /* A segment with at most BK keys is one item here, holding all its keys: it also computes dQ
   * (dS . K) from the tiles it already has, and the dQ pass skips it. */
  int fuse = J->ko[seg + 1] - J->ko[seg] <= BK;
  float *kr = NULL, *dsa = NULL, *accq = NULL;
  if (fuse) {
    kr = moga_scratch(7, (size_t)dpd * nkt + (size_t)BQ * nkt + (size_t)BQ * dpd);
    if (!kr) abort();
    dsa = kr + (size_t)dpd * nkt;
    accq = dsa + (size_t)BQ * nkt;
    pack_rows_b(kr, J->k, kidx, nk, nkt, H, h, D, 1.0f);
  }
  for (int i0 = q0; i0 < q1; i0 += BQ) {
    int nq = imin(BQ, q1 - i0), blocks = cdiv(nq, MR);
    const int *qidx = J->qi + i0;
    pack_rows_a(qa_, J->q, qidx, nq, H, h, D, J->scale);
    pack_rows_a(doa, J->dO, qidx, nq, H, h, D, 1.0f);
    pack_rows_b(qb, J->q, qidx, nq, BQ, H, h, D, 1.0f);
    pack_rows_b(dob, J->dO, qidx, nq, BQ, H, h, D, 1.0f);
    for (int i = 0; i < nq; i++) row[i] = J->lse[(size_t)qidx[i] * H + h];
    row_delta(row + BQ, J->dO, J->o, qidx, nq, H, h, D);
    tile_product(qa_, kp, blocks, nkt / NR, D, s, BK);
    tile_product(doa, vp, blocks, nkt / NR, D, dps, BK);
    softmax_grad(s, dps, BK, nq, nk, nkt, row, row + BQ, J->scale);
    pack_transposed_a(t, s, BK, nk);
    pack_transposed_a(dst_, dps, BK, nk);
    /* dV [keys x D] += P^T . dO ; dK += dS^T . Q (dS carries the scale) */
    for (int kb = 0; kb < nkm / MR; kb++)
      for (int dpn = 0; dpn < dpd / NR; dpn++) {
        ukernel(nq, t + (size_t)kb * BQ * MR, dob + (size_t)dpn * BQ * NR, dva + (size_t)kb * MR * dpd + dpn * NR, dpd, 1);
        ukernel(nq, dst_ + (size_t)kb * BQ * MR, qb + (size_t)dpn * BQ * NR, dka + (size_t)kb * MR * dpd + dpn * NR, dpd, 1);
      }
    if (fuse) {
      /* dQ [queries x D] = dS . K, the same products as attn_dq_task's single key tile */
      pack_a_rows(dsa, dps, BK, nk);
      memset(accq, 0, sizeof(float) * (size_t)BQ * dpd);
      for (int ir = 0; ir < blocks; ir++)
        for (int dpn = 0; dpn < dpd / NR; dpn++)
          ukernel(nk, dsa + (size_t)ir * nk * MR, kr + (size_t)dpn * nkt * NR, accq + (size_t)ir * MR * dpd + dpn * NR,
                  dpd, 1);
      for (int i = 0; i < nq; i++) {
        float *g = J->dq + ((size_t)qidx[i] * H + h) * D;
        for (int d = 0; d < D; d++) g[d] = accq[(size_t)i * dpd + d];
      }
    }
  }
  /* Disjoint key rows: write straight into dK/dV. Repeated rows: into this position's partial,
   * summed afterwards in plan order. */
  for (int j = 0; j < nk; j++) {
    float *gk, *gv;
    if (J->part) {
      size_t pos = (size_t)(J->ko[seg] + ja + j);
      gk = J->part + (pos * H + h) * D;
      gv = gk + (size_t)J->kvLen * H * D;
    } else {
      gk = J->dk + ((size_t)kidx[j] * H + h) * D;
      gv = J->dv + ((size_t)kidx[j] * H + h) * D;
    }
    for (int d = 0; d < D; d++) gk[d] = dka[(size_t)j * dpd + d], gv[d] = dva[(size_t)j * dpd + d];
  }
}

/* Backward pass 2 item: queries qIndex[qa..qb) of segment `seg`, head h: dQ over all the segment's keys. */
static void attn_dq_task(void *vctx, int task, int thread) {
  (void)thread;
  attn_job *J = vctx;
  int seg = J->items[4 * task], h = J->items[4 * task + 1], qa = J->items[4 * task + 2], qb = J->items[4 * task + 3];
  int H = J->H, D = J->D, dpd = rup(D, NR);
  int k0 = J->ko[seg], nkv = J->ko[seg + 1] - k0, nkp = rup(nkv, NR);
  const int *kidx = J->ki + k0;
  float *kp = moga_scratch(0, (size_t)nkp * D);   /* K panels [jr][d][NR] for S */
  float *vp = moga_scratch(1, (size_t)nkp * D);   /* V panels [jr][d][NR] for dP */
  float *kr = moga_scratch(2, (size_t)dpd * nkp + (size_t)2 * BQ * D); /* K as B of dS.K; Q, dO as A */
  float *s = moga_scratch(3, (size_t)2 * BQ * BK);
  float *t = moga_scratch(4, (size_t)BQ * BK);    /* dS as A panels [ir][j][MR] */
  float *acc = moga_scratch(5, (size_t)BQ * dpd); /* dQ */
  float *row = moga_scratch(6, 2 * BQ);
  if (!kp || !vp || !kr || !s || !t || !acc || !row) abort();
  float *qa_ = kr + (size_t)dpd * nkp, *doa = qa_ + (size_t)BQ * D, *dps = s + (size_t)BQ * BK;
  pack_keys_b(kp, J->k, kidx, nkv, H, h, D);
  pack_keys_b(vp, J->v, kidx, nkv, H, h, D);
  pack_rows_b(kr, J->k, kidx, nkv, nkp, H, h, D, 1.0f);
  for (int i0 = qa; i0 < qb; i0 += BQ) {
    int nq = imin(BQ, qb - i0), blocks = cdiv(nq, MR);
    const int *qidx = J->qi + i0;
    pack_rows_a(qa_, J->q, qidx, nq, H, h, D, J->scale);
    pack_rows_a(doa, J->dO, qidx, nq, H, h, D, 1.0f);
    for (int i = 0; i < nq; i++) row[i] = J->lse[(size_t)qidx[i] * H + h];
    row_delta(row + BQ, J->dO, J->o, qidx, nq, H, h, D);
    memset(acc, 0, sizeof(float) * (size_t)BQ * dpd);
    for (int j0 = 0; j0 < nkv; j0 += BK) {
      int nk = imin(BK, nkv - j0), nkt = rup(nk, NR);
      tile_product(qa_, kp + (size_t)j0 * D, blocks, nkt / NR, D, s, BK);
      tile_product(doa, vp + (size_t)j0 * D, blocks, nkt / NR, D, dps, BK);
        softmax_grad(s, dps, BK, nq, nk, nkt, row, row + BQ, J->scale);
      pack_a_rows(t, dps, BK, nk);
      /* dQ [queries x D] += dS . K over this tile's keys */
      for (int ir = 0; ir < blocks; ir++)
        for (int dpn = 0; dpn < dpd / NR; dpn++)
          ukernel(nk, t + (size_t)ir * nk * MR, kr + (size_t)dpn * nkp * NR + (size_t)j0 * NR,
                  acc + (size_t)ir * MR * dpd + dpn * NR, dpd, 1);
    }
    for (int i = 0; i < nq; i++) {
      float *g = J->dq + ((size_t)qidx[i] * H + h) * D;
      for (int d = 0; d < D; d++) g[d] = acc[(size_t)i * dpd + d];
    }
  }
}

/* Adds the dK/dV partials into dk/dv in plan order (one task per head: heads never share memory). */
static void attn_reduce_task(void *vctx, int h, int thread) {
  (void)thread;
  attn_job *J = vctx;
  int H = J->H, D = J->D;
  for (int pos = 0; pos < J->kvLen; pos++) {
    const float *gk = J->part + ((size_t)pos * H + h) * D, *gv = gk + (size_t)J->kvLen * H * D;
    float *dk = J->dk + ((size_t)J->ki[pos] * H + h) * D, *dv = J->dv + ((size_t)J->ki[pos] * H + h) * D;
    for (int d = 0; d < D; d++) dk[d] += gk[d], dv[d] += gv[d];
  }
}

/* dq, dk, dv must be zero on entry (rows no segment touches stay zero). Returns 0, or -1 when out of memory. */
static int attn_bwd(const int *qi, const int *qo, const int *ki, const int *ko, int segs, int nk, int H, int D,
                    float scale, const float *dO, const float *q, const float *k, const float *v, const float *o,
                    const float *lse, float *dq, float *dk, float *dv) {
  attn_job J = {qi, qo, ki, ko, H, D, nk, ko[segs], scale, q, k, v, dO, o, lse, NULL, NULL, dq, dk, dv, NULL, NULL};
  /* Only positions inside segments with queries matter; a row used twice needs partials. */
  unsigned char *seen = calloc((size_t)(nk > 0 ? nk : 1), 1);
  if (!seen) return -1;
  int repeated = 0;
  for (int s = 0; s < segs && !repeated; s++)
    if (qo[s + 1] > qo[s])
      for (int p = ko[s]; p < ko[s + 1]; p++) {
        if (seen[ki[p]]) { repeated = 1; break; }
        seen[ki[p]] = 1;
      }
  free(seen);
  if (repeated) {
    J.part = calloc((size_t)2 * J.kvLen * H * D, sizeof(float));
    if (!J.part) return -1;
  }
  int n = make_items(qo, ko, segs, H, 1, BK, BK, &J.items);
  moga_parallel(n, attn_dkdv_task, &J);
  free(J.items);
  if (J.part) {
    moga_parallel(H, attn_reduce_task, &J);
    free(J.part);
  }
  n = make_items(qo, ko, segs, H, 2, BQ, query_chunk(qo, ko, segs, H), &J.items);
  moga_parallel(n, attn_dq_task, &J);
  free(J.items);
  return 0;
}

/* ---------------------------------------------------------------- norms */

#define ROWS_PER_TASK 64 /* also the block of the dweight/dbias partial sums: fixed, so sums do not depend on threads */

typedef struct {
  const float *x, *w, *b, *dy, *mean;
  float *y, *meanOut, *rstd, *dx;
  const float *rstdIn;
  double *part; /* per row block: d values of dw (then d of db) */
  int rows, d;
  float eps;
} norm_job;

static void layernorm_task(void *vctx, int task, int thread) {
  (void)thread;
  norm_job *J = vctx;
  int d = J->d;
  for (int r = task * ROWS_PER_TASK; r < imin(J->rows, (task + 1) * ROWS_PER_TASK); r++) {
    const float *x = J->x + (size_t)r * d;
    double s = 0, v = 0;
    for (int j = 0; j < d; j++) s += x[j];
    double mu = s / d;
    for (int j = 0; j < d; j++) v += (x[j] - mu) * (x[j] - mu);
    float rs = (float)(1 / sqrt(v / d + J->eps)), m = (float)mu;
    float *y = J->y + (size_t)r * d;
    for (int j = 0; j < d; j++) y[j] = (x[j] - m) * rs * J->w[j] + J->b[j];
    J->meanOut[r] = m;
    J->rstd[r] = rs;
  }
}

static void layernorm(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd, int rows,
                      int d, float eps) {
  norm_job J = {x, w, b, NULL, NULL, y, mean, rstd, NULL, NULL, NULL, rows, d, eps};
  moga_parallel(cdiv(rows, ROWS_PER_TASK), layernorm_task, &J);
}

static void layernorm_bwd_task(void *vctx, int task, int thread) {
  (void)thread;
  norm_job *J = vctx;
  int d = J->d;
  double *gw = J->part + (size_t)task * 2 * d, *gb = gw + d;
  memset(gw, 0, sizeof(double) * 2 * d);
  for (int r = task * ROWS_PER_TASK; r < imin(J->rows, (task + 1) * ROWS_PER_TASK); r++) {
    const float *x = J->x + (size_t)r * d, *dy = J->dy + (size_t)r * d;
    float mu = J->mean[r], rs = J->rstdIn[r];
    double m1 = 0, m2 = 0;
    for (int j = 0; j < d; j++) {
      float xh = (x[j] - mu) * rs, g = dy[j] * J->w[j];
      m1 += g;
      m2 += (double)g * xh;
      gw[j] += (double)dy[j] * xh;
      gb[j] += dy[j];
    }
    float a = (float)(m1 / d), c = (float)(m2 / d);
    float *dx = J->dx + (size_t)r * d;
    for (int j = 0; j < d; j++) dx[j] = rs * (dy[j] * J->w[j] - a - (x[j] - mu) * rs * c);
  }
}

/* Sums the per-block partials in block order into out (n values each, `stride` apart). */
static void sum_blocks(const double *part, int blocks, int stride, int n, float *out) {
  for (int j = 0; j < n; j++) {
    double t = 0;
    for (int b = 0; b < blocks; b++) t += part[(size_t)b * stride + j];
    out[j] = (float)t;
  }
}

static int layernorm_bwd(const float *dy, const float *x, const float *w, const float *mean, const float *rstd,
                         float *dx, float *dw, float *db, int rows, int d) {
  int blocks = cdiv(rows, ROWS_PER_TASK);
  norm_job J = {x, w, NULL, dy, mean, NULL, NULL, NULL, dx, rstd, NULL, rows, d, 0};
  J.part = malloc(sizeof(double) * 2 * d * (size_t)(blocks ? blocks : 1));
  if (!J.part) return -1;
  moga_parallel(blocks, layernorm_bwd_task, &J);
  sum_blocks(J.part, blocks, 2 * d, d, dw);
  sum_blocks(J.part + d, blocks, 2 * d, d, db);
  if (blocks == 0) memset(dw, 0, 4 * (size_t)d), memset(db, 0, 4 * (size_t)d);
  free(J.part);
  return 0;
}

static void rmsnorm_task(void *vctx, int task, int thread) {
  (void)thread;
  norm_job *J = vctx;
  int d = J->d;
  for (int r = task * ROWS_PER_TASK; r < imin(J->rows, (task + 1) * ROWS_PER_TASK); r++) {
    const float *x = J->x + (size_t)r * d;
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)x[j] * x[j];
    float rs = (float)(1 / sqrt(s / d + J->eps));
    float *y = J->y + (size_t)r * d;
    for (int j = 0; j < d; j++) y[j] = x[j] * rs * J->w[j];
    J->rstd[r] = rs;
  }
}

static void rmsnorm(const float *x, const float *w, float *y, float *rstd, int rows, int d, float eps) {
  norm_job J = {x, w, NULL, NULL, NULL, y, NULL, rstd, NULL, NULL, NULL, rows, d, eps};
  moga_parallel(cdiv(rows, ROWS_PER_TASK), rmsnorm_task, &J);
}

static void rmsnorm_bwd_task(void *vctx, int task, int thread) {
  (void)thread;
  norm_job *J = vctx;
  int d = J->d;
  double *gw = J->part + (size_t)task * d;
  memset(gw, 0, sizeof(double) * d);
  for (int r = task * ROWS_PER_TASK; r < imin(J->rows, (task + 1) * ROWS_PER_TASK); r++) {
    const float *x = J->x + (size_t)r * d, *dy = J->dy + (size_t)r * d;
    float rs = J->rstdIn[r];
    double dot = 0;
    for (int j = 0; j < d; j++) {
      dot += (double)dy[j] * J->w[j] * x[j];
      gw[j] += (double)dy[j] * x[j] * rs;
    }
    float c = (float)((double)rs * rs * rs * dot / d);
    float *dx = J->dx + (size_t)r * d;
    for (int j = 0; j < d; j++) dx[j] = rs * dy[j] * J->w[j] - x[j] * c;
  }
}

static int rmsnorm_bwd(const float *dy, const float *x, const float *w, const float *rstd, float *dx, float *dw,
                       int rows, int d) {
  int blocks = cdiv(rows, ROWS_PER_TASK);
  norm_job J = {x, w, NULL, dy, NULL, NULL, NULL, NULL, dx, rstd, NULL, rows, d, 0};
  J.part = malloc(sizeof(double) * d * (size_t)(blocks ? blocks : 1));
  if (!J.part) return -1;
  moga_parallel(blocks, rmsnorm_bwd_task, &J);
  sum_blocks(J.part, blocks, d, d, dw);
  if (blocks == 0) memset(dw, 0, 4 * (size_t)d);
  free(J.part);
  return 0;
}

/* ---------------------------------------------------------------- elementwise */

/* Op codes: the order of UNARY_OPS / BINARY_OPS in src/core/op-spec.ts (see ../kernels.ts). */
enum { U_NEG, U_EXP, U_LOG, U_SQRT, U_RSQRT, U_TANH, U_SIGMOID, U_SILU, U_GELU, U_ABS, U_SIGN, U_SIN, U_COS };
enum { B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_GREATER, B_EQUAL };

#define ELEMS_PER_TASK (1 << 16) /* binary ops (memory-bound): below 4 tasks' worth, one thread */
#define UNARY_PER_TASK (1 << 14) /* unary ops: exp, tanh, gelu cost ~10x a load, so split earlier */

/* tanh on VW lanes: Cephes tanhf (odd polynomial below 0.625, else 1 - 2 / (exp(2|x|) + 1)). */
static inline vf vtanh(vf x) {
  vi sign = (vi)x & ((vi){0} + (int)0x80000000);
  vf ax = (vf)((vi)x & ~((vi){0} + (int)0x80000000));
  vf big = 1.0f - 2.0f / (vexp(ax + ax) + 1.0f);
  big = (vf)((vi)big | sign);
  vf z = x * x;
  vf p = (vf){0} - 5.70498872745e-3f;
  p = p * z + 2.06390887954e-2f;
  p = p * z - 5.37397155531e-2f;
  p = p * z + 1.33314422036e-1f;
  p = p * z - 3.33332819422e-1f;
  vf small = p * z * x + x;
  return vsel(ax < 0.625f, small, big);
}

static inline vf vsigmoid(vf x) { return 1.0f / (1.0f + vexp(-x)); }

/* 0.5 x (1 + tanh(u)) = x sigmoid(2u): the same function without the cancellation of 1 + tanh(u)
 * for negative x (the reference computes in float64 and has none either). */
static inline vf vgelu(vf x) {
  vf u = 1.5957691216057308f * (x + 0.044715f * x * x * x);
  return x * vsigmoid(u);
}

static float scalar_unary(int op, float v) {
  switch (op) {
  case U_LOG: return logf(v);
  case U_SIGN: return v > 0 ? 1.0f : v < 0 ? -1.0f : v; /* keeps -0, 0 and NaN */
  case U_SIN: return sinf(v);
  default: return cosf(v);
  }
}

/* The vector ops on VW lanes; the others lane by lane through libm. */
static inline vf vunary(int op, vf v) {
  switch (op) {
  case U_NEG: return -v;
  case U_EXP: return vexp(v);
  case U_SQRT:
  case U_RSQRT: {
    vf r;
    for (int l = 0; l < VW; l++) r[l] = sqrtf(v[l]); /* vectorizes to vsqrtps */
    return op == U_SQRT ? r : 1.0f / r;
  }
  case U_TANH: return vtanh(v);
  case U_SIGMOID: return vsigmoid(v);
  case U_SILU: return v * vsigmoid(v);
  case U_GELU: return vgelu(v);
  case U_ABS: return (vf)((vi)v & ~((vi){0} + (int)0x80000000));
  default: {
    vf r;
    for (int l = 0; l < VW; l++) r[l] = scalar_unary(op, v[l]);
    return r;
  }
  }
}

/* The tail (n % VW elements) goes through the same lane code as the body, so an element's result
 * does not depend on its position. The op switch sits outside the loop so each loop is straight. */
static void unary_range(int op, const float *x, float *y, int n) {
  int i = 0;
#define UNARY_LOOP(OP)                                                            \
  for (; i + VW <= n; i += VW) *(vfu *)(y + i) = vunary(OP, *(const vfu *)(x + i)); \
  break;
  switch (op) {
  case U_NEG: UNARY_LOOP(U_NEG)
  case U_EXP: UNARY_LOOP(U_EXP)
  case U_SQRT: UNARY_LOOP(U_SQRT)
  case U_RSQRT: UNARY_LOOP(U_RSQRT)
  case U_TANH: UNARY_LOOP(U_TANH)
  case U_SIGMOID: UNARY_LOOP(U_SIGMOID)
  case U_SILU: UNARY_LOOP(U_SILU)
  case U_GELU: UNARY_LOOP(U_GELU)
  case U_ABS: UNARY_LOOP(U_ABS)
  default: UNARY_LOOP(op)
  }
#undef UNARY_LOOP
  if (i < n) {
    vf t = {0};
    for (int l = 0; l < n - i; l++) t[l] = x[i + l];
    t = vunary(op, t);
    for (int l = 0; l < n - i; l++) y[i + l] = t[l];
  }
}

static inline float binop(int op, float a, float b) {
  switch (op) {
  case B_ADD: return a + b;
  case B_SUB: return a - b;
  case B_MUL: return a * b;
  case B_DIV: return a / b;
  case B_POW: return (float)pow(a, b);
  case B_MAX: return a != a || b != b ? NAN : (a > b ? a : b);
  case B_GREATER: return a > b ? 1.0f : 0.0f;
  default: return a == b ? 1.0f : 0.0f;
  }
}

/* y[t] = a[t * sa] op b[t * sb] for t < len, strides 0 or 1 (not both 0). The op and stride
 * switches sit outside the loops, so each loop is straight and vectorizes. */
static inline void seg_op(int op, const float *restrict a, int sa, const float *restrict b, int sb,
                          float *restrict y, int len) {
#define OPLOOPS(E)                                                                \
  if (sa && sb)                                                                   \
    for (int t = 0; t < len; t++) {                                               \
      float x = a[t], z = b[t];                                                   \
      y[t] = E;                                                                   \
    }                                                                             \
  else if (sa) {                                                                  \
    float z = b[0];                                                               \
    for (int t = 0; t < len; t++) {                                               \
      float x = a[t];                                                             \
      y[t] = E;                                                                   \
    }                                                                             \
  } else {                                                                        \
    float x = a[0];                                                               \
    for (int t = 0; t < len; t++) {                                               \
      float z = b[t];                                                             \
      y[t] = E;                                                                   \
    }                                                                             \
  }                                                                               \
  return;
  switch (op) {
  case B_ADD: OPLOOPS(x + z)
  case B_SUB: OPLOOPS(x - z)
  case B_MUL: OPLOOPS(x * z)
  case B_DIV: OPLOOPS(x / z)
  case B_POW: OPLOOPS((float)pow(x, z))
  case B_MAX: OPLOOPS(x != x || z != z ? NAN : (x > z ? x : z))
  case B_GREATER: OPLOOPS(x > z ? 1.0f : 0.0f)
  default: OPLOOPS(x == z ? 1.0f : 0.0f)
  }
#undef OPLOOPS
}

/* Elements [i0, i1) of y = a op b under a broadcast mode: 0 same shape; 1 b[i % inner]; 2 a[i % inner];
 * 3 b[i / inner]; 4 a[i / inner]. Walked as runs that stay inside one row of `inner` elements. */
static void binary_range(int op, const float *a, const float *b, float *y, int i0, int i1, int mode, int inner) {
  if (mode == 0) {
    seg_op(op, a + i0, 1, b + i0, 1, y + i0, i1 - i0);
    return;
  }
  for (int i = i0; i < i1;) {
    int row = i / inner, j = i - row * inner, e = imin(i1, (row + 1) * inner), len = e - i;
    switch (mode) {
    case 1: seg_op(op, a + i, 1, b + j, 1, y + i, len); break;
    case 2: seg_op(op, a + j, 1, b + i, 1, y + i, len); break;
    case 3: seg_op(op, a + i, 1, b + row, 0, y + i, len); break;
    default: seg_op(op, a + row, 0, b + i, 1, y + i, len); break;
    }
    i = e;
  }
}

/* y (contiguous, `shape`, rank <= 16) = a op b, a and b read through broadcast strides (0 on
 * broadcast axes): an odometer over all axes but the last, one run per last-axis row. */
static void binary_strided(int op, const float *a, const float *b, float *y, int rank, const int *shape,
                           const int *as, const int *bs) {
  int idx[16] = {0};
  int last = rank - 1, n = shape[last];
  long sa = as[last], sb = bs[last], yo = 0;
  float t[256], u[256];
  for (;;) {
    long ao = 0, bo = 0;
    for (int d = 0; d < last; d++) ao += (long)idx[d] * as[d], bo += (long)idx[d] * bs[d];
    if ((sa == 0 || sa == 1) && (sb == 0 || sb == 1) && (sa || sb)) seg_op(op, a + ao, sa, b + bo, sb, y + yo, n);
    else
      for (int i0 = 0; i0 < n; i0 += 256) {
        int m = imin(n - i0, 256);
        for (int i = 0; i < m; i++) t[i] = a[ao + (i0 + i) * sa], u[i] = b[bo + (i0 + i) * sb];
        seg_op(op, t, 1, u, 1, y + yo + i0, m);
      }
    yo += n;
    int d = last - 1;
    for (; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
    if (d < 0) return;
  }
}

typedef struct {
  int op, n, mode, inner;
  const float *a, *b;
  float *y;
} elem_job;

static void unary_task(void *vctx, int t, int thread) {
  (void)thread;
  elem_job *J = vctx;
  int i0 = t * UNARY_PER_TASK;
  unary_range(J->op, J->a + i0, J->y + i0, imin(UNARY_PER_TASK, J->n - i0));
}

static void binary_task(void *vctx, int t, int thread) {
  (void)thread;
  elem_job *J = vctx;
  int i0 = t * ELEMS_PER_TASK;
  binary_range(J->op, J->a, J->b, J->y, i0, imin(J->n, i0 + ELEMS_PER_TASK), J->mode, J->inner);
}

static void unary(int op, const float *x, float *y, int n) {
  elem_job J = {op, n, 0, 0, x, NULL, y};
  /* cheap ops are memory-bound: threads pay off only on large arrays */
  int per = op == U_NEG || op == U_ABS || op == U_SIGN ? ELEMS_PER_TASK : UNARY_PER_TASK;
  if (n < 4 * per) unary_range(op, x, y, n);
  else moga_parallel(cdiv(n, UNARY_PER_TASK), unary_task, &J);
}

static void binary(int op, const float *a, const float *b, float *y, int n, int mode, int inner) {
  elem_job J = {op, n, mode, inner, a, b, y};
  if (n < 4 * ELEMS_PER_TASK) binary_range(op, a, b, y, 0, n, mode, inner);
  else moga_parallel(cdiv(n, ELEMS_PER_TASK), binary_task, &J);
}

/* y[o, i] = sum (op 0, float64 accumulation) or max (op 1; NaN wins) of x[o, m, i] over m. */
static void reduce(int op, const float *x, float *y, int outer, int mid, int inner) {
  double *acc = malloc(sizeof(double) * (size_t)(inner > 0 ? inner : 1));
  for (int o = 0; o < outer; o++) {
    const float *xo = x + (size_t)o * mid * inner;
    float *yo = y + (size_t)o * inner;
    if (op == 0) {
      if (inner == 1) {
        double t = 0;
        for (int m = 0; m < mid; m++) t += xo[m];
        yo[0] = (float)t;
        continue;
      }
      for (int i = 0; i < inner; i++) acc[i] = 0;
      for (int m = 0; m < mid; m++)
        for (int i = 0; i < inner; i++) acc[i] += xo[(size_t)m * inner + i];
      for (int i = 0; i < inner; i++) yo[i] = (float)acc[i];
    } else {
      for (int i = 0; i < inner; i++) yo[i] = -INFINITY;
      for (int m = 0; m < mid; m++)
        for (int i = 0; i < inner; i++) {
          float v = xo[(size_t)m * inner + i];
          if (v > yo[i] || v != v) yo[i] = v;
        }
    }
  }
  free(acc);
}

/* ---------------------------------------------------------------- conv3d */

/* The geometry as src/backends/ref/kernels/conv.ts computes it (convGeom), in that order. */
typedef struct {
  int B, Ci, Co, T, H, W, KT, KH, KW, To, Ho, Wo, st, sh, sw, pt, ph, pw;
} conv_geom;

#define COL_FLOATS (1 << 18) /* im2col buffer per block of output rows: 1 MiB, so the GEMM packs it from cache */

typedef struct {
  const conv_geom *g;
  const float *x; /* im2col source, one batch item */
  float *dx;      /* col2im destination, one batch item */
  float *col;
  int r0, r1;
} col_job;

/* Output columns [wo0, wo1) whose tap kw lands inside the input row (the rest read padding). */
static void tap_range(const conv_geom *g, int kw, int *wo0, int *wo1) {
  int num = g->pw - kw, v = g->W - 1 - kw + g->pw;
  int a = num > 0 ? (num + g->sw - 1) / g->sw : 0;
  int b = v < 0 ? 0 : v / g->sw + 1;
  if (b > g->Wo) b = g->Wo;
  if (b < a) b = a;
  *wo0 = a, *wo1 = b;
}

/* col[k][j] = x[ci, ti, hi, wi] for the taps k of input channel `ci` (one task per channel) and output
 * positions j of rows [r0, r1); zero where the tap falls in padding. */
static void im2col_task(void *vctx, int ci, int thread) {
  (void)thread;
  col_job *J = vctx;
  const conv_geom *g = J->g;
  int np = (J->r1 - J->r0) * g->Wo, taps = g->KT * g->KH * g->KW;
  const float *xb = J->x + (size_t)ci * g->T * g->H * g->W;
  float *col = J->col + (size_t)ci * taps * np;
  for (int kt = 0; kt < g->KT; kt++)
    for (int kh = 0; kh < g->KH; kh++)
      for (int kw = 0; kw < g->KW; kw++, col += np) {
        int wo0, wo1;
        tap_range(g, kw, &wo0, &wo1);
        for (int r = J->r0; r < J->r1; r++) {
          int to = r / g->Ho, ho = r - to * g->Ho;
          int ti = to * g->st + kt - g->pt, hi = ho * g->sh + kh - g->ph;
          float *o = col + (size_t)(r - J->r0) * g->Wo;
          if (ti < 0 || ti >= g->T || hi < 0 || hi >= g->H) {
            memset(o, 0, sizeof(float) * g->Wo);
            continue;
          }
          const float *xr = xb + ((size_t)ti * g->H + hi) * g->W + kw - g->pw;
          for (int wo = 0; wo < wo0; wo++) o[wo] = 0;
          if (g->sw == 1) memcpy(o + wo0, xr + wo0, sizeof(float) * (wo1 - wo0));
          else
            for (int wo = wo0; wo < wo1; wo++) o[wo] = xr[(size_t)wo * g->sw];
          for (int wo = wo1; wo < g->Wo; wo++) o[wo] = 0;
        }
      }
}

/* The adjoint: dx[ci] += col scattered back (one task per channel, taps in order: deterministic). */
static void col2im_task(void *vctx, int ci, int thread) {
  (void)thread;
  col_job *J = vctx;
  const conv_geom *g = J->g;
  int np = (J->r1 - J->r0) * g->Wo, taps = g->KT * g->KH * g->KW;
  float *xb = J->dx + (size_t)ci * g->T * g->H * g->W;
  const float *col = J->col + (size_t)ci * taps * np;
  for (int kt = 0; kt < g->KT; kt++)
    for (int kh = 0; kh < g->KH; kh++)
      for (int kw = 0; kw < g->KW; kw++, col += np) {
        int wo0, wo1;
        tap_range(g, kw, &wo0, &wo1);
        for (int r = J->r0; r < J->r1; r++) {
          int to = r / g->Ho, ho = r - to * g->Ho;
          int ti = to * g->st + kt - g->pt, hi = ho * g->sh + kh - g->ph;
          if (ti < 0 || ti >= g->T || hi < 0 || hi >= g->H) continue;
          const float *o = col + (size_t)(r - J->r0) * g->Wo;
          float *xr = xb + ((size_t)ti * g->H + hi) * g->W + kw - g->pw;
          for (int wo = wo0; wo < wo1; wo++) xr[(size_t)wo * g->sw] += o[wo];
        }
      }
}

/* Rows of output per block, so the column buffer stays under COL_FLOATS (at least one row). */
static int conv_rows(const conv_geom *g, int K) {
  long r = COL_FLOATS / ((long)(K > 0 ? K : 1) * (g->Wo > 0 ? g->Wo : 1));
  int R = g->To * g->Ho;
  return r < 1 ? 1 : r > R ? R : (int)r;
}

/* x [B, Ci, T, H, W] * w [Co, Ci, KT, KH, KW] -> y [B, Co, To, Ho, Wo]: per block of output rows,
 * y[b][Co, P-block]^T = col[K, P-block]^T . w[Co, K]^T (positions as GEMM rows: the column block is
 * then packed as A, a block at a time from cache, and the few output channels are the short side),
 * transposed into y. Returns 0, or -1 when out of memory. */
static int conv3d(const int *gi, const float *x, const float *w, float *y) {
  conv_geom g;
  memcpy(&g, gi, sizeof g);
  int K = g.Ci * g.KT * g.KH * g.KW, P = g.To * g.Ho * g.Wo, R = g.To * g.Ho, rb = conv_rows(&g, K);
  if (P == 0 || g.Co == 0 || g.B == 0) return 0;
  size_t colf = (size_t)K * rb * g.Wo;
  float *col = malloc(sizeof(float) * (colf + (size_t)rb * g.Wo * g.Co + 1));
  if (!col) return -1;
  float *yt = col + colf; /* [positions][Co] */
  int offs[3] = {0, 0, 0};
  for (int b = 0; b < g.B; b++)
    for (int r0 = 0; r0 < R; r0 += rb) {
      int r1 = imin(R, r0 + rb), np = (r1 - r0) * g.Wo;
      col_job J = {&g, x + (size_t)b * g.Ci * g.T * g.H * g.W, NULL, col, r0, r1};
      moga_parallel(g.Ci, im2col_task, &J);
      gemm_ld(1, offs, np, g.Co, K, col, 1, np, w, 1, K, yt, g.Co);
      float *yb = y + (size_t)b * g.Co * P + (size_t)r0 * g.Wo;
      for (int j = 0; j < np; j++)
        for (int co = 0; co < g.Co; co++) yb[(size_t)co * P + j] = yt[(size_t)j * g.Co + co];
    }
  free(col);
  return 0;
}

/* (dy, w) -> dx: dcol[K, P-block] = w^T . dy[b][Co, P-block], added into dx by col2im. */
static int conv3d_bwd_input(const int *gi, const float *dy, const float *w, float *dx) {
  conv_geom g;
  memcpy(&g, gi, sizeof g);
  int K = g.Ci * g.KT * g.KH * g.KW, P = g.To * g.Ho * g.Wo, R = g.To * g.Ho, rb = conv_rows(&g, K);
  size_t xsize = (size_t)g.Ci * g.T * g.H * g.W;
  memset(dx, 0, sizeof(float) * xsize * g.B);
  if (P == 0 || K == 0) return 0;
  float *col = malloc(sizeof(float) * ((size_t)K * rb * g.Wo + 1));
  if (!col) return -1;
  int offs[3] = {0, 0, 0};
  for (int b = 0; b < g.B; b++)
    for (int r0 = 0; r0 < R; r0 += rb) {
      int r1 = imin(R, r0 + rb), np = (r1 - r0) * g.Wo;
      gemm_ld(1, offs, K, np, g.Co, w, 1, K, dy + (size_t)b * g.Co * P + (size_t)r0 * g.Wo, P, 1, col, np);
      col_job J = {&g, NULL, dx + (size_t)b * xsize, col, r0, r1};
      moga_parallel(g.Ci, col2im_task, &J);
    }
  free(col);
  return 0;
}

/* (dy, x) -> dw: dw[Co, K] = sum over blocks (in order) of dy[b][Co, P-block] . col[K, P-block]^T. */
static int conv3d_bwd_weight(const int *gi, const float *dy, const float *x, float *dw) {
  conv_geom g;
  memcpy(&g, gi, sizeof g);
  int K = g.Ci * g.KT * g.KH * g.KW, P = g.To * g.Ho * g.Wo, R = g.To * g.Ho, rb = conv_rows(&g, K);
  size_t wsize = (size_t)g.Co * K;
  memset(dw, 0, sizeof(float) * wsize);
  if (P == 0 || wsize == 0) return 0;
  float *col = malloc(sizeof(float) * ((size_t)K * rb * g.Wo + wsize));
  if (!col) return -1;
  float *part = col + (size_t)K * rb * g.Wo;
  int offs[3] = {0, 0, 0};
  for (int b = 0; b < g.B; b++)
    for (int r0 = 0; r0 < R; r0 += rb) {
      int r1 = imin(R, r0 + rb), np = (r1 - r0) * g.Wo;
      col_job J = {&g, x + (size_t)b * g.Ci * g.T * g.H * g.W, NULL, col, r0, r1};
      moga_parallel(g.Ci, im2col_task, &J);
      gemm_ld(1, offs, g.Co, K, np, dy + (size_t)b * g.Co * P + (size_t)r0 * g.Wo, P, 1, col, 1, np, part, K);
      for (size_t i = 0; i < wsize; i++) dw[i] += part[i];
    }
  free(col);
  return 0;
}

const moga_kernels TABLE = {ISA_NAME, MR, NR, gemm, attn_fwd, attn_bwd, layernorm, layernorm_bwd,
                            rmsnorm, rmsnorm_bwd, unary, binary, reduce, binary_strided,
                            conv3d, conv3d_bwd_input, conv3d_bwd_weight};
