/**
 * The shipped objective (models/dit/objective.ts) checked where the answer is known in closed form.
 * A hand-set `Denoiser` stands in for the DiT: for a toy data set the best possible predictor is
 * the posterior mean E[x0 | x_t], so the loss must be minimal there, the sampler driven by it must
 * land on the data, and the loss value of any hand-set predictor can be recomputed from a replay of
 * the documented RNG draw order. A flipped velocity sign, swapped targets or dropped balancing
 * losses each break one of these.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { sampleT } from '../../src/diffusion/rectified-flow.js';
import { sample } from '../../src/diffusion/sample.js';
import { initVideoDiT } from '../../src/models/dit/dit.js';
import {
  type Denoiser,
  denoiser,
  PREDICTIONS,
  type Prediction,
  samplingVelocity,
  type TrainingExample,
  trainingLoss,
} from '../../src/models/dit/objective.js';
import { emptyText, type MultiShotText } from '../../src/models/dit/text.js';
import { DIT_PRESETS, type DiTConfig } from '../../src/models/presets.js';
import { namedParams } from '../../src/nn/params.js';
import { gradients } from '../../src/tensor/autodiff.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, full, type Tensor, tidy } from '../../src/tensor/tensor.js';
import { moveOffInit } from './micro-dit.js';

const TEXT_DIM = 2;
const SHAPE = [1, 1, 2, 2]; // a 4-value latent
const STAR = [1, -0.5, 0.8, 0.3];

const text = (): MultiShotText => ({ shots: [{ frames: 1, caption: full([2, TEXT_DIM], 1) }] });
const isEmpty = (t: MultiShotText) => t.shots.every((s) => s.caption.dataSync().every((v) => v === 0));
const vals = (t: Tensor) => Array.from(t.dataSync());
const latent = (v: readonly number[]) => fromArray(v, SHAPE);

/** A hand-set network: f(x_t, t, text) on host arrays, plus fixed balancing losses. */
function handSet(
  f: (x: number[], t: number, text: MultiShotText) => number[],
  balance: readonly number[] = [],
): Denoiser {
  return {
    textDim: TEXT_DIM,
    condition: (texts) => ({
      run: (latents, ts) => ({
        velocities: latents.map((x, b) => latent(f(vals(x), ts[b], texts[b]))),
        balanceLosses: balance.map((b) => fromArray([b], [])),
      }),
      dispose: () => {},
    }),
  };
}

/** The posterior mean E[x0 | x_t] when x0 is +a or -a with equal probability (x_t ~ N((1-t) x0, t^2)). */
function posteriorMean(a: readonly number[], x: readonly number[], t: number): number[] {
  const dot = a.reduce((s, ai, i) => s + ai * x[i], 0);
  const k = Math.tanh(((1 - t) * dot) / (t * t));
  return a.map((ai) => ai * k);
}

/** The optimal network output of each prediction type given the optimal x0_hat. */
function optimal(prediction: Prediction, x0hat: (x: number[], t: number) => number[]) {
  return (x: number[], t: number) => {
    const m = x0hat(x, t);
    if (prediction === 'data') return m;
    if (prediction === 'velocity') return m.map((mi, i) => (x[i] - mi) / t);
    // x0_hat = c_skip x_t + c_out f, written out here (not preconditioning()) so a wrong
    // coefficient there fails
    const s = (1 - t) ** 2 + t * t;
    return m.map((mi, i) => (mi - ((1 - t) / s) * x[i]) / (t / Math.sqrt(s)));
  };
}

const uniform = { kind: 'uniform' } as const;

describe('the DiT objective on toy data (closed form)', () => {
  for (const prediction of PREDICTIONS) {
    test(`${prediction}: one data point, the exact predictor has zero loss and sampling lands on it`, () =>
      tidy(() => {
        const net = handSet(optimal(prediction, () => STAR));
        const batch = [0, 1, 2].map(() => ({ latents: latent(STAR), text: text() }));
        const r = trainingLoss(net, batch, new Rng(1), { prediction, sampling: uniform, captionDropout: 0 });
        assert.ok(r.loss.item() < 1e-10, `loss of the exact predictor is ${r.loss.item()}`);
        const x = vals(
          sample({
            velocity: samplingVelocity(net, text(), 1, prediction, SHAPE).velocity,
            shape: SHAPE,
            sampler: { kind: 'euler' },
            steps: 3,
            seed: 4,
          }),
        );
        x.forEach((v, i) => assert.ok(Math.abs(v - STAR[i]) < 1e-5, `sample ${x} is not ${STAR}`));
      }));

    test(`${prediction}: two data points, the loss is smallest at the posterior mean`, () =>
      tidy(() => {
        // 256 examples, half +a and half -a; every candidate sees the same times and noise
        const batch: TrainingExample[] = Array.from({ length: 256 }, (_, i) => ({
          latents: latent(STAR.map((v) => (i % 2 ? -v : v))),
          text: text(),
        }));
        const lossOf = (x0hat: (x: number[], t: number) => number[]) =>
          trainingLoss(handSet(optimal(prediction, x0hat)), batch, new Rng(9), {
            prediction,
            sampling: uniform,
            captionDropout: 0,
          }).loss.item();
        const best = lossOf((x, t) => posteriorMean(STAR, x, t));
        const others = {
          'x0_hat scaled by 0.8': lossOf((x, t) => posteriorMean(STAR, x, t).map((v) => 0.8 * v)),
          'x0_hat scaled by 1.2': lossOf((x, t) => posteriorMean(STAR, x, t).map((v) => 1.2 * v)),
          'x0_hat shifted by 0.2': lossOf((x, t) => posteriorMean(STAR, x, t).map((v) => v + 0.2)),
          'x0_hat = 0 (the prior mean)': lossOf(() => [0, 0, 0, 0]),
        };
        for (const [what, l] of Object.entries(others))
          assert.ok(best < l, `the posterior mean's loss ${best} is not below ${what}'s ${l}`);
      }));
  }

  test('the loss value is the replayed MSE (draws: all t, then per example noise, dropout) plus the balancing losses', () =>
    tidy(() => {
      const star = [0.5, -1, 2, 0.25];
      // output x_t, plus 1 where the caption was dropped: the loss sees t, the noise and the dropout
      const net = handSet((x, _t, tx) => x.map((v) => v + (isEmpty(tx) ? 1 : 0)), [0.25, 0.125]);
      const batch = [0, 1, 2, 3, 4, 5].map(() => ({ latents: latent(star), text: text() }));
      for (const prediction of PREDICTIONS) {
        const opts = {
          prediction,
          sampling: { kind: 'logit-normal', shift: 3 } as const,
          captionDropout: 0.5,
        };
        const r = trainingLoss(net, batch, new Rng(21, 3), opts);
        const replay = new Rng(21, 3);
        const ts = sampleT(replay, batch.length, opts.sampling);
        let mse = 0;
        let dropped = 0;
        for (const t of ts) {
          const e = replay.normalArray(4);
          const drop = replay.uniformArray(1)[0] < opts.captionDropout;
          dropped += drop ? 1 : 0;
          star.forEach((x0, i) => {
            const xt = (1 - t) * x0 + t * e[i];
            const f = xt + (drop ? 1 : 0); // the hand-set output
            const s = (1 - t) ** 2 + t * t;
            const [pred, target] =
              prediction === 'velocity'
                ? [f, e[i] - x0]
                : [prediction === 'data' ? f : ((1 - t) / s) * xt + (t / Math.sqrt(s)) * f, x0];
            mse += (pred - target) ** 2 / (4 * batch.length);
          });
        }
        assert.ok(dropped > 0 && dropped < batch.length, 'the replay drops some captions, not all');
        assert.ok(Math.abs(r.mse - mse) < 1e-5 * mse, `${prediction}: mse ${r.mse}, replayed ${mse}`);
        assert.ok(Math.abs(r.balance - 0.375) < 1e-7, `balance ${r.balance}`);
        assert.ok(Math.abs(r.loss.item() - (mse + 0.375)) < 1e-5 * mse, `loss ${r.loss.item()}`);
      }
    }));

  test('guidance extrapolates from the empty-caption prediction: x0 = u + w (c - u)', () =>
    tidy(() => {
      const uncond = [0, 0.5, -0.5, 1];
      for (const prediction of PREDICTIONS) {
        const net = handSet((x, t, tx) => optimal(prediction, () => (isEmpty(tx) ? uncond : STAR))(x, t));
        const x = vals(
          sample({
            velocity: samplingVelocity(net, text(), 3, prediction, SHAPE).velocity,
            shape: SHAPE,
            sampler: { kind: 'dpm-solver++', order: 2 },
            steps: 4,
            seed: 2,
          }),
        );
        const want = uncond.map((u, i) => u + 3 * (STAR[i] - u));
        x.forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-4, `${prediction}: ${x} is not ${want}`));
      }
    }));

  test('guidanceUntil: guided while t > it, the conditional branch alone (one pass) below', () =>
    tidy(() => {
      const uncond = [0, 0.5, -0.5, 1];
      const passes: number[] = []; // batch size of each network call
      const base = handSet((_x, _t, tx) => (isEmpty(tx) ? uncond : STAR));
      const net: Denoiser = {
        textDim: TEXT_DIM,
        condition: (texts, shape) => {
          const c = base.condition(texts, shape);
          return {
            ...c,
            run: (xs, ts) => {
              passes.push(xs.length);
              return c.run(xs, ts);
            },
          };
        },
      };
      const v = samplingVelocity(net, text(), 3, 'data', SHAPE, undefined, 0.5);
      const x = latent([0, 0, 0, 0]);
      // data prediction: v = (x - x0_hat) / t, so x0_hat = x - t v
      const x0At = (t: number) => vals(v.velocity(x, t)).map((u) => -t * u);
      const guided = uncond.map((u, i) => u + 3 * (STAR[i] - u));
      const [above, below] = [x0At(0.8), x0At(0.5)];
      above.forEach((got, i) => assert.ok(Math.abs(got - guided[i]) < 1e-5, `t 0.8: ${above}`));
      below.forEach((got, i) => assert.ok(Math.abs(got - STAR[i]) < 1e-5, `t 0.5: ${below}`));
      assert.deepEqual(passes, [2, 1], 'two samples above, one below');
      v.dispose();
    }));

  test('an unknown prediction type is refused with the known names', () =>
    assert.throws(
      () =>
        samplingVelocity(
          handSet((x) => x),
          text(),
          1,
          'noise' as Prediction,
          SHAPE,
        ),
      /unknown prediction 'noise' \(known: velocity, data, preconditioned\)/,
    ));
});

/** A narrow DiT with a routed branch in both layers. */
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

/** A micro DiT with every weight moved off its initialisation (adaLN-zero gates included). */
function offInit(rng: Rng) {
  const model = initVideoDiT(MICRO, rng.fork(1));
  moveOffInit(model, rng, 0.2);
  return model;
}

describe('the DiT objective on the real DiT', () => {
  // adaLN-zero makes every block the identity at initialisation, so the MSE does not depend on the
  // routers yet: their whole gradient comes from the balancing losses, and is zero without them
  test('at initialisation the routers learn from the balancing losses', () =>
    tidy(() => {
      const rng = new Rng(3);
      const model = initVideoDiT(MICRO, rng.fork(1));
      const routers = namedParams(model.params as never).filter(([name]) => name.includes('router'));
      assert.equal(routers.length, MICRO.layers);
      for (const [, p] of routers) p.requiresGrad = true;
      const batch = [
        { latents: rng.normal([4, 2, 4, 4]), text: { shots: [{ frames: 2, caption: rng.normal([3, 16]) }] } },
      ];
      const r = trainingLoss(denoiser(model), batch, new Rng(5), {
        prediction: 'data',
        sampling: uniform,
        captionDropout: 0,
      });
      assert.ok(r.balance > 0, 'the routed layers report a balancing loss');
      const grads = gradients(
        r.loss,
        routers.map(([, p]) => p),
      );
      for (const [i, g] of grads.entries()) {
        const norm = Math.sqrt(vals(g!).reduce((s, v) => s + v * v, 0));
        assert.ok(norm > 1e-6, `router ${routers[i][0]} gets no gradient (|g| = ${norm})`);
      }
    }));

  test('reproducible from the RNG state; caption dropout 1 trains on the empty text; any layouts mix', () =>
    tidy(() => {
      const rng = new Rng(3);
      const model = offInit(rng);
      const net = denoiser(model);
      const tx = { shots: [{ frames: 2, caption: rng.normal([3, MICRO.textDim]) }] };
      const batch = [{ latents: rng.normal([MICRO.latentChannels, 2, 4, 4]), text: tx }];
      const opts = { prediction: 'velocity', sampling: uniform, captionDropout: 0 } as const;
      const a = trainingLoss(net, batch, new Rng(5, 10), opts);
      const b = trainingLoss(net, batch, new Rng(5, 10), opts);
      const c = trainingLoss(net, batch, new Rng(5, 11), opts);
      assert.equal(a.loss.item(), b.loss.item());
      assert.notEqual(a.loss.item(), c.loss.item());
      assert.ok(Math.abs(a.loss.item() - (a.mse + a.balance)) < 1e-5);
      const dropped = trainingLoss(net, batch, new Rng(5, 10), { ...opts, captionDropout: 1 });
      const empty = trainingLoss(
        net,
        [{ ...batch[0], text: emptyText(tx, MICRO.textDim) }],
        new Rng(5, 10),
        opts,
      );
      assert.equal(dropped.loss.item(), empty.loss.item());
      assert.notEqual(dropped.loss.item(), a.loss.item());
      // examples run one forward each, so different shot layouts share a batch
      const mixed = [
        batch[0],
        {
          latents: rng.normal([MICRO.latentChannels, 2, 4, 4]),
          text: {
            shots: [
              { ...tx.shots[0], frames: 1 },
              { frames: 1, caption: rng.normal([2, 16]) },
            ],
          },
        },
      ];
      const m = trainingLoss(net, mixed, new Rng(5, 10), opts);
      assert.ok(Number.isFinite(m.loss.item()) && m.mse > 0);
      assert.ok(Math.abs(m.loss.item() - (m.mse + m.balance)) < 1e-5);
    }));

  test('batched: examples of one layout share a pass with the same draws; other layouts get their own', () =>
    tidy(() => {
      const rng = new Rng(8);
      const model = offInit(rng);
      const net = denoiser(model);
      const calls: number[] = [];
      const counting: Denoiser = {
        textDim: net.textDim,
        condition: (texts, shape) => {
          calls.push(texts.length);
          return net.condition(texts, shape);
        },
      };
      const frame = (n: number) => ({
        latents: rng.normal([MICRO.latentChannels, 1, 4, 4]),
        text: { shots: [{ frames: 1, caption: rng.normal([n, MICRO.textDim]) }] },
      });
      const clip = {
        latents: rng.normal([MICRO.latentChannels, 2, 4, 4]),
        text: { shots: [{ frames: 2, caption: rng.normal([3, MICRO.textDim]) }] },
      };
      const batch = [frame(2), clip, frame(3), frame(4)];
      const opts = { prediction: 'data', sampling: uniform, captionDropout: 0.5 } as const;
      const one = trainingLoss(counting, batch, new Rng(5, 10), opts);
      assert.deepEqual(calls, [1, 1, 1, 1]);
      calls.length = 0;
      const b = trainingLoss(counting, batch, new Rng(5, 10), { ...opts, batched: true });
      assert.deepEqual(calls, [3, 1], 'the three single frames in one pass, the clip in its own');
      // each sample's output does not depend on its batch-mates, so the MSE is the per-example one;
      // the balancing loss is now taken over the pass's tokens
      assert.ok(Math.abs(b.mse - one.mse) < 1e-5 * one.mse, `mse ${b.mse} vs ${one.mse}`);
      assert.ok(b.balance > 0, `balance ${b.balance}`);
      const l = b.loss.item();
      assert.ok(Math.abs(l - (b.mse + b.balance)) < 1e-5, `loss ${l} vs mse + balance ${b.mse + b.balance}`);
      // with one example per layout the two forms are the same computation
      const alone = [frame(2), clip];
      const u = trainingLoss(net, alone, new Rng(6), opts);
      const v = trainingLoss(net, alone, new Rng(6), { ...opts, batched: true });
      const [lu, lv] = [u.loss.item(), v.loss.item()];
      assert.ok(Math.abs(lu - lv) < 1e-6 * Math.abs(lu), `per-example ${lu} vs batched ${lv}`);
    }));
});
