/**
 * What a submission can be checked against without generating: the model's vocabulary and its
 * codec's latent grid. Read once at start (the model loaded on the ref backend, the facts kept,
 * the weights freed), so a story with a shot too short to own a latent frame, or, under
 * `strictVocab`, a caption word the model does not know, is refused with generate's own message
 * (400) instead of failing in the queue; unknown words otherwise come back with the job, as the
 * CLI's warning names them. Whether the model can regenerate shots (dit.conditioning) and the
 * identity of its DiT weights (the one a saved generation names) are read at the same time.
 */

import type { LatentFactors } from '../models/latent-layout.js';
import { ditIdentity } from '../pipeline/conditioning.js';
import { type UnknownWords, unknownWords } from '../pipeline/generate.js';
import { latentLayout } from '../pipeline/layout.js';
import { loadModel, type MogaModel } from '../pipeline/model.js';
import type { Story } from '../story/story.js';
import { RequestError, type Submission } from './submission.js';

export interface ModelFacts {
  readonly tokenizer: MogaModel['tokenizer'];
  readonly codec: LatentFactors;
  /**
   * Set when the model has dit.conditioning, so it can keep given latent frames: its jobs save
   * their latent, and their shots can be regenerated. `dit` is ditIdentity (SHA-256 of the DiT
   * weights), what a saved generation names.
   */
  readonly conditioning?: { readonly dir: string; readonly dit: string };
}

/** The model's vocabulary and latent geometry (its weights are loaded once, then freed). */
export async function modelFacts(dir: string): Promise<ModelFacts> {
  const model = await loadModel(dir, { backend: 'ref' });
  try {
    return {
      tokenizer: model.tokenizer,
      codec: { time: model.codec.time, space: model.codec.space },
      ...(model.config.dit.conditioning ? { conditioning: { dir, dit: ditIdentity(model) } } : {}),
    };
  } finally {
    model.dispose();
  }
}

export interface Preflight {
  readonly unknownWords: readonly UnknownWords[];
  /** Video frames, and latent frames with each shot's first. */
  readonly frames: number;
  readonly latent: { readonly frames: number; readonly shotStarts: readonly number[] };
}

/** Checks a parsed submission against the model; throws a 400 RequestError with generate's words. */
export function preflight(sub: Submission, facts: ModelFacts): Preflight {
  const story: Story = sub.story;
  let unknown: UnknownWords[];
  let layout: ReturnType<typeof latentLayout>;
  try {
    unknown = unknownWords(story, facts, sub.options.strictVocab);
    layout = latentLayout(story, facts.codec);
  } catch (e) {
    throw new RequestError(400, (e as Error).message, 'story');
  }
  return {
    unknownWords: unknown,
    frames: layout.frames,
    latent: { frames: layout.latentFrames, shotStarts: layout.shotStarts },
  };
}
