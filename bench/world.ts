/**
 * `npm run bench -- world [--seconds 60] [--repeats 3] [--json FILE]`: rendering throughput of the
 * synthetic world at 224x128, 24 fps (frames per second of wall time, median of the repeats;
 * plus CPU-time fps, which stays meaningful on a shared, loaded machine).
 */
import { generateStory, makeRenderer } from '../src/data/world/index.js';
import { machine, maybeWriteJson, median, printTable, type Row, timeInterleaved } from './lib/measure.js';

function arg(argv: string[], name: string, dflt: number): number {
  const i = argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = Number(argv[i + 1]);
  if (!(v > 0)) throw new Error(`--${name} needs a positive number`);
  return v;
}

export default async function (argv: string[]): Promise<void> {
  const seconds = arg(argv, 'seconds', 60);
  const repeats = arg(argv, 'repeats', 3);
  const story = generateStory({ seed: 7, seconds, fps: 24, width: 224, height: 128 });
  const plain = makeRenderer(story);
  const masked = makeRenderer(story, { masks: true });
  const out = new Uint8Array(224 * 128 * 3);
  const cpu: number[][] = [[], [], []];
  const timed = (k: number, fn: () => void) => () => {
    const c0 = process.cpuUsage();
    fn();
    const c = process.cpuUsage(c0);
    cpu[k].push((c.user + c.system) / 1000);
  };
  // biome-ignore format: one variant a line
  const variants = [
    { name: 'generate story (no pixels)', fn: timed(0, () => generateStory({ seed: 7, seconds, fps: 24 })) },
    { name: 'render frames', fn: timed(1, () => { for (let f = 0; f < story.frames; f++) plain.render(f, out); }) },
    { name: 'render frames + masks', fn: timed(2, () => { for (let f = 0; f < story.frames; f++) masked.render(f, out); }) },
  ];
  const ms = await timeInterleaved(variants, repeats, 1);
  const rows: Row[] = variants.map((v, i) => ({
    variant: v.name,
    frames: story.frames,
    'wall ms': ms[i],
    'frames/s (wall)': i === 0 ? '-' : story.frames / (ms[i] / 1000),
    'frames/s (cpu)': i === 0 ? '-' : story.frames / (median(cpu[i].slice(1)) / 1000),
  }));
  console.log(`machine: ${machine()}`);
  printTable(
    `world rendering: ${seconds} s story at 24 fps, 224x128 (${story.shots.length} shots), median of ${repeats}`,
    rows,
  );
  maybeWriteJson(argv, 'world', rows, { seconds, fps: 24, width: 224, height: 128 });
}
