/**
 * The native CPU backend: C kernels (c/*.c, compiled by `npm run build` when a C compiler exists)
 * loaded through koffi, one shared library holding generic, AVX2+FMA and AVX-512 builds chosen at
 * run time from the CPU, with a persistent pthread pool. Storage is plain typed arrays (passed to C
 * by reference), so every op without a native kernel runs the `ref` kernel on the same arrays, the
 * way wasm falls back to ref. The probe only succeeds when the library loads and a start-up
 * self-test (a GEMM and a grouped attention against ref) passes.
 */
import os from 'node:os';
import { BYTES, type DType, type TypedArray } from '../../core/dtype.js';
import type { OpName, OpParams } from '../../core/op-spec.js';
import type { Backend, Storage, TensorRef } from '../backend.js';
import { REF_KERNELS } from '../ref/kernels/index.js';
import type { RefKernel, View } from '../ref/view.js';
import { NATIVE_KERNELS, type NativeKernel, type NativeStorage } from './kernels.js';
import { loadNativeLib } from './lib.js';

export interface NativeOptions {
  /** Threads taking part, the calling thread included (default: MOGA_THREADS, else the CPU count). */
  threads?: number;
  /** Force an ISA build ('generic' | 'avx2' | 'avx512'); default: the best this CPU runs. */
  isa?: string;
  /** Skip the start-up self-test (tests that run their own comparisons). */
  skipSelfTest?: boolean;
}

export interface NativeBackend extends Backend {
  readonly threads: number;
  /** The ISA build in use ('generic', 'avx2' or 'avx512'). */
  readonly isa: string;
  /** How often each op ran through the `ref` fallback (tests assert the hot ops never do). */
  refFallbacks(): Record<string, number>;
}

const view = (t: TensorRef): View => ({ data: (t.storage as NativeStorage).array, shape: t.shape });

/** The storage's array, zeroed first if it is a recycled one not yet written (alloc's contract). */
function clean(s: Storage): Float32Array | Int32Array {
  const n = s as NativeStorage;
  if (n.dirty) {
    n.array.fill(0);
    n.dirty = false;
  }
  return n.array;
}

/** The library's pool is process-wide: start it once with the most threads any backend may use. */
function defaultThreads(): number {
  const env = process.env.MOGA_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`MOGA_THREADS must be an integer >= 1, got '${env}'`);
    return n;
  }
  return os.availableParallelism();
}

// The (threads, isa) the library was last set to: backends with other settings switch it per call.
let active = '';

/** The backend, or a string saying why it is unavailable (no library, no koffi, self-test failed). */
export function createNativeBackend(opts: NativeOptions = {}): NativeBackend | string {
  const lib = loadNativeLib();
  if (typeof lib === 'string') return lib;
  const want = opts.threads ?? defaultThreads();
  if (!Number.isInteger(want) || want < 1)
    throw new Error(`native backend: threads must be an integer >= 1, got ${want}`);
  const started = lib.start(Math.max(want, defaultThreads()));
  const threads = Math.min(want, started);
  const isaWanted = opts.isa ?? '';
  if (lib.use(threads, isaWanted) !== 0)
    return `ISA build '${isaWanted}' cannot run on this CPU (library has ${lib.builds()})`;
  const isa: string = lib.isa();
  const key = `${threads}/${isa}`;
  active = key;
  const select = () => {
    if (active !== key) {
      lib.use(threads, isa);
      active = key;
    }
  };
  let live = 0;
  const fallbacks: Record<string, number> = {};
  const pool = new ArrayPool();
  const backend: NativeBackend = {
    name: 'native',
    threads,
    isa,
    alloc(dtype: DType, size: number): NativeStorage {
      live += size * BYTES[dtype];
      const reused = pool.take(dtype, size);
      const array = reused ?? (dtype === 'int32' ? new Int32Array(size) : new Float32Array(size));
      return { array, bytes: size * BYTES[dtype], dirty: reused !== undefined };
    },
    free(s: Storage) {
      live -= s.bytes;
      pool.give((s as NativeStorage).array);
    },
    write(s: Storage, data: TypedArray) {
      clean(s).set(data);
    },
    read: async (s: Storage) => clean(s).slice(),
    readSync: (s: Storage) => clean(s).slice(),
    run<K extends OpName>(op: K, ins: readonly TensorRef[], outs: readonly TensorRef[], params: OpParams[K]) {
      for (const t of ins) clean(t.storage);
      const kern = NATIVE_KERNELS[op] as NativeKernel<K> | undefined;
      if (kern) {
        select();
        // A native kernel writes every element of its outputs (or declines before writing any).
        if (kern(lib, ins, outs, params)) {
          for (const t of outs) (t.storage as NativeStorage).dirty = false;
          return;
        }
      }
      for (const t of outs) clean(t.storage);
      fallbacks[op] = (fallbacks[op] ?? 0) + 1;
      (REF_KERNELS[op] as RefKernel<K>)(ins.map(view), outs.map(view), params);
    },
    liveBytes: () => live,
    refFallbacks: () => ({ ...fallbacks }),
  };
  if (!opts.skipSelfTest) {
    const err = selfTest(backend);
    if (err) return `start-up self-test failed (${isa}, ${threads} threads): ${err}`;
  }
  return backend;
}

/**
 * Freed arrays kept for reuse by size: a training step allocates the same shapes every time, and
 * a fresh typed array of a few hundred KiB costs page faults and zeroing plus GC pressure, often
 * more than the op that fills it. A recycled array is handed out dirty (see `clean`): an op's
 * output is overwritten whole, so it is zeroed only if something reads it first. Bounded in
 * bytes; an array given twice is kept once.
 */
class ArrayPool {
  private readonly free = new Map<string, (Float32Array | Int32Array)[]>();
  private readonly held = new WeakSet<Float32Array | Int32Array>();
  private bytes = 0;
  constructor(private readonly maxBytes = 256 * 2 ** 20) {}

  /** A freed array of this dtype and size (not zeroed), or undefined. */
  take(dtype: DType, size: number): Float32Array | Int32Array | undefined {
    const a = size >= MIN_POOLED ? this.free.get(`${dtype}${size}`)?.pop() : undefined;
    if (!a) return undefined;
    this.held.delete(a);
    this.bytes -= a.byteLength;
    return a;
  }

  give(a: Float32Array | Int32Array): void {
    if (a.length < MIN_POOLED || this.held.has(a) || this.bytes + a.byteLength > this.maxBytes) return;
    const key = `${a instanceof Int32Array ? 'int32' : 'float32'}${a.length}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(a);
    this.held.add(a);
    this.bytes += a.byteLength;
  }
}

/** Smaller arrays come from V8's young generation cheaply; only larger ones are pooled. */
const MIN_POOLED = 4096;

/** Deterministic pseudo-random floats in [-1, 1) (no dependency on the tensor layer's RNG). */
function noise(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return out;
}

function worstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let w = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]) / (1e-3 + Math.abs(b[i]));
    if (!(d <= w)) w = d; // NaN makes it NaN
  }
  return w;
}

/**
 * A GEMM with edge tiles and a transposed operand, and a grouped attention (two segments, one
 * with repeated key rows) forward and backward, against `ref`: null when they agree, else a message.
 */
function selfTest(b: NativeBackend): string | null {
  const t = (shape: number[], data: Float32Array): TensorRef => {
    const s = b.alloc('float32', data.length) as NativeStorage;
    s.array.set(data);
    return { storage: s, shape, dtype: 'float32' };
  };
  const zeros = (shape: number[]) => t(shape, new Float32Array(shape.reduce((x, y) => x * y, 1)));
  const refRun = <K extends OpName>(op: K, ins: TensorRef[], outs: TensorRef[], p: OpParams[K]) =>
    (REF_KERNELS[op] as RefKernel<K>)(ins.map(view), outs.map(view), p);
  const [m, k, n] = [37, 300, 23];
  const a = t([m, k], noise(m * k, 1));
  const bt = t([n, k], noise(n * k, 2));
  const outs = [zeros([m, n]), zeros([m, n])];
  const mp = { transA: false, transB: true };
  b.run('matmul', [a, bt], [outs[0]], mp);
  refRun('matmul', [a, bt], [outs[1]], mp);
  const arr = (x: TensorRef) => (x.storage as NativeStorage).array;
  const g = worstDiff(arr(outs[0]), arr(outs[1]));
  if (!(g < 1e-3)) return `matmul ${m}x${k}x${n} differs from ref by ${g}`;
  const [N, H, D] = [41, 2, 24];
  const plan = {
    qIndex: Int32Array.from({ length: N }, (_, i) => (i * 7) % N),
    qOffsets: Int32Array.from([0, 30, N]),
    kvIndex: Int32Array.from([...Array.from({ length: 35 }, (_, i) => i), 3, 5, 40]),
    kvOffsets: Int32Array.from([0, 35, 38]),
    scale: 0.3,
  };
  const [q, kk, v, dO] = [1, 2, 3, 4].map((s) => t([N, H, D], noise(N * H * D, 10 + s)));
  const fo = [0, 1].map(() => [zeros([N, H, D]), zeros([N, H])]);
  b.run('groupedAttention', [q, kk, v], fo[0], plan);
  refRun('groupedAttention', [q, kk, v], fo[1], plan);
  for (let i = 0; i < 2; i++) {
    const e = worstDiff(arr(fo[0][i]), arr(fo[1][i]));
    if (!(e < 1e-3)) return `groupedAttention output ${i} differs from ref by ${e}`;
  }
  const bo = [0, 1].map(() => [zeros([N, H, D]), zeros([N, H, D]), zeros([N, H, D])]);
  b.run('groupedAttentionBackward', [dO, q, kk, v, ...fo[1]], bo[0], plan);
  refRun('groupedAttentionBackward', [dO, q, kk, v, ...fo[1]], bo[1], plan);
  for (let i = 0; i < 3; i++) {
    const e = worstDiff(arr(bo[0][i]), arr(bo[1][i]));
    if (!(e < 1e-3)) return `groupedAttentionBackward output ${i} differs from ref by ${e}`;
  }
  return null;
}
