/**
 * `ref`, the oracle of every other backend, against plain float64 loops written here (sharing no
 * code with the kernels): matmul, layerNorm, rmsNorm, softmax, groupedAttention and conv3d, forward
 * and backward, on odd sizes, empty operands and large or offset values. Inputs are float32, so the
 * loops see exactly what ref sees; ref accumulates in float64, so the tolerances are a few float32
 * roundings, far below what a wrong sign, index or scale would give.
 */
import { it } from 'node:test';
import { groupedAttention } from '../../src/attention/grouped-attention.js';
import type { AttentionPlan } from '../../src/attention/plan.js';
import { plans } from '../../src/attention/plans.js';
import type { ConvParams } from '../../src/core/op-spec.js';
import { gradients } from '../../src/tensor/autodiff.js';
import * as o from '../../src/tensor/ops.js';
import { apply, fromArray, type Tensor } from '../../src/tensor/tensor.js';
import { planMask, randArray } from '../attention/dense.js';
import { allClose, onRef } from './conformance.js';

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);
/** Random float32 data of a shape, with scale and offset. */
const data = (shape: number[], seed: number, scale = 1, offset = 0) =>
  randArray(prod(shape), seed, scale).map((x) => x + offset);
const t = (x: Float32Array, shape: readonly number[], grad = false) => {
  const y = fromArray(x, shape);
  y.requiresGrad = grad;
  return y;
};

/** Runs f on ref with the inputs as tensors (requiring grad) and returns [output, input grads of sum(out * g)]. */
function refWithGrads(
  inputs: [Float32Array, number[]][],
  g: Float32Array,
  f: (...xs: Tensor[]) => Tensor,
): Float32Array[] {
  return onRef(() => {
    const xs = inputs.map(([x, s]) => t(x, s, true));
    const y = f(...xs);
    const loss = o.sum(o.mul(y, t(g, y.shape)));
    return [y, ...(gradients(loss, xs) as Tensor[])];
  }) as Float32Array[];
}

function check(
  got: ArrayLike<number>[],
  want: ArrayLike<number>[],
  rtol: number,
  atol: number,
  what: string,
) {
  want.forEach((w, i) => allClose(got[i], w, rtol, atol, `${what} output ${i}`));
}

it('matmul: odd sizes, every transpose, batch broadcast, k = 0', () => {
  const cases: [number, number, number, number][] = [
    [1, 1, 1, 1],
    [1, 3, 17, 129],
    [1, 67, 130, 5],
    [3, 5, 9, 4],
    [1, 4, 0, 3],
  ];
  for (const [batch, m, k, n] of cases)
    for (const transA of [false, true])
      for (const transB of [false, true]) {
        const sa = transA ? [k, m] : [m, k];
        const sb = transB ? [n, k] : [k, n];
        const a = data([batch, ...sa], m + k, 3);
        const b = data(sb, n + 1, 3); // one B for every batch: broadcast
        const want = new Float64Array(batch * m * n);
        for (let s = 0; s < batch; s++)
          for (let i = 0; i < m; i++)
            for (let j = 0; j < n; j++) {
              let x = 0;
              for (let p = 0; p < k; p++)
                x += a[s * m * k + (transA ? p * m + i : i * k + p)] * b[transB ? j * k + p : p * n + j];
              want[(s * m + i) * n + j] = x;
            }
        const got = onRef(() => o.matmul(t(a, [batch, ...sa]), t(b, sb), { transA, transB }));
        allClose(got[0], want, 2e-7, 1e-30, `matmul ${batch}x${m}x${k}x${n} ${transA} ${transB}`);
      }
});

/** y, dx, dw, db of layer norm (rms: no mean, no bias) over rows of length d, in float64. */
function norm64(
  kind: 'layer' | 'rms',
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  g: Float32Array,
  eps: number,
) {
  const d = w.length;
  const rows = x.length / d;
  const [y, dx] = [new Float64Array(x.length), new Float64Array(x.length)];
  const [dw, db] = [new Float64Array(d), new Float64Array(d)];
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * d, (r + 1) * d));
    const mu = kind === 'layer' ? row.reduce((s, v) => s + v, 0) / d : 0;
    const sigma = Math.sqrt(row.reduce((s, v) => s + (v - mu) ** 2, 0) / d + eps);
    const xh = row.map((v) => (v - mu) / sigma);
    const gw = xh.map((_, j) => g[r * d + j] * w[j]);
    // dx = (gw - mean(gw) - xh * mean(gw * xh)) / sigma; rms norm has no mean(gw) term.
    const m1 = kind === 'layer' ? gw.reduce((s, v) => s + v, 0) / d : 0;
    const m2 = gw.reduce((s, v, j) => s + v * xh[j], 0) / d;
    for (let j = 0; j < d; j++) {
      y[r * d + j] = xh[j] * w[j] + (kind === 'layer' ? b[j] : 0);
      dx[r * d + j] = (gw[j] - m1 - xh[j] * m2) / sigma;
      dw[j] += g[r * d + j] * xh[j];
      db[j] += g[r * d + j];
    }
  }
  return kind === 'layer' ? [y, dx, dw, db] : [y, dx, dw];
}

it('layerNorm and rmsNorm forward and backward: odd widths, offset and large rows', () => {
  const eps = 1e-5;
  const cases: [number, number, number, number][] = [
    [1, 1, 1, 0],
    [3, 17, 2, 0],
    [5, 129, 1, 0],
    [4, 33, 3, 100], // mean far from zero: a one-pass variance in float32 would cancel
    [2, 9, 1e4, 0],
  ];
  for (const [rows, d, scale, offset] of cases) {
    const x = data([rows, d], d, scale, offset);
    const w = data([d], 2, 1, 0.5);
    const b = data([d], 3);
    const g = data([rows, d], 4);
    const what = `${rows}x${d} scale ${scale} offset ${offset}`;
    // The backward reads the forward's mean and 1/sigma as float32: on rows offset by 100 that is
    // an error of about 1e-6 in the normalised x, hence atol 2e-5 (a wrong term would give ~1).
    const atol = offset ? 2e-5 : 1e-6;
    check(
      refWithGrads(
        [
          [x, [rows, d]],
          [w, [d]],
          [b, [d]],
        ],
        g,
        (xx, ww, bb) => o.layerNorm(xx, ww, bb, eps),
      ),
      norm64('layer', x, w, b, g, eps),
      1e-5,
      atol,
      `layerNorm ${what}`,
    );
    check(
      refWithGrads(
        [
          [x, [rows, d]],
          [w, [d]],
        ],
        g,
        (xx, ww) => o.rmsNorm(xx, ww, eps),
      ),
      norm64('rms', x, w, b, g, eps),
      1e-5,
      atol,
      `rmsNorm ${what}`,
    );
  }
});

it('softmax forward and backward: odd widths, wide logits, one column', () => {
  for (const [rows, n, scale] of [
    [3, 1, 1],
    [5, 17, 4],
    [2, 129, 60],
  ]) {
    const x = data([rows, n], n, scale);
    const g = data([rows, n], 7);
    const y = new Float64Array(x.length);
    const dx = new Float64Array(x.length);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * n, (r + 1) * n));
      const m = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
      let gy = 0;
      for (let j = 0; j < n; j++) {
        y[r * n + j] = Math.exp(row[j] - m) / z;
        gy += g[r * n + j] * y[r * n + j];
      }
      for (let j = 0; j < n; j++) dx[r * n + j] = y[r * n + j] * (g[r * n + j] - gy);
    }
    // softmax is composed of float32 primitives: a few roundings each way.
    check(
      refWithGrads([[x, [rows, n]]], g, (xx) => o.softmax(xx)),
      [y, dx],
      1e-5,
      1e-7,
      `softmax ${rows}x${n}`,
    );
  }
});

/** Attention under the plan's mask and its gradients for upstream g, in float64 (per head). */
function attention64(
  plan: AttentionPlan,
  [nq, nk, H, D]: number[],
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  g: Float32Array,
) {
  const mask = planMask(plan, nq, nk);
  const scale = 1 / Math.sqrt(D);
  const out = new Float64Array(nq * H * D);
  const [dq, dk, dv] = [new Float64Array(q.length), new Float64Array(k.length), new Float64Array(v.length)];
  const at = (i: number, h: number) => (i * H + h) * D;
  const dot = (a: ArrayLike<number>, ia: number, b: ArrayLike<number>, ib: number) => {
    let s = 0;
    for (let d = 0; d < D; d++) s += a[ia + d] * b[ib + d];
    return s;
  };
  for (let i = 0; i < nq; i++)
    for (let h = 0; h < H; h++) {
      const keys = [...Array(nk).keys()].filter((j) => mask[i * nk + j]);
      if (keys.length === 0) continue; // no keys: output and gradients stay zero
      const s = keys.map((j) => dot(q, at(i, h), k, at(j, h)) * scale);
      const m = Math.max(...s);
      const z = s.reduce((a, x) => a + Math.exp(x - m), 0);
      const p = s.map((x) => Math.exp(x - m) / z);
      keys.forEach((j, c) => {
        for (let d = 0; d < D; d++) out[at(i, h) + d] += p[c] * v[at(j, h) + d];
      });
      // dS = P * (dO.V - dO.O); dQ = scale dS K, dK = scale dS^T Q, dV = P^T dO.
      const dOO = dot(g, at(i, h), out, at(i, h));
      keys.forEach((j, c) => {
        const ds = p[c] * (dot(g, at(i, h), v, at(j, h)) - dOO) * scale;
        for (let d = 0; d < D; d++) {
          dq[at(i, h) + d] += ds * k[at(j, h) + d];
          dk[at(j, h) + d] += ds * q[at(i, h) + d];
          dv[at(j, h) + d] += p[c] * g[at(i, h) + d];
        }
      });
    }
  return [out, dq, dk, dv];
}

it('groupedAttention forward and backward: full, routed with empty and one-token groups, awkward plans', () => {
  const ids = Int32Array.from({ length: 53 }, (_, i) => [0, 3, 4, 0, 3][i % 5]); // groups 1, 2 empty
  ids[20] = 5; // group 5: one token
  const cases: [string, AttentionPlan, number, number, number, number, number][] = [
    ['full N 37 D 8', plans.full(37), 37, 37, 2, 8, 1],
    ['full N 1 D 1', plans.full(1), 1, 1, 1, 1, 1],
    ['full, large logits', plans.full(19), 19, 19, 2, 12, 6],
    ['routed, empty and one-token groups', plans.routed(ids, 6), 53, 53, 3, 5, 1.5],
    [
      'uncovered rows, queries without keys, shared keys, nq != nk',
      plans.fromSegments([
        { q: [0, 5, 2], kv: [1, 3, 4, 8] },
        { q: [], kv: [2, 3] },
        { q: [7], kv: [] },
        { q: [3], kv: [3] },
        { q: [6, 1], kv: [0, 1, 2, 3, 4, 5, 6, 7, 8] },
      ]),
      8,
      9,
      2,
      4,
      1,
    ],
  ];
  for (const [what, plan, nq, nk, H, D, scale] of cases) {
    const [q, k, v, g] = [
      data([nq, H, D], 1, scale),
      data([nk, H, D], 2, scale),
      data([nk, H, D], 3),
      data([nq, H, D], 4),
    ];
    const got = refWithGrads(
      [
        [q, [nq, H, D]],
        [k, [nk, H, D]],
        [v, [nk, H, D]],
      ],
      g,
      (qq, kk, vv) => groupedAttention(qq, kk, vv, plan),
    );
    check(got, attention64(plan, [nq, nk, H, D], q, k, v, g), 1e-5, 1e-6, `attention ${what}`);
  }
});

/** The output shape [B, Co, To, Ho, Wo] of a conv3d. */
const convOut = (xs: number[], ws: number[], p: ConvParams) => [
  xs[0],
  ws[0],
  ...[0, 1, 2].map(
    (i) => Math.floor((xs[2 + i] + p.padding[i][0] + p.padding[i][1] - ws[2 + i]) / p.stride[i]) + 1,
  ),
];

/** conv3d (x [B,Ci,T,H,W], w [Co,Ci,KT,KH,KW]) and its adjoints for upstream g, in float64. */
function conv64(
  x: Float32Array,
  xs: number[],
  w: Float32Array,
  ws: number[],
  p: ConvParams,
  g: Float32Array,
) {
  const [B, Ci, ...X] = xs;
  const [Co, , ...K] = ws;
  const Y = convOut(xs, ws, p).slice(2);
  const y = new Float64Array(B * Co * prod(Y));
  const [dx, dw] = [new Float64Array(x.length), new Float64Array(w.length)];
  const xAt = (b: number, c: number, z: number[]) =>
    (((b * Ci + c) * X[0] + z[0]) * X[1] + z[1]) * X[2] + z[2];
  const wAt = (o: number, c: number, z: number[]) =>
    (((o * Ci + c) * K[0] + z[0]) * K[1] + z[1]) * K[2] + z[2];
  const yAt = (b: number, o: number, z: number[]) =>
    (((b * Co + o) * Y[0] + z[0]) * Y[1] + z[1]) * Y[2] + z[2];
  const grid = (n: number[]) =>
    [...Array(prod(n)).keys()].map((i) => [
      Math.floor(i / (n[1] * n[2])),
      Math.floor(i / n[2]) % n[1],
      i % n[2],
    ]);
  for (let b = 0; b < B; b++)
    for (let o = 0; o < Co; o++)
      for (const yz of grid(Y))
        for (let c = 0; c < Ci; c++)
          for (const kz of grid(K)) {
            const xz = [0, 1, 2].map((i) => yz[i] * p.stride[i] + kz[i] - p.padding[i][0]);
            if (xz.some((v, i) => v < 0 || v >= X[i])) continue; // padding reads zeros
            const [xi, wi, yi] = [xAt(b, c, xz), wAt(o, c, kz), yAt(b, o, yz)];
            y[yi] += x[xi] * w[wi];
            dx[xi] += g[yi] * w[wi];
            dw[wi] += g[yi] * x[xi];
          }
  return [y, dx, dw];
}

it('conv3d forward and both backward kernels: padding, causal time, strides, 1x1x1', () => {
  const pad = (a: number[]): [number, number][] => [
    [a[0], a[1]],
    [a[2], a[3]],
    [a[4], a[5]],
  ];
  const cases: [string, number[], number[], ConvParams][] = [
    ['same 3x3x3', [1, 2, 3, 4, 5], [3, 2, 3, 3, 3], { stride: [1, 1, 1], padding: pad([1, 1, 1, 1, 1, 1]) }],
    [
      'causal time, batch 2',
      [2, 3, 4, 5, 3],
      [2, 3, 3, 3, 3],
      { stride: [1, 1, 1], padding: pad([2, 0, 1, 1, 1, 1]) },
    ],
    [
      'stride 2, odd sizes',
      [1, 2, 5, 7, 9],
      [3, 2, 3, 3, 3],
      { stride: [2, 2, 2], padding: pad([1, 1, 1, 1, 1, 1]) },
    ],
    [
      'uneven padding, stride 3',
      [1, 3, 3, 8, 7],
      [2, 3, 2, 4, 3],
      { stride: [1, 3, 3], padding: pad([0, 1, 2, 0, 0, 2]) },
    ],
    ['1x1x1', [2, 5, 2, 3, 4], [7, 5, 1, 1, 1], { stride: [1, 1, 1], padding: pad([0, 0, 0, 0, 0, 0]) }],
  ];
  for (const [what, xs, ws, p] of cases) {
    const x = data(xs, 1, 2);
    const w = data(ws, 2);
    const ys = convOut(xs, ws, p);
    const g = data(ys, 3);
    const got = onRef(() => [
      apply('conv3d', [t(x, xs), t(w, ws)], p)[0],
      apply('conv3dBackwardInput', [t(g, ys), t(w, ws)], { ...p, inputShape: xs })[0],
      apply('conv3dBackwardWeight', [t(g, ys), t(x, xs)], { ...p, kernelShape: ws })[0],
    ]);
    check(got, conv64(x, xs, w, ws, p, g), 2e-7, 1e-12, `conv3d ${what}`);
  }
});
