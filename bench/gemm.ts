/**
 * `npm run bench -- gemm [--sizes 256,512] [--repeats N] [--json FILE]`: single-precision GEMM
 * GFLOP/s (2 m n k / time) at n^3 for the wasm backend with 1 and 2 threads, ref at 256 only, and
 * OpenBLAS cblas_sgemm (2 threads) measured in the same run when the library is present, with the
 * ratio wasm / OpenBLAS. Variants are interleaved (A B C A B C ...) and medians reported. The
 * process CPU time per run (all threads) is printed beside: on a shared machine it shows how much
 * of the wall time the run actually had the cores.
 */

import type { Backend } from '../src/backends/backend.js';
import { createRefBackend } from '../src/backends/ref/index.js';
import { createWasmBackend } from '../src/backends/wasm/index.js';
import { matmul } from '../src/tensor/ops.js';
import { Rng } from '../src/tensor/random.js';
import { fromArray, tidy } from '../src/tensor/tensor.js';
import { loadBlas } from './lib/blas.js';
import {
  machine,
  maybeWriteJson,
  median,
  printTable,
  type Row,
  timeInterleaved,
  type Variant,
} from './lib/measure.js';

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

export default async function gemm(argv: string[]): Promise<void> {
  const sizes = (arg(argv, '--sizes') ?? '256,512,1024,2048').split(',').map(Number);
  const repeats = Number(arg(argv, '--repeats') ?? 5);
  const blasThreads = 2;
  console.log(`gemm: ${machine()}`);
  const wasm1 = createWasmBackend({ threads: 1 });
  const wasm2 = createWasmBackend({ threads: 2 });
  if (typeof wasm1 === 'string' || typeof wasm2 === 'string')
    throw new Error(`wasm backend unavailable: ${wasm1}`);
  console.log(`wasm: ${wasm2.relaxed ? 'relaxed SIMD (fused multiply-add)' : 'plain SIMD'}`);
  const blas = await loadBlas();
  if (typeof blas === 'string') console.log(`OpenBLAS: absent, no ceiling in this run (${blas})`);
  else {
    blas.setThreads(blasThreads);
    console.log(`OpenBLAS: ${blas.library}, ${blasThreads} threads`);
  }
  const ref = createRefBackend();
  const rows: Row[] = [];
  for (const n of sizes) {
    const rng = new Rng(n);
    const a = rng.normalArray(n * n);
    const b = rng.normalArray(n * n);
    const onBackend = (be: Backend) => {
      const ta = fromArray(a, [n, n], be);
      const tb = fromArray(b, [n, n], be);
      return {
        fn: () => tidy(() => void matmul(ta, tb)),
        dispose: () => [ta, tb].forEach((t) => t.dispose()),
      };
    };
    const w1 = onBackend(wasm1);
    const w2 = onBackend(wasm2);
    const variants: Variant[] = [
      { name: 'wasm 1 thread', fn: w1.fn },
      { name: 'wasm 2 threads', fn: w2.fn },
    ];
    const r = n <= 256 ? onBackend(ref) : undefined;
    if (r) variants.push({ name: 'ref', fn: r.fn });
    if (typeof blas !== 'string') {
      const c = new Float32Array(n * n);
      variants.push({ name: `openblas ${blasThreads} threads`, fn: () => blas.sgemm(n, n, n, a, b, c) });
    }
    // Bigger products get fewer repeats; every variant is warmed up once.
    const reps = n >= 2048 ? Math.min(repeats, 3) : repeats;
    const cpu = variants.map(() => [] as number[]);
    const timed = variants.map((v, i) => ({
      name: v.name,
      fn: async () => {
        const c0 = process.cpuUsage();
        await v.fn();
        const c = process.cpuUsage(c0);
        cpu[i].push((c.user + c.system) / 1000);
      },
    }));
    const ms = await timeInterleaved(timed, reps, 1);
    const blasMs = typeof blas === 'string' ? undefined : ms[ms.length - 1];
    variants.forEach((v, i) => {
      const gflops = (2 * n ** 3) / (ms[i] * 1e6);
      rows.push({
        size: `${n}^3`,
        variant: v.name,
        'median ms': ms[i],
        'cpu ms': median(cpu[i].slice(1)),
        'GFLOP/s': gflops,
        '% of OpenBLAS': blasMs === undefined ? '-' : `${((100 * blasMs) / ms[i]).toFixed(1)}%`,
      });
    });
    w1.dispose();
    w2.dispose();
    r?.dispose();
  }
  printTable('gemm: single-precision C = A B, square, row-major (median of interleaved runs)', rows);
  maybeWriteJson(argv, 'gemm', rows);
  wasm1.dispose();
  wasm2.dispose();
}
