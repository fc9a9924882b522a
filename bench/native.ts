/**
 * `npm run bench -- native [--repeats 5] [--out FILE.md] [--gemm-only]`: the native backend against
 * wasm in the same process, both at the same thread count (default: all cores), interleaved, median
 * of the repeats: GEMM 1024^3 and 4096 x 4096 x 256 (and OpenBLAS cblas_sgemm when the library is
 * present; --gemm-only stops there, printing only), one training step
 * (the DiT objective's loss + gradients of every parameter) of the bundled DiT recipe's model
 * (configs/dit-tiny.json: width 128, 16 routed groups, MoGA + STGA) on a batch of two 33-frame
 * 160x96 clips' latents, and one sampling step (the guided velocity: conditional and empty-caption
 * branches as one batch of two, as `moga generate` runs it), and one VAE-sized conv3d layer
 * (forward + both backward kernels). Writes a Markdown table to bench/results/native-<date>.md with the load average (`os.loadavg`) before and after, since a
 * shared machine skews every ratio.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import type { Backend } from '../src/backends/backend.js';
import { createNativeBackend } from '../src/backends/native/index.js';
import { loadNativeLib } from '../src/backends/native/lib.js';
import { useBackend } from '../src/backends/registry.js';
import { createWasmBackend } from '../src/backends/wasm/index.js';
import { initVideoDiT } from '../src/models/dit/dit.js';
import {
  denoiser,
  samplingVelocity,
  type TrainingExample,
  trainingLoss,
} from '../src/models/dit/objective.js';
import { DIT_PRESETS, type DiTConfig } from '../src/models/presets.js';
import { paramList } from '../src/nn/params.js';
import { gradients } from '../src/tensor/autodiff.js';
import { matmul, sum } from '../src/tensor/ops.js';
import { Rng } from '../src/tensor/random.js';
import { apply, fromArray, type Tensor, tidy } from '../src/tensor/tensor.js';
import { loadBlas } from './lib/blas.js';
import {
  arg,
  loadAverage as load,
  machine,
  printTable,
  type Row,
  timeInterleaved,
  type Variant,
} from './lib/measure.js';

/** The DiT of configs/dit-tiny.json (the bundled model's recipe). */
function recipeConfig(): DiTConfig {
  const recipe = JSON.parse(readFileSync('configs/dit-tiny.json', 'utf8')).dit;
  const base = DIT_PRESETS[recipe.preset as 'tiny'];
  return {
    ...base,
    dim: recipe.dim,
    ffnDim: recipe.ffnDim,
    attention: { ...base.attention, ...recipe.attention },
  };
}

/** A training step's closure on `be`: model, batch and the step (loss + gradients), all on `be`. */
function ditStep(be: Backend, cfg: DiTConfig): { step: () => number; sample: () => number } {
  useBackend(be);
  const rng = new Rng(42);
  const model = initVideoDiT(cfg, rng.fork(1));
  const data = rng.fork(2);
  // 33 frames at 160x96 -> 9 latent frames of 12x20 (4x8x8 codec); two shots per clip
  const batch: TrainingExample[] = [0, 1].map(() => ({
    latents: data.normal([cfg.latentChannels, 9, 12, 20]),
    text: {
      shots: [
        { frames: 4, caption: data.normal([7, cfg.textDim]) },
        { frames: 5, caption: data.normal([9, cfg.textDim]) },
      ],
      global: data.normal([3, cfg.textDim]),
    },
  }));
  const params = paramList(model.params as never) as Tensor[];
  for (const p of params) p.requiresGrad = true;
  // Zero-initialised layers (adaLN-zero, the output projection) make a fresh model's output exactly
  // zero; small random values there make the two backends' sampling outputs comparable.
  params.forEach((p, i) => {
    if (p.dataSync().every((v) => v === 0))
      p.backend.write(
        p.storage,
        Float32Array.from(new Rng(1000 + i).normalArray(p.size), (v) => 0.02 * v),
      );
  });
  const step = () => {
    useBackend(be);
    return tidy(() => {
      const r = trainingLoss(denoiser(model), batch, new Rng(7), {
        prediction: 'velocity',
        sampling: { kind: 'logit-normal' },
        captionDropout: 0,
      });
      const gs = gradients(r.loss, params) as Tensor[];
      return r.loss.dataSync()[0] + gs[0].dataSync()[0] * 0;
    });
  };
  // One sampler evaluation at guidance 3 (the recipe's): the two branches as one batch of two.
  const { velocity } = samplingVelocity(
    denoiser(model),
    batch[0].text,
    3,
    'velocity',
    batch[0].latents.shape,
  );
  const x = data.normal(batch[0].latents.shape);
  const sample = () => {
    useBackend(be);
    return tidy(() => sum(velocity(x, 0.6)).dataSync()[0]);
  };
  return { step, sample };
}

export default async function native(argv: string[]): Promise<void> {
  const repeats = Number(arg(argv, '--repeats') ?? 5);
  const threads = Number(arg(argv, '--threads') ?? os.availableParallelism());
  const loadBefore = load();
  console.log(`native: ${machine()}; load average ${loadBefore}`);
  const nat = createNativeBackend({ threads });
  if (typeof nat === 'string') throw new Error(`native backend unavailable: ${nat}`);
  const wasm = createWasmBackend({ threads });
  if (typeof wasm === 'string') throw new Error(`wasm backend unavailable: ${wasm}`);
  console.log(
    `native: ${nat.isa}, ${nat.threads} threads; wasm: ${wasm.relaxed ? 'relaxed' : 'plain'} SIMD, ${wasm.threads} threads`,
  );
  const lib = loadNativeLib();
  if (typeof lib === 'string') throw new Error(`native library unavailable: ${lib}`);
  const rows: Row[] = [];

  // GEMM 1024^3 and 4096 x 4096 x 256 (m x n x k), with OpenBLAS in the same loop when present.
  const blas = await loadBlas();
  if (typeof blas === 'string') console.log(`OpenBLAS: absent (${blas})`);
  else blas.setThreads(threads);
  for (const [m, n, k] of [
    [1024, 1024, 1024],
    [4096, 4096, 256],
  ]) {
    const rng = new Rng(m + k);
    const a = rng.normalArray(m * k);
    const b = rng.normalArray(k * n);
    const gemmOn = (be: Backend) => {
      const ta = fromArray(a, [m, k], be);
      const tb = fromArray(b, [k, n], be);
      return () => tidy(() => void matmul(ta, tb));
    };
    const variants: Variant[] = [
      { name: 'native', fn: gemmOn(nat) },
      { name: 'wasm', fn: gemmOn(wasm) },
    ];
    // The same kernel as `native`, writing into one reused output as cblas does: the tensor API
    // row above also pays for a fresh output (page faults on 4-64 MB) every call.
    const c = new Float32Array(m * n);
    const offs = new Int32Array([0, 0, 0]);
    variants.push({ name: 'native kernel', fn: () => lib.gemm(1, offs, m, n, k, a, k, 1, b, n, 1, c) });
    if (typeof blas !== 'string') variants.push({ name: 'openblas', fn: () => blas.sgemm(m, n, k, a, b, c) });
    const gms = await timeInterleaved(variants, repeats, 1);
    const gflops = (ms: number) => (2 * m * n * k) / (ms * 1e6);
    variants.forEach((v, i) =>
      rows.push({
        what: m === k ? `GEMM ${m}^3` : `GEMM ${m}x${n}x${k}`,
        variant: v.name,
        'median ms': gms[i],
        'GFLOP/s': gflops(gms[i]),
        'native speed-up': gms[i] / gms[0],
      }),
    );
  }
  if (argv.includes('--gemm-only')) {
    printTable(`GEMM, ${threads} threads each, median of ${repeats} interleaved runs`, rows);
    console.log(`load average after: ${load()}`);
    wasm.dispose();
    return;
  }

  // One DiT training step (flow loss + all gradients); the same inputs on both backends.
  const cfg = recipeConfig();
  const sn = ditStep(nat, cfg);
  const sw = ditStep(wasm, cfg);
  // Ops each backend ran through its `ref` fallback during one training step.
  const stepFallbacks = (be: { refFallbacks(): Record<string, number> }, step: () => number) => {
    const before = be.refFallbacks();
    const loss = step();
    const after = be.refFallbacks();
    const ran = Object.entries(after).filter(([op, c]) => c > (before[op] ?? 0));
    return { loss, fell: Object.fromEntries(ran.map(([op, c]) => [op, c - (before[op] ?? 0)])) };
  };
  const { loss: lossN, fell: fellN } = stepFallbacks(nat, sn.step);
  const { loss: lossW, fell: fellW } = stepFallbacks(wasm, sw.step);
  const velN = sn.sample();
  const velW = sw.sample();
  const rel = (a: number, b: number) => (Math.abs(a - b) / Math.abs(b)).toExponential(1);
  console.log(`DiT step loss: native ${lossN}, wasm ${lossW} (relative difference ${rel(lossN, lossW)})`);
  console.log(`sampling velocity sum: native ${velN}, wasm ${velW} (relative difference ${rel(velN, velW)})`);
  for (const [what, fn] of [
    [`DiT training step (dim ${cfg.dim}, ${cfg.attention.groups} groups, 2 clips x 540 tokens)`, 'step'],
    ['DiT sampling step (guidance 3: a batch of 2 x 540 tokens)', 'sample'],
  ] as const) {
    const ms = await timeInterleaved(
      [
        { name: 'native', fn: sn[fn] },
        { name: 'wasm', fn: sw[fn] },
      ],
      repeats,
      1,
    );
    ['native', 'wasm'].forEach((v, i) => {
      rows.push({ what, variant: v, 'median ms': ms[i], 'GFLOP/s': '-', 'native speed-up': ms[i] / ms[0] });
    });
  }
  // One VAE-sized causal conv3d layer, forward and both backward kernels (im2col + GEMM on both).
  const xs = [1, 32, 9, 48, 80];
  const ws = [32, 32, 3, 3, 3];
  const cp = {
    stride: [1, 1, 1],
    padding: [
      [2, 0],
      [1, 1],
      [1, 1],
    ] as [number, number][],
  };
  const convOn = (be: Backend) => {
    useBackend(be);
    const r = new Rng(5);
    const [x, w, dy] = [r.normal(xs), r.normal(ws, 0.1), r.normal(xs)];
    return () =>
      tidy(() => {
        useBackend(be);
        apply('conv3d', [x, w], cp)[0].dataSync();
        apply('conv3dBackwardInput', [dy, w], { ...cp, inputShape: xs })[0].dataSync();
        apply('conv3dBackwardWeight', [dy, x], { ...cp, kernelShape: ws })[0].dataSync();
      });
  };
  const cms = await timeInterleaved(
    [
      { name: 'native', fn: convOn(nat) },
      { name: 'wasm', fn: convOn(wasm) },
    ],
    repeats,
    1,
  );
  const convFlops = 3 * 2 * 32 * 32 * 27 * 9 * 48 * 80;
  ['native', 'wasm'].forEach((v, i) => {
    rows.push({
      what: 'conv3d 32->32, 3x3x3, 9x48x80: forward + dx + dw',
      variant: v,
      'median ms': cms[i],
      'GFLOP/s': convFlops / (cms[i] * 1e6),
      'native speed-up': cms[i] / cms[0],
    });
  });
  const loadAfter = load();
  printTable(`native vs wasm, ${threads} threads each, median of ${repeats} interleaved runs`, rows);
  console.log(
    `ops run through ref in one training step: native ${JSON.stringify(fellN)}, wasm ${JSON.stringify(fellW)}`,
  );
  console.log(`load average after: ${loadAfter}`);
  const date = new Date().toISOString().slice(0, 10);
  const out = arg(argv, '--out') ?? `bench/results/native-${date}.md`;
  const cols = Object.keys(rows[0]);
  const cell = (v: string | number) =>
    typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toPrecision(3)) : v;
  const md = [
    `# native vs wasm (${date})`,
    '',
    `Machine: ${machine()}. Native ISA build: ${nat.isa}. Threads: ${threads} each. Median of ${repeats} interleaved runs after one warm-up.`,
    `Load average (1, 5, 15 min) before: ${loadBefore}; after: ${loadAfter}.`,
    typeof blas === 'string' ? `OpenBLAS: absent (${blas}).` : `OpenBLAS: ${blas.library}.`,
    `DiT step loss: native ${lossN}, wasm ${lossW}; sampling velocity sum: native ${velN}, wasm ${velW}.`,
    `Ops run through the ref fallback in one training step: native ${JSON.stringify(fellN)}; wasm ${JSON.stringify(fellW)}.`,
    '',
    `| ${cols.join(' | ')} |`,
    `|${cols.map(() => '---').join('|')}|`,
    ...rows.map((r) => `| ${cols.map((c) => cell(r[c])).join(' | ')} |`),
    '',
  ].join('\n');
  mkdirSync('bench/results', { recursive: true });
  writeFileSync(out, md);
  console.log(`wrote ${out}`);
  wasm.dispose();
}
