/**
 * diffusion/noise.ts `frameNoise`: the starting noise of sampling and the noise of training, AR(1)
 * along a shot's latent frames. Checked: rho = 0 is the plain draw bit for bit; any rho draws the
 * same normals (a resumed run's random stream is unchanged) and keeps each shot's first frame as
 * drawn; each element stays N(0, 1); lag-k correlation inside a shot is rho^k, and zero across a
 * shot start; bad input is refused.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkNoiseCorrelation, frameNoise } from '../../src/diffusion/noise.js';
import { Rng } from '../../src/tensor/random.js';

test('rho 0 is rng.normal bit for bit; every rho draws the same normals and keeps shot starts', () => {
  const shape = [3, 5, 4, 6];
  const plane = 4 * 6;
  assert.deepEqual(frameNoise(new Rng(7), shape).dataSync(), new Rng(7).normal(shape).dataSync());
  const iid = new Rng(7).normalArray(3 * 5 * plane);
  for (const rho of [0.5, 0.95]) {
    const r = new Rng(7);
    const e = frameNoise(r, shape, rho, [0, 2]).dataSync();
    const ref = new Rng(7);
    ref.normal(shape);
    assert.deepEqual(r.uniformArray(4), ref.uniformArray(4), `rho ${rho}: the stream after the draw`);
    for (let c = 0; c < 3; c++)
      for (const f of [0, 2])
        for (let i = 0; i < plane; i++) {
          const at = (c * 5 + f) * plane + i;
          assert.equal(e[at], iid[at], `rho ${rho}: channel ${c}, shot start ${f} is the drawn noise`);
        }
    assert.notDeepEqual(e, iid, `rho ${rho}: the other frames are correlated`);
  }
});

test('each element N(0, 1); lag-k correlation rho^k inside a shot, none across a shot start', () => {
  const [C, F, H, W] = [2, 10, 40, 40];
  const rho = 0.8;
  const e = frameNoise(new Rng(11), [C, F, H, W], rho, [0, 6]).dataSync();
  const plane = H * W;
  const frame = (f: number) => {
    const out: number[] = [];
    for (let c = 0; c < C; c++) for (let i = 0; i < plane; i++) out.push(e[(c * F + f) * plane + i]);
    return out;
  };
  const corr = (a: number[], b: number[]) => {
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i] * b[i];
    return s / a.length; // both are zero-mean, unit-variance by construction
  };
  // 3,200 samples per frame pair: one standard error is about 0.018
  for (let f = 0; f < F; f++) {
    const x = frame(f);
    const mean = x.reduce((a, b) => a + b, 0) / x.length;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / x.length;
    assert.ok(
      Math.abs(mean) < 0.06 && Math.abs(variance - 1) < 0.08,
      `frame ${f}: mean ${mean}, variance ${variance}`,
    );
  }
  for (const [a, b, want] of [
    [0, 1, rho],
    [3, 4, rho],
    [1, 3, rho ** 2],
    [0, 5, rho ** 5],
    [6, 7, rho],
    [5, 6, 0], // across the shot start at 6
    [4, 8, 0],
  ] as const) {
    const r = corr(frame(a), frame(b));
    assert.ok(
      Math.abs(r - want) < 0.06,
      `frames ${a}-${b}: correlation ${r.toFixed(3)}, want ${want.toFixed(3)}`,
    );
  }
});

test('bad correlation or shape is refused, naming it', () => {
  for (const rho of [1, -0.1, 1.5, Number.NaN]) {
    assert.equal(checkNoiseCorrelation(rho), false, String(rho));
    assert.throws(
      () => frameNoise(new Rng(1), [1, 2, 2, 2], rho),
      /correlation between latent frames must be in \[0, 1\)/,
    );
  }
  assert.throws(() => frameNoise(new Rng(1), [2, 8], 0.5), /needs a latent \[C, F, H, W\], got \[2,8\]/);
  assert.deepEqual(frameNoise(new Rng(1), [2, 8], 0).shape, [2, 8], 'rho 0 takes any shape');
});
