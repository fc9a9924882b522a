/** A micro model config (one block, width 32) and a 2-shot, 1-second story for pipeline and CLI tests. */

import { join } from 'node:path';
import { DIT_PRESETS } from '../../src/models/presets.js';
import { textEncoderConfig } from '../../src/models/text/encoder.js';
import { makeTokenizer } from '../../src/models/text/tokenizer.js';
import type { ModelConfig } from '../../src/pipeline/model.js';
import type { DitRecipe } from '../../src/pipeline/train-dit.js';

export function microConfig(): ModelConfig {
  const dit = {
    ...DIT_PRESETS.tiny,
    dim: 32,
    heads: 2,
    ffnDim: 64,
    layers: 1,
    textDim: 16,
    freqDim: 32,
    attention: { ...DIT_PRESETS.tiny.attention, groups: 2 },
  };
  const tok = makeTokenizer(undefined, 48);
  return {
    format: 'moga-model',
    version: 1,
    dit,
    text: textEncoderConfig(tok, dit.textDim, { dim: 16, layers: 1, heads: 2, ffnDim: 32 }),
    vocab: 'v1',
    codec: { kind: 'pool' },
    sampling: { steps: 2, shift: 1, sampler: { kind: 'euler' }, guidance: 2 },
  };
}

export const TWO_SHOTS = {
  title: 'two shots',
  fps: 24,
  width: 64,
  height: 32,
  seed: 5,
  global: 'a story in 2 shots with a red circle',
  shots: [
    { caption: 'a red circle drifts right across a blue wall, wide shot', seconds: 0.5 },
    { caption: 'the circle returns and rests on a pink floor, close-up', seconds: 0.5 },
  ],
};

/** A recipe for the micro model on 64x32 pool-codec clips, writing under `dir`; spread to override. */
export function microRecipe(dir: string, over: Partial<DitRecipe> = {}): DitRecipe {
  const m = microConfig();
  return {
    dit: { ...m.dit, preset: 'tiny' },
    text: { maxLength: 48, dim: 16, layers: 1, heads: 2, ffnDim: 32 },
    codec: { kind: 'pool' },
    data: {
      clips: 3,
      frames: 9,
      width: 64,
      height: 32,
      fps: 24,
      minSeconds: 3,
      maxSeconds: 6,
      globalProb: 0.5,
    },
    seed: 1,
    steps: 2,
    batch: 1,
    lr: 1e-3,
    warmup: 1,
    weightDecay: 0,
    clipNorm: 1,
    emaDecay: 0.9,
    prediction: 'data',
    captionDropout: 0.1,
    timeSampling: { kind: 'uniform' },
    maxMinutes: 5,
    checkpointEvery: 1,
    cache: join(dir, 'cache'),
    work: join(dir, 'work'),
    out: join(dir, 'model'),
    generation: { steps: 1, shift: 1, sampler: { kind: 'euler' }, guidance: 1 },
    ...over,
  };
}
