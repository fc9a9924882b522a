/**
 * The DiT's objective, in one place: what its output means (the prediction type), the training
 * loss (rectified flow + caption dropout + the routers' balancing losses) and the velocity the
 * sampler follows (guidance included). Training (pipeline/train-dit.ts), sampling
 * (pipeline/generate.ts) and the tests all call these functions; there is no second copy.
 *
 * Prediction types. Wan2.1 predicts the velocity v = e - x0 directly ('velocity'). A tiny model
 * struggles with that: at small t it must pass the noise of every patch through its narrow width
 * to the output (v ~ (x_t - x0) / t), and what it fails to pass stays in the samples as blocky
 * noise. With 'data' the network predicts the clean latent x0 (smooth, easy), is trained with the
 * x0 regression loss, and the sampler gets v = (x_t - x0_hat) / t, the same flow; DPM-Solver++'s
 * data prediction x - t v is then exactly the network's output. But then the last step's x0_hat is
 * all the network's own drawing: given a frame noised only to t = 0.02, the bundled 'data' model
 * returned it with the probes finding the object's shape in 62% of frames (through the VAE alone
 * they read 90.7% of shapes on the eval stories, docs/EVAL.md).
 * 'preconditioned' keeps the x0 loss and adds EDM's skip (Karras et al. 2022, `preconditioning`):
 * what x_t already shows passes through, and the network only corrects it. It kept 86% of shapes
 * there, but at mid t the skip hands the network noise to cancel, and at the bundled size whole
 * videos came out covered in it (models/dit-tiny/README.md, stage 9): the bundled model is 'data'.
 */

import type { Shape } from '../../core/shape.js';
import { guide } from '../../diffusion/guidance.js';
import { frameNoise } from '../../diffusion/noise.js';
import {
  flowLoss,
  noisedExample,
  sampleT,
  type TimeSampling,
  type Weights,
} from '../../diffusion/rectified-flow.js';
import { add, mul, sub } from '../../tensor/ops.js';
import type { Rng } from '../../tensor/random.js';
import { fromArray, keep, noGrad, type Tensor, tidy } from '../../tensor/tensor.js';
import {
  conditionDiT,
  type DiTBatchOutput,
  disposeConditioning,
  type GivenFrames,
  type VideoDiT,
  videoDiTConditioned,
} from './dit.js';
import { dropText, emptyText, type MultiShotText, shotStarts } from './text.js';

export type Prediction = 'velocity' | 'data' | 'preconditioned';

export const PREDICTIONS: readonly Prediction[] = ['velocity', 'data', 'preconditioned'];

/**
 * EDM's preconditioning on the rectified-flow path x_t = (1-t) x0 + t e, for data of unit variance
 * (the codec normalises latents per channel): x0_hat = c_skip x_t + c_out f, where c_skip x_t is
 * the best linear guess of x0 from x_t and c_out scales the network's output f to the unit-variance
 * rest. c_skip = (1-t) / s, c_out = t / sqrt(s), s = (1-t)^2 + t^2 = Var(x_t). At t = 1 this is
 * 'data' (c_skip 0, c_out 1); as t -> 0 x_t itself (c_skip 1, c_out 0).
 */
export function preconditioning(t: number): { skip: number; out: number } {
  const s = (1 - t) ** 2 + t * t;
  return { skip: (1 - t) / s, out: t / Math.sqrt(s) };
}

/** The network's output `f` at (x_t, t) read as the clean latent x0_hat ('data', 'preconditioned'). */
function dataOf(prediction: Prediction, f: Tensor, xt: Tensor, t: number): Tensor {
  if (prediction !== 'preconditioned') return f;
  const c = preconditioning(t);
  return add(mul(xt, c.skip), mul(f, c.out));
}

/** The network's output `f` at (x_t, t) read as the clean latent x0_hat, whatever the prediction. */
function x0Of(prediction: Prediction, f: Tensor, xt: Tensor, t: number): Tensor {
  return prediction === 'velocity' ? sub(xt, mul(f, t)) : dataOf(prediction, f, xt, t);
}

/** What the loss compares: the velocity with its target, or x0_hat with the clean latent. */
function lossPair(prediction: Prediction, f: Tensor, xt: Tensor, t: number, x0: Tensor, v: Tensor) {
  return prediction === 'velocity'
    ? { pred: f, target: v }
    : { pred: dataOf(prediction, f, xt, t), target: x0 };
}

/**
 * The network as the objective sees it: conditioned once on a batch of texts for latents of one
 * shape, then run on any (x_t, t) of that batch -> one output each, plus the routers' balancing
 * losses. `denoiser(dit)` is the real one; tests hand-set others (e.g. the exact posterior mean of
 * a toy data set) to check the objective in closed form.
 */
export interface Denoiser {
  readonly textDim: number;
  /** Whether `run` reads a previous clean-latent estimate (a DiT with config.selfCondition). */
  readonly selfCondition?: boolean;
  /** `given`: per sample its known frames (undefined: none); a conditioned DiT only. */
  condition(
    texts: readonly MultiShotText[],
    shape: Shape,
    given?: readonly (GivenFrames | undefined)[],
  ): ConditionedDenoiser;
}

export interface ConditionedDenoiser {
  /** `previous`: per sample, the previous x0 estimate for self-conditioning (undefined: none). */
  run(
    latents: readonly Tensor[],
    ts: readonly number[],
    previous?: readonly (Tensor | undefined)[],
  ): DiTBatchOutput;
  /** Frees what `condition` built; never before a loss that read it has been differentiated. */
  dispose(): void;
}

export function denoiser(dit: VideoDiT): Denoiser {
  return {
    textDim: dit.config.textDim,
    selfCondition: dit.config.selfCondition === true,
    condition: (texts, shape, given) => {
      const cond = conditionDiT(dit, texts, shape, given);
      return {
        run: (latents, ts, previous) => videoDiTConditioned(dit, cond, latents, ts, previous),
        dispose: () => disposeConditioning(cond),
      };
    },
  };
}

export interface TrainingExample {
  readonly latents: Tensor; // [C, F, H, W], clean (t = 0)
  readonly text: MultiShotText;
  /** Loss weight of each latent cell, [F * H * W] with mean 1 (pipeline/object-weights.ts); absent: 1. */
  readonly weight?: Float32Array;
}

export interface ObjectiveOptions {
  readonly prediction: Prediction;
  readonly sampling: TimeSampling;
  /** Probability of training an example with the empty caption (for classifier-free guidance). */
  readonly captionDropout: number;
  /**
   * Run the examples that share a layout (latent shape and shot frames) as one forward pass: much
   * faster for many small examples (single frames), and the routers' balancing loss is then
   * computed over that pass's tokens. Default false, the per-example passes of the runs made so far.
   */
  readonly batched?: boolean;
  /**
   * Train known-frame conditioning (a DiT with config.conditioning): with probability `prob` an
   * example gets a mask drawn from its layout (`drawGiven`), its clean latent on those frames is
   * given to the network, and the loss counts only the other frames. Absent: nothing is drawn.
   */
  readonly conditioning?: ConditioningDraw;
  /**
   * Train self-conditioning (a DiT with config.selfCondition): with this probability an example's
   * pass also reads the network's own x0 estimate from a first pass at the same (x_t, t), run
   * without gradient (Chen et al. 2022); otherwise zeros, the sampler's first step. Absent: nothing
   * is drawn and no first pass runs.
   */
  readonly selfCondition?: number;
  /**
   * Weight of the temporal term (rectified-flow.ts `flowLoss`): the change of the error between
   * consecutive latent frames of a shot. Absent or 0: none; it draws nothing, so runs resume alike.
   */
  readonly temporal?: number;
  /**
   * Correlation of the noise between consecutive latent frames of a shot (diffusion/noise.ts
   * `frameNoise`); the sampler draws its starting noise the same way (model config
   * sampling.noiseCorrelation). Absent or 0: independent noise; it draws the same normals either way.
   */
  readonly noiseCorrelation?: number;
}

/** Which latent frames of a training example may be given (see `drawGiven`). */
export type ConditioningKind = 'first' | 'last' | 'shots' | 'prefix';

export const CONDITIONING_KINDS: readonly ConditioningKind[] = ['first', 'last', 'shots', 'prefix'];

export interface ConditioningDraw {
  readonly prob: number;
  readonly kinds: readonly ConditioningKind[];
}

/** Refuses a conditioning draw out of range or naming an unknown kind. */
export function checkConditioningDraw(c: ConditioningDraw): void {
  if (!c || typeof c !== 'object') throw new Error('conditioning must be {"prob": P, "kinds": [...]}');
  if (!(typeof c.prob === 'number' && c.prob >= 0 && c.prob <= 1))
    throw new Error(`conditioning.prob must be in [0, 1], got ${JSON.stringify(c.prob)}`);
  if (!Array.isArray(c.kinds) || c.kinds.length === 0)
    throw new Error(`conditioning.kinds must be a non-empty list of ${CONDITIONING_KINDS.join(', ')}`);
  for (const k of c.kinds)
    if (!CONDITIONING_KINDS.includes(k))
      throw new Error(
        `conditioning.kinds: unknown kind ${JSON.stringify(k)} (known: ${CONDITIONING_KINDS.join(', ')})`,
      );
}

/**
 * One example's given latent frames (1 = given), or undefined for none, from its shots' latent
 * frames. Always exactly one Philox block (4 uniforms u) per call, whatever comes of it:
 *   u0 < prob conditions the example; u1 picks the kind from `kinds`; then
 *   first: latent frame 0;  last: the last latent frame;
 *   shots: every shot but one, the one picked by u2 (the `regenerate` case; one shot: as first);
 *   prefix: the first 1 + floor(u2 (F - 1)) latent frames (the `extend` case).
 * At least one frame is always left to generate (a one-frame example is never conditioned).
 */
export function drawGiven(
  rng: Rng,
  shotFrames: readonly number[],
  c: ConditioningDraw,
): number[] | undefined {
  const u = rng.uniformArray(4);
  const F = shotFrames.reduce((a, b) => a + b, 0);
  if (!(u[0] < c.prob) || F < 2) return undefined;
  const kind = c.kinds[Math.min(c.kinds.length - 1, Math.floor(u[1] * c.kinds.length))];
  const frames = new Array<number>(F).fill(0);
  if (kind === 'last') frames[F - 1] = 1;
  else if (kind === 'prefix') frames.fill(1, 0, 1 + Math.min(F - 2, Math.floor(u[2] * (F - 1))));
  else if (kind === 'shots' && shotFrames.length > 1) {
    const keep = Math.min(shotFrames.length - 1, Math.floor(u[2] * shotFrames.length));
    let at = 0;
    shotFrames.forEach((n, k) => {
      if (k !== keep) frames.fill(1, at, at + n);
      at += n;
    });
  } else frames[0] = 1; // first, and shots of a one-shot example
  return frames;
}

/**
 * The loss weights of an example, [1, F, H, W] (broadcast over channels): its cell weights, zero on
 * the frames it is given (`given[f]` = 1), since a conditioned model need not draw those; and,
 * with a temporal weight, those of its frame pairs, [1, F - 1, H, W]: the smaller of the two
 * cells' weights, zero across a cut (a shot may change everything there). Undefined when every
 * cell (pair) counts alike.
 */
function lossWeights(
  ex: TrainingExample,
  given: readonly number[] | undefined,
  temporal: number,
): { weight?: Weights; temporal?: Weights & { weight: number } } {
  const [, F, H, W] = ex.latents.shape;
  const plane = H * W;
  if (ex.weight && ex.weight.length !== F * plane)
    throw new Error(
      `trainingLoss: ${ex.weight.length} cell weights for a latent [${ex.latents.shape}] of ${F * plane} cells`,
    );
  const cell = (i: number) => (ex.weight ? ex.weight[i] : 1) * (given ? 1 - given[Math.floor(i / plane)] : 1);
  const weights = (map: Float32Array, shape: number[]) => ({
    map: fromArray(map, shape),
    mean: map.reduce((a, b) => a + b, 0) / map.length,
  });
  const out: { weight?: Weights; temporal?: Weights & { weight: number } } = {};
  if (given || ex.weight)
    out.weight = weights(
      Float32Array.from({ length: F * plane }, (_, i) => cell(i)),
      [1, F, H, W],
    );
  if (temporal > 0 && F > 1) {
    const cut = new Set<number>(); // f: frames f - 1 and f lie in different shots
    let at = 0;
    for (const s of ex.text.shots) cut.add((at += s.frames));
    const pairs = Float32Array.from({ length: (F - 1) * plane }, (_, i) =>
      cut.has(Math.floor(i / plane) + 1) ? 0 : Math.min(cell(i), cell(i + plane)),
    );
    // no pair to weigh (every frame its own shot, or given): no term
    if (pairs.some((p) => p > 0)) out.temporal = { ...weights(pairs, [1, F - 1, H, W]), weight: temporal };
  }
  return out;
}

export interface TrainingLoss {
  /** Mean over the batch of (MSE + the example's balancing losses): what to differentiate. */
  readonly loss: Tensor; // []
  /** The parts, batch means, as numbers for logging and tests. */
  readonly mse: number;
  readonly balance: number;
  /** The temporal term before its weight (0 without one). */
  readonly temporal: number;
}

/**
 * The training loss of a batch; all randomness comes from `rng`.
 *
 * KEEP THE NUMBERS: long training runs resume from checkpoints that hold only the RNG state, so
 * this must draw exactly as it did when they were made: all times first (`sampleT`), then per
 * example its noise and then its caption-dropout uniform (drawn even when the dropout is 0), one
 * forward pass per example, and each example's balancing losses added to its MSE at weight 1
 * before the batch mean. Batching examples that share a layout into one forward would change the
 * balancing losses (they are computed over the tokens of a forward pass), so it is not done here.
 * With `opts.conditioning` each example then draws its given frames (`drawGiven`: one Philox
 * block, after its caption-dropout uniform); without it nothing more is drawn, so the runs made
 * before conditioning existed draw, and compute, exactly what they did. `opts.selfCondition` adds
 * one uniform per example after those, likewise.
 */
export function trainingLoss(
  net: Denoiser,
  batch: readonly TrainingExample[],
  rng: Rng,
  opts: ObjectiveOptions,
): TrainingLoss {
  if (batch.length === 0) throw new Error('trainingLoss: empty batch');
  checkPrediction(opts.prediction);
  if (opts.conditioning) checkConditioningDraw(opts.conditioning);
  const selfProb = opts.selfCondition;
  if (selfProb !== undefined && !(selfProb >= 0 && selfProb <= 1))
    throw new Error(`selfCondition must be a probability in [0, 1], got ${selfProb}`);
  if (selfProb !== undefined && !net.selfCondition)
    throw new Error('selfCondition needs a network with a self-conditioning input (dit.selfCondition)');
  const ts = sampleT(rng, batch.length, opts.sampling);
  /** Whether this example reads its own first-pass estimate (one uniform, only with the option). */
  const drawSelf = () => selfProb !== undefined && rng.uniformArray(1)[0] < selfProb;
  /** The first pass's x0 estimates of a conditioned batch, without gradient; only its result stays. */
  const estimates = (c: ConditionedDenoiser, xts: readonly Tensor[], times: readonly number[]) =>
    tidy(() =>
      noGrad(() => c.run(xts, times).velocities.map((f, j) => x0Of(opts.prediction, f, xts[j], times[j]))),
    );
  const givenOf = (ex: TrainingExample) => {
    const frames = opts.conditioning
      ? drawGiven(
          rng,
          ex.text.shots.map((s) => s.frames),
          opts.conditioning,
        )
      : undefined;
    const given = frames ? { given: { latent: ex.latents, frames } } : {};
    return { ...given, ...lossWeights(ex, frames, opts.temporal ?? 0) };
  };
  const noiseOf = (ex: TrainingExample) =>
    frameNoise(
      rng,
      ex.latents.shape,
      opts.noiseCorrelation ?? 0,
      shotStarts(ex.text, ex.latents.shape[1], net.textDim),
    );
  let total: Tensor | undefined;
  let mse = 0;
  let balance = 0;
  let change = 0;
  const addTerm = (l: Tensor) => {
    total = total ? add(total, l) : l;
  };
  if (!opts.batched) {
    batch.forEach((ex, i) => {
      const e = noiseOf(ex);
      const { xt, target } = noisedExample(ex.latents, e, ts[i]);
      const text = dropText(ex.text, net.textDim, rng, opts.captionDropout);
      const { given, weight, temporal } = givenOf(ex);
      // conditioned per example and left to the caller's scope: the loss's graph reads it
      const c = net.condition([text], xt.shape, given ? [given] : undefined);
      const out = c.run([xt], [ts[i]], drawSelf() ? estimates(c, [xt], [ts[i]]) : undefined);
      const { pred, target: want } = lossPair(
        opts.prediction,
        out.velocities[0],
        xt,
        ts[i],
        ex.latents,
        target,
      );
      const l = flowLoss(pred, want, out.balanceLosses, weight, temporal);
      mse += l.mse.item() / batch.length;
      if (l.temporal) change += l.temporal.item() / batch.length;
      for (const b of out.balanceLosses) balance += b.item() / batch.length;
      addTerm(l.loss);
    });
    return { loss: mul(total!, 1 / batch.length), mse, balance, temporal: change };
  }
  // the same draws in the same order, then one pass per layout
  const noised = batch.map((ex, i) => {
    const e = noiseOf(ex);
    const { xt, target } = noisedExample(ex.latents, e, ts[i]);
    const text = dropText(ex.text, net.textDim, rng, opts.captionDropout);
    const g = givenOf(ex);
    return { xt, text, x0: ex.latents, v: target, ...g, self: drawSelf() };
  });
  const groups = new Map<string, number[]>();
  batch.forEach((ex, i) => {
    const key = `${ex.latents.shape}|${ex.text.shots.map((s) => s.frames)}`;
    groups.set(key, [...(groups.get(key) ?? []), i]);
  });
  for (const idx of groups.values()) {
    const cond = net.condition(
      idx.map((i) => noised[i].text),
      noised[idx[0]].xt.shape,
      idx.some((i) => noised[i].given) ? idx.map((i) => noised[i].given) : undefined,
    );
    const [xts, times] = [idx.map((i) => noised[i].xt), idx.map((i) => ts[i])];
    // one first pass for the group when any of it reads its estimate; the others get none
    const first = idx.some((i) => noised[i].self) ? estimates(cond, xts, times) : undefined;
    const out = cond.run(xts, times, first && idx.map((i, j) => (noised[i].self ? first[j] : undefined)));
    idx.forEach((i, j) => {
      const n = noised[i];
      const { pred, target } = lossPair(opts.prediction, out.velocities[j], n.xt, ts[i], n.x0, n.v);
      const l = flowLoss(pred, target, [], n.weight, n.temporal);
      mse += l.mse.item() / batch.length;
      if (l.temporal) change += l.temporal.item() / batch.length;
      addTerm(l.loss);
    });
    // each example of the pass carries the pass's balancing loss, as in the per-example form
    for (const b of out.balanceLosses) {
      balance += (b.item() * idx.length) / batch.length;
      addTerm(mul(b, idx.length));
    }
  }
  return { loss: mul(total!, 1 / batch.length), mse, balance, temporal: change };
}

/** The velocity the sampler follows, and the conditioning it holds until `dispose`. */
export interface SamplingVelocity {
  readonly velocity: (x: Tensor, t: number) => Tensor;
  dispose(): void;
}

/**
 * The sampler's velocity v(x, t) for latents of `shape`, classifier-free guidance included: the
 * conditional and the empty-caption branches run as one batch of two (guidance = 1 runs only the
 * conditional one), conditioned once here and reused by every step. Guidance is linear, so it
 * applies to x0_hat as to v; the conversion to a velocity comes after it.
 */
export function samplingVelocity(
  net: Denoiser,
  text: MultiShotText,
  guidance: number,
  prediction: Prediction,
  shape: Shape,
  /** Known frames, read by both guidance branches (guidance is on the captions only). */
  given?: GivenFrames,
  /**
   * Guide only while t > this (0: every step). Below it the conditional branch runs alone: one
   * pass per step. Guidance in a limited interval (Kynkaanniemi et al. 2024): the captions' pull
   * matters while the layout forms; late, it only sharpens detail and makes consecutive frames
   * disagree.
   */
  guidanceUntil = 0,
): SamplingVelocity {
  checkPrediction(prediction);
  const empty = guidance === 1 ? undefined : emptyText(text, net.textDim);
  // sampling never differentiates through the conditioning
  const cond = noGrad(() =>
    net.condition(
      empty ? [text, empty] : [text],
      shape,
      given ? (empty ? [given, given] : [given]) : undefined,
    ),
  );
  // the conditional branch alone for the steps below guidanceUntil (conditioned here, outside any
  // step's scope, like `cond`)
  const alone =
    empty && guidanceUntil > 0
      ? noGrad(() => net.condition([text], shape, given ? [given] : undefined))
      : undefined;
  // self-conditioning: the previous evaluation's (guided) x0 estimate, read by both branches; none
  // at the first step, as in training's passes without one
  let previous: Tensor | undefined;
  const prev = (n: number) => (previous ? Array.from({ length: n }, () => previous) : undefined);
  const guided = empty
    ? (x: Tensor, t: number) => {
        if (alone && t <= guidanceUntil) return alone.run([x], [t], prev(1)).velocities[0];
        const [c, u] = cond.run([x, x], [t, t], prev(2)).velocities;
        return guide(c, u, guidance);
      }
    : (x: Tensor, t: number) => cond.run([x], [t], prev(1)).velocities[0];
  const output = !net.selfCondition
    ? guided
    : (x: Tensor, t: number) => {
        const f = guided(x, t);
        // kept out of the step's scope until the next evaluation replaces it
        const x0 = keep(tidy(() => x0Of(prediction, f, x, t)));
        previous?.dispose();
        previous = x0;
        return f;
      };
  const dispose = () => {
    cond.dispose();
    alone?.dispose();
    previous?.dispose();
    if (empty) for (const s of empty.shots) s.caption.dispose();
  };
  if (prediction === 'velocity') return { velocity: output, dispose };
  // x_t = (1 - t) x0 + t e  =>  v = e - x0 = (x_t - x0) / t; t -> 0 only at the last step's end.
  // Guidance is linear in the output, and x0_hat is affine in it with the same c_skip x_t for both
  // branches, so guiding the output is guiding x0_hat.
  return {
    velocity: (x, t) => mul(sub(x, dataOf(prediction, output(x, t), x, t)), 1 / Math.max(t, 1e-4)),
    dispose,
  };
}

function checkPrediction(p: Prediction): void {
  if (!PREDICTIONS.includes(p))
    throw new Error(`unknown prediction '${p}' (known: ${PREDICTIONS.join(', ')})`);
}
