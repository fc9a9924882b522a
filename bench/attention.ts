/**
 * `npm run bench -- attention [--quick] [--n 4096,16384] [--m 1,8] [--backend wasm] [--threads T]
 *  [--bwd-max-gflop 400] [--json FILE]`
 *
 * MoGA's routed path on one backend: for each token count N and group count M (balanced random
 * routing, H = 4 heads, D = 64), the router (linear d -> M, softmax, top-1), the plan (counting
 * sort), grouped attention forward and backward. Gathers and scatters through the plan are fused
 * into the kernel, so "route ms" (router + plan) is the whole routing/permutation overhead.
 * Useful FLOPs: 4 * D * H * sum_i nq_i * nk_i forward, 2.5x that for the backward (BENCHMARKS.md).
 * Baselines in the same run: M = 1 (dense, same kernel) and the backend's GEMM at 1024^3
 * (plus OpenBLAS when bench/lib/blas.ts exists).
 * Cost: the M = 1 rows are the expensive ones (N = 65536: 4.4 TFLOP forward), so rows above
 * 200 GFLOP run once without warm-up, and the backward runs only up to --bwd-max-gflop. From the
 * rows in bench/results/attention-xeon-*.json: the default run takes about 4 minutes on 2 threads
 * of a Xeon (about 2 minutes on 16), --quick under a minute on 2 threads.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { groupedAttention } from '../src/attention/grouped-attention.js';
import { plans } from '../src/attention/plans.js';
import { MoGARouter } from '../src/attention/router.js';
import { setBackend } from '../src/backends/index.js';
import { matmul } from '../src/tensor/ops.js';
import { Rng } from '../src/tensor/random.js';
import { apply, noGrad, type Tensor, tidy } from '../src/tensor/tensor.js';
import { machine, maybeWriteJson, printTable, type Row, timeInterleaved } from './lib/measure.js';
import { balancedIds } from './lib/routing.js';

const H = 4;
const D = 64;

function listOpt(argv: string[], name: string): number[] | undefined {
  const i = argv.indexOf(name);
  return i < 0 ? undefined : argv[i + 1].split(',').map(Number);
}

async function gemmGflops(): Promise<number> {
  const rng = new Rng(1);
  const n = 1024;
  const a = rng.normal([n, n]);
  const b = rng.normal([n, n]);
  const [ms] = await timeInterleaved([{ name: 'gemm', fn: () => tidy(() => void matmul(a, b)) }], 5, 1);
  a.dispose();
  b.dispose();
  return (2 * n ** 3) / ms / 1e6;
}

async function blasGflops(): Promise<string> {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'lib', 'blas.ts');
  if (!existsSync(file)) return 'OpenBLAS: bench/lib/blas.ts not present, no BLAS baseline in this run';
  const mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  const fn = (mod.sgemmGflops ?? mod.gemmGflops) as ((n: number) => number | Promise<number>) | undefined;
  if (typeof fn !== 'function') return 'OpenBLAS: bench/lib/blas.ts has no sgemmGflops(n); skipped';
  try {
    return `OpenBLAS sgemm 1024^3: ${(await fn(1024)).toFixed(1)} GFLOP/s`;
  } catch (e) {
    return `OpenBLAS: unavailable (${(e as Error).message})`;
  }
}

export default async function attentionBench(argv: string[]): Promise<void> {
  const quick = argv.includes('--quick');
  const Ns = listOpt(argv, '--n') ?? (quick ? [4096, 16384] : [4096, 16384, 65536]);
  const Ms = listOpt(argv, '--m') ?? [1, 4, 8, 16];
  const bwdMax = listOpt(argv, '--bwd-max-gflop')?.[0] ?? (quick ? 100 : 400);
  const bi = argv.indexOf('--backend');
  const backendName = bi < 0 ? 'wasm' : argv[bi + 1];
  const ti = argv.indexOf('--threads');
  let backend: Awaited<ReturnType<typeof setBackend>>;
  try {
    if (ti >= 0 && backendName === 'wasm') {
      const { createWasmBackend } = await import('../src/backends/wasm/index.js');
      const b = createWasmBackend({ threads: Number(argv[ti + 1]) });
      if (typeof b === 'string') throw new Error(b);
      const { useBackend } = await import('../src/backends/index.js');
      useBackend(b);
      backend = b;
    } else backend = await setBackend(backendName);
  } catch (e) {
    console.log(`attention bench: backend '${backendName}' unavailable: ${(e as Error).message}`);
    return;
  }
  const threads = (backend as { threads?: number }).threads ?? 1;
  console.log(`machine: ${machine()}; backend ${backend.name}, ${threads} thread(s)`);
  const gemm = await gemmGflops();
  console.log(`${backend.name} GEMM 1024^3: ${gemm.toFixed(1)} GFLOP/s`);
  console.log(await blasGflops());

  const rows: Row[] = [];
  const rng = new Rng(7);
  for (const N of Ns) {
    const [q, k, v, dOut] = [0, 1, 2, 3].map(() => rng.normal([N, H, D]));
    const x = rng.normal([N, H * D]);
    let denseMs = Number.NaN;
    for (const M of Ms) {
      const router = MoGARouter.init(rng.fork(M), H * D, M);
      const ids = balancedIds(N, M, rng);
      const plan = plans.routed(ids, M);
      const pairs = plans.pairs(plan);
      const flops = 4 * D * H * pairs;
      const params = { ...plan, scale: 1 / Math.sqrt(D) };
      const heavy = flops > 200e9;
      const [out, lse] = noGrad(() => apply('groupedAttention', [q, k, v], params));
      const variants = [
        {
          name: 'route',
          fn: () =>
            noGrad(() =>
              tidy(() => {
                const r = MoGARouter.apply(router, x);
                plans.routed(r.groupIds!, M);
              }),
            ),
        },
        { name: 'plan', fn: () => plans.routed(ids, M) },
        {
          name: 'fwd',
          fn: () => noGrad(() => tidy(() => void groupedAttention(q, k, v, plan, { trusted: true }))),
        },
      ];
      const doBwd = flops * 2.5 <= bwdMax * 1e9;
      if (doBwd)
        variants.push({
          name: 'bwd',
          fn: () =>
            noGrad(() =>
              tidy(() => void apply('groupedAttentionBackward', [dOut, q, k, v, out, lse], params)),
            ),
        });
      const times = await timeInterleaved(variants, heavy ? 1 : 3, heavy ? 0 : 1);
      out.dispose();
      lse.dispose();
      disposeAll(router.proj.weight);
      const [routeMs, planMs, fwdMs, bwdMs] = times;
      const pathMs = routeMs + fwdMs;
      if (M === 1) denseMs = pathMs;
      const gf = flops / fwdMs / 1e6;
      rows.push({
        N,
        M,
        'fwd ms': fwdMs,
        'fwd GFLOP/s': gf,
        '% gemm': (100 * gf) / gemm,
        'bwd ms': doBwd ? bwdMs : '-',
        'bwd/fwd': doBwd ? bwdMs / fwdMs : '-',
        'route ms': routeMs,
        'plan ms': planMs,
        'path ms': pathMs,
        'x vs M=1': denseMs / pathMs,
      });
      printTable(`N ${N} M ${M}`, [rows[rows.length - 1]]);
    }
    disposeAll(q, k, v, dOut, x);
  }
  printTable(
    `grouped attention, H ${H}, D ${D}, balanced routing; ${backend.name} ${threads} thread(s); GEMM ${gemm.toFixed(1)} GFLOP/s`,
    rows,
  );
  console.log(
    'path = router + plan + attention forward (gathers/scatters fused in the kernel); route ms = router + plan; x vs M=1 = dense path / this path',
  );
  maybeWriteJson(argv, 'attention', rows, { backend: backend.name, threads, gemmGflops: gemm });
}

function disposeAll(...ts: Tensor[]) {
  for (const t of ts) t.dispose();
}
