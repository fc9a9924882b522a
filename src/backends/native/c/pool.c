/*
 * The persistent thread pool and the exported entry points (what koffi binds).
 *
 * Threads are created once (moga_start). A job is published as one 64-bit word (generation,
 * task count, next unclaimed task); every thread, the caller too, claims tasks by compare-and-swap
 * on that word, so a worker that wakes late finds the job fully claimed (or a newer one) and
 * takes nothing: the caller waits only for tasks actually running, never for a thread's wake-up.
 * Idle workers spin briefly (a burst of kernels then costs no wake-up), then sleep on a condition
 * variable: this library shares small machines with other jobs, and a thread spinning for long
 * would steal a core from them. The caller, once every task is claimed, likewise spins briefly for
 * the tasks still running and then sleeps until the last one signals. Kernels split work into tasks by the problem's shape and
 * accumulate in a fixed order, so results do not depend on the thread count.
 *
 * The ISA build is chosen at run time from the CPU's features (never -march=native): AVX-512 where
 * the CPU has AVX-512F/DQ, else AVX2+FMA, else generic; moga_use can force one (tests compare them).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "moga.h"

#define MAX_THREADS 256
#define SLOTS 8

/* The job word: generation (24 bits) | task count (20) | next task (20). */
#define TBITS 20
#define TMASK ((1u << TBITS) - 1)
#define MAX_TASKS ((int)TMASK)
#define GEN(s) ((unsigned)((s) >> (2 * TBITS)))
#define COUNT(s) ((int)(((s) >> TBITS) & TMASK))
#define NEXT(s) ((int)((s)&TMASK))

/* Spins of an idle worker before it sleeps (each a CPU pause, ~10-40 ns): tens of microseconds. */
#define IDLE_SPINS 4000

static struct {
  pthread_mutex_t mu;
  pthread_cond_t wake;
  pthread_cond_t finished; /* the caller sleeps on it when a worker's task runs long */
  atomic_int waiting;      /* the caller is (about to be) asleep on `finished` */
  pthread_mutex_t call; /* one job at a time, whoever calls */
  int threads;          /* started, the caller included */
  atomic_int use;       /* threads taking part in jobs (<= threads; moga_use) */
  _Atomic uint64_t job; /* see GEN / COUNT / NEXT */
  _Atomic(moga_task_fn) fn;
  _Atomic(void *) ctx;
  atomic_int done;     /* tasks of the current job finished */
  atomic_int sleepers; /* workers inside pthread_cond_wait (or about to be) */
} P = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, PTHREAD_MUTEX_INITIALIZER,
       0, 0, 0, NULL, NULL, 0, 0};

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

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Claims and runs tasks of the job in `s` (re-read on contention) until it is fully claimed or a
 * newer job replaced it. fn and ctx are read before the claim: a successful claim proves the job
 * was still open, so the caller had not yet overwritten them for the next job. */
static void drain(uint64_t s, int thread) {
  unsigned gen = GEN(s);
  while (GEN(s) == gen && NEXT(s) < COUNT(s)) {
    moga_task_fn fn = atomic_load_explicit(&P.fn, memory_order_relaxed);
    void *ctx = atomic_load_explicit(&P.ctx, memory_order_relaxed);
    if (atomic_compare_exchange_weak(&P.job, &s, s + 1)) {
      fn(ctx, NEXT(s), thread);
      /* The last task to finish wakes the caller if it went to sleep (seq_cst pairs with it). */
      if (atomic_fetch_add(&P.done, 1) + 1 == COUNT(s) && thread != 0 && atomic_load(&P.waiting)) {
        pthread_mutex_lock(&P.mu);
        pthread_cond_signal(&P.finished);
        pthread_mutex_unlock(&P.mu);
      }
      s = atomic_load(&P.job);
    }
  }
}

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg;
  unsigned seen = 0;
  for (;;) {
    uint64_t s = atomic_load(&P.job);
    for (int spin = 0; GEN(s) == seen && spin < IDLE_SPINS; spin++) {
      cpu_relax();
      s = atomic_load(&P.job);
    }
    if (GEN(s) == seen) {
      pthread_mutex_lock(&P.mu);
      atomic_fetch_add(&P.sleepers, 1);
      while (GEN(s = atomic_load(&P.job)) == seen) pthread_cond_wait(&P.wake, &P.mu);
      atomic_fetch_sub(&P.sleepers, 1);
      pthread_mutex_unlock(&P.mu);
    }
    seen = GEN(s);
    if (id < atomic_load_explicit(&P.use, memory_order_relaxed)) drain(s, id);
  }
  return NULL;
}

static void run_job(int ntasks, moga_task_fn fn, void *ctx) {
  atomic_store_explicit(&P.fn, fn, memory_order_relaxed);
  atomic_store_explicit(&P.ctx, ctx, memory_order_relaxed);
  atomic_store_explicit(&P.done, 0, memory_order_relaxed);
  uint64_t s = atomic_load(&P.job);
  uint64_t gen = (GEN(s) + 1) & 0xffffff;
  s = gen << (2 * TBITS) | (uint64_t)ntasks << TBITS;
  atomic_store(&P.job, s); /* publishes fn, ctx and done = 0 with it */
  if (atomic_load(&P.sleepers) > 0) {
    pthread_mutex_lock(&P.mu);
    pthread_cond_broadcast(&P.wake);
    pthread_mutex_unlock(&P.mu);
  }
  drain(s, 0);
  /* Every task is claimed; wait for the ones still running on workers: spin briefly, then sleep
   * until the last one signals (never sched_yield: on a loaded machine that hands the core to
   * another process for a whole time slice). */
  for (int spin = 0; spin < IDLE_SPINS; spin++) {
    if (atomic_load(&P.done) >= ntasks) return;
    cpu_relax();
  }
  pthread_mutex_lock(&P.mu);
  atomic_store(&P.waiting, 1);
  while (atomic_load(&P.done) < ntasks) pthread_cond_wait(&P.finished, &P.mu);
  atomic_store(&P.waiting, 0);
  pthread_mutex_unlock(&P.mu);
}

/* Tasks past MAX_TASKS run as further jobs through this offset (P.call is held meanwhile). */
static struct {
  moga_task_fn fn;
  void *ctx;
  int t0;
} chunk;

static void chunk_task(void *ctx, int t, int thread) {
  (void)ctx;
  chunk.fn(chunk.ctx, chunk.t0 + t, thread);
}

void moga_parallel(int ntasks, moga_task_fn fn, void *ctx) {
  if (ntasks <= 0) return;
  if (atomic_load_explicit(&P.use, memory_order_relaxed) <= 1 || ntasks == 1) {
    for (int t = 0; t < ntasks; t++) fn(ctx, t, 0);
    return;
  }
  pthread_mutex_lock(&P.call);
  if (ntasks <= MAX_TASKS) run_job(ntasks, fn, ctx);
  else
    for (int t0 = 0; t0 < ntasks; t0 += MAX_TASKS) {
      chunk.fn = fn, chunk.ctx = ctx, chunk.t0 = t0;
      run_job(ntasks - t0 < MAX_TASKS ? ntasks - t0 : MAX_TASKS, chunk_task, NULL);
    }
  pthread_mutex_unlock(&P.call);
}

int moga_threads(void) {
  int u = atomic_load_explicit(&P.use, memory_order_relaxed);
  return u > 0 ? u : 1;
}

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
  P.threads = started;
  atomic_store(&P.use, started);
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
  atomic_store(&P.use, threads < P.threads ? threads : (P.threads > 0 ? P.threads : 1));
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

int moga_conv3d(const int *g, const float *x, const float *w, float *y) { return K->conv3d(g, x, w, y); }

int moga_conv3d_bwd_input(const int *g, const float *dy, const float *w, float *dx) {
  return K->conv3d_bwd_input(g, dy, w, dx);
}

int moga_conv3d_bwd_weight(const int *g, const float *dy, const float *x, float *dw) {
  return K->conv3d_bwd_weight(g, dy, x, dw);
}

/* ---- indexing (ISA-independent: copies and adds; indices checked by the caller) ---- */

/* y[r] = x[idx[r]] for rows of w 4-byte elements (float32 or int32). */
void moga_gather_rows(const uint32_t *x, const int *idx, uint32_t *y, int m, int w) {
  for (int r = 0; r < m; r++) memcpy(y + (size_t)r * w, x + (size_t)idx[r] * w, 4 * (size_t)w);
}

/* y [rows, w] = 0, then y[idx[r]] += src[r] for r in order (the reference's order). */
void moga_scatter_add_rows(const float *src, const int *idx, float *y, int m, int w, int rows) {
  memset(y, 0, sizeof(float) * (size_t)rows * w);
  for (int r = 0; r < m; r++) {
    float *dst = y + (size_t)idx[r] * w;
    const float *s = src + (size_t)r * w;
    for (int j = 0; j < w; j++) dst[j] += s[j];
  }
}

/* y[o, j] = the first i with the largest x[o, i, j] (NaN never wins; all NaN or -inf: 0). */
void moga_argmax(const float *x, int *y, int outer, int n, int inner) {
  for (int o = 0; o < outer; o++) {
    const float *xo = x + (size_t)o * n * inner;
    int *yo = y + (size_t)o * inner;
    if (inner == 1) {
      int best = 0;
      float bv = -INFINITY;
      for (int i = 0; i < n; i++)
        if (xo[i] > bv) bv = xo[i], best = i;
      yo[0] = best;
      continue;
    }
    for (int j = 0; j < inner; j++) {
      int best = 0;
      float bv = -INFINITY;
      for (int i = 0; i < n; i++) {
        float v = xo[(size_t)i * inner + j];
        if (v > bv) bv = v, best = i;
      }
      yo[j] = best;
    }
  }
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
  K->binary_strided(op, a, b, y, rank, shape, as, bs);
}
