/**
 * One attempt at a job, as the worker process runs it: the model loaded on the chosen backend,
 * the story generated into `<run>/video.mp4` (pipeline/generate-mp4.ts), a contact sheet of
 * evenly spaced frames with each shot's first frame framed in orange (`sheet.png`), and the
 * report (`report.json`: generate's report plus the job id), and the router maps (`maps/`) when
 * the job asked for them. With a model that has dit.conditioning the final latent and the settings
 * are saved beside the video too (`video.json`, `video.latent.safetensors`: generate --save-latent's
 * files), so the job's shots can be regenerated later. A regenerate job (`spec.regenerate`) starts
 * from its source job's saved generation and goes through pipeline/conditioning.ts's
 * `regeneration`, the path `moga regenerate` takes: the kept shots' latent frames are given, the
 * chosen ones generated. Everything is written only inside the run folder; an abort stops it
 * between sampler steps or decode chunks and leaves no video.
 */
import { join } from 'node:path';
import { chooseBackend, withBackend } from '../backends/index.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { disposeGiven } from '../models/dit/dit.js';
import { type Regeneration, readGeneration, regeneration } from '../pipeline/conditioning.js';
import { generateMp4 } from '../pipeline/generate-mp4.js';
import { loadModel } from '../pipeline/model.js';
import type { ProgressEvent } from '../pipeline/progress.js';
import { type Story, storyFrames } from '../story/story.js';
import { evenlySpaced, writeContactSheet } from '../video/index.js';
import { MAPS_DIR, SAVED } from './store.js';
import type { JobOptions, RegenerateFrom } from './submission.js';

export interface JobSpec {
  readonly id: string;
  readonly attempt: number;
  readonly story: Story;
  readonly options: JobOptions;
  /** A regenerate job: its source, and the path of the source's saved generation (its video.json). */
  readonly regenerate?: RegenerateFrom & { readonly saved: string };
  /** Model directory. */
  readonly model: string;
  /** Backend name (default: the first that starts of native, wasm, ref). */
  readonly backend?: string;
  /** Where this attempt writes its outputs. */
  readonly runDir: string;
}

/** Tiles of the contact sheet, shot starts included. */
const SHEET_TILES = 12;
const CUT: readonly [number, number, number] = [255, 140, 0];

export async function renderJob(
  spec: JobSpec,
  hooks: { onProgress?: (e: ProgressEvent) => void; signal?: AbortSignal } = {},
): Promise<Record<string, unknown>> {
  hooks.signal?.throwIfAborted();
  const source = spec.regenerate ? readGeneration(spec.regenerate.saved) : undefined;
  const backend = await chooseBackend(spec.backend);
  const model = await loadModel(spec.model, { backend: backend.name });
  let regen: Regeneration | undefined;
  try {
    const from = spec.regenerate;
    if (from && source) {
      const { seed, steps, guidance } = spec.options;
      const captions = new Map(Object.entries(from.captions ?? {}).map(([k, v]) => [Number(k), v]));
      regen = withBackend(model.backend, () =>
        regeneration(source.saved, source.latent, model, {
          shots: from.shots,
          captions,
          seed,
          steps,
          guidance,
        }),
      );
    }
    const story = regen?.story ?? spec.story;
    const { frames, shotStartFrames } = storyFrames(story);
    const starts = new Set(shotStartFrames);
    const picked = [
      ...new Set([...evenlySpaced(frames, SHEET_TILES), ...shotStartFrames.slice(0, SHEET_TILES)]),
    ].sort((a, b) => a - b);
    const wanted = new Set(picked);
    const tiles = new Map<number, Uint8Array>();
    const { maps, ...options } = spec.options;
    const saveLatent = model.config.dit.conditioning === true;
    const report = await generateMp4(story, model, join(spec.runDir, 'video.mp4'), {
      ...options,
      ...(regen
        ? {
            given: regen.given,
            seed: regen.seed,
            steps: regen.steps,
            guidance: regen.guidance,
            guidanceUntil: regen.guidanceUntil, // the source's (undefined: the model's)
            noiseCorrelation: regen.noiseCorrelation,
          }
        : {}),
      ...(maps ? { maps: join(spec.runDir, MAPS_DIR) } : {}),
      saveLatent,
      onProgress: hooks.onProgress,
      signal: hooks.signal,
      storyName: `job ${spec.id}`,
      onFrame: (rgb, i) => {
        if (wanted.has(i)) tiles.set(i, rgb);
      },
    });
    const shown = picked.filter((i) => tiles.has(i));
    writeContactSheet(
      join(spec.runDir, 'sheet.png'),
      shown.map((i) => tiles.get(i)!),
      story.width,
      story.height,
      { borders: shown.map((i) => (starts.has(i) ? CUT : null)) },
    );
    const full = {
      job: spec.id,
      attempt: spec.attempt,
      ...report,
      out: 'video.mp4',
      sheetFrames: shown,
      ...(report.maps ? { maps: { ...report.maps, dir: MAPS_DIR } } : {}),
      ...(report.saved ? { saved: SAVED } : {}),
      ...(spec.regenerate
        ? { regenerated: { from: spec.regenerate.job, shots: spec.regenerate.shots } }
        : {}),
    };
    writeFileAtomic(join(spec.runDir, 'report.json'), `${JSON.stringify(full, null, 2)}\n`);
    return full;
  } finally {
    if (regen) disposeGiven(regen.given);
    model.dispose();
  }
}
