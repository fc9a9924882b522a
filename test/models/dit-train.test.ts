/**
 * The tiny VideoDiT overfits a fixed batch: fixed latents, noise, times and captions, so the
 * rectified-flow loss has no irreducible part and a working model + autodiff must drive it down.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initVideoDiT } from '../../src/models/dit/dit.js';
import { ditFlowLoss, type VideoExample } from '../../src/models/dit/flow-loss.js';
import { emptyText } from '../../src/models/dit/text.js';
import { DIT_PRESETS, type DiTConfig } from '../../src/models/presets.js';
import { paramList } from '../../src/nn/params.js';
import { Rng } from '../../src/tensor/random.js';
import { tidy } from '../../src/tensor/tensor.js';
import { trainLoop } from '../../src/train/loop.js';

/** A narrower model for the loss-function checks. */
const MICRO: DiTConfig = {
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

test('the tiny preset VideoDiT overfits a fixed batch (flow MSE falls >= 10x)', () => {
  // DIT_PRESETS.tiny as it ships (dim 64, 2 layers, MoGA + STGA attention, 16 latent channels) on
  // 2 latent frames of 8x8 (32 tokens per sample, two shots each), batch of 2
  const cfg = DIT_PRESETS.tiny;
  const rng = new Rng(42);
  const model = initVideoDiT(cfg, rng.fork(1));
  const data = rng.fork(2);
  const batch: VideoExample[] = [0, 1].map(() => ({
    latents: data.normal([cfg.latentChannels, 2, 8, 8]),
    text: {
      shots: [
        { frames: 1, caption: data.normal([3, cfg.textDim]) },
        { frames: 1, caption: data.normal([4, cfg.textDim]) },
      ],
      global: data.normal([2, cfg.textDim]),
    },
  }));
  const mses: number[] = [];
  let mse = 0;
  const start = performance.now();
  trainLoop({
    params: model.params as never,
    // the same seed every step: the same times and noise, so the batch is fixed
    lossFn: (b: VideoExample[]) => {
      const r = ditFlowLoss(model, b, new Rng(7), { sampling: { kind: 'logit-normal' } });
      mse = r.mse;
      return r.loss;
    },
    nextBatch: () => batch,
    steps: 30, // measured: 10x at step 21, 26x at step 30
    adamw: { lr: 1e-2, weightDecay: 0 },
    progress: 'none',
    onStep: () => mses.push(mse),
  });
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

test('ditFlowLoss is reproducible from the RNG state; caption dropout 1 trains on the empty text', () =>
  tidy(() => {
    const rng = new Rng(3);
    const model = initVideoDiT(MICRO, rng.fork(1));
    for (const p of paramList(model.params as never)) {
      const n = rng.normalArray(p.size);
      p.backend.write(
        p.storage,
        (p.dataSync() as Float32Array).map((v, i) => v + 0.2 * n[i]),
      );
    }
    const text = { shots: [{ frames: 2, caption: rng.normal([3, MICRO.textDim]) }] };
    const batch: VideoExample[] = [{ latents: rng.normal([MICRO.latentChannels, 2, 4, 4]), text }];
    const opts = { sampling: { kind: 'uniform' } as const };
    const a = ditFlowLoss(model, batch, new Rng(5, 10), opts);
    const b = ditFlowLoss(model, batch, new Rng(5, 10), opts);
    const c = ditFlowLoss(model, batch, new Rng(5, 11), opts);
    assert.equal(a.loss.item(), b.loss.item());
    assert.notEqual(a.loss.item(), c.loss.item());
    assert.ok(a.balance > 0, 'the routed layers add their balancing loss');
    assert.ok(Math.abs(a.loss.item() - (a.mse + a.balance)) < 1e-5);
    const dropped = ditFlowLoss(model, batch, new Rng(5, 10), { ...opts, captionDropout: 1 });
    const empty = ditFlowLoss(
      model,
      [{ ...batch[0], text: emptyText(text, MICRO.textDim) }],
      new Rng(5, 10),
      opts,
    );
    assert.ok(Math.abs(dropped.loss.item() - empty.loss.item()) < 1e-6);
    assert.notEqual(dropped.loss.item(), a.loss.item());
    // samples with different shot layouts run in separate groups; the loss stays the batch mean
    const cut = { shots: [text.shots[0], { frames: 1, caption: rng.normal([2, MICRO.textDim]) }] };
    const mixed: VideoExample[] = [
      batch[0],
      {
        latents: rng.normal([MICRO.latentChannels, 2, 4, 4]),
        text: { shots: [{ ...text.shots[0], frames: 1 }, cut.shots[1]] },
      },
    ];
    const r = ditFlowLoss(model, mixed, new Rng(5, 10), opts);
    assert.ok(Number.isFinite(r.loss.item()) && r.mse > 0);
    assert.ok(Math.abs(r.loss.item() - (r.mse + r.balance)) < 1e-5);
  }));
