/**
 * The analytic cost of one sampler step of a generation (models/cost.ts on the generation's latent
 * layout): what the report and `moga eval gen` print beside measured times.
 */
import { type CostReport, ditCost } from '../models/cost.js';
import type { LatentLayout } from '../models/latent-layout.js';
import type { MogaModel } from './model.js';

export interface StepCost {
  /** One DiT pass (tokens, self-attention density, FLOPs). */
  readonly pass: CostReport;
  /** FLOPs of one step: one pass without guidance, two with it (conditional + empty caption). */
  readonly attentionFlops: number;
  readonly totalFlops: number;
}

export function stepCost(
  model: MogaModel,
  layout: LatentLayout,
  video: { readonly width: number; readonly height: number },
  guidance: number,
): StepCost {
  const dc = model.config.dit;
  const pass = ditCost(
    dc,
    { frames: layout.decodedFrames, height: video.height, width: video.width },
    {
      vae: [model.codec.time, model.codec.space, model.codec.space],
      shots: layout.shotFrames.map((s) => s / dc.patch[0]),
    },
  );
  const passes = guidance === 1 ? 1 : 2;
  return { pass, attentionFlops: pass.flops.attention * passes, totalFlops: pass.flops.total * passes };
}
