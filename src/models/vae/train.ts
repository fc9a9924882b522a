/**
 * The VAE training recipe: random crops of training-world clips, the whole-clip loss, a cosine
 * schedule, on the one training loop (src/train: AdamW, clipping, exact-resume checkpoints in
 * `work`), and latent statistics at the end.
 * The recipe is plain JSON (configs/vae-*.json); `moga train vae --config` runs it.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { type Params, paramList, trainable } from '../../nn/params.js';
import { fromArray, noGrad, tidy } from '../../tensor/tensor.js';
import { findCheckpoint } from '../../train/checkpoint.js';
import { runToEnd, trainSteps } from '../../train/loop.js';
import { latentFrames } from '../latent-layout.js';
import { loadVae, saveVae } from './checkpoint.js';
import { checkVaeConfig, type VAE_PRESETS, type VaeConfig, vaeFactors, vaePresetOrConfig } from './config.js';
import { randomCrop, worldClip } from './data.js';
import { type VaeLossWeights, vaeLoss } from './loss.js';
import { encode, initVideoVAE, type VideoVAE } from './vae.js';

export interface VaeRecipe {
  /** A preset name or a full config. */
  model: keyof typeof VAE_PRESETS | VaeConfig;
  seed: number;
  steps: number;
  lr: number;
  minLrRatio: number;
  warmup: number;
  weightDecay: number;
  clipNorm: number;
  /** Clips per optimizer step (gradients averaged; processed one at a time). */
  batch: number;
  /** Frames per training clip (1 + 4k) and the crop taken from 224x128 renders. */
  frames: number;
  crop: [number, number];
  size: [number, number];
  /** Training stories drawn from indices [0, storyPool). */
  storyPool: number;
  loss: VaeLossWeights;
  /** Stop (and save) after this many minutes even if steps remain (the schedule follows steps only). */
  maxMinutes: number;
  checkpointEvery: number;
  /** Clips encoded at the end for the latent statistics. */
  statsClips: number;
  /** Where the final checkpoint goes (F16), and the directory of the resumable training checkpoint. */
  out: string;
  work: string;
  /** Resume from the work checkpoint if present. */
  resume?: boolean;
  /** Start from this VAE file (weights and latent statistics; same config as `model`), not at random. */
  init?: string;
  /**
   * `decoder`: train the decoder only (needs `init`). The encoder and the latent statistics stay
   * exactly init's, so latents, and a DiT trained on them, stay valid while the frames change.
   * Default `all`.
   */
  train?: 'all' | 'decoder';
}

/** Throws on the first bad field, naming it. */
export function checkRecipe(r: VaeRecipe): void {
  const need = (ok: boolean, m: string) => {
    if (!ok) throw new Error(`vae recipe: ${m}`);
  };
  const config = vaePresetOrConfig(r.model);
  checkVaeConfig(config);
  const { time } = vaeFactors(config);
  for (const k of ['steps', 'batch', 'frames', 'storyPool', 'checkpointEvery', 'statsClips'] as const)
    need(Number.isInteger(r[k]) && r[k] > 0, `${k} must be a positive integer, got ${r[k]}`);
  need(latentFrames(r.frames, time).decoded === r.frames, `frames must be 1 + ${time}k, got ${r.frames}`);
  need(r.lr > 0 && r.maxMinutes > 0, 'lr and maxMinutes must be > 0');
  need(
    r.crop[0] % 8 === 0 && r.crop[1] % 8 === 0 && r.crop[0] <= r.size[0] && r.crop[1] <= r.size[1],
    `crop ${r.crop} must be multiples of 8 within size ${r.size}`,
  );
  need(typeof r.out === 'string' && typeof r.work === 'string', 'out and work must be paths');
  need(
    r.train === undefined || r.train === 'all' || r.train === 'decoder',
    `train must be "all" or "decoder", got ${JSON.stringify(r.train)}`,
  );
  need(r.train !== 'decoder' || typeof r.init === 'string', 'train "decoder" needs init (a VAE file)');
  need(
    r.loss?.temporal === undefined || r.loss.temporal >= 0,
    `loss.temporal must be >= 0, got ${r.loss?.temporal}`,
  );
}

/** The recipe's starting VAE: init's (refused when its config is not the recipe's), or a fresh one. */
function startingVae(r: VaeRecipe, config: VaeConfig): VideoVAE {
  if (!r.init) return initVideoVAE(config, r.seed);
  const { vae } = loadVae(r.init);
  if (JSON.stringify(vae.config) !== JSON.stringify(config))
    throw new Error(`vae recipe: init ${r.init} has another config than the recipe's model`);
  return vae;
}

/** Linear warm-up, then cosine from lr down to lr * minLrRatio at `steps`: a function of the step only. */
export function vaeLr(r: VaeRecipe, step: number): number {
  if (step < r.warmup) return (r.lr * (step + 1)) / r.warmup;
  const c = 0.5 * (1 + Math.cos(Math.PI * Math.min(1, step / r.steps)));
  return r.lr * (r.minLrRatio + (1 - r.minLrRatio) * c);
}

/**
 * Trains (or, with `resume`, continues) on train/'s trainLoop: one micro-batch per clip of the
 * batch, the crop and the posterior sample drawn from the loop's RNG, so a run stopped by time or
 * `signal` and resumed ends bit for bit where an uninterrupted one does (optimizer moments, RNG
 * and step come back from the checkpoint in `work`).
 */
export function trainVae(
  r: VaeRecipe,
  log: (line: string) => void = console.log,
  opts: { readonly signal?: AbortSignal } = {},
): VideoVAE {
  return runToEnd(trainVaeSteps(r, log, opts));
}

/** `trainVae` as a generator that yields after every step (see `trainSteps` in train/loop.ts). */
export function* trainVaeSteps(
  r: VaeRecipe,
  log: (line: string) => void = console.log,
  opts: { readonly signal?: AbortSignal } = {},
): Generator<void, VideoVAE, void> {
  checkRecipe(r);
  const config = vaePresetOrConfig(r.model);
  const vae = startingVae(r, config);
  const decoderOnly = r.train === 'decoder';
  if (decoderOnly) trainable(vae.params.encoder, false);
  const params = decoderOnly ? { decoder: vae.params.decoder } : vae.params;
  const full = { frames: r.frames, width: r.size[0], height: r.size[1] };
  if (r.resume && findCheckpoint(r.work)) log(`resuming from ${r.work}`);
  let psnrEma: number | undefined; // for the log only
  const res = yield* trainSteps({
    params,
    nextBatch: (_step, micro) => micro,
    lossFn: (_micro, _step, rng) => {
      const clip = randomCrop(rng, full, { width: r.crop[0], height: r.crop[1] }, r.storyPool);
      const x = fromArray(clip, [1, 3, r.frames, r.crop[1], r.crop[0]]);
      const { loss, parts } = vaeLoss(vae, x, r.loss, rng);
      const metrics = { mse: parts.mse.item(), kl: parts.kl.item() };
      return { loss, metrics: parts.temporal ? { ...metrics, temporal: parts.temporal.item() } : metrics };
    },
    steps: r.steps,
    accumulate: r.batch,
    adamw: { lr: r.lr, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: r.weightDecay },
    schedule: (step) => vaeLr(r, step),
    maxGradNorm: r.clipNorm,
    seed: r.seed + 1,
    maxMinutes: r.maxMinutes,
    signal: opts.signal,
    checkpoint: { dir: r.work, every: r.checkpointEvery, resume: r.resume, config: { vae: config } },
    progress: 'none',
    onStep: (p) => {
      const { mse, kl, temporal } = p.metrics!;
      const psnr = 10 * Math.log10(4 / Math.max(mse, 1e-12));
      psnrEma = psnrEma === undefined ? psnr : 0.95 * psnrEma + 0.05 * psnr;
      log(
        `step ${p.step}/${p.steps} loss ${p.loss.toFixed(5)} mse ${mse.toFixed(5)} psnr ${psnr.toFixed(2)} (ema ${psnrEma.toFixed(2)}) kl ${kl.toFixed(3)}${temporal === undefined ? '' : ` temporal ${temporal.toFixed(5)}`} |g| ${p.gradNorm.toFixed(3)} lr ${p.lr.toExponential(2)}`,
      );
    },
  });
  if (res.stopped !== 'steps') log(`stopped (${res.stopped}) at step ${res.step} of ${r.steps}`);
  for (const t of paramList(vae.params as unknown as Params)) t.requiresGrad = false;
  if (!decoderOnly) computeLatentStats(vae, r);
  mkdirSync(dirname(r.out), { recursive: true });
  saveVae(r.out, vae, { dtype: 'F16', info: { step: res.step, recipe: r, minutes: res.seconds / 60 } });
  log(`saved ${r.out} after ${res.step} steps`);
  return vae;
}

/** Per-channel mean and std of posterior means over `statsClips` training clips (written in place). */
export function computeLatentStats(vae: VideoVAE, r: VaeRecipe): void {
  const zc = vae.config.latentChannels;
  const s1 = new Float64Array(zc);
  const s2 = new Float64Array(zc);
  let n = 0;
  const spec = { frames: r.frames, width: r.size[0], height: r.size[1] };
  for (let i = 0; i < r.statsClips; i++) {
    const { data } = worldClip('train', 100000 + i, 0, spec);
    const m = noGrad(() =>
      tidy(() => encode(vae, fromArray(data, [1, 3, spec.frames, spec.height, spec.width])).mean.dataSync()),
    );
    const per = m.length / zc;
    for (let c = 0; c < zc; c++)
      for (let j = 0; j < per; j++) {
        const v = m[c * per + j];
        s1[c] += v;
        s2[c] += v * v;
      }
    n += per;
  }
  const mean = Float32Array.from(s1, (s) => s / n);
  const std = Float32Array.from(s2, (s, c) => Math.sqrt(Math.max(s / n - mean[c] ** 2, 1e-12)));
  const { mean: mt, std: st } = vae.latentStats;
  mt.backend.write(mt.storage, mean);
  st.backend.write(st.storage, std);
}
