/** `moga eval probe [--probe models/probe] [--stories 40] [--clips 2] [--vae models/vae-small/vae.safetensors | --no-vae] [--json]` */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../backends/index.js';
import { evaluateProbe } from '../eval/probe-eval.js';
import { loadProbe } from '../eval/probe-model.js';
import { loadVae } from '../models/vae/checkpoint.js';
import { packageRoot } from '../pipeline/bundled.js';
import { integerAtLeast } from './options.js';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      probe: { type: 'string', default: join(packageRoot(), 'models', 'probe') },
      stories: { type: 'string', default: '40' },
      clips: { type: 'string', default: '2' },
      first: { type: 'string', default: '0' },
      'min-pixels': { type: 'string', default: '24' },
      vae: { type: 'string', default: join(packageRoot(), 'models', 'vae-small', 'vae.safetensors') },
      'no-vae': { type: 'boolean' },
      backend: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'usage: moga eval probe [--probe DIR] [--stories 40] [--clips 2] [--first 0] [--min-pixels 24] [--vae FILE | --no-vae] [--backend native|wasm|ref] [--json]\n' +
        'Held-out accuracy of the world probes on test-split clips (9 frames each), clean and through the VAE.',
    );
    return;
  }
  const int = (k: 'stories' | 'clips' | 'first' | 'min-pixels', min: number) =>
    integerAtLeast('eval probe', k, values[k], min)!;
  const counts = {
    stories: int('stories', 1),
    clips: int('clips', 1),
    first: int('first', 0),
    minPixels: int('min-pixels', 1),
  };
  const be = await chooseBackend(values.backend); // default: the first that starts of native, wasm, ref
  const { probe, metadata } = loadProbe(values.probe!);
  const vae = values['no-vae'] ? undefined : loadVae(values.vae!).vae;
  const t0 = Date.now();
  const r = evaluateProbe(probe, {
    ...counts,
    vae,
    onProgress: (d, n) => {
      const s = (Date.now() - t0) / 1000;
      process.stderr.write(
        `eval probe: ${d}/${n} stories, ${(s / d).toFixed(1)} s each, ~${((s / d) * (n - d)).toFixed(0)} s left\n`,
      );
    },
  });
  const seconds = (Date.now() - t0) / 1000;
  if (values.json) {
    console.log(
      JSON.stringify({ probe: values.probe, step: metadata.step, backend: be.name, seconds, ...r }, null, 2),
    );
    return;
  }
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  const rows = (['bgKind', 'bgColour', 'found', 'shape', 'colour', 'pattern'] as const).map(
    (k) => `| ${k} | ${pct(r.clean[k])} | ${r.vae ? pct(r.vae[k]) : '-'} |`,
  );
  console.log(
    [
      `probe ${values.probe} (step ${metadata.step}), backend ${be.name}, ${r.clean.frames} test frames, ${r.clean.objects} scorable objects, ${seconds.toFixed(0)} s`,
      '| attribute | clean | through the VAE |',
      '|---|---|---|',
      ...rows,
      `| box IoU (found) | ${r.clean.iou.toFixed(3)} | ${r.vae ? r.vae.iou.toFixed(3) : '-'} |`,
      `| false detections / frame | ${r.clean.falsePerFrame.toFixed(3)} | ${r.vae ? r.vae.falsePerFrame.toFixed(3) : '-'} |`,
    ].join('\n'),
  );
}
