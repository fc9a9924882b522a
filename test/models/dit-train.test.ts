/**
 * The tiny VideoDiT overfits a fixed batch: fixed latents, noise, times and captions, so the
 * rectified-flow loss has no irreducible part and a working model + autodiff must drive it down.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { flowLoss, noisedExample } from '../../src/diffusion/rectified-flow.js';
import { initVideoDiT, videoDiT } from '../../src/models/dit/dit.js';
import type { MultiShotText } from '../../src/models/dit/text.js';
import { DIT_PRESETS, type DiTConfig } from '../../src/models/presets.js';
import { paramList, trainable } from '../../src/nn/params.js';
import { gradients } from '../../src/tensor/autodiff.js';
import { add, mul } from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { type Tensor, tidy } from '../../src/tensor/tensor.js';

/** Small enough for 2 shared cores: 2 latent frames of 8x8 -> 32 tokens, width 32, 2 layers. */
export const MICRO: DiTConfig = {
  ...DIT_PRESETS.tiny,
  dim: 32,
  heads: 2,
  ffnDim: 64,
  layers: 2,
  latentChannels: 4,
  textDim: 16,
  freqDim: 32,
  attention: { ...DIT_PRESETS.tiny.attention, groups: 2 },
};

/** Minimal Adam (the training core's AdamW is tested on its own). Updates parameters in place. */
function adam(params: Tensor[], lr: number, b1 = 0.9, b2 = 0.999, eps = 1e-8) {
  const m = params.map((p) => new Float32Array(p.size));
  const v = params.map((p) => new Float32Array(p.size));
  let step = 0;
  return (grads: (Tensor | undefined)[]) => {
    step++;
    params.forEach((p, i) => {
      const g = grads[i]?.dataSync() as Float32Array | undefined;
      if (!g) return;
      const w = (p.dataSync() as Float32Array).slice();
      for (let j = 0; j < w.length; j++) {
        m[i][j] = b1 * m[i][j] + (1 - b1) * g[j];
        v[i][j] = b2 * v[i][j] + (1 - b2) * g[j] * g[j];
        w[j] -= (lr * (m[i][j] / (1 - b1 ** step))) / (Math.sqrt(v[i][j] / (1 - b2 ** step)) + eps);
      }
      p.backend.write(p.storage, w);
    });
  };
}

test('a tiny VideoDiT overfits a fixed batch (flow MSE falls >= 10x)', () => {
  const rng = new Rng(42);
  const model = initVideoDiT(MICRO, rng.fork(1));
  const params = paramList(trainable(model.params as never));
  const data = rng.fork(2);
  const batch = [0.3, 0.7].map((t) => {
    const text: MultiShotText = {
      shots: [
        { frames: 1, caption: data.normal([3, MICRO.textDim]) },
        { frames: 1, caption: data.normal([4, MICRO.textDim]) },
      ],
      global: data.normal([2, MICRO.textDim]),
    };
    const x0 = data.normal([MICRO.latentChannels, 2, 8, 8]);
    return { t, text, ...noisedExample(x0, data.normal(x0.shape), t) };
  });
  const step = adam(params, 1e-2);
  const mses: number[] = [];
  const start = performance.now();
  for (let it = 0; it < 120; it++) {
    const { mse, grads } = tidy(() => {
      let loss: Tensor | undefined;
      let mseSum = 0;
      for (const ex of batch) {
        const out = videoDiT(model, { latents: ex.xt, t: ex.t, text: ex.text });
        const l = flowLoss(out.velocity, ex.target, out.balanceLosses);
        mseSum += l.mse.item() / batch.length;
        loss = loss ? add(loss, l.loss) : l.loss;
      }
      return { mse: mseSum, grads: gradients(mul(loss!, 1 / batch.length), params) };
    });
    step(grads);
    for (const g of grads) g?.dispose();
    mses.push(mse);
    if (mses[0] / mse >= 12) break;
  }
  const secs = (performance.now() - start) / 1000;
  const ratio = mses[0] / mses.at(-1)!;
  console.log(
    `overfit: mse ${mses[0].toFixed(3)} -> ${mses.at(-1)!.toFixed(4)} (${ratio.toFixed(1)}x) in ${mses.length} steps, ${secs.toFixed(1)} s`,
  );
  assert.ok(
    ratio >= 10,
    `flow MSE fell only ${ratio.toFixed(2)}x: ${mses.map((v) => v.toFixed(3)).join(' ')}`,
  );
});
