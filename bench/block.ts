/**
 * `npm run bench -- block [--seq 256] [--dim 256] [--heads 4] [--threads N] [--repeats 3] [--json FILE]`: one
 * forward+backward step of a pre-norm transformer block (layerNorm, QKV projection, softmax
 * attention per head, output projection, layerNorm, GELU MLP 4x, residuals, mean-square loss,
 * gradients of every parameter) on `ref` and on `wasm`, interleaved; prints the speedup.
 */
import type { Backend } from '../src/backends/backend.js';
import { createRefBackend } from '../src/backends/ref/index.js';
import { createWasmBackend } from '../src/backends/wasm/index.js';
import { gradients } from '../src/tensor/autodiff.js';
import * as o from '../src/tensor/ops.js';
import { Rng } from '../src/tensor/random.js';
import { fromArray, type Tensor, tidy } from '../src/tensor/tensor.js';
import { machine, maybeWriteJson, printTable, type Row, timeInterleaved } from './lib/measure.js';

function arg(argv: string[], name: string, dflt: number): number {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : dflt;
}

interface Block {
  x: Tensor;
  params: Tensor[];
}

export function makeBlock(be: Backend, L: number, D: number): Block {
  const rng = new Rng(7);
  const t = (shape: number[], std: number, mean = 0) => {
    const a = rng.normalArray(shape.reduce((p, q) => p * q, 1));
    for (let i = 0; i < a.length; i++) a[i] = a[i] * std + mean;
    return fromArray(a, shape, be);
  };
  const params = [
    t([D], 0.1, 1),
    t([D], 0.1), // ln1 weight, bias
    t([D, 3 * D], D ** -0.5), // wqkv
    t([D, D], D ** -0.5), // wo
    t([D], 0.1, 1),
    t([D], 0.1), // ln2
    t([D, 4 * D], D ** -0.5),
    t([4 * D], 0.1), // mlp in
    t([4 * D, D], (4 * D) ** -0.5),
    t([D], 0.1), // mlp out
  ];
  for (const p of params) p.requiresGrad = true;
  return { x: t([L, D], 1), params };
}

/** Forward and backward; everything it creates is freed by the caller's tidy. */
export function step({ x, params }: Block, H: number): void {
  const [ln1w, ln1b, wqkv, wo, ln2w, ln2b, w1, b1, w2, b2] = params;
  const [L, D] = x.shape;
  const hd = D / H;
  const h = o.layerNorm(x, ln1w, ln1b, 1e-5);
  const [q, k, v] = o.split(o.matmul(h, wqkv), [D, D, D], 1); // (L, D) each
  const heads = (t: Tensor) => o.permute(o.reshape(t, [L, H, hd]), [1, 0, 2]); // (H, L, hd)
  const att = o.softmax(o.mul(o.matmul(heads(q), heads(k), { transB: true }), 1 / Math.sqrt(hd))); // (H, L, L)
  const ctx = o.reshape(o.permute(o.matmul(att, heads(v)), [1, 0, 2]), [L, D]); // (L, D)
  const x1 = o.add(x, o.matmul(ctx, wo));
  const m = o.add(o.matmul(o.gelu(o.add(o.matmul(o.layerNorm(x1, ln2w, ln2b, 1e-5), w1), b1)), w2), b2);
  const y = o.add(x1, m);
  const loss = o.mean(o.mul(y, y));
  gradients(loss, params);
}

export default async function block(argv: string[]): Promise<void> {
  const L = arg(argv, '--seq', 256);
  const D = arg(argv, '--dim', 256);
  const H = arg(argv, '--heads', 4);
  const repeats = arg(argv, '--repeats', 3);
  if (D % H !== 0) throw new Error(`--dim ${D} is not a multiple of --heads ${H}`);
  console.log(`block: ${machine()}`);
  const threads = arg(argv, '--threads', 0);
  const wasm = createWasmBackend(threads > 0 ? { threads } : {});
  if (typeof wasm === 'string') throw new Error(`wasm backend unavailable: ${wasm}`);
  const ref = createRefBackend();
  const blocks = [makeBlock(ref, L, D), makeBlock(wasm, L, D)];
  const ms = await timeInterleaved(
    [
      { name: 'ref', fn: () => tidy(() => step(blocks[0], H)) },
      { name: 'wasm', fn: () => tidy(() => step(blocks[1], H)) },
    ],
    repeats,
    1,
  );
  // Useful FLOPs: the matmuls, forward x3 for forward+backward.
  const fwd = 2 * L * D * (3 * D + D + 8 * D) + 4 * L * L * D;
  const rows: Row[] = [
    { variant: 'ref', 'median ms': ms[0], 'GFLOP/s (matmuls)': (3 * fwd) / (ms[0] * 1e6), speedup: '1.0x' },
    {
      variant: `wasm (${wasm.threads} threads, ${wasm.relaxed ? 'relaxed' : 'plain'} SIMD)`,
      'median ms': ms[1],
      'GFLOP/s (matmuls)': (3 * fwd) / (ms[1] * 1e6),
      speedup: `${(ms[0] / ms[1]).toFixed(1)}x`,
    },
  ];
  printTable(`block: transformer block forward+backward, seq ${L}, dim ${D}, ${H} heads, MLP ${4 * D}`, rows);
  maybeWriteJson(argv, 'block', rows, { seq: L, dim: D, heads: H });
  wasm.dispose();
}
