/**
 * `npm run bench -- dit-sizes [--repeats 3] [--json FILE]`: candidate sizes for the bundled DiT,
 * measured on this machine's default backend, to size the model to the budget (issue 14): per
 * candidate, one training step of the clip recipe (x0 objective, 2 clips of 9 latent frames x
 * 12x20, i.e. 2 x 540 tokens, loss + all gradients), one of the single-frame recipe (32 latent
 * frames as one batched pass, 32 x 60 tokens), and one guided sampling step over the whole demo
 * minute (1,441 frames -> 361 latent frames = 21,660 tokens, 8 shots; conditional and empty
 * caption as a batch of two). The demo's time is then about `steps x sampling step + the fixed
 * part` (VAE decode, text, MP4), the fixed part taken from `--demo-seconds` (a measured demo run)
 * minus its own sampling steps. Candidates run interleaved, so a changing load hits all alike.
 */
import os from 'node:os';
import { chooseBackend } from '../src/backends/choose.js';
import { initVideoDiT, type VideoDiT } from '../src/models/dit/dit.js';
import {
  denoiser,
  samplingVelocity,
  type TrainingExample,
  trainingLoss,
} from '../src/models/dit/objective.js';
import type { MultiShotText } from '../src/models/dit/text.js';
import { DIT_PRESETS, type DiTConfig } from '../src/models/presets.js';
import { namedParams, paramList } from '../src/nn/params.js';
import { gradients } from '../src/tensor/autodiff.js';
import { sum } from '../src/tensor/ops.js';
import { Rng } from '../src/tensor/random.js';
import { type Tensor, tidy } from '../src/tensor/tensor.js';
import { machine, maybeWriteJson, printTable, type Row, timeInterleaved } from './lib/measure.js';

const arg = (argv: string[], name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};

const BASE: DiTConfig = {
  ...DIT_PRESETS.tiny,
  dim: 128,
  ffnDim: 256,
  attention: { ...DIT_PRESETS.tiny.attention, groups: 16 },
};
const CANDIDATES: [string, Partial<DiTConfig>][] = [
  ['2 x 128 (bundled)', {}],
  ['4 x 128', { layers: 4 }],
  ['6 x 128', { layers: 6 }],
  ['4 x 192', { layers: 4, dim: 192, ffnDim: 384, heads: 4 }],
  ['2 x 256', { dim: 256, ffnDim: 512, heads: 8 }],
];

function text(rng: Rng, shots: number[], textDim: number): MultiShotText {
  return {
    shots: shots.map((frames) => ({ frames, caption: rng.normal([12, textDim]) })),
    global: rng.normal([20, textDim]),
  };
}

/** A model with every zero-initialised tensor given small values, so no path is trivially zero. */
function model(cfg: DiTConfig): VideoDiT {
  const m = initVideoDiT(cfg, new Rng(1));
  namedParams(m.params as never).forEach(([, p], i) => {
    if ((p.dataSync() as Float32Array).every((v) => v === 0))
      p.backend.write(
        p.storage,
        Float32Array.from(new Rng(100 + i).normalArray(p.size), (v) => 0.02 * v),
      );
  });
  return m;
}

export default async function ditSizes(argv: string[]): Promise<void> {
  const repeats = Number(arg(argv, '--repeats') ?? 3);
  const demoSeconds = Number(arg(argv, '--demo-seconds') ?? Number.NaN);
  const demoSteps = Number(arg(argv, '--demo-steps') ?? 6);
  const backend = (await chooseBackend(arg(argv, '--backend'))).name;
  console.log(
    `dit-sizes: ${machine()}, backend ${backend}, load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')}`,
  );
  const rng = new Rng(7);
  const fns = CANDIDATES.map(([name, over]) => {
    const cfg = { ...BASE, ...over };
    const m = model(cfg);
    const params = paramList(m.params as never) as Tensor[];
    const batch: TrainingExample[] = [0, 1].map(() => ({
      latents: rng.normal([cfg.latentChannels, 9, 12, 20]),
      text: text(rng, [4, 5], cfg.textDim),
    }));
    const frames: TrainingExample[] = Array.from({ length: 32 }, () => ({
      latents: rng.normal([cfg.latentChannels, 1, 12, 20]),
      text: text(rng, [1], cfg.textDim),
    }));
    const step = (examples: TrainingExample[], batched: boolean) => () =>
      tidy(() => {
        for (const p of params) p.requiresGrad = true;
        const r = trainingLoss(denoiser(m), examples, new Rng(3), {
          prediction: 'data',
          sampling: { kind: 'logit-normal', mean: 0, std: 1, shift: 3 },
          captionDropout: 0,
          batched,
        });
        gradients(r.loss, params)[0]!.dataSync();
      });
    const train = step(batch, false);
    const trainFrames = step(frames, true);
    // the demo minute: 8 shots over 361 latent frames
    const shots = [45, 45, 45, 45, 45, 45, 45, 46];
    const minuteText = text(rng, shots, cfg.textDim);
    const x = rng.normal([cfg.latentChannels, 361, 12, 20]);
    const { velocity } = samplingVelocity(denoiser(m), minuteText, 3, 'data', x.shape);
    const sample = () => tidy(() => void sum(velocity(x, 0.6)).dataSync());
    const count = params.reduce((s, p) => s + p.size, 0);
    for (const p of params) p.requiresGrad = false;
    return { name, count, train, trainFrames, sample };
  });
  const trainMs = await timeInterleaved(
    fns.map((f) => ({ name: f.name, fn: f.train })),
    repeats,
    1,
  );
  const framesMs = await timeInterleaved(
    fns.map((f) => ({ name: f.name, fn: f.trainFrames })),
    repeats,
    1,
  );
  const sampleMs = await timeInterleaved(
    fns.map((f) => ({ name: f.name, fn: f.sample })),
    repeats,
    1,
  );
  const fixed = demoSeconds - (demoSteps * sampleMs[0]) / 1000;
  const rows: Row[] = fns.map((f, i) => ({
    model: f.name,
    params: f.count,
    'train ms/step': trainMs[i],
    'clip steps/hour': Math.round(3.6e6 / trainMs[i]),
    'train ms/step (32 frames)': framesMs[i],
    'sampling s/step (minute)': sampleMs[i] / 1000,
    'demo min (est.)': Number.isNaN(fixed) ? '-' : (fixed + (demoSteps * sampleMs[i]) / 1000) / 60,
  }));
  printTable(`DiT sizes: median of ${repeats} interleaved runs, ${backend}`, rows);
  if (!Number.isNaN(fixed)) console.log(`demo fixed part (decode, text, MP4): ${fixed.toFixed(1)} s`);
  console.log(
    `load average after: ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(', ')}`,
  );
  maybeWriteJson(argv, 'dit-sizes', rows, { backend, demoSeconds, demoSteps });
}
