/**
 * conv3d and its two gradients on the CUDA backend (mock driver) against the reference kernels:
 * blocked im2col + GEMM (src/backends/cuda/conv.ts) on drawn shapes (batch, channels, kernel sizes
 * 1 and 3, strides 1 and 2, padding 0/1 on each side) with the block size (`convColFloats`) drawn
 * small, so most shapes run as several blocks of output rows, some crossing output frames; the
 * conformance cases of test/backends/conv-cases.ts; edge cases (empty batch, no input channels,
 * a kernel as large as the padded input, strides past the kernel). The cases run twice: on conv.cu's
 * TypeScript host versions (mock/conv.ts), and on conv.cu itself built for the host by g++
 * (host-build.ts). Then the block helpers, and the gradients through autodiff on cuda against ref.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Backend } from '../../src/backends/backend.js';
import { createCudaBackend } from '../../src/backends/cuda/backend.js';
import { col2imBox, convRowsPerBlock } from '../../src/backends/cuda/conv.js';
import { createRefBackend } from '../../src/backends/ref/index.js';
import { convGeom } from '../../src/backends/ref/kernels/conv.js';
import { useBackend } from '../../src/backends/registry.js';
import type { ConvParams } from '../../src/core/op-spec.js';
import { gradients } from '../../src/tensor/autodiff.js';
import { mul, sum } from '../../src/tensor/ops.js';
import { apply, fromArray, type Tensor, tidy } from '../../src/tensor/tensor.js';
import { CONV_CASES, outShape } from '../backends/conv-cases.js';
import { draws, mockContext, randoms } from './helpers.js';
import { hostConvKernels, hostMovementKernels } from './host-build.js';
import type { MockKernel } from './mock/driver.js';
import { checkOp, type HostTensor } from './op-check.js';

type Pad = [number, number];
interface Case {
  name: string;
  xs: number[];
  ws: number[];
  p: ConvParams;
  /** convColFloats; undefined for the default (one block per batch item at these sizes). */
  col?: number;
}

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const floats = (shape: number[], seed: number, scale = 1): HostTensor => ({
  data: randoms(seed, size(shape), scale),
  shape,
});
const outOf = (c: Case) => outShape({ name: c.name, xs: c.xs, ws: c.ws, p: c.p });
const kOf = (c: Case) => size(c.ws.slice(1));

/** A block of `rows` output rows for this case (the column matrix's floats). */
const rowsBlock = (c: Case, rows: number) => Math.max(kOf(c), c.ws[0], 1) * outOf(c)[4] * rows;

/** Batch 1-2, channels 1-4, kernel sizes 1 or 3, strides 1 or 2, padding 0/1 per side, small blocks. */
function drawCase(seed: number): Case {
  const d = draws(seed);
  const k = [0, 1, 2].map(() => (d.int(0, 1) ? 3 : 1));
  const stride = [0, 1, 2].map(() => d.int(1, 2));
  const padding = k.map(() => [d.int(0, 1), d.int(0, 1)] as Pad);
  const dims = k.map((kk, i) => d.int(Math.max(1, kk - padding[i][0] - padding[i][1]), i === 0 ? 4 : 7));
  const xs = [d.int(1, 2), d.int(1, 4), ...dims];
  const c: Case = { name: '', xs, ws: [d.int(1, 4), xs[1], ...k], p: { stride, padding } };
  const rows = d.int(0, 4); // 0: the default block
  c.col = rows ? rowsBlock(c, rows) : undefined;
  c.name = `x [${xs}] w [${c.ws}] stride ${stride} pad ${JSON.stringify(padding)} block ${rows || 'all'} rows`;
  return c;
}

const EDGE: Case[] = [
  {
    name: 'same 3x3x3, one output row per block, batch 2',
    xs: [2, 3, 3, 5, 6],
    ws: [4, 3, 3, 3, 3],
    p: {
      stride: [1, 1, 1],
      padding: [
        [1, 1],
        [1, 1],
        [1, 1],
      ],
    },
    col: 4 * 27 * 6,
  },
  {
    name: 'blocks of 3 rows crossing output frames (Ho = 5), causal time',
    xs: [1, 2, 4, 5, 4],
    ws: [3, 2, 3, 3, 3],
    p: {
      stride: [1, 1, 1],
      padding: [
        [2, 0],
        [1, 1],
        [1, 1],
      ],
    },
    col: 54 * 4 * 3,
  },
  {
    name: 'stride 2 over kernel 3, odd sizes, blocks of 2 rows',
    xs: [1, 2, 5, 7, 9],
    ws: [3, 2, 3, 3, 3],
    p: {
      stride: [2, 2, 2],
      padding: [
        [1, 1],
        [1, 1],
        [1, 1],
      ],
    },
    col: 54 * 5 * 2,
  },
  {
    name: '1x1x1 with stride 2 (inputs no output reads: zero gradient), wide Co',
    xs: [2, 3, 3, 5, 5],
    ws: [9, 3, 1, 1, 1],
    p: {
      stride: [2, 2, 2],
      padding: [
        [0, 0],
        [0, 0],
        [0, 0],
      ],
    },
    col: 9 * 3,
  },
  {
    name: 'kernel as large as the padded input (one output position)',
    xs: [1, 2, 2, 3, 3],
    ws: [3, 2, 3, 4, 5],
    p: {
      stride: [1, 1, 1],
      padding: [
        [1, 0],
        [1, 0],
        [1, 1],
      ],
    },
  },
  {
    name: 'uneven padding, stride 3, one channel in and out',
    xs: [1, 1, 4, 10, 8],
    ws: [1, 1, 2, 4, 3],
    p: {
      stride: [1, 3, 3],
      padding: [
        [0, 1],
        [2, 0],
        [0, 2],
      ],
    },
    col: 24 * 3,
  },
  {
    name: 'empty batch',
    xs: [0, 2, 3, 4, 4],
    ws: [3, 2, 3, 3, 3],
    p: {
      stride: [1, 1, 1],
      padding: [
        [1, 1],
        [1, 1],
        [1, 1],
      ],
    },
  },
  {
    name: 'no input channels (K = 0)',
    xs: [1, 0, 3, 4, 4],
    ws: [3, 0, 3, 3, 3],
    p: {
      stride: [1, 1, 1],
      padding: [
        [1, 1],
        [1, 1],
        [1, 1],
      ],
    },
  },
];

const host = hostConvKernels();
const hostMove = hostMovementKernels();
const SOURCES = [
  { name: "conv.cu's TypeScript host versions", mock: {}, skip: false as const, seeds: 40 },
  {
    name: 'conv.cu (and movement.cu) built for the host (g++, AddressSanitizer)',
    mock: typeof host === 'string' || typeof hostMove === 'string' ? {} : { ...host, ...hostMove },
    skip: typeof host === 'string' ? host : (false as const),
    seeds: 16,
  },
];
const TOL = { rtol: 1e-4, atol: 1e-4 };

/** Forward, dx and dw of case c against ref; returns the kernels launched by the forward. */
function checkCase(c: Case, mock: Record<string, MockKernel>, seed = 1) {
  const o = { ...TOL, mock, backend: { convColFloats: c.col } };
  const x = floats(c.xs, seed);
  const w = floats(c.ws, seed + 1, 0.5);
  const dy = floats(outOf(c), seed + 2);
  const fwd = checkOp('conv3d', [x, w], c.p, `conv3d ${c.name}`, o);
  checkOp('conv3dBackwardInput', [dy, w], { ...c.p, inputShape: c.xs }, `dx ${c.name}`, o);
  checkOp('conv3dBackwardWeight', [dy, x], { ...c.p, kernelShape: c.ws }, `dw ${c.name}`, o);
  return fwd.launches;
}

for (const src of SOURCES)
  describe(`conv3d on the CUDA backend against ref: ${src.name}`, { skip: src.skip }, () => {
    it('drawn shapes: forward, dx and dw, most in several blocks of output rows', () => {
      let blocked = 0;
      for (let seed = 1; seed <= src.seeds; seed++) {
        const c = drawCase(seed);
        const l = checkCase(c, src.mock, seed);
        const ims = l.filter((n) => n === 'conv_im2col').length;
        assert.ok(ims >= c.xs[0], `${c.name}: one im2col per block and batch item`);
        if (ims > c.xs[0]) blocked++;
      }
      assert.ok(blocked >= src.seeds / 3, `only ${blocked} drawn cases ran several blocks per item`);
    });

    it('edge cases: blocks across frames, strides past the kernel, one position, empty batch, K = 0', () => {
      for (const c of EDGE) checkCase(c, src.mock);
      // one output row per block: im2col runs once per row and batch item
      const l = checkCase(EDGE[0], src.mock);
      assert.equal(l.filter((n) => n === 'conv_im2col').length, 2 * 3 * 5);
    });

    it('the conformance cases (padding, causal time, strides, 1x1x1), whole and in blocks', () => {
      for (const k of CONV_CASES) {
        if (src.skip === false && src.seeds < 40 && size(k.xs) > 5000) continue; // ASan build: small ones
        const c: Case = { ...k, xs: [...k.xs], ws: [...k.ws] };
        checkCase(c, src.mock);
        checkCase({ ...c, name: `${c.name} (2-row blocks)`, col: rowsBlock(c, 2) }, src.mock);
      }
    });
  });

describe('conv3d blocks on the CUDA backend', () => {
  it('rows per block: the column matrix and the output block under the limit, at least one row', () => {
    const g = convGeom(
      [1, 8, 5, 16, 20],
      [32, 8, 3, 3, 3],
      [1, 1, 1],
      [
        [2, 0],
        [1, 1],
        [1, 1],
      ],
    );
    assert.equal(convRowsPerBlock(g, 32, 216 * 20 * 7), 7);
    assert.equal(convRowsPerBlock(g, 32, 1), 1);
    assert.equal(convRowsPerBlock(g, 32, 1 << 30), 5 * 16);
    // a wide output side (1x1x1, Co > K) bounds the block by Co * rows * Wo
    const h = convGeom(
      [1, 2, 1, 4, 10],
      [64, 2, 1, 1, 1],
      [1, 1, 1],
      [
        [0, 0],
        [0, 0],
        [0, 0],
      ],
    );
    assert.equal(convRowsPerBlock(h, 64, 64 * 10 * 2), 2);
  });

  it('the input box of a block holds every input element its output rows read', () => {
    for (let seed = 1; seed <= 60; seed++) {
      const c = drawCase(seed);
      const g = convGeom(c.xs, c.ws, c.p.stride, c.p.padding);
      const R = g.To * g.Ho;
      const d = draws(seed + 1000);
      const r0 = d.int(0, R - 1);
      const r1 = d.int(r0 + 1, R);
      const box = col2imBox(g, r0, r1);
      for (let r = r0; r < r1; r++) {
        const to = Math.floor(r / g.Ho);
        const ho = r % g.Ho;
        for (let kt = 0; kt < g.KT; kt++)
          for (let kh = 0; kh < g.KH; kh++) {
            const ti = to * g.st + kt - g.pt;
            const hi = ho * g.sh + kh - g.ph;
            if (ti < 0 || ti >= g.T || hi < 0 || hi >= g.H) continue;
            assert.ok(
              ti >= box.ti0 && ti < box.ti0 + box.nti && hi >= box.hi0 && hi < box.hi0 + box.nhi,
              `${c.name} rows [${r0}, ${r1}): input row (${ti}, ${hi}) outside ${JSON.stringify(box)}`,
            );
          }
      }
    }
  });

  it('results do not depend on the block size beyond rounding, and repeat bit for bit', () => {
    const c = drawCase(7);
    const x = floats(c.xs, 1);
    const w = floats(c.ws, 2, 0.5);
    const dy = floats(outOf(c), 3);
    const run = (col?: number) =>
      [
        checkOp('conv3d', [x, w], c.p, 'fwd', { ...TOL, backend: { convColFloats: col } }),
        checkOp('conv3dBackwardInput', [dy, w], { ...c.p, inputShape: c.xs }, 'dx', {
          ...TOL,
          backend: { convColFloats: col },
        }),
        checkOp('conv3dBackwardWeight', [dy, x], { ...c.p, kernelShape: c.ws }, 'dw', {
          ...TOL,
          backend: { convColFloats: col },
        }),
      ].map((r) => r.outs[0]);
    const small = run(1);
    assert.deepEqual(run(1), small, 'the same block size gives the same bits');
    run().forEach((a, i) => {
      for (let j = 0; j < a.length; j++)
        assert.ok(Math.abs(a[j] - small[i][j]) <= 1e-4 * (1 + Math.abs(a[j])));
    });
  });
});

/** d/dx, d/dw of sum(conv3d(x, w) * r) through autodiff on `be`, and the loss. */
function convGrads(be: Backend, c: Case, dir?: { x: Float32Array; w: Float32Array; t: number }) {
  useBackend(be);
  return tidy(() => {
    const shift = (a: Float32Array, d?: Float32Array) =>
      dir && d ? a.map((v, i) => v + dir.t * d[i]) : Float32Array.from(a);
    const x = fromArray(shift(randoms(1, size(c.xs)), dir?.x), c.xs);
    const w = fromArray(shift(randoms(2, size(c.ws), 0.5), dir?.w), c.ws);
    const r = fromArray(randoms(3, size(outOf(c))), outOf(c));
    x.requiresGrad = true;
    w.requiresGrad = true;
    const loss = sum(mul(apply('conv3d', [x, w], c.p)[0], r));
    const [gx, gw] = gradients(loss, [x, w]) as Tensor[];
    return {
      loss: loss.item(),
      gx: Float32Array.from(gx.dataSync()),
      gw: Float32Array.from(gw.dataSync()),
    };
  });
}

describe('conv3d gradients through autodiff on the CUDA backend (mock driver)', () => {
  it('match ref and the directional difference of the loss, with no fallback', () => {
    for (const c of [EDGE[1], EDGE[2], drawCase(3)]) {
      const want = convGrads(createRefBackend(), c);
      const { ctx } = mockContext();
      const cuda = createCudaBackend(ctx, { convColFloats: c.col });
      const got = convGrads(cuda, c);
      const fell = [...cuda.fallbacks.keys()];
      assert.deepEqual(fell, [], `${c.name}: fell back for ${fell.join(', ')}`);
      assert.ok(Math.abs(got.loss - want.loss) <= 1e-4 * (1 + Math.abs(want.loss)), `${c.name}: loss`);
      for (const [g, r, what] of [
        [got.gx, want.gx, 'dx'],
        [got.gw, want.gw, 'dw'],
      ] as const)
        g.forEach((v, i) =>
          assert.ok(
            Math.abs(v - r[i]) <= 1e-4 * (1 + Math.abs(r[i])),
            `${c.name} ${what}[${i}]: ${v} vs ${r[i]}`,
          ),
        );
      // the loss is bilinear: along a direction (dx, 0) or (0, dw) the central difference is exact
      const dir = { x: randoms(9, size(c.xs)), w: randoms(10, size(c.ws)) };
      for (const which of ['x', 'w'] as const) {
        const d = {
          x: which === 'x' ? dir.x : new Float32Array(dir.x.length),
          w: which === 'w' ? dir.w : new Float32Array(dir.w.length),
        };
        const up = convGrads(createCudaBackend(ctx, { convColFloats: c.col }), c, { ...d, t: 0.5 }).loss;
        const down = convGrads(createCudaBackend(ctx, { convColFloats: c.col }), c, { ...d, t: -0.5 }).loss;
        const g = which === 'x' ? got.gx : got.gw;
        const dd = which === 'x' ? d.x : d.w;
        const dot = g.reduce((s, v, i) => s + v * dd[i], 0);
        assert.ok(
          Math.abs(up - down - dot) <= 1e-3 * (1 + Math.abs(dot)),
          `${c.name} d${which}: ${up - down} vs ${dot}`,
        );
      }
      useBackend(createRefBackend());
      assert.equal(cuda.liveBytes(), 0, 'nothing left on the device');
    }
  });
});
