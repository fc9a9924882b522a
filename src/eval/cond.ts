/**
 * `moga eval cond`: the three uses of known-frame conditioning (pipeline/conditioning.ts) measured
 * on held-out world stories (gen.ts `selectStories`), each against the same model's plain
 * generation of the same story, through the functions the commands run:
 *   image       the world's render of shot k's first frame (k = story number mod shots) given as
 *               that shot's first latent frame (imageGiven): PSNR of the frames decoded from that
 *               latent frame against the image, beside the VAE's own round trip of the image, and
 *               the shot's objects as the probes read them (found = shape and colour; plain beside);
 *   regenerate  the story's first recall shot resampled with every other latent frame given
 *               (regenerateGiven, seed + 1, as `moga regenerate`): whether the returning object
 *               keeps its colour as often as in the plain generation, and how many frames of the
 *               kept shots changed (the causal decoder carries a change past the shot);
 *   extend      the shots that start in the first half generated alone, then extended by the rest
 *               (extendGiven, the saved seed, as `moga extend`): cuts and recalls of the extended
 *               video against the plain one.
 */
import { cpus, loadavg } from 'node:os';
import { disposeGiven } from '../models/dit/dit.js';
import { videoFramesOf } from '../models/latent-layout.js';
import { psnr8 } from '../models/vae/loss.js';
import {
  ditIdentity,
  extendGiven,
  imageGiven,
  regenerateGiven,
  type SavedGeneration,
} from '../pipeline/conditioning.js';
import { type GenerateOptions, generate } from '../pipeline/generate.js';
import { latentLayout } from '../pipeline/layout.js';
import type { MogaModel } from '../pipeline/model.js';
import { worldTruthOf } from '../pipeline/world-story.js';
import type { Story } from '../story/story.js';
import { roundTripVideo, type SelectOptions, selectStories, storySummary, worldRender } from './gen.js';
import { type MetricOptions, type StoryScore, scoreVideo } from './metrics.js';
import type { Probe } from './probe-model.js';

export type CondTask = 'image' | 'regenerate' | 'extend';
export const COND_TASKS: readonly CondTask[] = ['image', 'regenerate', 'extend'];

export interface EvalCondOptions extends SelectOptions {
  model: MogaModel;
  probe: Probe;
  tasks: readonly CondTask[];
  /** Sampling settings for every generation (defaults: the model's). */
  sampling?: Pick<GenerateOptions, 'steps' | 'guidance' | 'guidanceUntil' | 'noiseCorrelation'>;
  metric?: MetricOptions;
  onStory?: (done: number, total: number, seconds: number) => void;
}

/** Counts over cases: how many, and how many passed, each for plain and conditioned generations. */
export interface Paired {
  n: number;
  plain: number;
  cond: number;
}

export interface ImageCase {
  story: number;
  shot: number;
  /** Mean-square-error PSNR (dB) over the frames of the given latent frame that lie in the shot. */
  psnr: number;
  /** The same frames of the VAE's own round trip of the image (as a still). */
  vaePsnr: number;
  objects: number;
  /** Objects whose shape and colour the probes read right (majority over the shot's frames). */
  found: { plain: number; cond: number };
  colour: { plain: number; cond: number };
}

export interface RegenerateCase {
  story: number;
  shot: number;
  /** The returning object's colour (and pattern) equal its first appearance's, per the probes. */
  colour: { plain: boolean; cond: boolean };
  ok: { plain: boolean; cond: boolean };
  /** Video frames outside the regenerated latent frames that differ from the plain video's. */
  keptChanged: number;
  kept: number;
  /** How far past the regenerated frames the last changed kept frame lies (0: none changed). */
  spill: number;
}

export interface ExtendCase {
  story: number;
  /** Shots generated first; the rest extend them. */
  splitShot: number;
  splitFrame: number;
}

export interface EvalCondResult {
  tasks: readonly CondTask[];
  stories: ReturnType<typeof storySummary>[];
  image?: {
    cases: ImageCase[];
    psnr: number;
    vaePsnr: number;
    objects: Paired;
    colour: Paired;
    /** Cases whose every object was found (the "the image's objects in the shot"). */
    allFound: Paired;
  };
  regenerate?: {
    cases: RegenerateCase[];
    colour: Paired;
    ok: Paired;
    keptChanged: number;
    kept: number;
    maxSpill: number;
  };
  extend?: {
    cases: ExtendCase[];
    recall: Paired;
    cuts: {
      truth: number;
      plain: { detected: number; matched: number };
      cond: { detected: number; matched: number };
    };
  };
  wallSeconds: number;
  machine: { cpus: number; model: string; load: number[] };
}

interface Generated {
  video: Uint8Array[];
  latent: Float32Array;
  shape: number[];
  seed: number;
  steps: number;
  guidance: number;
  guidanceUntil: number;
  noiseCorrelation: number;
}

async function run(
  story: Story,
  model: MogaModel,
  o: EvalCondOptions,
  extra: Pick<GenerateOptions, 'given' | 'seed'> = {},
): Promise<Generated> {
  let latent: Float32Array | undefined;
  let shape: number[] = [];
  const r = await generate(story, model, {
    ...o.sampling,
    ...extra,
    collect: true,
    onLatent: (l, s) => {
      latent = l;
      shape = [...s];
    },
  });
  if (extra.given) disposeGiven(extra.given);
  return { ...r, video: r.video!, latent: latent!, shape };
}

/** What `generate --save-latent` would have written for `g` (kept in memory); `dit`: ditIdentity. */
function savedOf(story: Story, model: MogaModel, dit: string, g: Generated): SavedGeneration {
  const s = model.config.sampling;
  return {
    format: 'moga-generation',
    version: 1,
    story,
    seed: g.seed,
    steps: g.steps,
    guidance: g.guidance,
    guidanceUntil: g.guidanceUntil,
    noiseCorrelation: g.noiseCorrelation,
    shift: s.shift,
    sampler: s.sampler,
    model: { dir: model.dir ?? null, dit, codec: model.codec.kind },
    latent: { file: '(in memory)', shape: g.shape },
  };
}

/** PSNR (dB) of the mean square error over frame pairs. */
function psnrOver(a: readonly Uint8Array[], b: readonly Uint8Array[]): number {
  const mse = a.reduce((s, x, i) => s + 255 ** 2 / 10 ** (psnr8(x, b[i]) / 10), 0) / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10(255 ** 2 / mse);
}

const objectsOf = (s: StoryScore, shot: number) => s.shots[shot].objects;
const recallOf = (s: StoryScore, shot: number) => s.recalls.find((r) => r.shot === shot)!;

export async function evalCond(o: EvalCondOptions): Promise<EvalCondResult> {
  const t0 = performance.now();
  const { model, probe } = o;
  const codec = model.codec;
  const chosen = selectStories(o);
  const dit = ditIdentity(model); // the weights' hash, once: every saved record names it
  const images: ImageCase[] = [];
  const regens: RegenerateCase[] = [];
  const extends_: ExtendCase[] = [];
  const recall: Paired = { n: 0, plain: 0, cond: 0 };
  const cuts = { truth: 0, plain: { detected: 0, matched: 0 }, cond: { detected: 0, matched: 0 } };
  for (const [i, c] of chosen.entries()) {
    const truth = worldTruthOf(c.file);
    if ('mismatch' in truth) throw new Error(`story ${c.index}: ${truth.mismatch}`);
    const world = truth.world;
    const real = worldRender(world);
    const score = (video: Uint8Array[]) =>
      scoreVideo(probe, world, video, world.width, world.height, real, o.metric);
    const plain = await run(c.file, model, o);
    const plainScore = score(plain.video);
    const layout = latentLayout(c.file, codec);

    if (o.tasks.includes('image')) {
      const k = i % world.shots.length;
      const start = world.shots[k].startFrame;
      const rgb = real[start];
      const given = imageGiven(c.file, codec, [{ shot: k, at: 'first', rgb }]);
      const g = await run(c.file, model, o, { given });
      // the frames the given latent frame decodes to, inside the shot; the VAE's own: the image
      // alone (latent frame 0) or held as a still for 1 + time frames (a later latent frame)
      const lf = layout.shotStarts[k];
      const [a, b] = videoFramesOf(lf, codec.time);
      const frames = Array.from({ length: b - a }, (_, j) => a + j).filter((f) => f >= start);
      const still = lf === 0 ? [rgb] : Array.from({ length: 1 + codec.time }, () => rgb);
      const own = roundTripVideo(codec, still, world.width, world.height).slice(lf === 0 ? 0 : 1);
      const condObjects = objectsOf(score(g.video), k);
      const plainObjects = objectsOf(plainScore, k);
      const count = (os: typeof condObjects, f: (x: (typeof os)[0]) => boolean) => os.filter(f).length;
      images.push({
        story: c.index,
        shot: k,
        psnr: psnrOver(
          frames.map((f) => g.video[f]),
          frames.map(() => rgb),
        ),
        vaePsnr: psnrOver(
          frames.map((f) => own[f - a]),
          frames.map(() => rgb),
        ),
        objects: condObjects.length,
        found: {
          plain: count(plainObjects, (x) => x.shape && x.colour),
          cond: count(condObjects, (x) => x.shape && x.colour),
        },
        colour: { plain: count(plainObjects, (x) => x.colour), cond: count(condObjects, (x) => x.colour) },
      });
    }

    if (o.tasks.includes('regenerate')) {
      const rc = world.recalls.find((r) => r.shot - r.fromShot - 1 >= (o.minRecallGap ?? 1))!;
      const saved = savedOf(c.file, model, dit, plain);
      const { story, given } = regenerateGiven(saved, plain.latent, codec, [rc.shot]);
      const lo = given.frames.indexOf(0);
      const hi = given.frames.lastIndexOf(0);
      const g = await run(story, model, o, { given, seed: (plain.seed + 1) % 2 ** 32 });
      const s = score(g.video);
      const [first, last] = [videoFramesOf(lo, codec.time)[0], videoFramesOf(hi, codec.time)[1] - 1];
      let keptChanged = 0;
      let spill = 0;
      g.video.forEach((rgb, f) => {
        if (f >= first && f <= last) return;
        if (!Buffer.from(rgb).equals(Buffer.from(plain.video[f]))) {
          keptChanged++;
          spill = Math.max(spill, f - last);
        }
      });
      const [p, q] = [recallOf(plainScore, rc.shot), recallOf(s, rc.shot)];
      regens.push({
        story: c.index,
        shot: rc.shot,
        colour: { plain: p.colour, cond: q.colour },
        ok: { plain: p.ok, cond: q.ok },
        keptChanged,
        kept: g.video.length - (last - first + 1),
        spill,
      });
    }

    if (o.tasks.includes('extend')) {
      // the last shot starting by the middle ends the first part (at least one shot each side)
      const half = (world.frames - 1) / 2;
      const m = Math.max(1, world.shots.filter((s) => s.startFrame <= half).length - 1);
      const head: Story = { ...c.file, shots: c.file.shots.slice(0, m) };
      const more: Story = { ...c.file, shots: c.file.shots.slice(m) };
      const g0 = await run(head, model, o);
      const { story, given } = extendGiven(savedOf(head, model, dit, g0), g0.latent, codec, more);
      const g = await run(story, model, o, { given, seed: g0.seed });
      const s = score(g.video);
      extends_.push({ story: c.index, splitShot: m, splitFrame: world.shots[m].startFrame });
      for (const [sc, key] of [
        [plainScore, 'plain'],
        [s, 'cond'],
      ] as const) {
        recall[key] += sc.recalls.filter((r) => r.ok).length;
        cuts[key].detected += sc.cuts.detected.length;
        cuts[key].matched += sc.cuts.matched;
      }
      recall.n += s.recalls.length;
      cuts.truth += s.cuts.truth.length;
    }
    o.onStory?.(i + 1, chosen.length, (performance.now() - t0) / 1000);
  }

  const paired = <T>(
    cases: T[],
    f: (c: T) => { plain: boolean | number; cond: boolean | number },
    n = (_: T) => 1,
  ) =>
    cases.reduce(
      (acc, c) => {
        const v = f(c);
        return { n: acc.n + n(c), plain: acc.plain + Number(v.plain), cond: acc.cond + Number(v.cond) };
      },
      { n: 0, plain: 0, cond: 0 },
    );
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    tasks: o.tasks,
    stories: chosen.map(storySummary),
    ...(o.tasks.includes('image')
      ? {
          image: {
            cases: images,
            psnr: mean(images.map((c) => c.psnr)),
            vaePsnr: mean(images.map((c) => c.vaePsnr)),
            objects: paired(
              images,
              (c) => c.found,
              (c) => c.objects,
            ),
            colour: paired(
              images,
              (c) => c.colour,
              (c) => c.objects,
            ),
            allFound: paired(
              images.filter((c) => c.objects > 0),
              (c) => ({ plain: c.found.plain === c.objects, cond: c.found.cond === c.objects }),
            ),
          },
        }
      : {}),
    ...(o.tasks.includes('regenerate')
      ? {
          regenerate: {
            cases: regens,
            colour: paired(regens, (c) => c.colour),
            ok: paired(regens, (c) => c.ok),
            keptChanged: regens.reduce((a, c) => a + c.keptChanged, 0),
            kept: regens.reduce((a, c) => a + c.kept, 0),
            maxSpill: Math.max(0, ...regens.map((c) => c.spill)),
          },
        }
      : {}),
    ...(o.tasks.includes('extend') ? { extend: { cases: extends_, recall, cuts } } : {}),
    wallSeconds: (performance.now() - t0) / 1000,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '?', load: loadavg() },
  };
}
