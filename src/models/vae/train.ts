/**
 * The VAE training recipe: random crops of training-world clips, the whole-clip loss, AdamW
 * (src/train), a cosine schedule, periodic checkpoints, and latent statistics at the end.
 * The recipe is plain JSON (configs/vae-*.json); `moga train vae --config` runs it.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { namedParams, type Params } from '../../nn/params.js';
import { gradients } from '../../tensor/autodiff.js';
import { Rng } from '../../tensor/random.js';
import { fromArray, noGrad, tidy } from '../../tensor/tensor.js';
import { adamwUpdate, initAdamW } from '../../train/adamw.js';
import { clipGlobalNorm } from '../../train/schedule.js';
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
  /** Stop (and save) after this many minutes even if steps remain; the schedule follows time too. */
  maxMinutes: number;
  checkpointEvery: number;
  /** Clips encoded at the end for the latent statistics. */
  statsClips: number;
  /** Where the final checkpoint goes (F16) and where resumable F32 checkpoints go. */
  out: string;
  work: string;
  /** Resume from the work checkpoint if present. */
  resume?: boolean;
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
}

/** Progress in [0, 1]: the larger of the step fraction and the time fraction. */
function lrAt(r: VaeRecipe, step: number, progress: number): number {
  if (step < r.warmup) return (r.lr * (step + 1)) / r.warmup;
  const c = 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
  return r.lr * (r.minLrRatio + (1 - r.minLrRatio) * c);
}

export function trainVae(r: VaeRecipe, log: (line: string) => void = console.log): VideoVAE {
  checkRecipe(r);
  const config = vaePresetOrConfig(r.model);
  let vae = initVideoVAE(config, r.seed);
  let start = 0;
  const workPath = `${r.work}/vae-work.safetensors`;
  if (r.resume) {
    try {
      const got = loadVae(workPath);
      vae = got.vae;
      start = Number(got.info.step ?? 0);
      log(`resumed from ${workPath} at step ${start}`);
    } catch (e) {
      log(`no resume (${(e as Error).message.split('\n')[0]})`);
    }
  }
  const named = namedParams(vae.params as unknown as Params);
  const params = named.map(([, t]) => t);
  for (const p of params) p.requiresGrad = true;
  const opt = initAdamW(named.map(([n, t]) => [n, t.size]));
  const adamCfg = { lr: r.lr, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: r.weightDecay };
  const rng = new Rng(r.seed + 1 + start * 7919);
  const full = { frames: r.frames, width: r.size[0], height: r.size[1] };
  const t0 = Date.now();
  mkdirSync(r.work, { recursive: true });
  let ema = 0;
  let step = start;
  for (; step < r.steps; step++) {
    const minutes = (Date.now() - t0) / 60000;
    if (minutes >= r.maxMinutes) {
      log(`time limit ${r.maxMinutes} min reached at step ${step}`);
      break;
    }
    const lr = lrAt(r, step, Math.max(step / r.steps, minutes / r.maxMinutes));
    // Gradients averaged over `batch` clips, one clip at a time (memory of one clip; exact mean).
    const grads = params.map((p) => new Float32Array(p.size));
    const vals = [0, 0, 0];
    for (let k = 0; k < r.batch; k++) {
      const clip = randomCrop(rng, full, { width: r.crop[0], height: r.crop[1] }, r.storyPool);
      tidy(() => {
        const x = fromArray(clip, [1, 3, r.frames, r.crop[1], r.crop[0]]);
        const { loss, parts } = vaeLoss(vae, x, r.loss, rng);
        const gs = gradients(loss, params);
        [loss, parts.mse, parts.kl].forEach((t, i) => (vals[i] += t.item() / r.batch));
        gs.forEach((g, i) => {
          if (!g) return;
          const d = g.dataSync();
          const acc = grads[i];
          for (let j = 0; j < acc.length; j++) acc[j] += d[j] / r.batch;
        });
      });
    }
    const norm = clipGlobalNorm(grads, r.clipNorm);
    opt.t++;
    named.forEach(([n, p], i) => {
      const v = p.dataSync() as Float32Array;
      adamwUpdate(opt, adamCfg, lr, n, v, grads[i]);
      p.backend.write(p.storage, v);
    });
    const psnr = 10 * Math.log10(4 / Math.max(vals[1], 1e-12));
    ema = step === start ? psnr : 0.95 * ema + 0.05 * psnr;
    log(
      `step ${step + 1}/${r.steps} loss ${vals[0].toFixed(5)} mse ${vals[1].toFixed(5)} psnr ${psnr.toFixed(2)} (ema ${ema.toFixed(2)}) kl ${vals[2].toFixed(3)} |g| ${norm.toFixed(3)} lr ${lr.toExponential(2)} ${((Date.now() - t0) / 1000).toFixed(0)}s`,
    );
    if ((step + 1) % r.checkpointEvery === 0) saveVae(workPath, vae, { info: { step: step + 1 } });
  }
  for (const p of params) p.requiresGrad = false;
  saveVae(workPath, vae, { info: { step } });
  computeLatentStats(vae, r);
  mkdirSync(dirname(r.out), { recursive: true });
  saveVae(r.out, vae, { dtype: 'F16', info: { step, recipe: r, minutes: (Date.now() - t0) / 60000 } });
  log(`saved ${r.out} after ${step} steps`);
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
