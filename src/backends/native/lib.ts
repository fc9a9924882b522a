/**
 * Finds build/native/libmoga.so (compiled by `npm run build` when a C compiler exists) and binds
 * its entry points through koffi. Returns a reason string instead of throwing when there is no
 * library or it does not load, so the backend probe can fall through to wasm.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// biome-ignore lint/suspicious/noExplicitAny: koffi's function objects are untyped
type Fn = (...a: any[]) => any;

/** The library's exported functions (src/backends/native/c/pool.c); arrays pass by reference. */
export interface NativeLib {
  readonly file: string;
  /** Starts the pool once (threads <= 0: one per CPU); returns the threads started. */
  start(threads: number): number;
  /** Threads taking part and ISA build ('' = best) for later calls; -1 when the ISA cannot run here. */
  use(threads: number, isa: string): number;
  isa(): string;
  builds(): string;
  gemm: Fn;
  attnFwd: Fn;
  attnBwd: Fn;
  layerNorm: Fn;
  layerNormBwd: Fn;
  rmsNorm: Fn;
  rmsNormBwd: Fn;
  unary: Fn;
  binary: Fn;
  reduce: Fn;
  stridedCopy: Fn;
  binaryStrided: Fn;
  conv3d: Fn;
  conv3dBwdInput: Fn;
  conv3dBwdWeight: Fn;
  gatherRows: Fn;
  scatterAddRows: Fn;
  argmax: Fn;
}

/** build/native/libmoga.so in the package root, found from src/backends/native (tsx) or dist/. */
function findLibrary(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const cand = join(dir, 'build', 'native', 'libmoga.so');
    if (existsSync(cand)) return cand;
    dir = dirname(dir);
  }
  return undefined;
}

let loaded: NativeLib | string | undefined;

/** The bound library (loaded once per process), or why not. `file` overrides the search. */
export function loadNativeLib(file?: string): NativeLib | string {
  if (loaded && !file) return loaded;
  const path = file ?? findLibrary();
  if (!path) return 'build/native/libmoga.so not found (npm run build compiles it when a C compiler exists)';
  // biome-ignore lint/suspicious/noExplicitAny: koffi module
  let koffi: any;
  try {
    koffi = createRequire(import.meta.url)('koffi');
  } catch (e) {
    return `the FFI module koffi could not load (${(e as Error).message})`;
  }
  // biome-ignore lint/suspicious/noExplicitAny: koffi library handle
  let lib: any;
  try {
    lib = koffi.load(path);
  } catch (e) {
    return `${path} did not load (${(e as Error).message})`;
  }
  const f = (sig: string): Fn => lib.func(sig);
  const P = 'const int *qi, const int *qo, const int *ki, const int *ko, int segs';
  const bound: NativeLib = {
    file: path,
    start: f('int moga_start(int threads)'),
    use: f('int moga_use(int threads, const char *isa)'),
    isa: f('const char *moga_isa()'),
    builds: f('const char *moga_builds()'),
    gemm: f(
      'void moga_gemm(int nb, const int *offs, int m, int n, int k, const float *a, int ars, int acs, const float *b, int brs, int bcs, float *c)',
    ),
    attnFwd: f(
      `void moga_attn_fwd(${P}, int H, int D, float scale, const float *q, const float *k, const float *v, float *out, float *lse)`,
    ),
    attnBwd: f(
      `int moga_attn_bwd(${P}, int nk, int H, int D, float scale, const float *dO, const float *q, const float *k, const float *v, const float *o, const float *lse, float *dq, float *dk, float *dv)`,
    ),
    layerNorm: f(
      'void moga_layernorm(const float *x, const float *w, const float *b, float *y, float *mean, float *rstd, int rows, int d, float eps)',
    ),
    layerNormBwd: f(
      'int moga_layernorm_bwd(const float *dy, const float *x, const float *w, const float *mean, const float *rstd, float *dx, float *dw, float *db, int rows, int d)',
    ),
    rmsNorm: f(
      'void moga_rmsnorm(const float *x, const float *w, float *y, float *rstd, int rows, int d, float eps)',
    ),
    rmsNormBwd: f(
      'int moga_rmsnorm_bwd(const float *dy, const float *x, const float *w, const float *rstd, float *dx, float *dw, int rows, int d)',
    ),
    unary: f('void moga_unary(int op, const float *x, float *y, int n)'),
    binary: f(
      'void moga_binary(int op, const float *a, const float *b, float *y, int n, int mode, int inner)',
    ),
    reduce: f('void moga_reduce(int op, const float *x, float *y, int outer, int mid, int inner)'),
    stridedCopy: f(
      'void moga_strided_copy(const void *x, int xoff, void *y, int yoff, int rank, const int *shape, const int *xs, const int *ys)',
    ),
    binaryStrided: f(
      'void moga_binary_strided(int op, const float *a, const float *b, float *y, int rank, const int *shape, const int *as, const int *bs)',
    ),
    conv3d: f('int moga_conv3d(const int *g, const float *x, const float *w, float *y)'),
    conv3dBwdInput: f('int moga_conv3d_bwd_input(const int *g, const float *dy, const float *w, float *dx)'),
    conv3dBwdWeight: f(
      'int moga_conv3d_bwd_weight(const int *g, const float *dy, const float *x, float *dw)',
    ),
    gatherRows: f('void moga_gather_rows(const void *x, const int *idx, void *y, int m, int w)'),
    scatterAddRows: f(
      'void moga_scatter_add_rows(const float *src, const int *idx, float *y, int m, int w, int rows)',
    ),
    argmax: f('void moga_argmax(const float *x, int *y, int outer, int n, int inner)'),
  };
  if (!file) loaded = bound;
  return bound;
}
