/**
 * End-to-end gradient check of VideoDiT: directional finite differences of a fixed projection of
 * the velocity against autodiff, for parameters on every path (patch embedding, time embedding and
 * modulation, text embedding, cross-attention, self-attention, FFN, head). Routed groups are
 * piecewise constant in the parameters (argmax), so this uses the smooth static branches. Again
 * with a cell head (config.cellHead), through its convolutions; and with self-conditioning's
 * previous estimate as input.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initVideoDiT, videoDiT } from '../../src/models/dit/dit.js';
import type { DiTConfig } from '../../src/models/presets.js';
import { namedParams } from '../../src/nn/params.js';
import { gradients } from '../../src/tensor/autodiff.js';
import { mul, sum } from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { type Tensor, tidy } from '../../src/tensor/tensor.js';
import { MICRO_DIT, moveOffInit } from './micro-dit.js';

const CFG: DiTConfig = { ...MICRO_DIT, attention: { ...MICRO_DIT.attention, branches: ['window', 'frame'] } };

const PATHS = [
  'patchEmbed.weight',
  'timeEmbed.fc1.weight',
  'textEmbed.fc1.weight',
  'blocks.0.modulation',
  'blocks.0.selfAttn.q.weight',
  'blocks.0.crossAttn.k.weight',
  'blocks.1.crossAttn.q.weight',
  'blocks.1.ffn.fc1.weight',
  'head.modulation',
  'head.proj.weight',
];
const CELL_HEAD = [
  'cellHead.features.weight',
  'cellHead.conv1.weight',
  'cellHead.conv2.weight',
  'cellHead.conv2.bias',
];

test('VideoDiT gradients match directional finite differences on every path', () => checkPaths(CFG, PATHS));

test('... and through a cell head', () =>
  checkPaths({ ...CFG, cellHead: { hidden: 6, features: 3 } }, [...PATHS.slice(-3), ...CELL_HEAD], 3e-3));

test('... and with a previous estimate (config.selfCondition), through its patch-embedding columns', () =>
  checkPaths({ ...CFG, selfCondition: true }, PATHS.slice(0, 4), 1e-2, true));

function checkPaths(cfg: DiTConfig, chosen: string[], fdStep = 1e-2, previous = false) {
  tidy(() => {
    const rng = new Rng(17);
    const model = initVideoDiT(cfg, rng.fork(1));
    const named = namedParams(model.params as never);
    moveOffInit(model, rng.fork(2), 0.3); // so every path carries gradient
    const latents = rng.normal([2, 2, 4, 4]);
    const text = {
      shots: [
        { frames: 1, caption: rng.normal([2, 8]) },
        { frames: 1, caption: rng.normal([3, 8]) },
      ],
      global: rng.normal([1, 8]),
    };
    const proj = rng.normal([2, 2, 4, 4]);
    const prev = previous ? { previous: rng.normal([2, 2, 4, 4]) } : {};
    const loss = () => sum(mul(videoDiT(model, { latents, t: 0.6, text, ...prev }).velocity, proj));
    const params = chosen.map((n) => {
      const hit = named.find(([k]) => k === n);
      assert.ok(hit, `parameter ${n} exists (have ${named.map(([k]) => k).join(', ')})`);
      hit[1].requiresGrad = true;
      return hit[1];
    });
    const grads = gradients(loss(), params);
    params.forEach((p, i) => {
      const d = rng.normalArray(p.size);
      const g = grads[i]!.dataSync() as Float32Array;
      const analytic = g.reduce((s, v, j) => s + v * d[j], 0);
      const w0 = (p.dataSync() as Float32Array).slice();
      const at = (h: number): number => {
        p.backend.write(
          p.storage,
          w0.map((v, j) => v + h * d[j]),
        );
        return tidy(() => (loss() as Tensor).item());
      };
      const h = fdStep;
      const numeric = (at(h) - at(-h)) / (2 * h);
      p.backend.write(p.storage, w0);
      assert.ok(
        Math.abs(analytic - numeric) <= 0.01 * Math.abs(numeric) + 0.01,
        `${chosen[i]}: autodiff ${analytic} vs finite difference ${numeric}`,
      );
    });
  });
}
