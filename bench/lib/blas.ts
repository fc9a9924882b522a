/**
 * OpenBLAS `cblas_sgemm` through koffi, the CPU ceiling that BENCHMARKS.md names. Loaded lazily;
 * when the library (Debian libopenblas0) or koffi is missing, `loadBlas` returns the reason instead.
 */
export interface Blas {
  /** C[m, n] = A[m, k] . B[k, n], row-major, no transposes. */
  sgemm(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array): void;
  setThreads(n: number): void;
  readonly library: string;
}

const CANDIDATES = ['libopenblas.so.0', 'libopenblas.so', 'libopenblas.dylib'];
const ROW_MAJOR = 101;
const NO_TRANS = 111;

export async function loadBlas(): Promise<Blas | string> {
  let koffi: typeof import('koffi');
  try {
    koffi = (await import('koffi')).default as unknown as typeof import('koffi');
  } catch (e) {
    return `koffi is not loadable (${(e as Error).message})`;
  }
  for (const name of CANDIDATES) {
    let lib: ReturnType<typeof koffi.load>;
    try {
      lib = koffi.load(name);
    } catch {
      continue;
    }
    const gemm = lib.func(
      'void cblas_sgemm(int, int, int, int, int, int, float, float*, int, float*, int, float, _Inout_ float*, int)',
    );
    const threads = lib.func('void openblas_set_num_threads(int)');
    return {
      library: name,
      sgemm: (m, n, k, a, b, c) => gemm(ROW_MAJOR, NO_TRANS, NO_TRANS, m, n, k, 1, a, k, b, n, 0, c, n),
      setThreads: (n) => threads(n),
    };
  }
  return `OpenBLAS not found (${CANDIDATES.join(', ')}; Debian: apt-get install libopenblas0)`;
}
