/**
 * `npm run bench -- conv [--repeats N] [--json FILE]`: conv3d forward, backward-input and
 * backward-weight at the VAE's shapes, ref (direct im2col loops in JS) vs wasm (im2col + packed
 * SIMD GEMM) with 1 and 2 threads. GMAC/s = Co Ci KT KH KW To Ho Wo / time. Interleaved medians.
 */
import type { Backend } from '../src/backends/backend.js';
import { createRefBackend } from '../src/backends/ref/index.js';
import { useBackend } from '../src/backends/registry.js';
import { createWasmBackend } from '../src/backends/wasm/index.js';
import type { ConvParams } from '../src/core/op-spec.js';
import { Rng } from '../src/tensor/random.js';
import { apply, tidy } from '../src/tensor/tensor.js';
import { machine, maybeWriteJson, printTable, type Row, timeInterleaved } from './lib/measure.js';

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
}

// Shapes of the small VAE on a 64x64, 9-frame training crop (level 0 block, level 1 block, level 0 up-conv).
const SHAPES: { name: string; x: number[]; w: number[]; p: ConvParams }[] = [
  {
    name: 'L0 block 32->32 k1x3x3',
    x: [1, 32, 9, 32, 32],
    w: [32, 32, 1, 3, 3],
    p: {
      stride: [1, 1, 1],
      padding: [
        [0, 0],
        [1, 1],
        [1, 1],
      ],
    },
  },
  {
    name: 'L1 block 48->48 k3x3x3',
    x: [1, 48, 7, 16, 16],
    w: [48, 48, 3, 3, 3],
    p: {
      stride: [1, 1, 1],
      padding: [
        [0, 0],
        [1, 1],
        [1, 1],
      ],
    },
  },
  {
    name: 'down 32->48 k3 s2',
    x: [1, 32, 11, 32, 32],
    w: [48, 32, 3, 3, 3],
    p: {
      stride: [2, 2, 2],
      padding: [
        [0, 0],
        [0, 1],
        [0, 1],
      ],
    },
  },
];

export default async function conv(argv: string[]): Promise<void> {
  const repeats = Number(arg(argv, '--repeats') ?? 3);
  console.log(`conv: ${machine()}`);
  const backends: [string, Backend][] = [['ref', createRefBackend()]];
  for (const t of [1, 2]) {
    const b = createWasmBackend({ threads: t });
    if (typeof b === 'string') throw new Error(`wasm backend unavailable: ${b}`);
    backends.push([`wasm x${t}`, b]);
  }
  const rows: Row[] = [];
  for (const s of SHAPES) {
    const rng = new Rng(1);
    const out = (() => {
      useBackend(backends[0][1]);
      return tidy(() => apply('conv3d', [rng.normal(s.x), rng.normal(s.w)], s.p)[0].shape);
    })();
    const macs = s.w.reduce((a, b) => a * b, 1) * out.slice(2).reduce((a, b) => a * b, 1) * s.x[0];
    for (const op of ['conv3d', 'conv3dBackwardInput', 'conv3dBackwardWeight'] as const) {
      const variants = backends.map(([name, b]) => {
        useBackend(b);
        const r = new Rng(2);
        const x = r.normal(s.x);
        const w = r.normal(s.w);
        const dy = r.normal(out);
        const run = () => {
          useBackend(b);
          tidy(() => {
            if (op === 'conv3d') apply(op, [x, w], s.p);
            else if (op === 'conv3dBackwardInput') apply(op, [dy, w], { ...s.p, inputShape: s.x });
            else apply(op, [dy, x], { ...s.p, kernelShape: s.w });
          });
        };
        return { name, fn: run };
      });
      const ms = await timeInterleaved(variants, repeats, 1);
      const row: Row = { shape: s.name, op };
      variants.forEach((v, i) => (row[`${v.name} ms`] = Number(ms[i].toFixed(1))));
      variants.forEach((v, i) => (row[`${v.name} GMAC/s`] = Number((macs / ms[i] / 1e6).toFixed(2))));
      rows.push(row);
    }
  }
  printTable('conv3d (ref vs wasm)', rows);
  maybeWriteJson(argv, 'conv', rows);
  for (const [, b] of backends) (b as { dispose?: () => void }).dispose?.();
}
