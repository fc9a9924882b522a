/** Decoding a video file to RGB frames through ffmpeg (for ingest and for checking what we wrote). */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findFfmpeg, lastLines, runFfmpeg, tailCollector } from './ffmpeg.js';

export interface VideoInfo {
  width: number;
  height: number;
  /** Frame rate of the first video stream; null when ffmpeg reports none (a still image). */
  fps: number | null;
  codec: string;
  /** Container duration in seconds, when known. */
  duration: number | null;
}

function mustExist(path: string): void {
  if (!existsSync(path)) throw new Error(`video file not found: ${path}`);
}

/** Parses the first video stream line of `ffmpeg -i` output. */
export function parseStreamInfo(stderr: string): VideoInfo | null {
  const line = stderr.split('\n').find((l) => /Stream #\d+:\d+.*: Video: /.test(l));
  if (!line) return null;
  const codec = /Video: ([^\s,]+)/.exec(line)?.[1] ?? 'unknown';
  const size = /, (\d+)x(\d+)[\s,[]/.exec(`${line} `);
  if (!size) return null;
  const fps = /, ([\d.]+) fps/.exec(line) ?? /, ([\d.]+) tbr/.exec(line);
  const dur = /Duration: (\d+):(\d+):([\d.]+)/.exec(stderr);
  return {
    width: Number(size[1]),
    height: Number(size[2]),
    fps: fps ? Number(fps[1]) : null,
    codec,
    duration: dur ? Number(dur[1]) * 3600 + Number(dur[2]) * 60 + Number(dur[3]) : null,
  };
}

/** Stream parameters of a video (or image) file, from `ffmpeg -i` (no ffprobe needed). */
export async function probeVideo(path: string): Promise<VideoInfo> {
  mustExist(path);
  // With no output ffmpeg exits non-zero after printing the input's description; that is expected.
  const text = await runFfmpeg(['-hide_banner', '-i', path]).then(
    (r) => r.stderr,
    (e: Error) => e.message,
  );
  const info = parseStreamInfo(text);
  if (!info) throw new Error(`no video stream in ${path}: ${lastLines(text, 3)}`);
  return info;
}

/** Frames of the first video stream, counted by decoding it (the ffprobe -count_frames way). */
export async function countFrames(path: string): Promise<number> {
  mustExist(path);
  const { stderr } = await runFfmpeg([
    '-hide_banner',
    '-nostats',
    '-i',
    path,
    '-map',
    '0:v:0',
    '-f',
    'null',
    '-',
  ]);
  // The final progress report: "frame= 1441 fps=..."
  const all = [...stderr.matchAll(/frame=\s*(\d+)/g)];
  if (all.length === 0) throw new Error(`ffmpeg reported no frame count for ${path}`);
  return Number(all[all.length - 1][1]);
}

/**
 * Calls onFrame(rgb, index) for each decoded frame (H*W*3 RGB bytes, a fresh buffer each time),
 * in order, without holding the whole video in memory.
 */
export async function forEachFrame(
  path: string,
  onFrame: (rgb: Uint8Array, index: number) => void | Promise<void>,
  opts: { maxFrames?: number } = {},
): Promise<{ info: VideoInfo; frames: number }> {
  const info = await probeVideo(path);
  const { path: ffmpeg } = await findFfmpeg();
  const frameBytes = info.width * info.height * 3;
  const args = ['-hide_banner', '-loglevel', 'error', '-i', path, '-map', '0:v:0'];
  if (opts.maxFrames !== undefined) args.push('-frames:v', String(opts.maxFrames));
  args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1');
  const proc = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const err = tailCollector();
  proc.stderr.on('data', (c: Buffer) => err.push(c));
  const exited = new Promise<number | null>((res, rej) => {
    proc.on('error', (e) => rej(new Error(`could not start ffmpeg: ${e.message}`)));
    proc.on('close', (code) => res(code));
  });
  let frame = new Uint8Array(frameBytes);
  let fill = 0;
  let index = 0;
  for await (const chunk of proc.stdout as AsyncIterable<Buffer>) {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(frameBytes - fill, chunk.length - off);
      frame.set(chunk.subarray(off, off + n), fill);
      fill += n;
      off += n;
      if (fill === frameBytes) {
        await onFrame(frame, index++);
        frame = new Uint8Array(frameBytes);
        fill = 0;
      }
    }
  }
  const code = await exited;
  if (code !== 0) throw new Error(`ffmpeg failed decoding ${path} (exit ${code}): ${lastLines(err.text, 6)}`);
  if (fill !== 0)
    throw new Error(`${path}: decoder output ended inside a frame (${fill} of ${frameBytes} bytes)`);
  return { info, frames: index };
}

/** All frames in memory: fine for short clips and tests; use forEachFrame for long ones. */
export async function readVideo(
  path: string,
  opts: { maxFrames?: number } = {},
): Promise<{ info: VideoInfo; frames: Uint8Array[] }> {
  const frames: Uint8Array[] = [];
  const { info } = await forEachFrame(path, (f) => void frames.push(f), opts);
  return { info, frames };
}
