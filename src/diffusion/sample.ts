/**
 * The sampling loop: start from seeded noise at t = 1 (or from a given latent at t = start), step
 * down the schedule to t = 0. It owns the step index and the solver's carry; each step's
 * intermediates are freed in a scope.
 */

import type { Shape } from '../core/shape.js';
import { add, mul, sum } from '../tensor/ops.js';
import { Rng } from '../tensor/random.js';
import { type Tensor, tidy } from '../tensor/tensor.js';
import { type Carry, type SamplerConfig, samplerStep } from './sampler.js';
import { timesteps } from './schedule.js';

export interface StepInfo {
  readonly step: number; // 0-based
  readonly steps: number;
  readonly t: number;
  readonly tNext: number;
}

export interface SampleOptions {
  /** The model's velocity at (x, t), guidance included (see guidance.ts). */
  readonly velocity: (x: Tensor, t: number) => Tensor;
  readonly shape: Shape;
  readonly sampler: SamplerConfig;
  readonly steps: number;
  readonly shift?: number;
  /** Seeds the starting noise; ignored when `noise` is given. */
  readonly seed?: number;
  readonly noise?: Tensor;
  /**
   * Start at this time (0, 1] from `noise`, a latent already at t = start (SDEdit-style: a clip or
   * an image noised part way); the schedule's times at or above it are skipped. Default 1.
   */
  readonly start?: number;
  /**
   * Known latent frames, kept at their values: after every step x on the mask's frames is replaced
   * by the known latent noised to the step's new time with the starting noise,
   * (1 - t) known + t e, which at the last step (t = 0) is the known latent exactly (bit for bit:
   * 1 * known + 0 * e). Noised rather than clean at every step because the model sees x_t at one
   * noise level everywhere in training (objective.ts `conditioning`) and reads the clean known
   * frames from its own conditioning channels; clean values inside a noisy x_t would be inputs it
   * never saw. Frames off the mask are the sampler's own (x * 1 + y * 0). Needs start = 1 (e is
   * then the starting latent).
   */
  readonly given?: { readonly latent: Tensor /** [1, F, H, W], 1 on given frames */; readonly mask: Tensor };
  readonly onStep?: (info: StepInfo, x: Tensor) => void;
}

export function sample(opts: SampleOptions): Tensor {
  const it = sampling(opts);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
  }
}

/**
 * The same loop as a generator that pauses after each step, so a caller can give the event loop
 * a turn (signal handlers, progress) between steps.
 */
export function* sampling(opts: SampleOptions): Generator<StepInfo, Tensor, void> {
  const ts = startedAt(timesteps(opts.steps, opts.shift ?? 1), opts.start ?? 1);
  const steps = ts.length - 1;
  if (ts[0] < 1 && !opts.noise)
    throw new Error('sample: a start below 1 needs the latent to start from (noise)');
  if (opts.noise && opts.noise.shape.join() !== opts.shape.join())
    throw new Error(`sample: noise shape [${opts.noise.shape}] differs from the requested [${opts.shape}]`);
  if (opts.given && ts[0] < 1) throw new Error('sample: given frames need start = 1');
  const e = opts.noise ?? new Rng(opts.seed ?? 0).normal(opts.shape);
  let x = e;
  const keepFrames = opts.given ? givenReplacer(opts.given, e) : undefined;
  let carry: Carry | undefined;
  let finished = false;
  try {
    for (let i = 0; i < steps; i++) {
      const [t, tNext] = [ts[i], ts[i + 1]];
      const prevX = x;
      const prevCarry = carry;
      const r = tidy(() => {
        // the model's temporaries go before the solver's step allocates its own
        const v = tidy(() => opts.velocity(x, t));
        const res = samplerStep(opts.sampler, x, v, t, tNext, carry);
        return { x: keepFrames ? keepFrames(res.x, tNext) : res.x, carryX0: res.carry?.x0 };
      });
      x = r.x;
      carry = r.carryX0 ? { x0: r.carryX0, t } : undefined;
      // the starting noise stays while given frames need it (and is the caller's if passed in)
      if (prevX !== opts.noise && prevX !== x && !(keepFrames && prevX === e)) prevX.dispose();
      if (prevCarry && prevCarry.x0 !== carry?.x0) prevCarry.x0.dispose();
      const info = { step: i, steps, t, tNext };
      checkFinite(x, info);
      opts.onStep?.(info, x);
      yield info;
    }
    finished = true;
  } finally {
    // stopped early (the caller's return(), or a throw): the state goes with it
    if (!finished && x !== opts.noise) x.dispose();
    if (carry && carry.x0 !== x) carry.x0.dispose();
    if (keepFrames && e !== opts.noise && e !== x) e.dispose();
  }
  return x;
}

/** x -> x off the mask, (1 - t) known + t e on it (see SampleOptions.given). */
function givenReplacer(
  given: NonNullable<SampleOptions['given']>,
  e: Tensor,
): (x: Tensor, t: number) => Tensor {
  const [, F, H, W] = e.shape;
  if (given.latent.shape.join() !== e.shape.join())
    throw new Error(`sample: given latent [${given.latent.shape}] differs from the latent [${e.shape}]`);
  if (given.mask.shape.join() !== [1, F, H, W].join())
    throw new Error(`sample: given mask [${given.mask.shape}] must be [1, ${F}, ${H}, ${W}]`);
  const m = given.mask;
  // called inside the step's scope: its temporaries go with it
  return (x, t) => {
    const keep = mul(add(m, -1), -1); // 1 - m, exact for 0/1
    return add(mul(x, keep), mul(add(mul(given.latent, 1 - t), mul(e, t)), m));
  };
}

/** The schedule from `start` down: start itself, then the times below it. */
function startedAt(ts: number[], start: number): number[] {
  if (!(start > 0 && start <= 1)) throw new Error(`sample: start must be in (0, 1], got ${start}`);
  return start === 1 ? ts : [start, ...ts.filter((t) => t < start - 1e-9)];
}

/**
 * One reduction on the backend per step: a NaN or infinity anywhere in x makes the sum non-finite
 * (so do values near float32's limit, which are garbage too). Stops at the first bad step instead
 * of decoding a black or grey video.
 */
function checkFinite(x: Tensor, info: StepInfo): void {
  const s = tidy(() => sum(x).item());
  if (!Number.isFinite(s))
    throw new Error(
      `sample: step ${info.step + 1}/${info.steps} (t ${info.t.toFixed(3)} -> ${info.tNext.toFixed(3)}) produced non-finite values (NaN or infinity): check the model's weights and config`,
    );
}
