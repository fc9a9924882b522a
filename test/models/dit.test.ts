/** VideoDiT structure: patchify layout, the multi-shot text plan, shot isolation, adaLN-zero init, errors. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { validatePlan } from '../../src/attention/plan.js';
import { getBackend } from '../../src/backends/registry.js';
import { guide, guidedVelocity } from '../../src/diffusion/guidance.js';
import { sample } from '../../src/diffusion/sample.js';
import {
  conditionDiT,
  embedInputs,
  initVideoDiT,
  type VideoDiT,
  videoDiT,
  videoDiTBatch,
} from '../../src/models/dit/dit.js';
import { ditBlock } from '../../src/models/dit/dit-block.js';
import { denoiser, samplingVelocity } from '../../src/models/dit/objective.js';
import { patchify, unpatchify } from '../../src/models/dit/patch.js';
import { emptyText, type MultiShotText, shotTextPlan } from '../../src/models/dit/text.js';
import { DIT_PRESETS, type DiTConfig, FULL_ATTENTION } from '../../src/models/presets.js';
import { paramList } from '../../src/nn/params.js';
import { arange, reshape } from '../../src/tensor/ops.js';
import { Rng } from '../../src/tensor/random.js';
import { fromArray, type Tensor, tidy } from '../../src/tensor/tensor.js';

const MICRO: DiTConfig = {
  ...DIT_PRESETS.tiny,
  dim: 24,
  heads: 2,
  ffnDim: 32,
  layers: 2,
  latentChannels: 3,
  textDim: 8,
  freqDim: 16,
  attention: { ...DIT_PRESETS.tiny.attention, groups: 2 },
};

/** Moves every parameter off its (partly zero) initialisation so that all paths carry signal. */
function perturb(model: VideoDiT, seed: number): VideoDiT {
  const rng = new Rng(seed);
  for (const p of paramList(model.params as never)) {
    const w = (p.dataSync() as Float32Array).slice();
    const n = rng.normalArray(w.length);
    for (let i = 0; i < w.length; i++) w[i] += 0.3 * n[i];
    p.backend.write(p.storage, w);
  }
  return model;
}

function threeShots(rng: Rng, textDim: number): MultiShotText {
  return {
    shots: [
      { frames: 1, caption: rng.normal([2, textDim]) },
      { frames: 2, caption: rng.normal([3, textDim]) },
      { frames: 1, caption: rng.normal([1, textDim]) },
    ],
    global: rng.normal([2, textDim]),
  };
}

const vals = (t: Tensor) => Array.from(t.dataSync());

describe('patchify', () => {
  test('token n = (f H + y) W + x holds its patch, channel-major, and unpatchify inverts the head layout', () =>
    tidy(() => {
      const [C, F, H, W] = [2, 2, 4, 6];
      const x = reshape(arange(C * F * H * W, 'float32'), [C, F, H, W]);
      const p = patchify(x, [1, 2, 2]); // (2*2*3, C*4)
      assert.deepEqual(p.shape, [12, 8]);
      const at = (c: number, f: number, h: number, w: number) => ((c * F + f) * H + h) * W + w;
      const row = (f: number, y: number, xx: number) =>
        vals(p).slice(((f * 2 + y) * 3 + xx) * 8, ((f * 2 + y) * 3 + xx + 1) * 8);
      // token (f=1, y=1, x=2): channel c, patch offsets (dy, dx) in (C, pt, ph, pw) order
      const expect = [];
      for (let c = 0; c < C; c++)
        for (let dy = 0; dy < 2; dy++) for (let dx = 0; dx < 2; dx++) expect.push(at(c, 1, 2 + dy, 4 + dx));
      assert.deepEqual(row(1, 1, 2), expect);
      // the head emits (pt, ph, pw, C) per token: build that layout from x and invert it
      const head = new Float32Array(12 * 8);
      const xv = vals(x);
      for (let f = 0; f < 2; f++)
        for (let y = 0; y < 2; y++)
          for (let xx = 0; xx < 3; xx++)
            for (let dy = 0; dy < 2; dy++)
              for (let dx = 0; dx < 2; dx++)
                for (let c = 0; c < C; c++)
                  head[((f * 2 + y) * 3 + xx) * 8 + (dy * 2 + dx) * C + c] =
                    xv[at(c, f, 2 * y + dy, 2 * xx + dx)];
      assert.deepEqual(
        vals(unpatchify(fromArray(head, [12, 8]), C, { frames: 2, height: 2, width: 3 }, [1, 2, 2])),
        xv,
      );
    }));
});

describe('multi-shot text plan', () => {
  test('a video token sees exactly its own shot caption plus the global caption', () => {
    const tokensPerFrame = 6;
    const shotFrames = [1, 2, 1];
    const starts = [0, 1, 3].map((f) => f * tokensPerFrame);
    const n = 4 * tokensPerFrame;
    const lens = [2, 3, 1];
    const globalLen = 2;
    const plan = shotTextPlan(starts, n, lens, globalLen);
    validatePlan(plan, n, globalLen + 6);
    const ownRows = [[2, 3], [4, 5, 6], [7]];
    const seen = new Int32Array(n);
    for (let s = 0; s < 3; s++) {
      const kv = Array.from(plan.kvIndex.subarray(plan.kvOffsets[s], plan.kvOffsets[s + 1])).sort(
        (a, b) => a - b,
      );
      assert.deepEqual(kv, [0, 1, ...ownRows[s]], `segment ${s} keys`);
      for (const q of plan.qIndex.subarray(plan.qOffsets[s], plan.qOffsets[s + 1])) {
        const frame = Math.floor(q / tokensPerFrame);
        const shot = frame < shotFrames[0] ? 0 : frame < shotFrames[0] + shotFrames[1] ? 1 : 2;
        assert.equal(shot, s, `token ${q} (frame ${frame}, shot ${shot}) sits in segment ${s}`);
        seen[q]++;
      }
    }
    assert.ok(
      seen.every((c) => c === 1),
      'every video token is in exactly one segment',
    );
    // without a global caption the keys are only the shot's own rows
    const bare = shotTextPlan(starts, n, lens, 0);
    assert.deepEqual(Array.from(bare.kvIndex.subarray(bare.kvOffsets[1], bare.kvOffsets[2])), [2, 3, 4]);
  });

  test('emptyText keeps the shot layout with one zero row per caption and no global', () =>
    tidy(() => {
      const e = emptyText(threeShots(new Rng(1), 8), 8);
      assert.deepEqual(
        e.shots.map((s) => [s.frames, ...s.caption.shape]),
        [
          [1, 1, 8],
          [2, 1, 8],
          [1, 1, 8],
        ],
      );
      assert.equal(e.global, undefined);
      assert.ok(vals(e.shots[0].caption).every((v) => v === 0));
    }));
});

describe('VideoDiT', () => {
  const latentShape = [MICRO.latentChannels, 4, 4, 6];

  test('adaLN-zero: at initialisation every block is the identity and the velocity is zero', () =>
    tidy(() => {
      const rng = new Rng(3);
      const model = initVideoDiT(MICRO, rng.fork(1));
      const text = threeShots(rng.fork(2), MICRO.textDim);
      const out = videoDiT(model, { latents: rng.normal(latentShape), t: 0.4, text });
      assert.deepEqual(out.velocity.shape, latentShape);
      assert.ok(vals(out.velocity).every((v) => v === 0));
      assert.equal(out.balanceLosses.length, MICRO.layers, 'one balancing loss per routed layer');
      for (const b of out.balanceLosses) assert.ok(b.item() > 0 && Number.isFinite(b.item()));
      // a block alone, on random input, returns its input exactly
      const x = rng.normal([1, 4 * 2 * 3, MICRO.dim]);
      const cond = conditionDiT(model, [text], latentShape);
      const { ctx } = embedInputs(model, cond, [rng.normal(latentShape)], [0.4]);
      const y = ditBlock(model.params.blocks[0], ctx, x).x;
      assert.deepEqual(vals(y), vals(x));
    }));

  test('shot isolation: with per-frame self-attention, changing shot 1 caption changes only shot 1 frames', () =>
    tidy(() => {
      const rng = new Rng(5);
      const cfg: DiTConfig = { ...MICRO, attention: { ...MICRO.attention, branches: ['frame'] } };
      const model = perturb(initVideoDiT(cfg, rng.fork(1)), 9);
      const text = threeShots(rng.fork(2), cfg.textDim);
      const latents = rng.normal(latentShape);
      const changed: MultiShotText = {
        ...text,
        shots: text.shots.map((s, i) => (i === 1 ? { ...s, caption: rng.normal(s.caption.shape) } : s)),
      };
      const diffPerFrame = frameDiffs(
        videoDiT(model, { latents, t: 0.5, text }).velocity,
        videoDiT(model, { latents, t: 0.5, text: changed }).velocity,
      );
      // shot 1 = latent frames 1 and 2
      assert.equal(diffPerFrame[0], 0);
      assert.equal(diffPerFrame[3], 0);
      assert.ok(diffPerFrame[1] > 1e-3 && diffPerFrame[2] > 1e-3, `shot 1 frames changed: ${diffPerFrame}`);
      // the global caption reaches every shot
      const g = frameDiffs(
        videoDiT(model, { latents, t: 0.5, text }).velocity,
        videoDiT(model, { latents, t: 0.5, text: { ...text, global: rng.normal(text.global!.shape) } })
          .velocity,
      );
      assert.ok(
        g.every((d) => d > 1e-3),
        `global caption changes all frames: ${g}`,
      );
    }));

  test('control: with full self-attention a shot caption does spread to other shots (the isolation test can fail)', () =>
    tidy(() => {
      const rng = new Rng(5);
      const model = perturb(initVideoDiT({ ...MICRO, attention: FULL_ATTENTION }, rng.fork(1)), 9);
      const text = threeShots(rng.fork(2), MICRO.textDim);
      const latents = rng.normal(latentShape);
      const changed = {
        ...text,
        shots: text.shots.map((s, i) => (i === 1 ? { ...s, caption: rng.normal(s.caption.shape) } : s)),
      };
      const d = frameDiffs(
        videoDiT(model, { latents, t: 0.5, text }).velocity,
        videoDiT(model, { latents, t: 0.5, text: changed }).velocity,
      );
      assert.ok(d[0] > 1e-4, `frame 0 changed through self-attention: ${d}`);
    }));

  test('guided sampling through the model is seeded and deterministic', () =>
    tidy(() => {
      const rng = new Rng(8);
      const model = perturb(initVideoDiT(MICRO, rng.fork(1)), 2);
      const text = threeShots(rng.fork(2), MICRO.textDim);
      const run = (scale: number) =>
        vals(
          sample({
            velocity: samplingVelocity(denoiser(model), text, scale, 'velocity', latentShape).velocity,
            shape: latentShape,
            sampler: { kind: 'dpm-solver++', order: 2 },
            steps: 3,
            shift: 3,
            seed: 1,
          }),
        );
      const a = run(4);
      assert.deepEqual(a, run(4));
      assert.ok(a.every(Number.isFinite));
      assert.notDeepEqual(a, run(1), 'guidance changes the sample');
      // the helper (one batched pass) is v_empty + w (v_text - v_empty) with emptyText's caption
      const x = rng.normal(latentShape);
      const byHand = guidedVelocity(
        (latents, t) => videoDiT(model, { latents, t, text }).velocity,
        (latents, t) => videoDiT(model, { latents, t, text: emptyText(text, MICRO.textDim) }).velocity,
        4,
      )(x, 0.6);
      const helper = samplingVelocity(denoiser(model), text, 4, 'velocity', latentShape).velocity(x, 0.6);
      const hv = vals(helper);
      const bv = vals(byHand);
      assert.ok(
        hv.every((v, i) => Math.abs(v - bv[i]) < 1e-5),
        'batched guidance matches two separate passes',
      );
    }));

  test('conditioning prepared once gives the same bits as conditioning every pass, and is freed', () => {
    const rng = new Rng(21);
    const model = perturb(initVideoDiT(MICRO, rng.fork(1)), 6);
    const text = threeShots(rng.fork(2), MICRO.textDim);
    const empty = emptyText(text, MICRO.textDim);
    const noise = rng.normal(latentShape);
    const opts = {
      shape: latentShape,
      sampler: { kind: 'dpm-solver++', order: 2 } as const,
      steps: 3,
      shift: 3,
      noise,
    };
    // uncached: every step conditions the batch of two afresh, as before the cache existed
    const uncached = tidy(() =>
      vals(
        sample({
          ...opts,
          velocity: (latents, t) => {
            const [c, u] = videoDiTBatch(model, [
              { latents, t, text },
              { latents, t, text: empty },
            ]).velocities;
            return guide(c, u, 4);
          },
        }),
      ),
    );
    const live = getBackend().liveBytes();
    const v = samplingVelocity(denoiser(model), text, 4, 'velocity', latentShape);
    const cached = tidy(() => vals(sample({ ...opts, velocity: v.velocity })));
    assert.ok(getBackend().liveBytes() > live, 'the conditioning is held between the steps');
    v.dispose();
    assert.equal(getBackend().liveBytes(), live, 'dispose frees all of the conditioning');
    assert.deepEqual(cached, uncached);
    assert.throws(
      () => v.velocity(rng.normal([MICRO.latentChannels, 2, 4, 6]), 0.5),
      /conditioned on \[3,4,4,6\]/,
    );
  });

  test('a batch equals its samples run one by one (different times and captions, shared layout)', () =>
    tidy(() => {
      const rng = new Rng(12);
      const model = perturb(initVideoDiT(MICRO, rng.fork(1)), 4);
      const inputs = [0.2, 0.5, 0.9].map((t, i) => ({
        latents: rng.normal(latentShape),
        t,
        text: i === 1 ? { shots: threeShots(rng, MICRO.textDim).shots } : threeShots(rng, MICRO.textDim),
      }));
      const batch = videoDiTBatch(model, inputs);
      inputs.forEach((inp, b) => {
        const one = vals(videoDiT(model, inp).velocity);
        const got = vals(batch.velocities[b]);
        const err = Math.max(...one.map((v, i) => Math.abs(v - got[i])));
        assert.ok(err < 1e-4, `sample ${b}: max difference ${err}`);
      });
      const other = {
        ...inputs[0],
        text: { shots: [{ frames: 4, caption: rng.normal([2, MICRO.textDim]) }] },
      };
      assert.throws(() => videoDiTBatch(model, [inputs[0], other]), /batch sample 1 has latent grid\/shots/);
    }));

  test('bad inputs get clear errors', () =>
    tidy(() => {
      const rng = new Rng(1);
      const model = initVideoDiT(MICRO, rng);
      const text = threeShots(rng, MICRO.textDim);
      const lat = rng.normal(latentShape);
      assert.throws(
        () => videoDiT(model, { latents: rng.normal([4, 4, 4, 6]), t: 0.5, text }),
        /latents have 4 channels, the model expects 3/,
      );
      assert.throws(
        () => videoDiT(model, { latents: rng.normal([3, 4, 5, 6]), t: 0.5, text }),
        /not divisible by the patch/,
      );
      assert.throws(() => videoDiT(model, { latents: lat, t: 1.5, text }), /t must be in \[0, 1\]/);
      assert.throws(
        () => videoDiT(model, { latents: lat, t: 0.5, text: { shots: text.shots.slice(0, 2) } }),
        /cover 3 latent frames but the latent has 4/,
      );
      assert.throws(
        () =>
          videoDiT(model, {
            latents: lat,
            t: 0.5,
            text: { shots: [{ frames: 4, caption: rng.normal([2, 5]) }] },
          }),
        /shot 0 caption must be \[L >= 1, 8\]/,
      );
      assert.throws(() => initVideoDiT({ ...MICRO, heads: 5 }, rng), /not divisible by heads/);
    }));
});

/** Max |a - b| per latent frame of [C, F, H, W] tensors. */
function frameDiffs(a: Tensor, b: Tensor): number[] {
  const [C, F, H, W] = a.shape;
  const av = a.dataSync();
  const bv = b.dataSync();
  const out = new Array(F).fill(0);
  for (let c = 0; c < C; c++)
    for (let f = 0; f < F; f++)
      for (let i = 0; i < H * W; i++) {
        const j = (c * F + f) * H * W + i;
        out[f] = Math.max(out[f], Math.abs(av[j] - bv[j]));
      }
  return out;
}
