/**
 * generate(story, model): the product path, one explicit loop per stage.
 *
 *   captions --text encoder--> per-shot + global embeddings
 *   shot layout --> latent grid [C, 1 + (F-1)/4, H/8, W/8] with shot starts
 *   embeddings + grid --DiT conditioning, once--> embedded captions, cross-attention plan, rotary
 *                   tables, fixed self-attention plans (reused by every sampler step, then freed)
 *   noise --sampler (rectified flow, CFG)--> latent
 *   latent --codec, chunk by chunk (causal cache)--> frames --> onFrame (e.g. the MP4 writer)
 *
 * Memory stays flat in the length of the video apart from the latent itself: frames leave as
 * soon as they are decoded unless `collect` asks to keep them.
 */

import { setImmediate as nextTurn } from 'node:timers/promises';
import { tapRouting } from '../attention/router.js';
import { withBackend } from '../backends/index.js';
import { checkNoiseCorrelation, frameNoise } from '../diffusion/noise.js';
import { sampling } from '../diffusion/sample.js';
import type { SamplerConfig } from '../diffusion/sampler.js';
import { type GivenFrames, givenMask } from '../models/dit/dit.js';
import { denoiser, samplingVelocity } from '../models/dit/objective.js';
import type { MultiShotText } from '../models/dit/text.js';
import { type LatentLayout, latentFrameOf } from '../models/latent-layout.js';
import { tokenizeText } from '../models/text/tokenizer.js';
import { parseStory, type Story } from '../story/story.js';
import { sliceAxis } from '../tensor/ops.js';
import { Rng } from '../tensor/random.js';
import { noGrad, type Tensor, tidy } from '../tensor/tensor.js';
import { latentLayout } from './layout.js';
import { defaultMemoryLimit, estimateGenerateMemory, gib } from './memory-estimate.js';
import type { MogaModel } from './model.js';
import { type ProgressEvent, stageTracker } from './progress.js';
import { encodeShots } from './story-text.js';

export interface GenerateOptions {
  /** Sampler steps (default: the model's). */
  readonly steps?: number;
  /** Seed of the starting noise (default: the story's). */
  readonly seed?: number;
  /** Classifier-free guidance scale (default: the model's; 1 = one DiT pass per step). */
  readonly guidance?: number;
  /** Guide only while t > this, one pass per step below it (default: the model's, else 0). */
  readonly guidanceUntil?: number;
  /** Correlation of the starting noise between a shot's latent frames, in [0, 1) (default: the model's, else 0). */
  readonly noiseCorrelation?: number;
  readonly shift?: number;
  readonly sampler?: SamplerConfig;
  /** Latent frames per decode chunk after the first (default 4 = 16 video frames). */
  readonly decodeChunk?: number;
  readonly onProgress?: (e: ProgressEvent) => void;
  /** Each frame (RGB bytes, H*W*3) as soon as it is decoded; awaited, so a slow sink applies back-pressure. */
  readonly onFrame?: (rgb: Uint8Array, index: number) => void | Promise<void>;
  /** Keep the frames in the result (default: true when there is no onFrame). */
  readonly collect?: boolean;
  /** Refuse captions with words outside the model's vocabulary (default: generate, and report them). */
  readonly strictVocab?: boolean;
  /** Refuse, before allocating, a story estimated to need more bytes (default: the memory available now). */
  readonly maxMemory?: number;
  /**
   * Stops the generation when aborted: checked before each stage, after every sampler step and
   * after every decode chunk; the promise then rejects with the signal's reason (an AbortError
   * by default) and everything it allocated is freed.
   */
  readonly signal?: AbortSignal;
  /**
   * The MoGA routing of the last sampler step (the cleanest latent; the conditional sample under
   * guidance): one call per routed layer, in layer order, with each token's group
   * (token = (f * H + y) * W + x on the DiT's token grid). What `generate --maps` draws.
   */
  /**
   * Known latent frames (a DiT with dit.conditioning): the sampler keeps them (diffusion/sample.ts
   * `given`), the DiT reads them (models/dit/dit.ts `GivenFrames`). What regenerate, extend and
   * generate --image build (pipeline/conditioning.ts).
   */
  readonly given?: GivenFrames;
  /** The final latent [C, F, h, w] (host copy) before decoding: what generate-mp4 saves. */
  readonly onLatent?: (latent: Float32Array, shape: readonly number[]) => void;
  readonly onRouting?: (r: {
    readonly layer: number;
    readonly groupIds: Int32Array;
    readonly groups: number;
  }) => void;
}

/** Beyond this, guidance only saturates the video (the trained scales are 1 to ~7). */
export const MAX_GUIDANCE = 50;

/** Whether `g` is a usable guidance scale: finite, in [0, MAX_GUIDANCE]. */
export function checkGuidance(g: number): boolean {
  return Number.isFinite(g) && g >= 0 && g <= MAX_GUIDANCE;
}

/** Whether `t` is a usable guidanceUntil: a number in [0, 1] (0: guide every step). */
export function checkGuidanceUntil(t: number): boolean {
  return t >= 0 && t <= 1;
}

/** Caption words the model never saw in training (encoded byte by byte, so their meaning is lost). */
export interface UnknownWords {
  /** The shot's index, or 'global' for the story's global caption. */
  readonly caption: number | 'global';
  readonly words: readonly string[];
}

export interface GenerateResult {
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly layout: LatentLayout;
  readonly steps: number;
  readonly seed: number;
  readonly guidance: number;
  readonly guidanceUntil: number;
  readonly noiseCorrelation: number;
  readonly codec: MogaModel['codec']['kind'];
  /** Wall-clock seconds per stage. */
  readonly seconds: { text: number; sample: number; decode: number; total: number };
  /** Captions with words outside the vocabulary (empty when every word is known). */
  readonly unknownWords: readonly UnknownWords[];
  /** The frames, when collected. */
  readonly video?: Uint8Array[];
}

/**
 * Story + model -> video. The story is validated first (the same checks and messages as a story
 * file), and the work runs on the model's backend whatever the current one is.
 */
export async function generate(
  story: Story,
  model: MogaModel,
  opts: GenerateOptions = {},
): Promise<GenerateResult> {
  const checked = parseStory(story, 'story');
  return withBackend(model.backend, () => run(checked, model, opts));
}

/** Unknown words per caption; `strict` makes any of them an error naming them. */
export function unknownWords(
  story: Story,
  model: Pick<MogaModel, 'tokenizer'>,
  strict = false,
): UnknownWords[] {
  const captions: [number | 'global', string][] = story.shots.map((s, i) => [i, s.caption]);
  if (story.global !== undefined) captions.unshift(['global', story.global]);
  const found = captions
    .map(([caption, text]) => ({ caption, words: tokenizeText(model.tokenizer, text).unknown }))
    .filter((u) => u.words.length > 0);
  if (strict && found.length > 0)
    throw new Error(
      `generate: words outside the model's vocabulary: ${describeUnknown(found)} (rephrase with known words, or drop strict vocabulary)`,
    );
  return found;
}

/** "shots[1]: elephant, dances; global: purple" */
export function describeUnknown(u: readonly UnknownWords[]): string {
  return u
    .map((x) => `${x.caption === 'global' ? 'global' : `shots[${x.caption}]`}: ${x.words.join(', ')}`)
    .join('; ');
}

async function run(story: Story, model: MogaModel, opts: GenerateOptions): Promise<GenerateResult> {
  const t0 = performance.now();
  const stop = () => opts.signal?.throwIfAborted();
  stop();
  const unknown = unknownWords(story, model, opts.strictVocab);
  const s = model.config.sampling;
  const steps = opts.steps ?? s.steps;
  const seed = opts.seed ?? story.seed;
  const guidance = opts.guidance ?? s.guidance;
  if (!Number.isInteger(steps) || steps < 1)
    throw new Error(`generate: steps must be a positive integer, got ${steps}`);
  if (!checkGuidance(guidance))
    throw new Error(`generate: guidance must be a finite number in [0, ${MAX_GUIDANCE}], got ${guidance}`);
  const guidanceUntil = opts.guidanceUntil ?? s.guidanceUntil ?? 0;
  if (!checkGuidanceUntil(guidanceUntil))
    throw new Error(`generate: guidanceUntil must be a number in [0, 1], got ${guidanceUntil}`);
  const noiseCorrelation = opts.noiseCorrelation ?? s.noiseCorrelation ?? 0;
  if (!checkNoiseCorrelation(noiseCorrelation))
    throw new Error(`generate: noiseCorrelation must be a number in [0, 1), got ${noiseCorrelation}`);
  // the noise RNG keys on 32 bits: 2^32 would silently give the video of seed 0
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new Error(`generate: seed must be an integer in [0, 2^32), got ${seed}`);
  const chunk = opts.decodeChunk ?? 4;
  if (!Number.isInteger(chunk) || chunk < 1)
    throw new Error(`generate: decodeChunk must be a positive integer, got ${chunk}`);
  const { codec } = model;
  const patch = model.config.dit.patch;
  const layout = latentLayout(story, codec);
  if (layout.height % patch[1] || layout.width % patch[2])
    throw new Error(
      `generate: latent ${layout.width}x${layout.height} is not divisible by the DiT patch ${patch[2]}x${patch[1]}; use a size that is a multiple of ${codec.space * patch[1]}`,
    );

  // refuse what cannot fit before allocating any of it (collected frames are the caller's choice)
  const need = estimateGenerateMemory(layout, model, {
    guidance,
    decodeChunk: chunk,
    decoders: opts.given?.whole ? 2 : 1,
  });
  const limit = opts.maxMemory ?? defaultMemoryLimit();
  if (need.bytes > limit)
    throw new Error(
      `generate: this story needs about ${gib(need.bytes)} of memory (sampling ${gib(need.sampling)}, decoding ${gib(need.decoding)}), more than the limit of ${gib(limit)} (--max-memory; default: the memory available now); make the story shorter or smaller`,
    );

  // 1. captions
  stop();
  const textTrack = stageTracker('text', 1, 'passes', opts.onProgress);
  const text: MultiShotText = noGrad(() =>
    tidy(() =>
      encodeShots(
        model.captions,
        story.shots.map((x) => x.caption),
        layout.shotFrames,
        story.global,
      ),
    ),
  );
  textTrack(1);
  const t1 = performance.now();

  // 2. sample the latent
  const shape = [codec.channels, layout.latentFrames, layout.height, layout.width];
  const given = opts.given;
  if (given && !model.config.dit.conditioning)
    throw new Error(
      'generate: this model has no conditioning input (dit.conditioning): it cannot keep given frames; use a model trained with a recipe conditioning field',
    );
  if (given && given.latent.shape.join() !== shape.join())
    throw new Error(
      `generate: the given latent is [${given.latent.shape}] but this story's latent is [${shape}]`,
    );
  const mask = given ? givenMask(given.frames, shape) : undefined;
  const sampleTrack = stageTracker('sample', steps, 'steps', opts.onProgress);
  sampleTrack(0);
  // conditioned once (caption MLP, cross-attention plan, rotary tables, fixed plans), every step reuses it
  const v = samplingVelocity(
    denoiser(model.dit),
    text,
    guidance,
    model.config.prediction ?? 'velocity',
    shape,
    given,
    guidanceUntil,
  );
  const noise = frameNoise(new Rng(seed), shape, noiseCorrelation, layout.shotStarts);
  let latent: Tensor;
  try {
    const stepper = sampling({
      velocity: v.velocity,
      shape,
      sampler: opts.sampler ?? s.sampler,
      steps,
      shift: opts.shift ?? s.shift,
      noise,
      ...(given && mask ? { given: { latent: given.latent, mask } } : {}),
      onStep: (info) => sampleTrack(info.step + 1),
    });
    const onRouting = opts.onRouting;
    for (let call = 0; ; call++) {
      const next = () => noGrad(() => stepper.next());
      let layer = 0;
      const r =
        onRouting && call === steps - 1
          ? tapRouting((v) => onRouting({ ...v, layer: layer++ }), next)
          : next();
      if (r.done) {
        latent = r.value;
        break;
      }
      await nextTurn(); // a turn for signal handlers (Ctrl-C) and aborts between steps
      if (opts.signal?.aborted) {
        stepper.return(undefined as never); // frees the sampler's state
        stop();
      }
    }
  } finally {
    noise.dispose(); // the sampler leaves a caller's starting noise alone
    v.dispose();
    mask?.dispose();
    disposeText(text);
  }
  if (opts.onLatent) opts.onLatent(Float32Array.from(latent.dataSync() as Float32Array), [...latent.shape]);
  const t2 = performance.now();

  // 3. decode chunk by chunk and hand frames on
  const collect = opts.collect ?? !opts.onFrame;
  const video: Uint8Array[] | undefined = collect ? [] : undefined;
  const decodeTrack = stageTracker('decode', layout.frames, 'frames', opts.onProgress);
  decodeTrack(0);
  // A whole earlier latent (regenerate) is decoded beside the new one and gives the frames of its
  // given latent frames: the decoder's causal context would otherwise carry a regenerated shot
  // into the kept frames after it (about 35 frames with the VAE).
  const kept = given?.whole ? given : undefined;
  const decoders = [latent, ...(kept ? [kept.latent] : [])].map((l) => ({ l, dec: codec.decoder() }));
  const restarts = given?.restarts ?? [];
  let written = 0;
  try {
    for (let a = 0; a < layout.latentFrames && written < layout.frames; ) {
      const restart = restarts.find((r) => r.frame === a);
      if (restart) {
        // an image-given shot start: a fresh causal state primed with the image alone
        const d = decoders[0];
        d.dec.close();
        d.dec = codec.decoder();
        noGrad(() => d.dec.push(restart.primer)).dispose();
      }
      const next = restarts.find((r) => r.frame > a)?.frame ?? layout.latentFrames;
      const b = Math.min(next, layout.latentFrames, a === 0 ? 1 + chunk : a + chunk);
      // not inside tidy: the decoder's causal cache must outlive this chunk (the codec scopes its own work)
      const [rgbs, keptRgbs] = decoders.map(({ l, dec }) => {
        const z = sliceAxis(l, 1, a, b);
        const frames = noGrad(() => dec.push(z)); // (3, f, H, W)
        z.dispose();
        const rgbs = toRgbFrames(frames);
        frames.dispose();
        return rgbs;
      });
      for (const [i, fresh] of rgbs.entries()) {
        if (written >= layout.frames) break;
        const rgb = kept?.frames[latentFrameOf(written, codec.time)] ? keptRgbs[i] : fresh;
        await opts.onFrame?.(rgb, written);
        video?.push(rgb);
        written++;
      }
      decodeTrack(written);
      a = b;
      stop();
    }
  } finally {
    for (const { dec } of decoders) dec.close();
    latent.dispose();
  }
  if (written !== layout.frames)
    throw new Error(`generate: decoded ${written} frames but the story has ${layout.frames}`);
  const t3 = performance.now();
  return {
    frames: written,
    width: story.width,
    height: story.height,
    fps: story.fps,
    layout,
    steps,
    seed,
    guidance,
    guidanceUntil,
    noiseCorrelation,
    codec: codec.kind,
    unknownWords: unknown,
    seconds: {
      text: (t1 - t0) / 1000,
      sample: (t2 - t1) / 1000,
      decode: (t3 - t2) / 1000,
      total: (t3 - t0) / 1000,
    },
    ...(video ? { video } : {}),
  };
}

function disposeText(t: MultiShotText): void {
  for (const s of t.shots) s.caption.dispose();
  t.global?.dispose();
}

/** [3, F, H, W] in [-1, 1] -> F RGB byte frames (clamped, rounded). */
export function toRgbFrames(video: Tensor): Uint8Array[] {
  const [c, F, H, W] = video.shape;
  if (video.rank !== 4 || c !== 3)
    throw new Error(`toRgbFrames: expected [3, F, H, W], got [${video.shape}]`);
  const x = video.dataSync() as Float32Array;
  const P = H * W;
  return Array.from({ length: F }, (_, f) => {
    const out = new Uint8Array(P * 3);
    for (let ch = 0; ch < 3; ch++) {
      const o = (ch * F + f) * P;
      for (let i = 0; i < P; i++) {
        const v = x[o + i];
        out[3 * i + ch] = Math.round(Math.max(-1, Math.min(1, v)) * 127.5 + 127.5);
      }
    }
    return out;
  });
}
