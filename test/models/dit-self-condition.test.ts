/**
 * Self-conditioning (models/presets.ts `selfCondition`): the DiT's previous-estimate input, its
 * training draw (objective.ts `selfCondition`) and the sampler's use of it (`samplingVelocity`).
 *   - grown from a DiT without it (with or without known-frame conditioning), the model gives the
 *     source's output whatever estimate is passed, until its zero columns move; then it reads it,
 *     and no estimate is the zero estimate;
 *   - training draws one uniform per example and only then; an example that draws it runs a first
 *     pass without gradient and the second pass reads that pass's x0;
 *   - sampling hands each evaluation the x0 of the one before (none at the first).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initVideoDiT, type VideoDiT, videoDiT } from '../../src/models/dit/dit.js';
import { growDiT } from '../../src/models/dit/grow.js';
import { type Denoiser, denoiser, samplingVelocity, trainingLoss } from '../../src/models/dit/objective.js';
import { checkModelConfig } from '../../src/pipeline/model-config.js';
import { checkDitRecipe } from '../../src/pipeline/train-dit.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, type Tensor, tidy } from '../../src/tensor/tensor.js';
import { microConfig, microRecipe } from '../pipeline/helpers.js';
import { MICRO_DIT, microInput, moveOffInit, weightsOf } from './micro-dit.js';

const out = (m: VideoDiT, input: Parameters<typeof videoDiT>[1]) =>
  Array.from(videoDiT(m, input).velocity.dataSync() as Float32Array);

test('a self-conditioned DiT grown from one without it gives identical output with any estimate, then reads it', () =>
  tidy(() => {
    const rng = new Rng(5);
    const source = initVideoDiT(MICRO_DIT, rng.fork(1));
    moveOffInit(source, rng.fork(2), 0.3);
    const input = microInput(rng.fork(3));
    const want = out(source, input);
    for (const conditioning of [false, true]) {
      const grown = initVideoDiT({ ...MICRO_DIT, conditioning, selfCondition: true }, rng.fork(4));
      const channels = 2 + (conditioning ? 3 : 0) + 2;
      assert.deepEqual(grown.params.patchEmbed.weight.shape, [16, channels * 4], 'widened patch embedding');
      growDiT(grown, weightsOf(source));
      assert.deepEqual(out(grown, input), want, `conditioning ${conditioning}: no estimate`);
      const previous = rng.normal([2, 4, 4, 4], 3);
      assert.deepEqual(out(grown, { ...input, previous }), want, `conditioning ${conditioning}: an estimate`);
      moveOffInit(grown, rng.fork(6), 0.3);
      const none = out(grown, input);
      assert.notDeepEqual(out(grown, { ...input, previous }), none, 'the estimate is read');
      const zeros = fromArray(new Float32Array(128), [2, 4, 4, 4]);
      assert.deepEqual(out(grown, { ...input, previous: zeros }), none, 'no estimate is the zero estimate');
    }
    // the grown model grows on: a conditioned, self-conditioned model from a conditioned source
    const cond = initVideoDiT({ ...MICRO_DIT, conditioning: true }, rng.fork(7));
    moveOffInit(cond, rng.fork(8), 0.3);
    const both = initVideoDiT({ ...MICRO_DIT, conditioning: true, selfCondition: true }, rng.fork(9));
    growDiT(both, weightsOf(cond));
    const given = { latent: rng.normal([2, 4, 4, 4]), frames: [1, 0, 0, 0] };
    assert.deepEqual(
      out(both, { ...input, given, previous: rng.normal([2, 4, 4, 4]) }),
      out(cond, { ...input, given }),
      'conditioned source: the given-frame columns keep their place',
    );
    assert.throws(
      () => videoDiT(source, { ...input, previous: rng.normal([2, 4, 4, 4]) }),
      /no self-conditioning input/,
    );
  }));

/** A denoiser that records the previous estimates it is given and predicts x_t * 0.5 + k. */
function recorder(shape: number[]) {
  const seen: (number | null)[] = [];
  let calls = 0;
  const net: Denoiser = {
    textDim: 8,
    selfCondition: true,
    condition: () => ({
      run: (latents, _ts, previous) => {
        calls++;
        return {
          velocities: latents.map((x, b) => {
            const p = previous?.[b];
            seen.push(p ? (p.dataSync() as Float32Array)[0] : null);
            return fromArray(
              (x.dataSync() as Float32Array).map((v) => 0.5 * v + calls),
              shape,
            );
          }),
          balanceLosses: [],
        };
      },
      dispose() {},
    }),
  };
  return { net, seen, calls: () => calls };
}

test('self-conditioned training: one uniform per example; a drawn example reads its own first-pass x0', () =>
  tidy(() => {
    const rng = new Rng(2);
    const shape = [2, 4, 4, 4];
    const batch = [0, 1, 2, 3].map(() => ({
      latents: rng.normal(shape),
      text: { shots: [{ frames: 4, caption: rng.normal([2, 8]) }] },
    }));
    const opts = { prediction: 'data' as const, sampling: { kind: 'uniform' as const }, captionDropout: 0 };
    for (const batched of [false, true]) {
      const without = new Rng(3);
      trainingLoss(recorder(shape).net, batch, without, { ...opts, batched });
      const r = recorder(shape);
      const rr = new Rng(3);
      trainingLoss(r.net, batch, rr, { ...opts, batched, selfCondition: 1 });
      assert.equal(rr.offset - without.offset, 4, `batched ${batched}: one block per example`);
      // every example: a first pass without an estimate, then one with that pass's output (data
      // prediction: the x0 is the output itself, 0.5 x_t + k of the first pass's call k)
      const firsts = r.seen.filter((v) => v === null).length;
      assert.equal(firsts, 4, `batched ${batched}: first passes ${r.seen}`);
      assert.equal(r.seen.length, 8);
      const never = recorder(shape);
      trainingLoss(never.net, batch, new Rng(3), { ...opts, batched, selfCondition: 0 });
      assert.deepEqual(
        never.seen,
        [null, null, null, null],
        'probability 0: one pass per example, no estimate',
      );
    }
    assert.throws(
      () =>
        trainingLoss(denoiser(initVideoDiT(MICRO_DIT, rng.fork(1))), batch, new Rng(1), {
          ...opts,
          selfCondition: 0.5,
        }),
      /needs a network with a self-conditioning input/,
    );
  }));

test('sampling: each evaluation reads the x0 estimate of the one before, none at the first', () =>
  tidy(() => {
    const shape = [2, 4, 4, 4];
    const r = recorder(shape);
    const text = { shots: [{ frames: 4, caption: new Rng(1).normal([2, 8]) }] };
    const v = samplingVelocity(r.net, text, 1, 'velocity', shape);
    const x = fromArray(new Float32Array(128).fill(2), shape);
    const results: Tensor[] = [];
    for (const t of [0.9, 0.5, 0.2]) results.push(v.velocity(x, t));
    // velocity prediction: x0 = x - t f, f = 0.5 x + call = 1 + call
    assert.equal(r.seen[0], null);
    assert.equal(r.seen.length, 3);
    [2 - 0.9 * 2, 2 - 0.5 * 3].forEach((want, i) =>
      assert.ok(
        Math.abs((r.seen[i + 1] ?? Number.NaN) - want) < 1e-6,
        `evaluation ${i + 1}: ${r.seen[i + 1]}`,
      ),
    );
    assert.equal(r.calls(), 3);
    v.dispose();
  }));

test('a recipe with selfCondition needs a self-conditioned DiT and a probability', () => {
  const r = microRecipe('/tmp/none');
  assert.throws(
    () => checkDitRecipe({ ...r, selfCondition: 0.5 }),
    /selfCondition needs dit.selfCondition: true/,
  );
  const on = { ...r, dit: { ...r.dit, selfCondition: true } };
  assert.throws(() => checkDitRecipe({ ...on, selfCondition: 1.5 }), /selfCondition must be a probability/);
  checkDitRecipe({ ...on, selfCondition: 0.5 });
  assert.throws(
    () =>
      checkModelConfig(
        { ...microConfig(), dit: { ...microConfig().dit, selfCondition: 'yes' as never } },
        (m) => {
          throw new Error(m);
        },
      ),
    /dit.selfCondition must be true or false/,
  );
});
