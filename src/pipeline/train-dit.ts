/**
 * Training the DiT with rectified flow on latents of synthetic world clips, the text encoder
 * frozen at its initialisation (see `params` below for why). The recipe is plain JSON
 * (configs/dit-*.json); `moga train dit --config` runs it.
 *
 *   1. clips (world-clips.ts) -> latents through the codec, once, cached on disk by codec and
 *      clip spec (the VAE is the slow part on a CPU; training reads the cache);
 *   2. trainLoop (src/train): AdamW, warm-up, clipping, EMA, atomic checkpoints in `work`, exact
 *      resume; run in segments of `checkpointEvery` steps so `maxMinutes` can stop it cleanly;
 *   3. the EMA weights go to `out` as a model directory (model.ts) with the recipe and the command.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { cpus, hostname } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { checkBranches } from '../attention/visual-attention.js';
import { getBackend } from '../backends/registry.js';
import { checkNoiseCorrelation } from '../diffusion/noise.js';
import type { TimeSampling } from '../diffusion/rectified-flow.js';
import { checkSamplerConfig } from '../diffusion/sampler.js';
import { readSafetensors } from '../io/safetensors.js';
import type { VideoDiT } from '../models/dit/dit.js';
import { growDiT } from '../models/dit/grow.js';
import {
  type ConditioningDraw,
  checkConditioningDraw,
  denoiser,
  PREDICTIONS,
  type Prediction,
  trainingLoss,
} from '../models/dit/objective.js';
import type { MultiShotText } from '../models/dit/text.js';
import { type DiTConfig, ditPreset } from '../models/presets.js';
import { type TextEncoderConfig, textEncoderConfig } from '../models/text/encoder.js';
import { makeTokenizer } from '../models/text/tokenizer.js';
import { VOCAB_V1 } from '../models/text/vocab.js';
import type { ParamTree } from '../nn/params.js';
import { namedTensors } from '../nn/params-file.js';
import type { Rng } from '../tensor/random.js';
import { fromArray, keep, noGrad } from '../tensor/tensor.js';
import { findCheckpoint, readStateJson } from '../train/checkpoint.js';
import { epochSampler } from '../train/epochs.js';
import { runToEnd, trainSteps } from '../train/loop.js';
import { crc32 } from '../video/png.js';
import type { LatentCodec } from './codec.js';
import { type CachedClip, readCachedClip, writeCachedClip } from './latent-cache.js';
import {
  type CodecSpec,
  checkCodecSpec,
  codecRoots,
  initModel,
  isInside,
  type ModelConfig,
  openCodec,
  type SamplingDefaults,
  saveModel,
} from './model.js';
import { objectWeights } from './object-weights.js';
import { formatDuration } from './progress.js';
import { encodeShots } from './story-text.js';
import { type ClipSpec, clipWindow, worldClip } from './world-clips.js';

export interface DitRecipe {
  /** DiT preset name plus overrides (spread over the preset). */
  readonly dit: { readonly preset: string } & Partial<DiTConfig>;
  /** Text encoder sizes; textDim follows the DiT. */
  readonly text: Partial<Omit<TextEncoderConfig, 'textDim' | 'vocabSize'>> & { readonly maxLength: number };
  /** Codec the latents come from; a VAE path is relative to the working directory. */
  readonly codec: CodecSpec;
  readonly data: ClipSpec & { readonly clips: number };
  readonly seed: number;
  readonly steps: number;
  /** Clips per optimizer step. */
  readonly batch: number;
  readonly lr: number;
  readonly warmup: number;
  readonly weightDecay: number;
  readonly clipNorm: number;
  readonly emaDecay: number;
  /** What the DiT learns to output (models/dit/objective.ts); default 'velocity'. */
  readonly prediction?: Prediction;
  readonly captionDropout: number;
  /** Examples sharing a layout run as one forward pass (objective.ts `batched`); default false. */
  readonly batchedForward?: boolean;
  readonly timeSampling: TimeSampling;
  readonly maxMinutes: number;
  readonly checkpointEvery: number;
  /** Latent cache root, resumable checkpoints, and the model directory written at the end. */
  readonly cache: string;
  readonly work: string;
  readonly out: string;
  /** Sampling defaults stored with the model. */
  readonly generation: SamplingDefaults;
  /**
   * A fresh run starts from another run's weights instead of random ones (models/dit/grow.ts: the
   * same blocks, plus new identity blocks when this recipe is deeper); optimizer state starts anew.
   */
  readonly init?: { readonly checkpoint: string; readonly weights: 'ema' | 'live' };
  /**
   * Train known-frame conditioning (needs dit.conditioning: true): each example is conditioned
   * with probability `prob` on frames drawn by kind from its layout (first, last, shots, prefix;
   * models/dit/objective.ts `drawGiven`), the loss on the other frames. Absent: nothing is drawn,
   * so a recipe without it trains, and resumes, exactly as before.
   */
  readonly conditioning?: ConditioningDraw;
  /**
   * Train self-conditioning (needs dit.selfCondition: true): the probability that an example's
   * pass reads the network's own x0 estimate from a first pass without gradient
   * (models/dit/objective.ts `selfCondition`; 0.5 in Chen et al. 2022). Absent: nothing is drawn.
   */
  readonly selfCondition?: number;
  /**
   * 'conditioning': train only the patch embedding's columns that read the given frames and their
   * mask, every other weight frozen at the recipe's `init`: with nothing given those columns read
   * zeros, so text to video stays exactly the source model's while the model learns to use given
   * frames. Absent: every weight trains.
   */
  readonly trainOnly?: 'conditioning';
  /**
   * Count the latent cells that hold objects 1 + objectWeight times as much in the loss
   * (pipeline/object-weights.ts; weights from the clips' truth). Absent or 0: every cell alike.
   */
  readonly objectWeight?: number;
  /**
   * Weight of the temporal term: the change of the prediction's error between consecutive latent
   * frames of a shot (models/dit/objective.ts `temporal`), against the flicker of consecutive
   * latent frames that disagree. Absent or 0: none.
   */
  readonly temporalWeight?: number;
  /**
   * Correlation of the training noise between consecutive latent frames of a shot
   * (diffusion/noise.ts `frameNoise`). Absent or 0: independent; the same normals are drawn either
   * way, so a run can switch it on when it resumes. Sampling's own is generation.noiseCorrelation.
   */
  readonly noiseCorrelation?: number;
}

export function checkDitRecipe(r: DitRecipe): void {
  const need = (ok: boolean, m: string) => {
    if (!ok) throw new Error(`dit recipe: ${m}`);
  };
  need(!!r && typeof r === 'object', 'expected a JSON object');
  need(typeof r.dit?.preset === 'string', 'dit.preset must name a DiT preset (tiny, small, ...)');
  ditPreset(r.dit.preset);
  need(
    Number.isInteger(r.text?.maxLength) && r.text.maxLength >= 2,
    'text.maxLength must be an integer >= 2',
  );
  // names that select code: an unknown one fails here, listing the valid ones
  const named = (f: () => void) => {
    try {
      f();
    } catch (e) {
      need(false, (e as Error).message);
    }
  };
  named(() => checkCodecSpec(r.codec));
  if (r.dit.attention?.branches) named(() => checkBranches(r.dit.attention!.branches));
  for (const k of ['steps', 'batch', 'checkpointEvery'] as const)
    need(Number.isInteger(r[k]) && r[k] > 0, `${k} must be a positive integer, got ${r[k]}`);
  const d = r.data;
  need(!!d && Number.isInteger(d.clips) && d.clips > 0, 'data.clips must be a positive integer');
  need(
    Number.isInteger(d.frames) && (d.frames - 1) % 4 === 0 && d.frames >= 1,
    `data.frames must be 1 + 4k (1 = single frames), got ${d?.frames}`,
  );
  need(
    d.width % 16 === 0 && d.height % 16 === 0 && d.width > 0 && d.height > 0,
    'data.width and data.height must be multiples of 16',
  );
  need(
    d.minSeconds * d.fps + 1 >= d.frames && d.maxSeconds >= d.minSeconds,
    'data.minSeconds must give stories at least data.frames long',
  );
  need(r.lr > 0 && r.maxMinutes > 0, 'lr and maxMinutes must be > 0');
  need(r.emaDecay >= 0 && r.emaDecay < 1, 'emaDecay must be in [0, 1)');
  need(
    r.prediction === undefined || PREDICTIONS.includes(r.prediction),
    `prediction must be one of ${PREDICTIONS.join(', ')}`,
  );
  need(r.captionDropout >= 0 && r.captionDropout <= 1, 'captionDropout must be in [0, 1]');
  need(
    typeof r.cache === 'string' && typeof r.work === 'string' && typeof r.out === 'string',
    'cache, work and out must be paths',
  );
  need(
    Number.isInteger(r.generation?.steps) && r.generation.steps > 0,
    'generation.steps must be a positive integer',
  );
  need(
    r.init === undefined ||
      (typeof r.init.checkpoint === 'string' && (r.init.weights === 'ema' || r.init.weights === 'live')),
    'init must be {"checkpoint": DIR, "weights": "ema" | "live"}',
  );
  need(
    r.objectWeight === undefined || (Number.isFinite(r.objectWeight) && r.objectWeight >= 0),
    `objectWeight must be a number >= 0, got ${r.objectWeight}`,
  );
  need(
    r.temporalWeight === undefined || (Number.isFinite(r.temporalWeight) && r.temporalWeight >= 0),
    `temporalWeight must be a number >= 0, got ${r.temporalWeight}`,
  );
  for (const [name, rho] of [
    ['noiseCorrelation', r.noiseCorrelation],
    ['generation.noiseCorrelation', r.generation.noiseCorrelation],
  ] as const)
    need(rho === undefined || checkNoiseCorrelation(rho), `${name} must be a number in [0, 1), got ${rho}`);
  named(() => checkSamplerConfig(r.generation.sampler));
  if (r.conditioning !== undefined) {
    named(() => checkConditioningDraw(r.conditioning!));
    need(
      r.dit.conditioning === true,
      'conditioning needs dit.conditioning: true (the model reads the given frames)',
    );
  }
  if (r.trainOnly !== undefined) {
    need(
      r.trainOnly === 'conditioning',
      `trainOnly must be "conditioning", got ${JSON.stringify(r.trainOnly)}`,
    );
    need(r.dit.conditioning === true, 'trainOnly "conditioning" needs dit.conditioning: true');
    need(r.init !== undefined, 'trainOnly "conditioning" needs init: the trained weights it keeps');
  }
  if (r.selfCondition !== undefined) {
    need(
      Number.isFinite(r.selfCondition) && r.selfCondition >= 0 && r.selfCondition <= 1,
      `selfCondition must be a probability in [0, 1], got ${JSON.stringify(r.selfCondition)}`,
    );
    need(
      r.dit.selfCondition === true,
      'selfCondition needs dit.selfCondition: true (the model reads its previous estimate)',
    );
  }
}

/**
 * Where the exported model finds its VAE: beside it in models/ (the bundled layout, by a relative
 * path), else a copy inside the model directory, since a model may only name files within its
 * own directory or its models/ folder (model.ts `codecRoots`).
 */
export function vaeOf(r: DitRecipe, outDir: string): { path: string; copyFrom?: string } | undefined {
  if (r.codec.kind !== 'vae') return undefined;
  const src = resolve(r.codec.path);
  return isInside(src, codecRoots(outDir))
    ? { path: relative(resolve(outDir), src) }
    : { path: 'vae.safetensors', copyFrom: src };
}

export function modelConfigOf(r: DitRecipe, outDir: string): ModelConfig {
  const { preset, ...over } = r.dit;
  const dit: DiTConfig = { ...ditPreset(preset), ...over };
  const tok = makeTokenizer(VOCAB_V1, r.text.maxLength);
  const { maxLength: _, ...textOver } = r.text;
  const vae = vaeOf(r, outDir);
  const codec: CodecSpec = vae ? { kind: 'vae', path: vae.path } : { kind: 'pool' };
  return {
    format: 'moga-model',
    version: 1,
    dit,
    text: textEncoderConfig(tok, dit.textDim, textOver),
    vocab: 'v1',
    codec,
    sampling: r.generation,
    prediction: r.prediction ?? 'velocity',
  };
}

/**
 * A folder name that changes whenever the latents can: the clip spec, or the codec's encoder
 * weights and latent statistics (a VAE whose decoder alone was tuned keeps its cache).
 */
export function latentCacheDir(r: DitRecipe): string {
  const d = r.data;
  const codecKey = r.codec.kind === 'pool' ? 'pool' : `vae-enc-${encoderKey(r.codec.path)}`;
  return join(
    r.cache,
    `${codecKey}-${d.width}x${d.height}x${d.frames}-${d.fps}fps-${d.minSeconds}-${d.maxSeconds}-g${d.globalProb}`,
  );
}

/** CRC-32 (hex) of a VAE file's encoder and latent-statistics tensors, in name order. */
function encoderKey(path: string): string {
  const f = readSafetensors(path);
  let crc = 0;
  for (const name of [...f.tensors.keys()].sort())
    if (name.startsWith('encoder.') || name.startsWith('latent_stats.')) {
      const t = f.tensors.get(name)!.data;
      crc = crc32(new Uint8Array(t.buffer, t.byteOffset, t.byteLength), crc);
    }
  return crc.toString(16);
}

/**
 * Encodes (or reads back) the latents of clips 0..n-1, yielding after each clip it encodes (each
 * is in the cache by then, so a run stopped here goes on from the next clip); null once `signal`
 * is aborted.
 */
function* cachedLatents(
  r: DitRecipe,
  codec: LatentCodec,
  log: (s: string) => void,
  signal?: AbortSignal,
): Generator<void, CachedClip[] | null, void> {
  const dir = latentCacheDir(r);
  mkdirSync(dir, { recursive: true });
  const out: CachedClip[] = [];
  const t0 = performance.now();
  let encoded = 0;
  let lastLog = 0;
  for (let i = 0; i < r.data.clips; i++) {
    const path = join(dir, `clip-${i}.safetensors`);
    if (existsSync(path)) {
      out.push(readCachedClip(path));
      continue;
    }
    const clip = worldClip(i, r.data, codec.time);
    const x = fromArray(clip.video, [3, r.data.frames, r.data.height, r.data.width]);
    const z = codec.encode(x);
    x.dispose();
    const latent = z.dataSync() as Float32Array;
    const shape = [...z.shape];
    z.dispose();
    const cached: CachedClip = {
      latent,
      shape,
      captions: clip.captions,
      shotFrames: clip.shotFrames,
      ...(clip.global ? { global: clip.global } : {}),
    };
    writeCachedClip(path, cached);
    out.push(cached);
    encoded++;
    const now = performance.now();
    if (now - lastLog > 5000 || i === r.data.clips - 1) {
      const rate = encoded / ((now - t0) / 1000);
      log(
        `encode  ${i + 1}/${r.data.clips} clips  ${rate.toFixed(2)} clips/s  ETA ${formatDuration((r.data.clips - i - 1) / rate)}`,
      );
      lastLog = now;
    }
    yield;
    if (signal?.aborted) {
      log(
        `stopped while encoding: ${i + 1} of ${r.data.clips} clips cached in ${dir}; a new run goes on from there`,
      );
      return null;
    }
  }
  if (encoded === 0) log(`latents: ${out.length} clips read from ${dir}`);
  return out;
}

export interface TrainDitResult {
  readonly step: number;
  readonly minutes: number;
  readonly finalLoss: number | null;
  readonly out: string;
  /** Why the run ended: `steps` reached, `maxMinutes` passed, or `signal` aborted. */
  readonly stopped: 'steps' | 'time' | 'signal';
}

export interface TrainDitOptions {
  readonly resume?: boolean;
  /** Recorded in the model's config.json. */
  readonly command?: string;
  readonly log?: (s: string) => void;
  /** Stop after the current step (or clip being encoded), with a checkpoint, once aborted. */
  readonly signal?: AbortSignal;
}

/** Runs (or resumes) a recipe; `command` is recorded in the model's config.json. */
export function trainDit(r: DitRecipe, opts: TrainDitOptions = {}): TrainDitResult {
  return runToEnd(trainDitSteps(r, opts));
}

/**
 * `trainDit` as a generator that yields after every step and every clip it encodes (see
 * `trainSteps`); `moga train dit` drives it with `runYielding` so Ctrl-C can stop it cleanly.
 */
export function* trainDitSteps(
  r: DitRecipe,
  opts: TrainDitOptions = {},
): Generator<void, TrainDitResult, void> {
  checkDitRecipe(r);
  const log = opts.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const codec = openCodec(r.codec, process.cwd());
  const model = initModel(modelConfigOf(r, r.out), r.seed, codec);
  const clips = yield* cachedLatents(r, codec, log, opts.signal);
  if (!clips) {
    const at = findCheckpoint(r.work);
    return {
      step: at ? readStateJson(at).step : 0,
      minutes: 0,
      finalLoss: null,
      out: r.out,
      stopped: 'signal',
    };
  }
  // The text encoder stays frozen, as Wan2.1's umT5 is. Trained jointly from scratch it collapses:
  // a shared component of its output is the cheapest bias the DiT can use, it grows, and the
  // encoder's final LayerNorm then scales every caption-specific difference towards zero (in 30
  // steps on two clips the rows' spread falls from 0.5x to 0.02x their mean, and the captions of
  // the bundled model ended up changing its output by 2e-5).
  const params = { dit: model.dit.params };
  const pick = epochSampler(clips.length, r.seed + 1000003); // a stream apart from the loss's (seed r.seed)
  const nextBatch = (step: number) =>
    Array.from({ length: r.batch }, (_, j) => clips[pick(step * r.batch + j)]);
  // frozen encoder: each clip's captions are encoded once, kept out of the step's memory scope
  const texts = new Map<CachedClip, MultiShotText>();
  const textOf = (c: CachedClip) => {
    let t = texts.get(c);
    if (!t) {
      t = noGrad(() => encodeShots(model.captions, c.captions, c.shotFrames, c.global));
      keep([...t.shots.map((s) => s.caption), ...(t.global ? [t.global] : [])]);
      texts.set(c, t);
    }
    return t;
  };
  const weights = objectWeightsOf(r, clips, codec.time);
  const lossFn = (batch: CachedClip[], _step: number, rng: Rng) => {
    const examples = batch.map((c) => ({
      latents: fromArray(c.latent, c.shape),
      text: textOf(c),
      ...(weights ? { weight: weights.get(c) } : {}),
    }));
    const res = trainingLoss(denoiser(model.dit), examples, rng, {
      prediction: r.prediction ?? 'velocity',
      sampling: r.timeSampling,
      captionDropout: r.captionDropout,
      batched: r.batchedForward ?? false,
      ...(r.conditioning ? { conditioning: r.conditioning } : {}),
      ...(r.selfCondition !== undefined ? { selfCondition: r.selfCondition } : {}),
      ...(r.temporalWeight ? { temporal: r.temporalWeight } : {}),
      ...(r.noiseCorrelation ? { noiseCorrelation: r.noiseCorrelation } : {}),
    });
    lastMse = res.mse;
    return res.loss;
  };
  let lastMse = Number.NaN;
  const t0 = performance.now();
  const resume = opts.resume ?? false;
  // `<work>` or, after a crash in the middle of a checkpoint swap, `<work>.prev`
  const found = findCheckpoint(r.work);
  let step = resume && found ? readStateJson(found).step : 0;
  const startStep = step;
  if (!resume && found)
    throw new Error(
      `train dit: ${r.work} already holds a checkpoint; pass --resume to continue it or remove it`,
    );
  const initFrom = step === 0 && r.init ? warmStart(model.dit, r.init) : undefined;
  if (initFrom)
    log(
      `init: ${initFrom.blocks} blocks from ${r.init!.checkpoint} (step ${initFrom.step}, ${r.init!.weights} weights)`,
    );
  let finalLoss: number | null = null;
  let lastLog = 0;
  let mseAvg = Number.NaN;
  // a warm-started run carries its source's runs, so the model card lists the whole chain
  const history = found ? readHistory(found) : [];
  if (initFrom && history.length === 0) history.push(...readHistory(r.init!.checkpoint));
  const run: TrainingRun = {
    command: opts.command ?? null,
    machine: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown CPU'}, ${hostname()}`,
    backend: getBackend().name,
    startedAt: new Date().toISOString(),
    fromStep: step,
    toStep: step,
    minutes: 0,
    ...(initFrom ? { initFrom: { ...r.init!, step: initFrom.step } } : {}),
  };
  history.push(run);
  // the history goes into every checkpoint (part of its atomic swap), so it always matches its step
  const historyAt = (s: number) => {
    run.toStep = s;
    run.minutes = Math.round(((performance.now() - t0) / 60000) * 10) / 10;
    return { [HISTORY]: `${JSON.stringify(history, null, 2)}\n` };
  };
  let stopped: TrainDitResult['stopped'] = 'steps';
  while (step < r.steps) {
    const minutes = (performance.now() - t0) / 60000;
    if (minutes >= r.maxMinutes) {
      log(`time limit of ${r.maxMinutes} min reached at step ${step}`);
      stopped = 'time';
      break;
    }
    if (opts.signal?.aborted) {
      stopped = 'signal';
      break;
    }
    const target = Math.min(r.steps, step + r.checkpointEvery);
    const res = yield* trainSteps({
      params,
      lossFn,
      nextBatch,
      steps: target,
      adamw: { lr: r.lr, weightDecay: r.weightDecay },
      warmupSteps: r.warmup,
      maxGradNorm: r.clipNorm,
      emaDecay: r.emaDecay,
      seed: r.seed,
      ...(r.trainOnly ? { trainOnly: conditioningColumns(model.dit) } : {}),
      checkpoint: {
        dir: r.work,
        every: r.checkpointEvery,
        config: { recipe: r },
        resume: true,
        files: historyAt,
      },
      progress: 'none',
      signal: opts.signal,
      onStep: (info) => {
        finalLoss = info.loss;
        mseAvg = Number.isNaN(mseAvg) ? lastMse : 0.98 * mseAvg + 0.02 * lastMse;
        const now = performance.now();
        if (now - lastLog > 5000 || info.step === r.steps) {
          const secs = (now - t0) / 1000;
          const rate = (info.step - startStep) / secs;
          const left = Math.min((r.steps - info.step) / rate, r.maxMinutes * 60 - secs);
          log(
            `train   step ${info.step}/${r.steps}  loss ${info.loss.toFixed(4)}  mse(avg) ${mseAvg.toFixed(4)}  |g| ${info.gradNorm.toFixed(3)}  ${rate.toFixed(2)} steps/s  ETA ${formatDuration(left)}`,
          );
          lastLog = now;
        }
      },
    });
    step = res.step;
    run.toStep = step;
    run.minutes = Math.round(((performance.now() - t0) / 60000) * 10) / 10;
    saveTrained(r, model, res.state.ema, { steps: step, history, finalLoss, emaMse: mseAvg });
  }
  const minutes = (performance.now() - t0) / 60000;
  log(
    run.toStep > run.fromStep
      ? `saved ${r.out} (step ${step}, ${minutes.toFixed(1)} min)`
      : stopped === 'steps'
        ? `nothing to train: ${r.work} is at step ${step} of ${r.steps}`
        : `stopped (${stopped}) before the first step of this run, at step ${step}`,
  );
  return { step, minutes, finalLoss, out: r.out, stopped };
}

/**
 * Writes the model directory `r.out` from the checkpoint in `r.work` without training: its EMA
 * weights (the live ones when it keeps none) and its history, as training writes it. For a
 * model directory that was lost or never written; needs no latent cache.
 */
export function exportDitModel(
  r: DitRecipe,
  log: (s: string) => void = () => {},
): { step: number; out: string } {
  checkDitRecipe(r);
  const at = findCheckpoint(r.work);
  if (!at) throw new Error(`train dit --export: ${r.work} holds no checkpoint`);
  const model = initModel(modelConfigOf(r, r.out), r.seed, openCodec(r.codec, process.cwd()));
  const file = existsSync(join(at, 'ema.safetensors')) ? 'ema.safetensors' : 'model.safetensors';
  const values = new Map<string, Float32Array>();
  for (const [name, t] of readSafetensors(join(at, file)).tensors) values.set(name, t.data as Float32Array);
  const step = readStateJson(at).step;
  saveTrained(r, model, values, { steps: step, history: readHistory(at), finalLoss: null, emaMse: null });
  log(`saved ${r.out} from ${at}/${file} (step ${step})`);
  return { step, out: r.out };
}

/** Writes the model directory with `weights` (the EMA, by parameter name) in place of the live ones. */
function saveTrained(
  r: DitRecipe,
  model: ReturnType<typeof initModel>,
  weights: Map<string, Float32Array> | null,
  run: { steps: number; history: TrainingRun[]; finalLoss: number | null; emaMse: number | null },
): void {
  const training = {
    recipe: r,
    steps: run.steps,
    minutes: Math.round(run.history.reduce((a, h) => a + h.minutes, 0) * 10) / 10,
    finalLoss: run.finalLoss,
    emaMse: run.emaMse,
    weights: weights ? 'EMA' : 'last',
    finishedAt: new Date().toISOString(),
    history: run.history,
  };
  const vae = vaeOf(r, r.out);
  withWeights({ dit: model.dit.params }, weights, () =>
    saveModel(
      r.out,
      { config: { ...modelConfigOf(r, r.out), training }, dit: model.dit, text: model.text },
      'F16',
      vae?.copyFrom ? { [vae.path]: vae.copyFrom } : {},
    ),
  );
}

/** Each clip's loss weights (clips[i] is world clip i), or undefined when the recipe has none. */
function objectWeightsOf(
  r: DitRecipe,
  clips: readonly CachedClip[],
  time: number,
): Map<CachedClip, Float32Array> | undefined {
  if (!r.objectWeight) return undefined;
  return new Map(
    clips.map((c, i) => {
      const { story, start } = clipWindow(i, r.data);
      const [, F, H, W] = c.shape;
      return [c, objectWeights(story, start, [F, H, W], time, r.objectWeight!)];
    }),
  );
}

/** Loads another run's DiT weights into a fresh model (growing it when deeper). */
function warmStart(dit: VideoDiT, init: NonNullable<DitRecipe['init']>): { blocks: number; step: number } {
  const at = findCheckpoint(init.checkpoint);
  if (!at) throw new Error(`train dit: init.checkpoint ${init.checkpoint} holds no checkpoint`);
  const file = readSafetensors(join(at, init.weights === 'ema' ? 'ema.safetensors' : 'model.safetensors'));
  const weights = new Map<string, Float32Array>();
  for (const [name, t] of file.tensors)
    if (name.startsWith('dit.')) weights.set(name.slice(4), t.data as Float32Array);
  return { blocks: growDiT(dit, weights), step: readStateJson(at).step };
}

/** Runs `fn` with `values` (by parameter name) in place of the weights, then puts them back. */
function withWeights(params: ParamTree, values: Map<string, Float32Array> | null, fn: () => void): void {
  const named = values ? namedTensors(params).filter(([name]) => values.has(name)) : [];
  const live = named.map(([, t]) => t.dataSync() as Float32Array);
  named.forEach(([name, t]) => t.backend.write(t.storage, values!.get(name)!));
  try {
    fn();
  } finally {
    named.forEach(([, t], i) => t.backend.write(t.storage, live[i]));
  }
}

/** One invocation of `trainDit` on a work directory, as the model card and config.json list them. */
export interface TrainingRun {
  command: string | null;
  machine: string;
  backend: string;
  startedAt: string;
  fromStep: number;
  toStep: number;
  minutes: number;
  /** A fresh run warm-started from another run's weights (recipe `init`), at that run's step. */
  initFrom?: { checkpoint: string; weights: 'ema' | 'live'; step: number };
}

/** The runs of a recipe, a file of its checkpoints. */
const HISTORY = 'history.json';

function readHistory(checkpoint: string): TrainingRun[] {
  const path = join(checkpoint, HISTORY);
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : [];
}

/**
 * The mask of `trainOnly: 'conditioning'`: of the patch embedding [dim, inDim] (inputs x_t, then
 * the given frames and their mask, then any self-conditioning input: models/dit/dit.ts), the
 * (C + 1) * cells columns after x_t's C * cells.
 */
function conditioningColumns(dit: VideoDiT): ReadonlyMap<string, Uint8Array> {
  const [rows, inDim] = dit.params.patchEmbed.weight.shape;
  const { latentChannels: C, patch } = dit.config;
  const cells = patch[0] * patch[1] * patch[2];
  const mask = new Uint8Array(rows * inDim);
  for (let o = 0; o < rows; o++) mask.fill(1, o * inDim + C * cells, o * inDim + (2 * C + 1) * cells);
  return new Map([['dit.patchEmbed.weight', mask]]); // the params tree is { dit: model.dit.params }
}
