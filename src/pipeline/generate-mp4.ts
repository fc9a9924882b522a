/**
 * generate() into an MP4 file, and the report of what was made: what `moga generate`, `moga demo`
 * and the `moga serve` worker each write (one copy of the writer plumbing and the report's shape).
 */

import type { GivenFrames } from '../models/dit/dit.js';
import { parseStory, type Story } from '../story/story.js';
import type { Mp4Writer } from '../video/index.js';
import { openMp4Writer } from '../video/index.js';
import { ditIdentity, savedPaths, saveGeneration } from './conditioning.js';
import { type GenerateResult, generate, type UnknownWords } from './generate.js';
import { latentLayout } from './layout.js';
import type { MogaModel } from './model.js';
import type { ProgressEvent } from './progress.js';
import { routerMaps } from './router-maps.js';
import { stepCost } from './step-cost.js';

export interface GenerateReport {
  readonly out: string;
  readonly bytes: number;
  readonly story: string;
  readonly title: string;
  readonly model: string;
  readonly backend: string;
  readonly frames: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly seconds: number;
  readonly shots: number;
  readonly latent: { frames: number; height: number; width: number; shotStarts: number[] };
  readonly steps: number;
  readonly seed: number;
  readonly guidance: number;
  /** Guidance ran while t > this; the steps below it ran one pass (0: every step guided). */
  readonly guidanceUntil: number;
  /** The starting noise's correlation between a shot's latent frames (0: independent). */
  readonly noiseCorrelation: number;
  readonly codec: string;
  /** Self-attention branches (routed+window+frame for MoGA) and the routed groups (0: none). */
  readonly attention: string;
  readonly groups: number;
  /** Video tokens of one DiT pass, and the share of dense self-attention's pairs it skips. */
  readonly tokens: number;
  readonly sparsity: number;
  /** Analytic GFLOPs of one sampler step (models/cost.ts; guidance runs two passes). */
  readonly gflopPerStep: { readonly attention: number; readonly total: number };
  readonly unknownWords: readonly UnknownWords[];
  readonly timings: GenerateResult['seconds'];
  /** The router maps, when asked for: their folder and what groups.json says of them. */
  readonly maps?: {
    readonly dir: string;
    readonly files: number;
    readonly layers: number;
    readonly groups: number;
  };
  /** The saved latent and settings (pipeline/conditioning.ts), when asked for. */
  readonly saved?: { readonly json: string; readonly latent: string };
}

export interface GenerateMp4Options {
  readonly steps?: number;
  readonly seed?: number;
  readonly guidance?: number;
  /** Guide only while t > this (default: the model's, else 0; generate.ts `guidanceUntil`). */
  readonly guidanceUntil?: number;
  /** Default: the model's, else 0 (generate.ts `noiseCorrelation`). */
  readonly noiseCorrelation?: number;
  readonly maxMemory?: number;
  readonly strictVocab?: boolean;
  readonly onProgress?: (e: ProgressEvent) => void;
  /** Each frame as it is written (after the MP4 writer has it). */
  readonly onFrame?: (rgb: Uint8Array, index: number) => void;
  readonly signal?: AbortSignal;
  /** The story's name in the report (its file, for the CLI). */
  readonly storyName?: string;
  /** Draw router maps (pipeline/router-maps.ts) into this folder. */
  readonly maps?: string;
  /** Save the final latent and the settings beside the MP4 (out.latent.safetensors, out.json). */
  readonly saveLatent?: boolean;
  /** Known latent frames to keep (generate.ts `given`). */
  readonly given?: GivenFrames;
}

/**
 * Story + model -> MP4 at `out` (written to a temp name and renamed when complete: a failure or an
 * abort leaves no file), and the report.
 */
export async function generateMp4(
  story: Story,
  model: MogaModel,
  out: string,
  opts: GenerateMp4Options = {},
): Promise<GenerateReport> {
  const writer: Mp4Writer = await openMp4Writer(out, {
    width: story.width,
    height: story.height,
    fps: story.fps,
  });
  const maps =
    opts.maps === undefined
      ? undefined
      : routerMaps(
          latentLayout(parseStory(story), model.codec),
          story,
          model.config.dit.patch,
          model.codec.space,
          model.codec.time,
        );
  let result: GenerateResult;
  let latent: { data: Float32Array; shape: readonly number[] } | undefined;
  try {
    result = await generate(story, model, {
      steps: opts.steps,
      seed: opts.seed,
      guidance: opts.guidance,
      guidanceUntil: opts.guidanceUntil,
      noiseCorrelation: opts.noiseCorrelation,
      maxMemory: opts.maxMemory,
      strictVocab: opts.strictVocab,
      signal: opts.signal,
      onProgress: opts.onProgress,
      onRouting: maps?.onRouting,
      given: opts.given,
      ...(opts.saveLatent
        ? { onLatent: (data: Float32Array, shape: readonly number[]) => (latent = { data, shape }) }
        : {}),
      onFrame: async (rgb, i) => {
        await writer.write(rgb);
        maps?.onFrame(rgb, i);
        opts.onFrame?.(rgb, i);
      },
    });
  } catch (e) {
    await writer.abort();
    throw e;
  }
  const closed = await writer.close();
  const drawn = maps && opts.maps !== undefined ? maps.write(opts.maps) : undefined;
  if (opts.saveLatent && latent) {
    const sampling = model.config.sampling;
    saveGeneration(
      out,
      {
        story,
        seed: result.seed,
        steps: result.steps,
        guidance: result.guidance,
        guidanceUntil: result.guidanceUntil,
        noiseCorrelation: result.noiseCorrelation,
        shift: sampling.shift,
        sampler: sampling.sampler,
        model: { dir: model.dir ?? null, dit: ditIdentity(model), codec: model.codec.kind },
      },
      latent.data,
      latent.shape,
    );
  }
  const l = result.layout;
  const cost = stepCost(model, l, result, result.guidance);
  const att = model.config.dit.attention;
  const gflop = (f: number) => Number((f / 1e9).toPrecision(4));
  return {
    out,
    bytes: closed.bytes,
    story: opts.storyName ?? 'story',
    title: story.title,
    model: model.dir ?? 'in-memory',
    backend: model.backend.name,
    frames: result.frames,
    width: result.width,
    height: result.height,
    fps: result.fps,
    seconds: (result.frames - 1) / result.fps,
    shots: story.shots.length,
    latent: { frames: l.latentFrames, height: l.height, width: l.width, shotStarts: l.shotStarts },
    steps: result.steps,
    seed: result.seed,
    guidance: result.guidance,
    guidanceUntil: result.guidanceUntil,
    noiseCorrelation: result.noiseCorrelation,
    codec: result.codec,
    attention: att.branches.join('+'),
    groups: att.branches.includes('routed') ? att.groups : 0,
    tokens: cost.pass.tokens,
    sparsity: Math.round((1 - cost.pass.density) * 1e4) / 1e4,
    gflopPerStep: { attention: gflop(cost.attentionFlops), total: gflop(cost.totalFlops) },
    unknownWords: result.unknownWords,
    timings: result.seconds,
    ...(opts.saveLatent ? { saved: savedPaths(out) } : {}),
    ...(drawn
      ? {
          maps: {
            dir: opts.maps!,
            files: drawn.files.length,
            layers: drawn.layers.length,
            groups: drawn.groups,
          },
        }
      : {}),
  };
}
