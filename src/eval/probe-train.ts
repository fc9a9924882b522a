/**
 * Training the probes (`moga train probe --config configs/probe.json`): random frames of
 * training-split world stories rendered with their masks, light augmentation (blur, noise, colour
 * offsets: what decoding does to frames), one summed loss for both nets:
 *   background kind + colour (cross-entropy), heat map (binary cross-entropy against each cell's
 *   object coverage, positives weighted), object shape + colour + pattern (cross-entropy on crops
 *   taken around each visible object's box, snapped to the heat-map cells and jittered, as the
 *   localisation would find it).
 * With `augment.vae`, a frame is replaced, with probability `prob`, by a frame of a precomputed
 * pool of training clips passed through the VAE (probe-vae-pool.ts), its truth unchanged, so the
 * probes learn to read decoded frames as well as rendered ones. With `init`, the run starts from
 * the weights of an existing probe checkpoint (a fine-tune) instead of a random init.
 * Driven by `trainLoop` (src/train) in chunks so a time limit can stop it; the saved weights are the
 * EMA.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { makeRenderer } from '../data/world/render.js';
import { splitSeed } from '../data/world/splits.js';
import { generateStory } from '../data/world/story.js';
import type { Story } from '../data/world/types.js';
import { BACKGROUND_COLOURS, BACKGROUND_KINDS, COLOURS, PATTERNS, SHAPES } from '../data/world/types.js';
import { namedTensors } from '../nn/params-file.js';
import {
  abs,
  add,
  exp,
  log,
  logSoftmax,
  maximum,
  mean,
  mul,
  neg,
  sliceAxis,
  sub,
  sum,
} from '../tensor/ops.js';
import { fromArray, type Tensor } from '../tensor/tensor.js';
import { runToEnd, trainSteps } from '../train/loop.js';
import {
  type Box,
  CROP_CHANNELS,
  components,
  coverageGrid,
  cropOfBox,
  cropSquare,
  isScorable,
  poolFrame,
  silhouette,
  snapToCells,
  visibleObjects,
} from './frames.js';
import { mulberry } from './mulberry.js';
import { LOW, SEED } from './probe.js';
import {
  BG_HEAD,
  checkProbeConfig,
  initProbe,
  loadProbe,
  OBJ_HEAD,
  objectForward,
  type Probe,
  type ProbeConfig,
  saveProbe,
  sceneForward,
} from './probe-model.js';
import { checkVaeAugment, loadOrBuildVaePool, type VaeAugment, type VaePool } from './probe-vae-pool.js';

export interface ProbeRecipe {
  model: ProbeConfig;
  seed: number;
  steps: number;
  lr: number;
  /** Cosine decay from lr to lr x minLrRatio over `steps` (updated every checkpointEvery steps). */
  minLrRatio: number;
  warmup: number;
  weightDecay: number;
  clipNorm: number;
  emaDecay: number;
  /** Frames per step; each visible object gives `cropsPerObject` jittered crops. */
  frames: number;
  cropsPerObject: number;
  /** Training stories are drawn from train-split indices [0, storyPool). */
  storyPool: number;
  /** Weight of a fully covered heat cell relative to an empty one. */
  heatPositiveWeight: number;
  /** `vae`: replace a frame by its VAE round trip from a precomputed pool (probe-vae-pool.ts). */
  augment: { blur: number; noise: number; offset: number; vae?: VaeAugment };
  /**
   * A probe checkpoint (same `model`) whose weights start the run instead of a random init (a
   * fine-tune; fresh optimizer state). A resumed run starts from its own checkpoint instead.
   */
  init?: string;
  maxMinutes: number;
  checkpointEvery: number;
  out: string;
  work: string;
  resume?: boolean;
  /**
   * Stage 2, from step `steps` to `finetune.steps`: object crops around the boxes the localisation
   * gives (hysteresis components of the true coverage grid, thresholds of probe.ts) instead of
   * around the exact object boxes, at a cosine rate from `finetune.lr`.
   */
  finetune?: { steps: number; lr: number };
}

export function checkProbeRecipe(r: ProbeRecipe): void {
  const need = (ok: boolean, m: string) => {
    if (!ok) throw new Error(`probe recipe: ${m}`);
  };
  checkProbeConfig(r.model);
  for (const k of ['steps', 'frames', 'cropsPerObject', 'storyPool', 'checkpointEvery'] as const)
    need(Number.isInteger(r[k]) && r[k] > 0, `${k} must be a positive integer, got ${r[k]}`);
  need(r.lr > 0 && r.maxMinutes > 0, 'lr and maxMinutes must be > 0');
  need(r.emaDecay >= 0 && r.emaDecay < 1, 'emaDecay must be in [0, 1)');
  need(r.minLrRatio > 0 && r.minLrRatio <= 1, 'minLrRatio must be in (0, 1]');
  need(typeof r.out === 'string' && typeof r.work === 'string', 'out and work must be paths');
  need(
    r.init === undefined || (typeof r.init === 'string' && r.init !== r.out),
    'init must be a path other than out',
  );
  if (r.augment.vae) checkVaeAugment(r.augment.vae);
}

export interface ProbeBatch {
  B: number;
  frames: Float32Array;
  heat: Float32Array;
  bgKind: Int32Array;
  bgColour: Int32Array;
  N: number;
  crops: Float32Array;
  shape: Int32Array;
  colour: Int32Array;
  pattern: Int32Array;
  /** Where each frame came from: train-split story, frame index, and whether it is a VAE pool frame. */
  sources: { story: number; frame: number; vae: boolean }[];
}

/** Light degradations of a byte frame (in place): box blur, Gaussian noise, per-channel offsets. */
export function augmentFrame(
  rgb: Uint8Array,
  W: number,
  H: number,
  rand: () => number,
  a: ProbeRecipe['augment'],
): void {
  if (rand() < a.blur) {
    const src = rgb.slice();
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let c = 0; c < 3; c++) {
          let s = 0;
          let n = 0;
          for (let dy = -1; dy <= 1; dy++)
            for (let dx = -1; dx <= 1; dx++) {
              const yy = y + dy;
              const xx = x + dx;
              if (yy < 0 || xx < 0 || yy >= H || xx >= W) continue;
              s += src[(yy * W + xx) * 3 + c];
              n++;
            }
          rgb[(y * W + x) * 3 + c] = Math.round(s / n);
        }
  }
  const sigma = rand() < 0.5 ? rand() * a.noise : 0;
  const off = [0, 1, 2].map(() => (rand() < 0.5 ? (2 * rand() - 1) * a.offset : 0));
  if (sigma === 0 && off.every((v) => v === 0)) return;
  for (let i = 0; i < rgb.length; i++) {
    let v = rgb[i] + off[i % 3];
    if (sigma > 0) {
      // Box-Muller
      const u = Math.max(rand(), 1e-12);
      v += sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
    }
    rgb[i] = Math.max(0, Math.min(255, Math.round(v)));
  }
}

/** Randomly grows or shrinks each side of a cell-snapped box by one cell. */
function jitterBox(b: Box, p: number, W: number, H: number, rand: () => number): Box {
  const j = () => (rand() < 0.25 ? -p : rand() < 0.33 ? p : 0);
  const x0 = Math.max(0, b[0] - j());
  const y0 = Math.max(0, b[1] - j());
  const x1 = Math.min(W - 1, Math.max(x0 + p - 1, b[2] + j()));
  const y1 = Math.min(H - 1, Math.max(y0 + p - 1, b[3] + j()));
  return [x0, y0, x1, y1];
}

export function makeProbeBatch(
  r: ProbeRecipe,
  step: number,
  stories = new Map<number, Story>(),
  vaePool: VaePool | null = null,
): ProbeBatch {
  const c = r.model;
  const { width: W, height: H, pool: p, crop: S } = c;
  const w = W / p;
  const h = H / p;
  const rand = mulberry((r.seed * 1_000_003 + step * 7919) >>> 0);
  const B = r.frames;
  const frames = new Float32Array(B * 3 * w * h);
  const heat = new Float32Array(B * w * h);
  const bgKind = new Int32Array(B);
  const bgColour = new Int32Array(B);
  const crops: Float32Array[] = [];
  const labels: [number, number, number][] = [];
  const stage2 = r.finetune !== undefined && step >= r.steps;
  const vae = r.augment.vae;
  if (vae && vae.prob > 0 && !vaePool) throw new Error('makeProbeBatch: augment.vae needs its pool');
  // the VAE draws come from their own stream, so with prob 0 the batch is the one without the pool
  const vaeRand = mulberry((r.seed * 1_000_003 + step * 7919) ^ 0x5bd1e995);
  const sources: ProbeBatch['sources'] = [];
  for (let b = 0; b < B; b++) {
    let idx = Math.floor(rand() * r.storyPool);
    let f = -1;
    let decoded: Uint8Array | null = null;
    if (vae && vaePool && vaeRand() < vae.prob) {
      const k = Math.floor(vaeRand() * vaePool.clips * vaePool.F);
      const clip = Math.floor(k / vaePool.F);
      idx = vaePool.story[clip];
      f = vaePool.start[clip] + (k % vaePool.F);
      const n = W * H * 3;
      decoded = vaePool.rgb.subarray(k * n, (k + 1) * n);
    }
    let story = stories.get(idx);
    if (!story) {
      story = generateStory({ seed: splitSeed('train', idx), width: W, height: H });
      if (stories.size > 2000) stories.clear();
      stories.set(idx, story);
    }
    const fr = Math.floor(rand() * story.frames);
    if (f < 0) f = fr;
    const rendered = makeRenderer(story, { masks: true }).render(f);
    const truth = rendered.truth;
    let rgb = rendered.rgb;
    // a pool frame is the decoded image of this very frame: the truth stays, the pixels change
    if (decoded) rgb = decoded.slice();
    else augmentFrame(rgb, W, H, rand, r.augment);
    sources.push({ story: idx, frame: f, vae: decoded !== null });
    poolFrame(rgb, W, H, p, frames, b * 3 * w * h);
    coverageGrid(truth, W, H, p, heat, b * w * h);
    bgKind[b] = BACKGROUND_KINDS.indexOf(truth.background.kind);
    bgColour[b] = BACKGROUND_COLOURS.indexOf(truth.background.colour);
    const comps = stage2 ? components(heat.subarray(b * w * h, (b + 1) * w * h), w, h, p, SEED, LOW) : [];
    for (const v of visibleObjects(truth, W)) {
      if (!isScorable(v)) continue;
      // stage 2: the box the localisation would give (hysteresis components of the true coverage)
      const comp = stage2
        ? comps.find(
            (q) => v.cx >= q.box[0] && v.cx <= q.box[2] + 1 && v.cy >= q.box[1] && v.cy <= q.box[3] + 1,
          )
        : undefined;
      const snapped = comp ? comp.box : snapToCells(v.box!, p, W, H);
      for (let k = 0; k < r.cropsPerObject; k++) {
        const q = cropOfBox(jitterBox(snapped, p, W, H, rand));
        const side = q.side * (0.9 + 0.25 * rand());
        const out = new Float32Array(CROP_CHANNELS * S * S);
        cropSquare(
          rgb,
          W,
          H,
          q.cx + (rand() - 0.5) * 0.1 * side,
          q.cy + (rand() - 0.5) * 0.1 * side,
          side,
          S,
          out,
        );
        silhouette(out, 0, S);
        crops.push(out);
        labels.push([
          SHAPES.indexOf(v.truth.shape),
          COLOURS.indexOf(v.truth.colour),
          PATTERNS.indexOf(v.truth.pattern),
        ]);
      }
    }
  }
  const N = crops.length;
  const all = new Float32Array(N * CROP_CHANNELS * S * S);
  crops.forEach((x, i) => all.set(x, i * CROP_CHANNELS * S * S));
  return {
    B,
    frames,
    heat,
    bgKind,
    bgColour,
    N,
    crops: all,
    shape: Int32Array.from(labels, (l) => l[0]),
    colour: Int32Array.from(labels, (l) => l[1]),
    pattern: Int32Array.from(labels, (l) => l[2]),
    sources,
  };
}

function oneHot(labels: Int32Array, n: number): Tensor {
  const a = new Float32Array(labels.length * n);
  labels.forEach((l, i) => {
    a[i * n + l] = 1;
  });
  return fromArray(a, [labels.length, n]);
}

/** Mean cross-entropy of logits[:, at:at+n] against integer labels. */
function crossEntropy(logits: Tensor, at: number, n: number, labels: Int32Array): Tensor {
  const lp = logSoftmax(sliceAxis(logits, 1, at, at + n), -1);
  return neg(mul(sum(mul(lp, oneHot(labels, n))), 1 / labels.length));
}

/** Weighted binary cross-entropy with logits against soft targets. */
function bceWithLogits(x: Tensor, t: Float32Array, posWeight: number): Tensor {
  const target = fromArray(t, x.shape);
  const wts = fromArray(
    Float32Array.from(t, (v) => 1 + (posWeight - 1) * v),
    x.shape,
  );
  const l = add(sub(maximum(x, 0), mul(x, target)), log(add(exp(neg(abs(x))), 1)));
  return mean(mul(l, wts));
}

export function probeLoss(probe: Probe, r: ProbeRecipe, b: ProbeBatch): { loss: Tensor; parts: Tensor[] } {
  const c = probe.config;
  const h = c.height / c.pool;
  const w = c.width / c.pool;
  const s = sceneForward(probe.params.scene, fromArray(b.frames, [b.B, 3, h, w]));
  const parts = [
    crossEntropy(s.bg, 0, BG_HEAD.kind, b.bgKind),
    crossEntropy(s.bg, BG_HEAD.kind, BG_HEAD.colour, b.bgColour),
    bceWithLogits(s.heat, b.heat, r.heatPositiveWeight),
  ];
  if (b.N > 0) {
    const o = objectForward(probe.params.object, fromArray(b.crops, [b.N, CROP_CHANNELS, c.crop, c.crop]));
    parts.push(
      crossEntropy(o, 0, OBJ_HEAD.shape, b.shape),
      crossEntropy(o, OBJ_HEAD.shape, OBJ_HEAD.colour, b.colour),
      crossEntropy(o, OBJ_HEAD.shape + OBJ_HEAD.colour, OBJ_HEAD.pattern, b.pattern),
    );
  }
  return { loss: parts.reduce((a, x) => add(a, x)), parts };
}

/** The learning rate of the chunk starting at `step`: cosine from lr to lr x minLrRatio. */
export function lrAt(r: ProbeRecipe, step: number): number {
  if (r.finetune && step >= r.steps) {
    const n = r.finetune.steps - r.steps;
    const c2 = 0.5 * (1 + Math.cos((Math.PI * Math.min(step - r.steps, n)) / n));
    return r.finetune.lr * (r.minLrRatio + (1 - r.minLrRatio) * c2);
  }
  const c = 0.5 * (1 + Math.cos((Math.PI * Math.min(step, r.steps)) / r.steps));
  return r.lr * (r.minLrRatio + (1 - r.minLrRatio) * c);
}

/** Trains (or resumes) the probes; writes the EMA weights to `r.out`. */
export function trainProbe(
  r: ProbeRecipe,
  log: (line: string) => void = console.log,
  opts: { readonly signal?: AbortSignal } = {},
): Probe {
  return runToEnd(trainProbeSteps(r, log, opts));
}

/**
 * `trainProbe` as a generator that yields after every step (see `trainSteps` in train/loop.ts);
 * once `signal` is aborted it stops after the current step, with a checkpoint.
 */
export function* trainProbeSteps(
  r: ProbeRecipe,
  log: (line: string) => void = console.log,
  opts: { readonly signal?: AbortSignal } = {},
): Generator<void, Probe, void> {
  checkProbeRecipe(r);
  const probe = initProbe(r.model, r.seed);
  if (r.init) {
    const from = loadProbe(r.init).probe;
    for (const k of Object.keys(r.model) as (keyof ProbeConfig)[])
      if (JSON.stringify(from.config[k]) !== JSON.stringify(r.model[k]))
        throw new Error(
          `probe recipe: init ${r.init} has model.${k} ${JSON.stringify(from.config[k])}, not ${JSON.stringify(r.model[k])}`,
        );
    const src = new Map(namedTensors(from.params));
    for (const [name, t] of namedTensors(probe.params))
      t.backend.write(t.storage, src.get(name)!.dataSync() as Float32Array);
    log(`init: weights of ${r.init}`);
  }
  mkdirSync(r.work, { recursive: true });
  const t0 = performance.now();
  const stories = new Map<number, Story>();
  let vaePool: VaePool | null = null;
  if (r.augment.vae && r.augment.vae.prob > 0) {
    vaePool = yield* loadOrBuildVaePool(
      r.augment.vae,
      { seed: r.seed, storyPool: r.storyPool, width: r.model.width, height: r.model.height, work: r.work },
      log,
      opts.signal,
    );
    if (!vaePool)
      throw new Error('train probe: stopped while building the VAE pool (run it again to rebuild)');
  }
  let step = 0;
  let resume = r.resume ?? false;
  let ema: Map<string, Float32Array> | null = null;
  const chunk = r.checkpointEvery;
  const last = r.finetune?.steps ?? r.steps;
  while (step < last && !opts.signal?.aborted) {
    const res = yield* trainSteps({
      params: probe.params,
      lossFn: (b: ProbeBatch) => probeLoss(probe, r, b).loss,
      nextBatch: (s) => makeProbeBatch(r, s, stories, vaePool),
      steps: Math.min(last, (Math.floor(step / chunk) + 1) * chunk),
      adamw: { lr: lrAt(r, step), weightDecay: r.weightDecay },
      warmupSteps: r.warmup,
      maxGradNorm: r.clipNorm,
      emaDecay: r.emaDecay,
      seed: r.seed,
      checkpoint: { dir: r.work, every: chunk, resume, config: { recipe: r } },
      progressEvery: 10,
      log,
      signal: opts.signal,
    });
    resume = true;
    step = res.step;
    ema = res.state.ema;
    const minutes = (performance.now() - t0) / 60000;
    if (minutes >= r.maxMinutes && step < last) {
      log(`stopping at step ${step}: ${minutes.toFixed(1)} min >= maxMinutes ${r.maxMinutes}`);
      break;
    }
  }
  if (ema)
    for (const [name, t] of namedTensors(probe.params)) {
      const e = ema.get(name);
      if (e) t.backend.write(t.storage, e);
    }
  if (!existsSync(dirname(r.out))) mkdirSync(dirname(r.out), { recursive: true });
  saveProbe(r.out, probe, {
    step: String(step),
    minutes: ((performance.now() - t0) / 60000).toFixed(1),
    ...(r.init ? { init: r.init } : {}),
    ...(vaePool ? { vaeAugment: JSON.stringify(r.augment.vae) } : {}),
  });
  log(`saved ${r.out} (step ${step}, EMA weights)`);
  return probe;
}
