/**
 * `moga eval gen`: N held-out test-split world stories (fixed seeds: the first N test indices from
 * `first` that pass the selection), each turned into a story file (storyFromWorld) and its truth
 * regenerated from the file's seed (worldTruthOf), then a video made by one of
 *   model   the public generate() pipeline with a model directory (optionally with its
 *           self-attention branches overridden: moga | local | full),
 *   truth   the world's own render (the ceiling),
 *   noise   standard-normal latents decoded by the codec (the floor),
 *   codec   the world's own render encoded and decoded by the codec (the ceiling of any model
 *           that generates in that codec: what it loses is not the DiT's to win back),
 * scored by metrics.ts, with the Frechet distance of per-shot probe features against the truth
 * renders of as many other test stories (and the truth-vs-those floor beside it), and the cost per
 * sampling step (cost model + clock).
 */
import { cpus, loadavg } from 'node:os';
import type { AttentionBranch } from '../attention/visual-attention.js';
import { makeRenderer } from '../data/world/render.js';
import { splitSeed } from '../data/world/splits.js';
import { generateStory } from '../data/world/story.js';
import type { Story as WorldStory } from '../data/world/types.js';
import { visualAttentionOf } from '../models/dit/dit-block.js';
import type { DiTConfig } from '../models/presets.js';
import type { LatentCodec } from '../pipeline/codec.js';
import { generate, toRgbFrames } from '../pipeline/generate.js';
import { latentLayout } from '../pipeline/layout.js';
import type { MogaModel } from '../pipeline/model.js';
import { stepCost } from '../pipeline/step-cost.js';
import { storyFromWorld, worldTruthOf } from '../pipeline/world-story.js';
import type { Story } from '../story/story.js';
import { framesToTensor } from '../tensor/frames.js';
import { sliceAxis } from '../tensor/ops.js';
import { Rng } from '../tensor/random.js';
import { noGrad, type Tensor } from '../tensor/tensor.js';
import { frechetDistance } from './fid.js';
import { type Adherence, adherenceOf, type MetricOptions, type StoryScore, scoreVideo } from './metrics.js';
import type { Probe } from './probe-model.js';

export type AttentionMode = 'moga' | 'local' | 'full';
export type Source = 'model' | 'truth' | 'noise' | 'codec';

export const ATTENTION_BRANCHES: Record<AttentionMode, readonly AttentionBranch[]> = {
  moga: ['routed', 'window', 'frame'],
  local: ['window', 'frame'],
  full: ['full'],
};

/** The same model with its self-attention branches replaced (weights shared, nothing copied). */
export function withAttention(model: MogaModel, mode: AttentionMode): MogaModel {
  const branches = ATTENTION_BRANCHES[mode];
  if (branches.includes('routed') && !model.config.dit.attention.branches.includes('routed'))
    throw new Error(
      `--attention ${mode}: the model was trained without the routed branch, so it has no router weights`,
    );
  const config: DiTConfig = { ...model.config.dit, attention: { ...model.config.dit.attention, branches } };
  const dit = { ...model.dit, config, attention: visualAttentionOf(config) };
  return { ...model, dit, config: { ...model.config, dit: config } };
}

export interface SelectOptions {
  stories: number;
  /** First test-split index tried (default 0). */
  first?: number;
  seconds: number;
  fps: number;
  width: number;
  height: number;
  /** Keep stories with a recall whose character was away for at least this many shots (default 1). */
  minRecallGap?: number;
}

/** What a result lists of each evaluated story. */
export const storySummary = (c: { index: number; world: WorldStory }) => ({
  index: c.index,
  seed: c.world.seed,
  frames: c.world.frames,
  shots: c.world.shots.length,
  seconds: c.world.seconds,
});

/** The evaluation stories: deterministic, test split only, each fits the 4x8x8 latent layout. */
export function selectStories(o: SelectOptions): { index: number; world: WorldStory; file: Story }[] {
  const out: { index: number; world: WorldStory; file: Story }[] = [];
  const gap = o.minRecallGap ?? 1;
  for (let i = o.first ?? 0; out.length < o.stories; i++) {
    if (i - (o.first ?? 0) > 100 * o.stories + 1000)
      throw new Error(
        `only ${out.length} of ${o.stories} test stories pass the selection (recall gap ${gap})`,
      );
    const world = generateStory({
      seed: splitSeed('test', i),
      seconds: o.seconds,
      fps: o.fps,
      width: o.width,
      height: o.height,
    });
    if (gap > 0 && !world.recalls.some((r) => r.shot - r.fromShot - 1 >= gap)) continue;
    const file = storyFromWorld(world);
    try {
      latentLayout(file, { space: 8, time: 4 });
    } catch {
      continue;
    }
    out.push({ index: i, world, file });
  }
  return out;
}

export interface EvalGenOptions extends SelectOptions {
  source: Source;
  probe: Probe;
  /** For `model`: the model (attention already overridden); for `noise`: the codec to decode with. */
  model?: MogaModel;
  codec?: LatentCodec;
  steps?: number;
  guidance?: number;
  guidanceUntil?: number;
  noiseCorrelation?: number;
  metric?: MetricOptions;
  onStory?: (done: number, total: number, seconds: number) => void;
}

export interface ShotFrames {
  story: number;
  shot: number;
  score: number;
  caption: string;
  video: Uint8Array;
  truth: Uint8Array;
}

export interface EvalGenResult {
  source: Source;
  stories: { index: number; seed: number; frames: number; shots: number; seconds: number }[];
  adherence: Adherence & { shots: number; objects: number };
  recall: { n: number; ok: number; rate: number; consistent: number };
  cuts: { truth: number; detected: number; matched: number; precision: number; recall: number };
  stability: { ratio: number; video: number; world: number };
  fd: { value: number; floor: number; clips: number; reference: number };
  cost: {
    attentionFlops: number;
    totalFlops: number;
    wallPerStep: number;
    steps: number;
    branches: readonly string[];
  } | null;
  wallSeconds: number;
  machine: { cpus: number; model: string; load: number[] };
  scores: StoryScore[];
  /** The middle sampled frame of every shot, video and truth (for contact sheets). */
  shotFrames: ShotFrames[];
}

/** The world's own render of every frame of a story. */
export function worldRender(world: WorldStory): Uint8Array[] {
  const r = makeRenderer(world);
  return Array.from({ length: world.frames }, (_, f) => r.render(f).rgb);
}

/** The world's own render scored as a video of its story. */
function truthScore(o: EvalGenOptions, world: WorldStory, real: Uint8Array[]): StoryScore {
  return scoreVideo(o.probe, world, real, world.width, world.height, real, o.metric);
}

/** Standard-normal latents (seeded by the story's seed) decoded by the codec. */
export function noiseVideo(codec: LatentCodec, file: Story, seed: number): Uint8Array[] {
  const layout = latentLayout(file, codec);
  const z = new Rng(seed).normal([codec.channels, layout.latentFrames, layout.height, layout.width]);
  try {
    return decodeFrames(codec, z, layout.frames);
  } finally {
    z.dispose();
  }
}

/**
 * RGB frames [H*W*3] (1 + time k of them) encoded by the codec and decoded again, a few latent
 * frames at a time through both causal streams (memory stays flat over a minute).
 */
export function roundTripVideo(codec: LatentCodec, frames: Uint8Array[], width: number, height: number) {
  const enc = codec.encoder();
  const dec = codec.decoder();
  const out: Uint8Array[] = [];
  try {
    for (let a = 0; a < frames.length; ) {
      const b = Math.min(frames.length, a + (a === 0 ? 1 : 0) + ROUND_TRIP_CHUNK * codec.time);
      const x = framesToTensor(frames.slice(a, b), width, height, 'CFHW');
      const z = enc.push(x);
      const v = dec.push(z);
      out.push(...toRgbFrames(v));
      for (const t of [x, z, v]) t.dispose();
      a = b;
    }
  } finally {
    enc.close();
    dec.close();
  }
  return out;
}

/** Latent frames per chunk of `roundTripVideo`. */
const ROUND_TRIP_CHUNK = 4;

/** The first `n` frames of latent z [C, F, h, w], decoded chunk by chunk (memory stays flat). */
function decodeFrames(codec: LatentCodec, z: Tensor, n: number): Uint8Array[] {
  const dec = codec.decoder();
  const frames: Uint8Array[] = [];
  const F = z.shape[1];
  try {
    for (let a = 0; a < F && frames.length < n; ) {
      const b = Math.min(F, a === 0 ? 5 : a + 4);
      const zz = sliceAxis(z, 1, a, b);
      const v = noGrad(() => dec.push(zz));
      zz.dispose();
      frames.push(...toRgbFrames(v));
      v.dispose();
      a = b;
    }
  } finally {
    dec.close();
  }
  return frames.slice(0, n);
}

export async function evalGen(o: EvalGenOptions): Promise<EvalGenResult> {
  const t0 = performance.now();
  const chosen = selectStories(o);
  const scores: StoryScore[] = [];
  /** Per-shot features of the evaluated stories' own renders (the FD floor). */
  const truthFeatures: Float64Array[] = [];
  const shotFrames: ShotFrames[] = [];
  let sampleSeconds = 0;
  let steps = 0;
  let cost: EvalGenResult['cost'] = null;
  let attention = 0;
  let total = 0;
  for (const [k, c] of chosen.entries()) {
    const truth = worldTruthOf(c.file);
    if ('mismatch' in truth) throw new Error(`story ${c.index}: ${truth.mismatch}`);
    const world = truth.world;
    const real = worldRender(world);
    let video: Uint8Array[];
    if (o.source === 'truth') video = real;
    else if (o.source === 'noise' || o.source === 'codec') {
      if (!o.codec) throw new Error(`evalGen: ${o.source} needs a codec`);
      video =
        o.source === 'noise'
          ? noiseVideo(o.codec, c.file, world.seed)
          : roundTripVideo(o.codec, real, world.width, world.height);
    } else {
      if (!o.model) throw new Error('evalGen: model needs a model');
      const r = await generate(c.file, o.model, {
        steps: o.steps,
        guidance: o.guidance,
        guidanceUntil: o.guidanceUntil,
        noiseCorrelation: o.noiseCorrelation,
        collect: true,
      });
      video = r.video!;
      sampleSeconds += r.seconds.sample;
      steps += r.steps;
      const cost = stepCost(o.model, r.layout, world, r.guidance);
      attention += cost.attentionFlops;
      total += cost.totalFlops;
    }
    const s = scoreVideo(o.probe, world, video, world.width, world.height, real, o.metric);
    scores.push(s);
    truthFeatures.push(...(video === real ? s : truthScore(o, world, real)).features);
    for (const sh of s.shots) {
      const f = sh.frames[sh.frames.length >> 1];
      shotFrames.push({
        story: c.index,
        shot: sh.shot,
        score: sh.score,
        caption: sh.caption,
        video: video[f],
        truth: real[f],
      });
    }
    o.onStory?.(k + 1, chosen.length, (performance.now() - t0) / 1000);
  }
  if (o.source === 'model' && o.model)
    cost = {
      attentionFlops: attention / chosen.length,
      totalFlops: total / chosen.length,
      wallPerStep: sampleSeconds / Math.max(steps, 1),
      steps: steps / chosen.length,
      branches: o.model.config.dit.attention.branches,
    };

  // Frechet distance against the truth of as many other test stories (same selection, further on)
  const ref = selectStories({ ...o, first: (o.first ?? 0) + 100_000 });
  const refFeatures = ref.flatMap((c) => truthScore(o, c.world, worldRender(c.world)).features);
  const videoFeatures = scores.flatMap((s) => s.features);

  const recalls = scores.flatMap((s) => s.recalls);
  const cutTruth = scores.reduce((a, s) => a + s.cuts.truth.length, 0);
  const cutDet = scores.reduce((a, s) => a + s.cuts.detected.length, 0);
  const cutMatched = scores.reduce((a, s) => a + s.cuts.matched, 0);
  const dv = scores.reduce((a, s) => a + s.stability.video, 0);
  const dw = scores.reduce((a, s) => a + s.stability.world, 0);
  return {
    source: o.source,
    stories: chosen.map(storySummary),
    adherence: adherenceOf(scores),
    recall: {
      n: recalls.length,
      ok: recalls.filter((r) => r.ok).length,
      rate: recalls.length ? recalls.filter((r) => r.ok).length / recalls.length : Number.NaN,
      consistent: recalls.length ? recalls.filter((r) => r.consistent).length / recalls.length : Number.NaN,
    },
    cuts: {
      truth: cutTruth,
      detected: cutDet,
      matched: cutMatched,
      precision: cutDet ? cutMatched / cutDet : 1,
      recall: cutTruth ? cutMatched / cutTruth : 1,
    },
    stability: { ratio: dv / Math.max(dw, 1e-9), video: dv / scores.length, world: dw / scores.length },
    fd: {
      value: fd(videoFeatures, refFeatures),
      floor: fd(truthFeatures, refFeatures),
      clips: videoFeatures.length,
      reference: refFeatures.length,
    },
    cost,
    wallSeconds: (performance.now() - t0) / 1000,
    machine: { cpus: cpus().length, model: cpus()[0]?.model ?? '?', load: loadavg() },
    scores,
    shotFrames,
  };
}

/** The Frechet distance, or NaN when a set has fewer than two clips. */
const fd = (a: Float64Array[], b: Float64Array[]) =>
  a.length < 2 || b.length < 2 ? Number.NaN : frechetDistance(a, b);

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');

/** The result as Markdown: one table row, with the header. */
export function markdownRow(label: string, r: EvalGenResult): { header: string; row: string } {
  const a = r.adherence;
  const header =
    '| run | stories | bg kind | bg colour | shape | colour | pattern | recall (consistent) | cut P / R | stability | FD (floor) | attn / total GFLOP per step | s per step |\n' +
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|';
  const cost = r.cost
    ? `${(r.cost.attentionFlops / 1e9).toFixed(2)} / ${(r.cost.totalFlops / 1e9).toFixed(2)} | ${r.cost.wallPerStep.toFixed(2)}`
    : '- | -';
  const row =
    `| ${label} | ${r.stories.length} | ${pct(a.bgKind)} | ${pct(a.bgColour)} | ${pct(a.shape)} | ${pct(a.colour)} | ${pct(a.pattern)} | ` +
    `${pct(r.recall.rate)} (${pct(r.recall.consistent)}) of ${r.recall.n} | ${pct(r.cuts.precision)} / ${pct(r.cuts.recall)} | ` +
    `${r.stability.ratio.toFixed(2)} | ${r.fd.value.toFixed(2)} (${r.fd.floor.toFixed(2)}) | ${cost} |`;
  return { header, row };
}
