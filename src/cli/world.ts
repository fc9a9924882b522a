/**
 * `moga world`: renders one story of the synthetic world to an MP4 (or PNG frames), with its
 * captions and ground truth as JSON beside it, so people can look at what the model trains on.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  frameTruth,
  generateStory,
  makeRenderer,
  type Split,
  type Story,
  splitSeed,
} from '../data/world/index.js';
import { writeFileAtomic } from '../io/atomic-file.js';
import { evenlySpaced, openMp4Writer, writeContactSheet, writePng } from '../video/index.js';

const HELP = `usage: moga world [options]

Renders a story of the synthetic multi-shot world (deterministic from its seed).

  --seed N          story seed, 0..4294967295 (default 0); the split follows from it
  --split S --index I  the I-th story of split S (train | val | test) instead of --seed
  --seconds S       length in seconds (default: drawn from the seed, 3..75); frames = S*fps + 1
  --fps N           frames per second (default 24)
  --width N         frame width in pixels (default 224; even for MP4)
  --height N        frame height in pixels (default 128; even for MP4)
  --shots N         number of shots, 1..12 (default: drawn from the seed)
  --out FILE.mp4    write an H.264 MP4 (and FILE.json with captions and truth)
  --png DIR         write PNG frames DIR/frame_00000.png ... (and DIR/story.json)
  --sheet FILE.png  also write a contact sheet (first, middle, last frame of each shot)
  --json FILE       where to write the JSON (default: beside the output)
  --crf N           x264 quality, lower is better (default 18)
  -h, --help        this text

example: moga world --seed 7 --seconds 60 --fps 24 --out story.mp4`;

function int(name: string, v: string | undefined, lo: number, hi: number): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < lo || Number(v) > hi)
    throw new Error(`world: --${name} must be an integer in [${lo}, ${hi}], got '${v}'`);
  return Number(v);
}

function positive(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const x = Number(v);
  if (!/^\d*\.?\d+$/.test(v) || !(x > 0))
    throw new Error(`world: --${name} must be a positive number, got '${v}'`);
  return x;
}

const atomicWrite = writeFileAtomic;

const r2 = (x: number) => Math.round(x * 100) / 100;

/** Story plus per-frame truth (positions, sizes, boxes; masks come from the API, not the JSON). */
export function storyJson(story: Story): object {
  const frames = [];
  for (let f = 0; f < story.frames; f++) {
    const t = frameTruth(story, f);
    frames.push({
      frame: f,
      shot: t.shot,
      cut: t.isCut,
      objects: t.objects.map((o) => ({
        character: o.character,
        x: r2(o.x),
        y: r2(o.y),
        size: r2(o.size),
        angle: r2(o.angle),
        bbox: o.bbox,
      })),
    });
  }
  return { ...story, frameConvention: 'frames = round(seconds * fps) + 1', truth: frames };
}

function progress(total: number) {
  const t0 = performance.now();
  let last = 0;
  const tty = process.stderr.isTTY;
  let lastDecile = -1;
  return {
    tick(done: number) {
      const now = performance.now();
      // The first frames include ffmpeg's start-up: too early for a meaningful rate.
      if (done < total && now - t0 < 500) return;
      const decile = Math.floor((10 * done) / total);
      if (tty ? now - last < 250 && done < total : decile === lastDecile && done < total) return;
      last = now;
      lastDecile = decile;
      const secs = (now - t0) / 1000;
      const fps = done / Math.max(secs, 1e-9);
      const eta = (total - done) / Math.max(fps, 1e-9);
      const line = `  frame ${done}/${total}  ${fps.toFixed(0)} fps  ETA ${eta.toFixed(1)} s`;
      process.stderr.write(tty ? `\r${line.padEnd(50)}` : `${line}\n`);
      if (tty && done === total) process.stderr.write('\n');
    },
    seconds: () => (performance.now() - t0) / 1000,
  };
}

export async function run(argv: string[]): Promise<void> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        seed: { type: 'string' },
        split: { type: 'string' },
        index: { type: 'string' },
        seconds: { type: 'string' },
        fps: { type: 'string' },
        width: { type: 'string' },
        height: { type: 'string' },
        shots: { type: 'string' },
        out: { type: 'string' },
        png: { type: 'string' },
        sheet: { type: 'string' },
        json: { type: 'string' },
        crf: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: false,
    }));
  } catch (e) {
    throw new Error(`world: ${(e as Error).message} (see moga world --help)`);
  }
  if (values.help) {
    console.log(HELP);
    return;
  }
  const s = (k: string) => values[k] as string | undefined;
  let seed = int('seed', s('seed'), 0, 2 ** 32 - 1) ?? 0;
  if (s('split') !== undefined || s('index') !== undefined) {
    if (s('seed') !== undefined) throw new Error('world: give either --seed or --split/--index, not both');
    const split = s('split');
    if (split !== 'train' && split !== 'val' && split !== 'test')
      throw new Error(`world: --split must be train, val or test, got '${split ?? ''}'`);
    seed = splitSeed(split as Split, int('index', s('index') ?? '0', 0, 2 ** 31) ?? 0);
  }
  const out = s('out');
  const pngDir = s('png');
  if (!out && !pngDir)
    throw new Error('world: nothing to write; give --out FILE.mp4 and/or --png DIR (see moga world --help)');
  if (out && extname(out).toLowerCase() !== '.mp4')
    throw new Error(`world: --out must end in .mp4, got '${out}'`);
  const story = generateStory({
    seed,
    seconds: positive('seconds', s('seconds')),
    fps: int('fps', s('fps'), 1, 240),
    width: int('width', s('width'), 8, 8192),
    height: int('height', s('height'), 8, 8192),
    shots: int('shots', s('shots'), 1, 12),
  });
  const { width: W, height: H } = story;
  if (out && (W % 2 || H % 2)) throw new Error(`world: MP4 needs even --width and --height, got ${W}x${H}`);
  if (out && !existsSync(dirname(out)))
    throw new Error(`world: folder ${dirname(out)} of --out does not exist`);
  if (pngDir) {
    if (existsSync(pngDir) && !statSync(pngDir).isDirectory())
      throw new Error(`world: --png ${pngDir} exists and is not a folder`);
    mkdirSync(pngDir, { recursive: true });
  }
  const jsonPath =
    s('json') ??
    (out ? join(dirname(out), `${basename(out, extname(out))}.json`) : join(pngDir!, 'story.json'));

  console.error(
    `moga world: seed ${seed} (${story.split}), ${story.seconds} s at ${story.fps} fps = ${story.frames} frames, ` +
      `${W}x${H}, ${story.shots.length} shot(s), ${story.recalls.length} recall(s)`,
  );
  const writer = out
    ? await openMp4Writer(out, { width: W, height: H, fps: story.fps, crf: int('crf', s('crf'), 0, 51) })
    : null;
  const sheetPath = s('sheet');
  const sheetFrames = new Set(
    sheetPath ? story.shots.flatMap((sh) => evenlySpaced(sh.frames, 3).map((i) => sh.startFrame + i)) : [],
  );
  const sheet: Uint8Array[] = [];
  const renderer = makeRenderer(story);
  const buf = new Uint8Array(W * H * 3);
  const bar = progress(story.frames);
  try {
    for (let f = 0; f < story.frames; f++) {
      renderer.render(f, buf);
      if (writer) await writer.write(buf);
      if (pngDir) writePng(join(pngDir, `frame_${String(f).padStart(5, '0')}.png`), buf, W, H);
      if (sheetFrames.has(f)) sheet.push(buf.slice());
      bar.tick(f + 1);
    }
  } catch (e) {
    await writer?.abort();
    throw e;
  }
  const done = writer ? await writer.close() : null;
  atomicWrite(jsonPath, JSON.stringify(storyJson(story)));
  if (sheetPath) {
    const borders = [...sheetFrames]
      .sort((a, b) => a - b)
      .map((f) => (story.cuts.includes(f) || f === 0 ? ([220, 40, 40] as const) : null));
    writeContactSheet(sheetPath, sheet, W, H, { columns: 3, gap: 3, borders });
  }
  const secs = bar.seconds();
  if (done)
    console.error(`wrote ${done.path} (${done.frames} frames, ${(done.bytes / 1024).toFixed(0)} KiB)`);
  if (pngDir) console.error(`wrote ${story.frames} PNG frames to ${pngDir}`);
  if (sheetPath) console.error(`wrote contact sheet ${sheetPath}`);
  console.error(
    `wrote ${jsonPath}; ${story.frames} frames in ${secs.toFixed(1)} s (${(story.frames / secs).toFixed(0)} fps)`,
  );
}
