/**
 * The cell head (models/dit/cell-head.ts) against a plain float64 loop of what it claims to compute:
 * x0 + conv2(GELU(conv1([x0; features; x_t; t]))), both convolutions 1x3x3 with zero padding in
 * space, none in time. Growing a trained DiT onto one leaves its output as it was (dit-grow.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cellHead, initCellHead } from '../../src/models/dit/cell-head.js';
import { Rng } from '../../src/tensor/random.js';
import { tidy } from '../../src/tensor/tensor.js';

const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** conv 1x3x3, zero padding in space: x [Ci][F][H][W] (flat), w [Co][Ci][1][3][3], b [Co]. */
function conv(
  x: Float64Array,
  ci: number,
  w: Float32Array,
  b: Float32Array,
  co: number,
  F: number,
  H: number,
  W: number,
) {
  const y = new Float64Array(co * F * H * W);
  for (let o = 0; o < co; o++)
    for (let f = 0; f < F; f++)
      for (let i = 0; i < H; i++)
        for (let j = 0; j < W; j++) {
          let s = b[o];
          for (let c = 0; c < ci; c++)
            for (let di = -1; di <= 1; di++)
              for (let dj = -1; dj <= 1; dj++) {
                const ii = i + di;
                const jj = j + dj;
                if (ii < 0 || ii >= H || jj < 0 || jj >= W) continue;
                s += w[((o * ci + c) * 3 + di + 1) * 3 + dj + 1] * x[((c * F + f) * H + ii) * W + jj];
              }
          y[((o * F + f) * H + i) * W + j] = s;
        }
  return y;
}

test('the cell head computes x0 + conv2(GELU(conv1([x0; features; x_t; t]))) cell by cell', () =>
  tidy(() => {
    const rng = new Rng(3);
    const [C, E, F, H, W, hidden, t] = [2, 3, 2, 3, 5, 4, 0.37];
    const p = initCellHead(rng.fork(1), 8, 4, C, { hidden, features: E });
    // a trained head: the zero-initialised last convolution moved off zero
    p.conv2.weight.backend.write(p.conv2.weight.storage, rng.fork(2).normalArray(p.conv2.weight.size));
    p.conv2.bias!.backend.write(p.conv2.bias!.storage, rng.fork(3).normalArray(C));
    const x0 = rng.normal([C, F, H, W]);
    const feat = rng.normal([E, F, H, W]);
    const xt = rng.normal([C, F, H, W]);
    const got = cellHead(p, x0, feat, xt, t).dataSync() as Float32Array;

    const n = F * H * W;
    const input = new Float64Array((2 * C + E + 1) * n);
    input.set(x0.dataSync() as Float32Array, 0);
    input.set(feat.dataSync() as Float32Array, C * n);
    input.set(xt.dataSync() as Float32Array, (C + E) * n);
    input.fill(t, (2 * C + E) * n);
    const data = (x: { dataSync(): unknown }) => x.dataSync() as Float32Array;
    const h1 = conv(input, 2 * C + E + 1, data(p.conv1.weight), data(p.conv1.bias!), hidden, F, H, W).map(
      geluTanh,
    );
    const h2 = conv(h1, hidden, data(p.conv2.weight), data(p.conv2.bias!), C, F, H, W);
    const x0d = data(x0);
    let worst = 0;
    for (let i = 0; i < C * n; i++) worst = Math.max(worst, Math.abs(got[i] - (x0d[i] + h2[i])));
    assert.ok(worst < 1e-4, `max |cell head - float64 loop| ${worst}`);
    assert.ok(
      h2.some((v) => Math.abs(v) > 0.1),
      'the correction is not trivially small',
    );
  }));

test('a fresh cell head adds nothing', () =>
  tidy(() => {
    const rng = new Rng(4);
    const p = initCellHead(rng.fork(1), 8, 4, 2, { hidden: 4, features: 3 });
    const x0 = rng.normal([2, 1, 3, 4]);
    const out = cellHead(p, x0, rng.normal([3, 1, 3, 4]), rng.normal([2, 1, 3, 4]), 0.5);
    assert.deepEqual(Array.from(out.dataSync() as Float32Array), Array.from(x0.dataSync() as Float32Array));
  }));
