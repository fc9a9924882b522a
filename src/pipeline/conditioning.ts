/**
 * What regenerate, extend and generate --image build on the one conditioning mechanism
 * (models/dit/dit.ts `GivenFrames`): a known latent and which of its latent frames are given.
 *
 * Saved generations. `generate` can save its final latent beside the MP4 (`out.mp4` ->
 * `out.latent.safetensors` and `out.json`: the story, seed, steps, guidance (guidanceUntil, noiseCorrelation), sampler and the model's
 * identity, a SHA-256 of its DiT weights), so a later command can keep what it made:
 *   - regenerate: every latent frame given but those of the chosen shots (the story's layout is
 *     unchanged, so the old latent lines up frame for frame);
 *   - extend: the old story with shots appended; the old latent is a given prefix, up to the
 *     first latent frame the first new shot owns (models/latent-layout.ts's cut rule);
 *   - image: a shot's first (last) latent frame given as the codec's encoding of the image.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checkNoiseCorrelation } from '../diffusion/noise.js';
import type { SamplerConfig } from '../diffusion/sampler.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import type { GivenFrames } from '../models/dit/dit.js';
import { namedParams } from '../nn/params.js';
import { parseStory, type Story } from '../story/story.js';
import { framesToTensor } from '../tensor/frames.js';
import { sliceAxis } from '../tensor/ops.js';
import { fromArray, noGrad, type Tensor, tidy } from '../tensor/tensor.js';
import type { LatentCodec, LatentDecoder } from './codec.js';
import { checkGuidanceUntil } from './generate.js';
import { latentLayout } from './layout.js';
import type { MogaModel } from './model.js';

export const GENERATION_FORMAT = 'moga-generation';

/** `out.json`: what a generation was made from and with. */
export interface SavedGeneration {
  readonly format: typeof GENERATION_FORMAT;
  readonly version: 1;
  readonly story: Story;
  readonly seed: number;
  readonly steps: number;
  readonly guidance: number;
  /**
   * Guidance ran while t > this (generate.ts `guidanceUntil`). Optional, so files written before it
   * was recorded still read (version 1 either way); absent: the model's default, which is what
   * those generations used.
   */
  readonly guidanceUntil?: number;
  /** The starting noise's correlation (generate.ts `noiseCorrelation`); optional like guidanceUntil. */
  readonly noiseCorrelation?: number;
  readonly shift: number;
  readonly sampler: SamplerConfig;
  readonly model: {
    /** The model directory it was loaded from (null: an in-memory model). */
    readonly dir: string | null;
    /** SHA-256 of the DiT weights (`ditIdentity`): what regenerate and extend check. */
    readonly dit: string;
    readonly codec: string;
  };
  /** The latent file, relative to this file's folder, and its shape [C, F, h, w]. */
  readonly latent: { readonly file: string; readonly shape: readonly number[] };
}

/** out.mp4 -> out.json and out.latent.safetensors (beside it). */
export function savedPaths(out: string): { json: string; latent: string } {
  const stem = out.replace(/\.mp4$/i, '');
  return { json: `${stem}.json`, latent: `${stem}.latent.safetensors` };
}

/** SHA-256 of a model's DiT weights, by parameter name in tree order (float32 as loaded). */
export function ditIdentity(model: Pick<MogaModel, 'dit'>): string {
  const h = createHash('sha256');
  for (const [name, t] of namedParams(model.dit.params as never)) {
    const v = t.dataSync() as Float32Array;
    h.update(`${name}[${t.shape}]`);
    h.update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }
  return h.digest('hex');
}

/** Writes the latent, then the settings that name it, each atomically. */
export function saveGeneration(
  out: string,
  g: Omit<SavedGeneration, 'format' | 'version' | 'latent'>,
  latent: Float32Array,
  shape: readonly number[],
): SavedGeneration {
  const p = savedPaths(out);
  writeSafetensors(p.latent, { latent: { shape, data: latent } }, { format: GENERATION_FORMAT });
  const saved: SavedGeneration = {
    format: GENERATION_FORMAT,
    version: 1,
    ...g,
    latent: { file: basename(p.latent), shape: [...shape] },
  };
  writeFileAtomic(p.json, `${JSON.stringify(saved, null, 2)}\n`);
  return saved;
}

/** Reads `out.json` and its latent, every problem named with the file. */
export function readGeneration(jsonPath: string): { saved: SavedGeneration; latent: Float32Array } {
  const saved = readSavedSettings(jsonPath);
  const file = join(dirname(jsonPath), saved.latent?.file ?? '');
  if (!saved.latent?.file || !existsSync(file)) throw savedError(jsonPath, `its latent ${file} is missing`);
  const t = readSafetensors(file).tensors.get('latent');
  if (!t || t.shape.join() !== saved.latent.shape.join())
    throw savedError(jsonPath, `${file} holds no latent of shape [${saved.latent.shape}]`);
  return { saved, latent: Float32Array.from(t.data as Float32Array) };
}

/** A saved generation's settings (its .json), checked, without reading the latent. */
export function readSavedSettings(jsonPath: string): SavedGeneration {
  if (!existsSync(jsonPath))
    throw savedError(
      jsonPath,
      'does not exist (the .json that generate --save-latent writes beside the MP4)',
    );
  let saved: SavedGeneration;
  try {
    saved = JSON.parse(readFileSync(jsonPath, 'utf8'));
  } catch (e) {
    throw savedError(jsonPath, `not valid JSON: ${(e as Error).message}`);
  }
  if (saved?.format !== GENERATION_FORMAT || saved.version !== 1)
    throw savedError(
      jsonPath,
      `not a saved generation (format ${JSON.stringify(saved?.format)}, expected "${GENERATION_FORMAT}" version 1)`,
    );
  parseStory(saved.story, `${jsonPath} story`);
  const until = saved.guidanceUntil;
  if (until !== undefined && !(typeof until === 'number' && checkGuidanceUntil(until)))
    throw savedError(jsonPath, `guidanceUntil must be a number in [0, 1], got ${JSON.stringify(until)}`);
  const rho = saved.noiseCorrelation;
  if (rho !== undefined && !(typeof rho === 'number' && checkNoiseCorrelation(rho)))
    throw savedError(jsonPath, `noiseCorrelation must be a number in [0, 1), got ${JSON.stringify(rho)}`);
  return saved;
}

const savedError = (jsonPath: string, m: string) => new Error(`--from ${jsonPath}: ${m}`);

/** Refuses a saved generation made by another model, or a model that cannot keep given frames. */
export function checkConditioningModel(model: MogaModel, what: string, from?: SavedGeneration): void {
  if (!model.config.dit.conditioning)
    throw new Error(
      `${what}: the model ${model.dir ?? '(in memory)'} has no conditioning input (dit.conditioning is not set), so it cannot keep given frames; use a model trained with a recipe conditioning field`,
    );
  if (from && from.model.dit !== ditIdentity(model))
    throw new Error(
      `${what}: --from was made by another model (${from.model.dir ?? 'in memory'}, DiT ${from.model.dit.slice(0, 12)}), not by ${model.dir ?? 'this model'} (DiT ${ditIdentity(model).slice(0, 12)}); pass --model ${from.model.dir ?? 'DIR'}`,
    );
}

/** The latent frames [a, b) each story shot owns on `codec`'s grid. */
function shotRanges(story: Story, codec: LatentCodec): [number, number][] {
  const l = latentLayout(story, codec);
  return l.shotStarts.map((s, k) => [s, s + l.shotFrames[k]]);
}

/** A regenerate request that does not fit the saved story; `field` is the request's part at fault. */
export class RegenerateError extends Error {
  constructor(
    message: string,
    /** `shots`, or `captions.<k>` for a caption's shot. */
    readonly field: string,
  ) {
    super(message);
    this.name = 'RegenerateError';
  }
}

/**
 * Checks shot indices and caption keys against a story of `n` shots (regenerate's rules, for the
 * CLI and the server alike): at least one shot, every one in 0..n-1, a caption only for a shot
 * that is regenerated.
 */
export function checkRegenerate(
  n: number,
  shots: readonly number[],
  captions: ReadonlyMap<number, string> = new Map(),
): void {
  for (const k of shots)
    if (!Number.isInteger(k) || k < 0 || k >= n)
      throw new RegenerateError(`shot ${k} does not exist (the story has shots 0..${n - 1})`, 'shots');
  for (const k of captions.keys())
    if (!Number.isInteger(k) || k < 0 || k >= n)
      throw new RegenerateError(
        `a caption for shot ${k}, which does not exist (the story has shots 0..${n - 1})`,
        `captions.${k}`,
      );
  if (shots.length === 0) throw new RegenerateError('name at least one shot to regenerate', 'shots');
  for (const k of captions.keys())
    if (!shots.includes(k))
      throw new RegenerateError(`a caption for shot ${k}, which is not regenerated`, `captions.${k}`);
}

/** The story a regeneration makes: the saved one with the new captions (same shots, same timing). */
export function regeneratedStory(story: Story, captions: ReadonlyMap<number, string>): Story {
  return {
    ...story,
    shots: story.shots.map((s, k) => (captions.has(k) ? { ...s, caption: captions.get(k)! } : s)),
  };
}

/**
 * Regenerate `shots` (story indices) of a saved generation, with new captions where given: every
 * other latent frame is given its saved value.
 */
export function regenerateGiven(
  saved: SavedGeneration,
  latent: Float32Array,
  codec: LatentCodec,
  shots: readonly number[],
  captions: ReadonlyMap<number, string> = new Map(),
): { story: Story; given: GivenFrames } {
  try {
    checkRegenerate(saved.story.shots.length, shots, captions);
  } catch (e) {
    if (e instanceof RegenerateError) throw new Error(`regenerate: ${e.message}`);
    throw e;
  }
  const story = regeneratedStory(saved.story, captions);
  const ranges = shotRanges(story, codec);
  const F = saved.latent.shape[1];
  const frames = new Array<number>(F).fill(1);
  for (const k of shots) frames.fill(0, ranges[k][0], ranges[k][1]);
  return { story, given: { latent: fromArray(latent, [...saved.latent.shape]), frames, whole: true } };
}

/** What to regenerate of a saved generation, and the settings that differ from its own. */
export interface RegenerateRequest {
  readonly shots: readonly number[];
  readonly captions?: ReadonlyMap<number, string>;
  /** Default: the saved seed + 1 (the same seed would give the same shot back). */
  readonly seed?: number;
  /** Defaults: the saved ones. */
  readonly steps?: number;
  readonly guidance?: number;
  /** Default: the saved one (a file without it: undefined, the model's default). */
  readonly guidanceUntil?: number;
  /** Default: the saved one, as guidanceUntil. */
  readonly noiseCorrelation?: number;
}

/** A regeneration ready for generate / generateMp4: the story, the given frames and the settings. */
export interface Regeneration {
  readonly story: Story;
  /** Its latent is the caller's to dispose. */
  readonly given: GivenFrames;
  readonly seed: number;
  readonly steps: number;
  readonly guidance: number;
  /** Undefined: the model's default (generate's, when the saved file records none). */
  readonly guidanceUntil?: number;
  readonly noiseCorrelation?: number;
}

/**
 * `moga regenerate` and the server's regenerate jobs, one path: the model checked (it has
 * dit.conditioning and is the one that made the saved generation), the given frames of every shot
 * but `shots`, and the settings with their defaults. Run under the model's backend (withBackend).
 */
export function regeneration(
  saved: SavedGeneration,
  latent: Float32Array,
  model: MogaModel,
  req: RegenerateRequest,
): Regeneration {
  checkConditioningModel(model, 'regenerate', saved);
  const { story, given } = regenerateGiven(saved, latent, model.codec, req.shots, req.captions);
  return {
    story,
    given,
    seed: req.seed ?? (saved.seed + 1) % 2 ** 32,
    steps: req.steps ?? saved.steps,
    guidance: req.guidance ?? saved.guidance,
    guidanceUntil: req.guidanceUntil ?? saved.guidanceUntil,
    noiseCorrelation: req.noiseCorrelation ?? saved.noiseCorrelation,
  };
}

/** The old story with `more`'s shots appended, the old latent given as a prefix. */
export function extendGiven(
  saved: SavedGeneration,
  latent: Float32Array,
  codec: LatentCodec,
  more: Story,
): { story: Story; given: GivenFrames; prefix: number } {
  const old = saved.story;
  for (const k of ['fps', 'width', 'height'] as const)
    if (more[k] !== old[k])
      throw new Error(
        `extend: the new shots' story has ${k} ${more[k]}, the video being extended ${old[k]}; they must match`,
      );
  const story: Story = { ...old, shots: [...old.shots, ...more.shots] };
  const l = latentLayout(story, codec);
  const [C, Fold, h, w] = saved.latent.shape;
  const prefix = Math.min(Fold, l.shotStarts[old.shots.length]);
  const data = new Float32Array(C * l.latentFrames * h * w);
  for (let c = 0; c < C; c++)
    data.set(latent.subarray(c * Fold * h * w, (c * Fold + prefix) * h * w), c * l.latentFrames * h * w);
  const frames = Array.from({ length: l.latentFrames }, (_, f) => (f < prefix ? 1 : 0));
  return { story, given: { latent: fromArray(data, [C, l.latentFrames, h, w]), frames }, prefix };
}

/** One image to fix as a shot's first or last latent frame, already at the story's size (RGB). */
export interface ShotImage {
  readonly shot: number;
  readonly at: 'first' | 'last';
  readonly rgb: Uint8Array;
}

/**
 * The codec's latents of a still image, [C, h, w] each: `alone`, latent frame 0 of the image by
 * itself (the causal first frame stands alone), and `held`, latent frame 1 of the image held for
 * 1 + time frames (a latent frame after the first covers `time` frames; a still held that long is
 * the closest a single image comes to one). One encode gives both (causal: frame 0 is the same).
 */
export function imageLatents(
  codec: LatentCodec,
  rgb: Uint8Array,
  width: number,
  height: number,
): { alone: Float32Array; held: Float32Array } {
  return noGrad(() =>
    tidy(() => {
      const frames = Array.from({ length: 1 + codec.time }, () => rgb);
      const z = codec.encode(framesToTensor(frames, width, height, 'CFHW'));
      const at = (f: number) => Float32Array.from(sliceAxis(z, 1, f, f + 1).dataSync() as Float32Array);
      return { alone: at(0), held: at(1) };
    }),
  );
}

/** Given frames for images fixed as shots' first or last latent frames of `story`. */
export function imageGiven(story: Story, codec: LatentCodec, images: readonly ShotImage[]): GivenFrames {
  const l = latentLayout(story, codec);
  const ranges = shotRanges(story, codec);
  const [C, F, h, w] = [codec.channels, l.latentFrames, l.height, l.width];
  const data = new Float32Array(C * F * h * w);
  const frames = new Array<number>(F).fill(0);
  const restarts: { frame: number; primer: Tensor }[] = [];
  for (const im of images) {
    if (!Number.isInteger(im.shot) || im.shot < 0 || im.shot >= ranges.length)
      throw new Error(
        `generate: --image for shot ${im.shot}, but the story has shots 0..${ranges.length - 1}`,
      );
    const f = im.at === 'first' ? ranges[im.shot][0] : ranges[im.shot][1] - 1;
    if (frames[f])
      throw new Error(
        `generate: shot ${im.shot}'s ${im.at} latent frame ${f} already has an image (a shot one latent frame long has one)`,
      );
    const { alone, held } = imageLatents(codec, im.rgb, story.width, story.height);
    const z = f === 0 ? alone : held;
    for (let c = 0; c < C; c++) data.set(z.subarray(c * h * w, (c + 1) * h * w), (c * F + f) * h * w);
    frames[f] = 1;
    // a later shot's first frame decodes from a fresh causal state, as the still's own round trip
    if (im.at === 'first' && f > 0) restarts.push({ frame: f, primer: fromArray(alone, [C, 1, h, w]) });
  }
  restarts.sort((a, b) => a.frame - b.frame);
  return { latent: fromArray(data, [C, F, h, w]), frames, ...(restarts.length ? { restarts } : {}) };
}

/** Decodes a latent [C, F, h, w] to RGB frames in one stream (tests and tools). */
export function decodeLatent(codec: LatentCodec, latent: Tensor): Tensor {
  const dec: LatentDecoder = codec.decoder();
  try {
    return noGrad(() => dec.push(latent));
  } finally {
    dec.close();
  }
}
