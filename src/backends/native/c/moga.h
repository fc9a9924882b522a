/*
 * The native CPU backend's shared declarations: the thread pool (pool.c), per-thread scratch, and
 * the kernel table that each ISA build of kernels.c fills (generic, AVX2+FMA, AVX-512).
 * All arrays are float32 / int32, contiguous, row-major; sizes are int (tensors stay < 2^31 elements).
 */
#ifndef MOGA_H
#define MOGA_H
#include <stddef.h>
#include <stdint.h>

/* ---- thread pool (pool.c) ---- */

/* A task body: `task` in [0, ntasks), `thread` in [0, threads) names the running thread (for scratch). */
typedef void (*moga_task_fn)(void *ctx, int task, int thread);

/* Runs fn(ctx, t, thread) for every t in [0, ntasks) on the pool (the caller is thread 0); returns
 * when all have finished. Which thread runs which task varies; kernels must not depend on it. */
void moga_parallel(int ntasks, moga_task_fn fn, void *ctx);
int moga_threads(void);

/* Grow-only, 64-byte aligned scratch owned by the calling pool thread; `slot` < 8 names independent
 * buffers. Contents are undefined on return. NULL when out of memory. */
float *moga_scratch(int slot, size_t floats);

/* ---- kernels (kernels.c, compiled once per ISA) ---- */

typedef struct {
  const char *isa;
  int mr, nr; /* GEMM register tile */
  void (*gemm)(int nb, const int *offs, int m, int n, int k, const float *a, int ars, int acs,
               const float *b, int brs, int bcs, float *c);
  void (*attn_fwd)(const int *qIndex, const int *qOffsets, const int *kvIndex, const int *kvOffsets,
                   int segs, int H, int D, float scale, const float *q, const float *k, const float *v,
                   float *out, float *lse);
  int (*attn_bwd)(const int *qIndex, const int *qOffsets, const int *kvIndex, const int *kvOffsets,
                  int segs, int nk, int H, int D, float scale, const float *dO, const float *q,
                  const float *k, const float *v, const float *o, const float *lse, float *dq,
                  float *dk, float *dv);
  void (*layernorm)(const float *x, const float *w, const float *b, float *y, float *mean,
                    float *rstd, int rows, int d, float eps);
  int (*layernorm_bwd)(const float *dy, const float *x, const float *w, const float *mean,
                       const float *rstd, float *dx, float *dw, float *db, int rows, int d);
  void (*rmsnorm)(const float *x, const float *w, float *y, float *rstd, int rows, int d, float eps);
  int (*rmsnorm_bwd)(const float *dy, const float *x, const float *w, const float *rstd, float *dx,
                     float *dw, int rows, int d);
  void (*unary)(int op, const float *x, float *y, int n);
  void (*binary)(int op, const float *a, const float *b, float *y, int n, int mode, int inner);
  void (*reduce)(int op, const float *x, float *y, int outer, int mid, int inner);
  void (*binary_strided)(int op, const float *a, const float *b, float *y, int rank, const int *shape,
                         const int *as, const int *bs);
  /* conv3d: g = B, Ci, Co, T, H, W, KT, KH, KW, To, Ho, Wo, stride (3), padding before (3); 0 or -1 (no memory) */
  int (*conv3d)(const int *g, const float *x, const float *w, float *y);
  int (*conv3d_bwd_input)(const int *g, const float *dy, const float *w, float *dx);
  int (*conv3d_bwd_weight)(const int *g, const float *dy, const float *x, float *dw);
} moga_kernels;

extern const moga_kernels moga_kernels_generic;
#if defined(__x86_64__)
extern const moga_kernels moga_kernels_avx2;
#ifdef MOGA_HAVE_AVX512
extern const moga_kernels moga_kernels_avx512;
#endif
#endif

#endif
