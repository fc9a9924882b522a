/**
 * `npm run bench -- attention-ort [--repeats 7] [--threads 2] [--n 4096] [--moga-n 16384] [--m 8] [--isa avx2]`
 *
 * Dense attention forward (N tokens, H = 4, D = 64) on the native backend against ONNX Runtime's
 * CPU attention in the same process, same thread count, interleaved, median of the repeats:
 *  - 'ort mha': the com.microsoft MultiHeadAttention contrib op (ONNX Runtime's fused kernel), on
 *    inputs [1, N, H*D], the same memory layout as ours ([N, H, D]);
 *  - 'ort matmul': MatMul-Softmax-MatMul on head-major inputs (k given pre-transposed, so no
 *    transposes are timed: the layout most favourable to it).
 * Both graphs are built in-process (bench/lib/onnx.ts); outputs are checked against ours first.
 * --isa picks the native build (generic, avx2, avx512; default: the best this CPU runs).
 * Then MoGA's routed path (router + plan, then grouped attention forward over M groups of a balanced
 * random routing) against our dense attention at --moga-n tokens.
 * onnxruntime-node (its CPU library ships in the npm tarball) is not a dependency: its install script
 * would download a CUDA provider from nuget.org, and the project setting that skips it makes npm
 * warn on every command. The bench installs it on first use from the npm registry, scripts off,
 * into bench/.deps (git-ignored); if that fails the ONNX rows are skipped with the reason.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { groupedAttention } from '../src/attention/grouped-attention.js';
import { plans } from '../src/attention/plans.js';
import { MoGARouter } from '../src/attention/router.js';
import { useBackend } from '../src/backends/index.js';
import { createNativeBackend } from '../src/backends/native/index.js';
import { Rng } from '../src/tensor/random.js';
import { noGrad, type Tensor, tidy } from '../src/tensor/tensor.js';
import {
  arg,
  loadAverage as load,
  machine,
  printTable,
  type Row,
  timeInterleaved,
  type Variant,
} from './lib/measure.js';
import { attentionModel } from './lib/onnx.js';
import { balancedIds } from './lib/routing.js';

const H = 4;
const D = 64;

/** [N, H, D] -> [H, N, D] (transposed: [H, D, N]). */
function headMajor(x: Float32Array, N: number, transposed: boolean): Float32Array {
  const y = new Float32Array(x.length);
  for (let i = 0; i < N; i++)
    for (let h = 0; h < H; h++)
      for (let e = 0; e < D; e++)
        y[transposed ? (h * D + e) * N + i : (h * N + i) * D + e] = x[(i * H + h) * D + e];
  return y;
}

// biome-ignore lint/suspicious/noExplicitAny: onnxruntime-node is loaded dynamically (installed on first use)
type Ort = any;

const ORT = 'onnxruntime-node@1.30.0';
const DEPS = new URL('./.deps/', import.meta.url).pathname;

function loadOrt(): Ort | string {
  const load = () => createRequire(`${DEPS}package.json`)('onnxruntime-node');
  try {
    return load();
  } catch {
    try {
      mkdirSync(DEPS, { recursive: true });
      if (!existsSync(`${DEPS}package.json`)) writeFileSync(`${DEPS}package.json`, '{ "private": true }\n');
      console.error(`attention-ort: installing ${ORT} into ${DEPS} (npm registry, install scripts off)`);
      execFileSync('npm', ['install', '--ignore-scripts', '--no-audit', '--no-fund', ORT], {
        cwd: DEPS,
        stdio: 'inherit',
      });
      return load();
    } catch (e) {
      return `${ORT} not loadable (${(e as Error).message.split('\n')[0]})`;
    }
  }
}

export default async function attentionOrt(argv: string[]): Promise<void> {
  const repeats = Number(arg(argv, '--repeats') ?? 7);
  const threads = Number(arg(argv, '--threads') ?? 2);
  const N = Number(arg(argv, '--n') ?? 4096);
  const NM = Number(arg(argv, '--moga-n') ?? 16384);
  const M = Number(arg(argv, '--m') ?? 8);
  console.log(`attention-ort: ${machine()}; load average before ${load()}`);
  const nat = createNativeBackend({ threads, isa: arg(argv, '--isa') });
  if (typeof nat === 'string') throw new Error(`native backend unavailable: ${nat}`);
  useBackend(nat);
  console.log(`native: ${nat.isa}, ${nat.threads} threads`);
  const rows: Row[] = [];
  const flops = (n: number, pairs = n * n) => 4 * D * H * pairs;

  // ---- dense attention vs ONNX Runtime
  const rng = new Rng(3);
  const [q, k, v] = [0, 1, 2].map(() => rng.normal([N, H, D]));
  const [qa, ka, va] = [q, k, v].map((t) => t.dataSync() as Float32Array);
  const full = plans.full(N);
  const ours = () => noGrad(() => tidy(() => groupedAttention(q, k, v, full, { trusted: true }).dataSync()));
  const variants: Variant[] = [{ name: 'native', fn: ours }];
  const ort = loadOrt();
  if (typeof ort === 'string') console.log(`ONNX Runtime: skipped (${ort})`);
  else {
    console.log(`ONNX Runtime ${ort.env.versions.node}, intraOpNumThreads ${threads}`);
    const opts = {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    };
    const mha = await ort.InferenceSession.create(attentionModel('mha', H, D), opts);
    const mm = await ort.InferenceSession.create(attentionModel('matmul', H, D), opts);
    const T = (a: Float32Array, dims: number[]) => new ort.Tensor('float32', a, dims);
    const mhaFeeds = { q: T(qa, [1, N, H * D]), k: T(ka, [1, N, H * D]), v: T(va, [1, N, H * D]) };
    const mmFeeds = {
      q: T(headMajor(qa, N, false), [1, H, N, D]),
      kt: T(headMajor(ka, N, true), [1, H, D, N]),
      v: T(headMajor(va, N, false), [1, H, N, D]),
    };
    // Same answer first: ours vs each graph (the matmul graph's output is head-major).
    const mine = ours() as Float32Array;
    const o1 = (await mha.run(mhaFeeds)).out.data as Float32Array;
    const o2 = headMajor(mine, N, false);
    const o3 = (await mm.run(mmFeeds)).out.data as Float32Array;
    let d1 = 0;
    let d2 = 0;
    for (let i = 0; i < mine.length; i++) {
      d1 = Math.max(d1, Math.abs(o1[i] - mine[i]));
      d2 = Math.max(d2, Math.abs(o3[i] - o2[i]));
    }
    console.log(
      `max |ours - ort mha| ${d1.toExponential(2)}, max |ours - ort matmul| ${d2.toExponential(2)}`,
    );
    if (!(d1 < 1e-3 && d2 < 1e-3)) throw new Error('ONNX Runtime and native attention disagree');
    variants.push({ name: 'ort mha', fn: () => mha.run(mhaFeeds) });
    variants.push({ name: 'ort matmul', fn: () => mm.run(mmFeeds) });
  }
  const ms = await timeInterleaved(variants, repeats, 1);
  variants.forEach((x, i) =>
    rows.push({
      what: `dense attention fwd N ${N} H ${H} D ${D}`,
      variant: x.name,
      'median ms': ms[i],
      'GFLOP/s': flops(N) / (ms[i] * 1e6),
      'native speed-up': ms[i] / ms[0],
    }),
  );
  for (const t of [q, k, v]) t.dispose();

  // ---- MoGA routed (M groups) vs our dense, at NM tokens (--moga-n 0: skipped)
  if (NM > 0) await mogaRows(rows, NM, M, repeats, flops);
  printTable(`attention, native ${threads} threads vs ONNX Runtime, median of ${repeats} interleaved`, rows);
  console.log(
    'native speed-up: variant ms / native ms for the dense rows (above 1: native faster); for the MoGA row, dense ms / routed ms',
  );
  console.log(`load average after ${load()}`);
}

async function mogaRows(
  rows: Row[],
  NM: number,
  M: number,
  repeats: number,
  flops: (n: number, pairs?: number) => number,
): Promise<void> {
  const r2 = new Rng(5);
  const [qm, km, vm] = [0, 1, 2].map(() => r2.normal([NM, H, D]));
  const x = r2.normal([NM, H * D]);
  const router = MoGARouter.init(r2.fork(M), H * D, M);
  const fullM = plans.full(NM);
  const ids = balancedIds(NM, M, r2);
  const pairs = plans.pairs(plans.routed(ids, M));
  const dense = () =>
    noGrad(() => tidy(() => groupedAttention(qm, km, vm, fullM, { trusted: true }).dataSync()));
  // The routed path as bench/attention.ts times it: the router and its plan (their cost), then
  // attention on a balanced routing of the same size (a trained router is kept near balance by its
  // loss; a random one is not, and its imbalance would be timed instead of the kernel).
  const routed = () =>
    noGrad(() =>
      tidy(() => {
        const r = MoGARouter.apply(router, x);
        plans.routed(r.groupIds!, M);
        return groupedAttention(qm, km, vm, plans.routed(ids, M), { trusted: true }).dataSync();
      }),
    );
  const mr = await timeInterleaved(
    [
      { name: 'dense', fn: dense },
      { name: `moga M=${M}`, fn: routed },
    ],
    repeats,
    1,
  );
  rows.push({
    what: `attention fwd N ${NM} H ${H} D ${D}`,
    variant: 'native dense',
    'median ms': mr[0],
    'GFLOP/s': flops(NM) / (mr[0] * 1e6),
    'native speed-up': 1,
  });
  rows.push({
    what: `attention fwd N ${NM} H ${H} D ${D}`,
    variant: `native MoGA routed M=${M} (router + plan + attention)`,
    'median ms': mr[1],
    'GFLOP/s': flops(NM, pairs) / (mr[1] * 1e6),
    'native speed-up': mr[0] / mr[1],
  });
  for (const t of [qm, km, vm, x] as Tensor[]) t.dispose();
}
