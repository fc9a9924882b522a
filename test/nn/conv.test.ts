import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { REF_KERNELS } from '../../src/backends/ref/kernels/index.js';
import { createWasmBackend, type WasmBackend } from '../../src/backends/wasm/index.js';
import type { ConvParams } from '../../src/core/op-spec.js';
import { type Shape, sizeOf } from '../../src/core/shape.js';
import { causalConv3d, conv2d, conv3d, initConv3d } from '../../src/nn/conv.js';
import { Rng } from '../../src/tensor/random.js';
import { apply, fromArray, tidy } from '../../src/tensor/tensor.js';
import { compareWithRef } from '../backends/conformance.js';
import { describeNeeding } from '../backends/required.js';
import { checkOpGrad, f, randData } from '../helpers/gradcheck.js';

/** The definition, one output element at a time (no shared loop structure with the kernel). */
function naiveConv(
  x: Float64Array,
  xs: Shape,
  w: Float64Array,
  ws: Shape,
  p: ConvParams,
): { y: Float64Array; shape: Shape } {
  const [B, Ci, T, H, W] = xs;
  const [Co, , KT, KH, KW] = ws;
  const o = [T, H, W].map(
    (n, i) => Math.floor((n + p.padding[i][0] + p.padding[i][1] - ws[2 + i]) / p.stride[i]) + 1,
  );
  const shape = [B, Co, ...o];
  const y = new Float64Array(sizeOf(shape));
  let at = 0;
  for (let b = 0; b < B; b++)
    for (let co = 0; co < Co; co++)
      for (let t = 0; t < o[0]; t++)
        for (let h = 0; h < o[1]; h++)
          for (let q = 0; q < o[2]; q++) {
            let s = 0;
            for (let ci = 0; ci < Ci; ci++)
              for (let a = 0; a < KT; a++)
                for (let c = 0; c < KH; c++)
                  for (let d = 0; d < KW; d++) {
                    const ti = t * p.stride[0] + a - p.padding[0][0];
                    const hi = h * p.stride[1] + c - p.padding[1][0];
                    const wi = q * p.stride[2] + d - p.padding[2][0];
                    if (ti < 0 || ti >= T || hi < 0 || hi >= H || wi < 0 || wi >= W) continue;
                    s +=
                      x[(((b * Ci + ci) * T + ti) * H + hi) * W + wi] *
                      w[(((co * Ci + ci) * KT + a) * KH + c) * KW + d];
                  }
            y[at++] = s;
          }
  return { y, shape };
}

const CASES: { name: string; xs: Shape; ws: Shape; p: ConvParams }[] = [
  {
    name: 'same 3x3x3',
    xs: [1, 2, 3, 4, 5],
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
    name: 'causal time',
    xs: [2, 2, 4, 3, 3],
    ws: [2, 2, 3, 3, 3],
    p: {
      stride: [1, 1, 1],
      padding: [
        [2, 0],
        [1, 1],
        [1, 1],
      ],
    },
  },
  {
    name: 'stride 2 all axes',
    xs: [1, 3, 5, 6, 6],
    ws: [2, 3, 3, 3, 3],
    p: {
      stride: [2, 2, 2],
      padding: [
        [2, 0],
        [0, 1],
        [0, 1],
      ],
    },
  },
  {
    name: 'asymmetric kernel, no pad',
    xs: [1, 2, 3, 5, 4],
    ws: [2, 2, 1, 2, 3],
    p: {
      stride: [1, 2, 1],
      padding: [
        [0, 0],
        [0, 0],
        [0, 0],
      ],
    },
  },
];

describe('conv3d', () => {
  for (const c of CASES) {
    it(`forward matches the definition: ${c.name}`, () => {
      const x = randData(c.xs, 1);
      const w = randData(c.ws, 2);
      const want = naiveConv(x, c.xs, w, c.ws, c.p);
      const y = new Float64Array(want.y.length);
      REF_KERNELS.conv3d(
        [
          { data: x, shape: c.xs },
          { data: w, shape: c.ws },
        ] as never,
        [{ data: y, shape: want.shape }] as never,
        c.p,
      );
      for (let i = 0; i < y.length; i++)
        assert.ok(Math.abs(y[i] - want.y[i]) < 1e-12, `y[${i}] ${y[i]} vs ${want.y[i]}`);
    });
    it(`gradients pass finite differences: ${c.name}`, () => {
      checkOpGrad('conv3d', [f(c.xs, 3), f(c.ws, 4)], c.p);
    });
  }

  it('causal padding: changing a later frame leaves earlier outputs unchanged', () => {
    tidy(() => {
      const rng = new Rng(5);
      const p = initConv3d(rng, 2, 3, 3);
      const xa = randData([1, 2, 6, 4, 4], 9);
      const xb = xa.slice();
      for (let i = 4 * 16; i < 6 * 16; i++) xb[i] += 1; // channel 0, frame 4
      const ya = causalConv3d(p, fromArray(Float32Array.from(xa), [1, 2, 6, 4, 4])).dataSync();
      const yb = causalConv3d(p, fromArray(Float32Array.from(xb), [1, 2, 6, 4, 4])).dataSync();
      const plane = 16;
      for (let co = 0; co < 3; co++)
        for (let t = 0; t < 6; t++) {
          let diff = 0;
          for (let i = 0; i < plane; i++)
            diff = Math.max(diff, Math.abs(ya[(co * 6 + t) * plane + i] - yb[(co * 6 + t) * plane + i]));
          if (t < 4) assert.equal(diff, 0, `frame ${t} changed`);
          else assert.ok(diff > 0, `frame ${t} should depend on frame 4`);
        }
    });
  });

  it('conv2d is conv3d of depth 1', () => {
    tidy(() => {
      const x = fromArray(Float32Array.from(randData([2, 3, 5, 6], 1)), [2, 3, 5, 6]);
      const w = fromArray(Float32Array.from(randData([4, 3, 3, 3], 2)), [4, 3, 3, 3]);
      const y = conv2d(x, w, { stride: 2, padding: 1 });
      assert.deepEqual(y.shape, [2, 4, 3, 3]);
      const want = naiveConv(
        randData([2, 3, 5, 6], 1),
        [2, 3, 1, 5, 6],
        randData([4, 3, 3, 3], 2),
        [4, 3, 1, 3, 3],
        {
          stride: [1, 2, 2],
          padding: [
            [0, 0],
            [1, 1],
            [1, 1],
          ],
        },
      );
      const got = y.dataSync();
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want.y[i]) < 1e-4);
    });
  });

  it('rejects bad shapes with a clear error', () => {
    tidy(() => {
      const x = fromArray(new Float32Array(2 * 3 * 4 * 4), [2, 3, 1, 4, 4]);
      const w = fromArray(new Float32Array(4 * 2 * 27), [4, 2, 3, 3, 3]);
      assert.throws(() => conv3d(x, w), /weight expects 2 input channels, input has 3/);
      const w3 = fromArray(new Float32Array(4 * 3 * 27), [4, 3, 3, 3, 3]);
      assert.throws(() => conv3d(x, w3), /does not fit/);
      assert.throws(() => conv3d(x, w3, { stride: 0 as never, padding: 1 }), /stride/);
    });
  });
});

// wasm kernels (im2col + packed GEMM) against the ref oracle, forward and both backward kernels,
// on one and two threads (the two-thread run splits the GEMM by column panels).
const wasm = [1, 2].map((threads) => createWasmBackend({ threads }));
after(() => {
  for (const be of wasm) if (typeof be !== 'string') be.dispose();
});
const wasmMissing = wasm.find((be): be is string => typeof be === 'string');
describeNeeding('wasm', wasmMissing, 'conv3d on wasm matches ref', () => {
  for (const be of wasm as WasmBackend[]) {
    const threads = be.threads;
    const big: (typeof CASES)[number] = {
      name: 'large (split GEMM)',
      xs: [1, 16, 3, 24, 40],
      ws: [24, 16, 3, 3, 3],
      p: {
        stride: [1, 1, 1],
        padding: [
          [2, 0],
          [1, 1],
          [1, 1],
        ],
      },
    };
    for (const c of [...CASES, big]) {
      it(`${threads} thread(s): ${c.name}`, () => {
        const mk = (s: Shape, seed: number) => fromArray(Float32Array.from(randData(s, seed)), s);
        const ys = OP_SPEC_OUT(c.xs, c.ws, c.p);
        compareWithRef(be, () => apply('conv3d', [mk(c.xs, 1), mk(c.ws, 2)], c.p), 1e-4, 1e-4, 'conv3d');
        compareWithRef(
          be,
          () => apply('conv3dBackwardInput', [mk(ys, 3), mk(c.ws, 2)], { ...c.p, inputShape: [...c.xs] }),
          1e-4,
          1e-4,
          'dx',
        );
        compareWithRef(
          be,
          () => apply('conv3dBackwardWeight', [mk(ys, 3), mk(c.xs, 1)], { ...c.p, kernelShape: [...c.ws] }),
          1e-4,
          1e-4,
          'dw',
        );
        assert.deepEqual(
          Object.keys(be.refFallbacks()).filter((k) => k.startsWith('conv')),
          [],
          'conv ran through the ref fallback',
        );
      });
    }
  }
});

function OP_SPEC_OUT(xs: Shape, ws: Shape, p: ConvParams): Shape {
  return naiveConv(new Float64Array(sizeOf(xs)), xs, new Float64Array(sizeOf(ws)), ws, p).shape;
}
