/** `moga eval vae [--checkpoint models/vae-small/vae.safetensors] [--clips N] [--frames F] [--backend B]` */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chooseBackend } from '../backends/index.js';
import { loadVae } from '../models/vae/checkpoint.js';
import { evaluateVae } from '../models/vae/evaluate.js';
import { packageRoot } from '../pipeline/bundled.js';
import { integerAtLeast } from './options.js';

export async function run(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      checkpoint: { type: 'string', default: join(packageRoot(), 'models', 'vae-small', 'vae.safetensors') },
      clips: { type: 'string', default: '4' },
      frames: { type: 'string', default: '17' },
      width: { type: 'string', default: '224' },
      height: { type: 'string', default: '128' },
      chunk: { type: 'string', default: '2' },
      backend: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(
      'usage: moga eval vae [--checkpoint file] [--clips 4] [--frames 17] [--width 224] [--height 128] [--chunk 2] [--backend native|wasm|ref]',
    );
    return;
  }
  const int = (k: 'clips' | 'frames' | 'width' | 'height' | 'chunk') =>
    integerAtLeast('eval vae', k, values[k], 1)!;
  const o = {
    clips: int('clips'),
    frames: int('frames'),
    width: int('width'),
    height: int('height'),
    chunk: int('chunk'),
  };
  if ((o.frames - 1) % 4 !== 0) throw new Error(`eval vae: --frames must be 1 + 4k, got ${o.frames}`);
  const be = await chooseBackend(values.backend); // default: the first that starts of native, wasm, ref
  const { vae, info } = loadVae(values.checkpoint!);
  console.log(
    `checkpoint ${values.checkpoint} (step ${info.step ?? '?'}), backend ${be.name}, ${o.clips} held-out test clips of ${o.frames} frames at ${o.width}x${o.height}`,
  );
  const t0 = Date.now();
  const r = evaluateVae(vae, o);
  console.log(
    `mean PSNR ${r.mean.toFixed(2)} dB over ${o.clips} clips (${((Date.now() - t0) / 1000).toFixed(1)} s)`,
  );
}
