/*
 * The persistent thread pool and the exported entry points (what koffi binds).
 *
 * Threads are created once (moga_start) and sleep on a condition variable between jobs; a job is a
 * task count plus a body, and every thread (the caller too) claims tasks from an atomic counter.
 * A condition variable rather than spinning: this library shares small machines with other jobs,
 * and a spinning idle thread would steal a core from them. Kernels split work into tasks by the
 * problem's shape and accumulate in a fixed order, so results do not depend on the thread count.
 *
 * The ISA build is chosen at run time from the CPU's features (never -march=native): AVX-512 where
 * the CPU has AVX-512F/DQ, else AVX2+FMA, else generic; moga_use can force one (tests compare them).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "moga.h"

#define MAX_THREADS 256
#define SLOTS 8

static struct {
  pthread_mutex_t mu;
  pthread_cond_t wake, idle;
  pthread_mutex_t call; /* one job at a time, whoever calls */
  int threads;     /* started, the caller included */
  int use;         /* threads taking part in jobs (<= threads; moga_use) */
  unsigned gen;    /* bumped per job; workers wait for a new value */
  int busy;        /* workers still inside the current job */
  moga_task_fn fn;
  void *ctx;
  int ntasks;
  atomic_int next; /* next unclaimed task */
} P = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER,
       PTHREAD_MUTEX_INITIALIZER, 0, 0, 0, 0, 0, 0, 0, 0};

static const moga_kernels *K = &moga_kernels_generic;

static _Thread_local struct {
  float *p[SLOTS];
  size_t n[SLOTS];
} scratch;

float *moga_scratch(int slot, size_t floats) {
  if (scratch.n[slot] < floats) {
    free(scratch.p[slot]);
    size_t bytes = (floats * sizeof(float) + 63) & ~(size_t)63;
    scratch.p[slot] = aligned_alloc(64, bytes);
    scratch.n[slot] = scratch.p[slot] ? floats : 0;
  }
  return scratch.p[slot];
}

static void drain(int thread) {
  int t;
  while ((t = atomic_fetch_add(&P.next, 1)) < P.ntasks) P.fn(P.ctx, t, thread);
}

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  unsigned seen = 0;
  for (;;) {
    pthread_mutex_lock(&P.mu);
    while (P.gen == seen) pthread_cond_wait(&P.wake, &P.mu);
    seen = P.gen;
    pthread_mutex_unlock(&P.mu);
    if (id < P.use) drain(id);
    pthread_mutex_lock(&P.mu);
    if (--P.busy == 0) pthread_cond_signal(&P.idle);
    pthread_mutex_unlock(&P.mu);
  }
  return NULL;
}

void moga_parallel(int ntasks, moga_task_fn fn, void *ctx) {
  if (ntasks <= 0) return;
  if (P.use <= 1 || ntasks == 1) {
    for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
    return;
  }
  pthread_mutex_lock(&P.call);
  pthread_mutex_lock(&P.mu);
  P.fn = fn;
  P.ctx = ctx;
  P.ntasks = ntasks;
  atomic_store(&P.next, 0);
  P.busy = P.threads - 1;
  P.gen++;
  pthread_cond_broadcast(&P.wake);
  pthread_mutex_unlock(&P.mu);
  drain(0);
  /* Wait until every worker has left the job, so the next job cannot race with a late claimer. */
  pthread_mutex_lock(&P.mu);
  while (P.busy > 0) pthread_cond_wait(&P.idle, &P.mu);
  pthread_mutex_unlock(&P.mu);
  pthread_mutex_unlock(&P.call);
}

int moga_threads(void) { return P.use > 0 ? P.use : 1; }

/* ---- exported API ---- */

/* Starts the pool once: threads-1 workers (threads <= 0: one per online CPU). Later calls return the
 * count already started. */
int moga_start(int threads) {
  if (P.threads > 0) return P.threads;
  if (threads <= 0) threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (threads < 1) threads = 1;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  int started = 1;
  for (int i = 1; i < threads; i++) {
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&th, &at, worker, (void *)(intptr_t)i) == 0) started++;
    pthread_attr_destroy(&at);
  }
  P.threads = P.use = started;
  return started;
}

/* The kernel build for `isa` ("generic", "avx2", "avx512"; "" = the best this CPU runs), or NULL
 * when this library lacks it or the CPU cannot run it. */
static const moga_kernels *pick_isa(const char *isa) {
  int any = !isa || !*isa;
#if defined(__x86_64__)
  __builtin_cpu_init();
  int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#ifdef MOGA_HAVE_AVX512
  if ((any || !strcmp(isa, "avx512")) && avx2 && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512dq"))
    return &moga_kernels_avx512;
#endif
  if ((any || !strcmp(isa, "avx2")) && avx2) return &moga_kernels_avx2;
#endif
  if (any || !strcmp(isa, "generic")) return &moga_kernels_generic;
  return NULL;
}

/* Selects the threads taking part (clamped to [1, started]) and the ISA build for later calls;
 * returns 0, or -1 when `isa` cannot run here (nothing changes then). Call between kernels only. */
int moga_use(int threads, const char *isa) {
  const moga_kernels *k = pick_isa(isa);
  if (!k) return -1;
  K = k;
  if (threads < 1) threads = 1;
  P.use = threads < P.threads ? threads : (P.threads > 0 ? P.threads : 1);
  return 0;
}

const char *moga_isa(void) { return K->isa; }

/* Which ISA builds this library holds, comma-separated (for messages and tests). */
const char *moga_builds(void) {
#if defined(__x86_64__) && defined(MOGA_HAVE_AVX512)
  return "generic,avx2,avx512";
#elif defined(__x86_64__)
  return "generic,avx2";
#else
  return "generic";
#endif
}

void moga_gemm(int nb, const int *offs, int m, int n, int k, const float *a, int ars, int acs,
               const float *b, int brs, int bcs, float *c) {
  K->gemm(nb, offs, m, n, k, a, ars, acs, b, brs, bcs, c);
}

void moga_attn_fwd(const int *qi, const int *qo, const int *ki, const int *ko, int segs, int H, int D,
                   float scale, const float *q, const float *k, const float *v, float *out, float *lse) {
  K->attn_fwd(qi, qo, ki, ko, segs, H, D, scale, q, k, v, out, lse);
}

int moga_attn_bwd(const int *qi, const int *qo, const int *ki, const int *ko, int segs, int nk, int H,
                  int D, float scale, const float *dO, const float *q, const float *k, const float *v,
                  const float *o, const float *lse, float *dq, float *dk, float *dv) {
  return K->attn_bwd(qi, qo, ki, ko, segs, nk, H, D, scale, dO, q, k, v, o, lse, dq, dk, dv);
}

void moga_layernorm(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd,
                    int rows, int d, float eps) {
  K->layernorm(x, w, b, y, mean, rstd, rows, d, eps);
}

int moga_layernorm_bwd(const float *dy, const float *x, const float *w, const float *mean,
                       const float *rstd, float *dx, float *dw, float *db, int rows, int d) {
  return K->layernorm_bwd(dy, x, w, mean, rstd, dx, dw, db, rows, d);
}

void moga_rmsnorm(const float *x, const float *w, float *y, float *rstd, int rows, int d, float eps) {
  K->rmsnorm(x, w, y, rstd, rows, d, eps);
}

int moga_rmsnorm_bwd(const float *dy, const float *x, const float *w, const float *rstd, float *dx,
                     float *dw, int rows, int d) {
  return K->rmsnorm_bwd(dy, x, w, rstd, dx, dw, rows, d);
}

void moga_unary(int op, const float *x, float *y, int n) { K->unary(op, x, y, n); }

void moga_binary(int op, const float *a, const float *b, float *y, int n, int mode, int inner) {
  K->binary(op, a, b, y, n, mode, inner);
}

void moga_reduce(int op, const float *x, float *y, int outer, int mid, int inner) {
  K->reduce(op, x, y, outer, mid, inner);
}

/* ---- movement and general broadcasting (ISA-independent: memory-bound loops) ---- */

#define MAX_RANK 16

/*
 * Copies the elements of `shape` (rank <= MAX_RANK, axes already coalesced by the caller) from
 * x + xoff (element strides xs) to y + yoff (strides ys); 4-byte elements of any type. A transpose
 * of the last two axes goes in 16 x 16 tiles, so neither side touches a new cache line per element.
 */
void moga_strided_copy(const uint32_t *x, int xoff, uint32_t *y, int yoff, int rank, const int *shape,
                       const int *xs, const int *ys) {
  if (rank < 1 || rank > MAX_RANK) return;
  int idx[MAX_RANK] = {0};
  int last = rank - 1;
  int tile = rank >= 2 && xs[last - 1] == 1 && ys[last] == 1 && shape[last] >= 8 && shape[last - 1] >= 8;
  int outer = tile ? rank - 2 : rank - 1; /* axes walked by the odometer */
  x += xoff;
  y += yoff;
  for (;;) {
    long xo = 0, yo = 0;
    for (int a = 0; a < outer; a++) xo += (long)idx[a] * xs[a], yo += (long)idx[a] * ys[a];
    if (tile) {
      int rows = shape[last - 1], cols = shape[last];
      long xc = xs[last], yr = ys[last - 1];
      for (int r0 = 0; r0 < rows; r0 += 16)
        for (int c0 = 0; c0 < cols; c0 += 16)
          for (int c = c0; c < c0 + 16 && c < cols; c++)
            for (int r = r0; r < r0 + 16 && r < rows; r++) y[yo + r * yr + c] = x[xo + r + c * xc];
    } else {
      int n = shape[last];
      long sx = xs[last], sy = ys[last];
      const uint32_t *xp = x + xo;
      uint32_t *yp = y + yo;
      if (sx == 1 && sy == 1) memcpy(yp, xp, 4 * (size_t)n);
      else if (sx == 0 && sy == 1)
        for (int i = 0; i < n; i++) yp[i] = xp[0];
      else
        for (int i = 0; i < n; i++) yp[i * sy] = xp[i * sx];
    }
    int a = outer - 1;
    for (; a >= 0; a--) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
    if (a < 0) return;
  }
}

/* y (contiguous, `shape`) = a op b, a and b read through broadcast strides (0 on broadcast axes). */
void moga_binary_strided(int op, const float *a, const float *b, float *y, int rank, const int *shape,
                         const int *as, const int *bs) {
  if (rank < 1 || rank > MAX_RANK) return;
  int idx[MAX_RANK] = {0};
  int last = rank - 1, n = shape[last];
  long sa = as[last], sb = bs[last], yo = 0;
  for (;;) {
    long ao = 0, bo = 0;
    for (int d = 0; d < last; d++) ao += (long)idx[d] * as[d], bo += (long)idx[d] * bs[d];
    /* The contiguous/broadcast cases of the last axis map to the vectorized binary modes. */
    if (sa == 1 && sb == 1) K->binary(op, a + ao, b + bo, y + yo, n, 0, n);
    else if (sa == 1 && sb == 0) K->binary(op, a + ao, b + bo, y + yo, n, 3, n);
    else if (sa == 0 && sb == 1) K->binary(op, a + ao, b + bo, y + yo, n, 4, n);
    else {
      float t[256];
      for (int i0 = 0; i0 < n; i0 += 256) {
        int m = n - i0 < 256 ? n - i0 : 256;
        float u[256];
        for (int i = 0; i < m; i++) t[i] = a[ao + (i0 + i) * sa], u[i] = b[bo + (i0 + i) * sb];
        K->binary(op, t, u, y + yo + i0, m, 0, m);
      }
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
