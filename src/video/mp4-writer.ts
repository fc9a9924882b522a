/**
 * Streams raw RGB frames to ffmpeg's stdin and gets an H.264 MP4 (libx264, yuv420p, playable
 * everywhere). ffmpeg writes a temp file beside the target (io/atomic-file.ts), which is fsynced
 * and renamed on success, so a crash or an ffmpeg error never leaves a truncated file under the
 * real name; on exit or signal, ffmpeg is killed and the temp removed (io/exit-cleanup.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { openAtomicTemp } from '../io/atomic-file.js';
import { onCleanup } from '../io/exit-cleanup.js';
import { findFfmpeg, lastLines, tailCollector } from './ffmpeg.js';

export interface Mp4Options {
  width: number;
  height: number;
  fps: number;
  /** x264 constant rate factor: lower is better quality (default 18, visually lossless-ish). */
  crf?: number;
  /** x264 preset (default 'medium'). */
  preset?: string;
}

export interface Mp4Writer {
  readonly path: string;
  /** Frames accepted so far. */
  readonly frames: number;
  /** One H*W*3 RGB frame (copied, so the caller may reuse its buffer). */
  write(rgb: Uint8Array): Promise<void>;
  /** Finishes the file; rejects with ffmpeg's own words when encoding failed. */
  close(): Promise<{ path: string; frames: number; bytes: number }>;
  /** Stops ffmpeg and removes the temporary file. */
  abort(): Promise<void>;
}

export async function openMp4Writer(path: string, opts: Mp4Options): Promise<Mp4Writer> {
  const { width: W, height: H, fps } = opts;
  if (!Number.isInteger(W) || !Number.isInteger(H) || W < 2 || H < 2)
    throw new Error(`MP4 size must be positive integers, got ${W}x${H}`);
  if (W % 2 || H % 2) throw new Error(`MP4 (libx264, yuv420p) needs even width and height, got ${W}x${H}`);
  if (!(fps > 0 && fps <= 1000)) throw new Error(`MP4 fps must be in (0, 1000], got ${fps}`);
  const target = resolve(path);
  const dir = dirname(target);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw new Error(`cannot write ${path}: folder ${dir} does not exist`);
  if (existsSync(target) && statSync(target).isDirectory())
    throw new Error(`cannot write ${path}: it is a directory`);
  const { path: ffmpeg } = await findFfmpeg();
  const temp = openAtomicTemp(target);
  const tmp = temp.path;
  // biome-ignore format: ffmpeg arguments read best as flag/value pairs
  const args = [
    '-y', '-hide_banner', '-loglevel', 'error',
    '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${W}x${H}`, '-r', String(fps), '-i', 'pipe:0',
    '-c:v', 'libx264', '-preset', opts.preset ?? 'medium', '-crf', String(opts.crf ?? 18),
    '-pix_fmt', 'yuv420p', '-movflags', '+faststart', '-f', 'mp4', tmp,
  ];
  const proc = spawn(ffmpeg, args, { stdio: ['pipe', 'ignore', 'pipe'] });
  const stopOnExit = onCleanup(() => proc.kill('SIGKILL'));
  const stderr = tailCollector();
  proc.stderr.on('data', (c: Buffer) => stderr.push(c));
  let failure: Error | null = null;
  const exited = new Promise<{ code: number | null; signal: string | null }>((res) => {
    proc.on('close', (code, signal) => {
      stopOnExit();
      res({ code, signal });
    });
  });
  proc.on('error', (e) => {
    failure ??= new Error(`could not start ffmpeg (${ffmpeg}): ${e.message}`);
  });
  // EPIPE when ffmpeg dies mid-stream: the exit status and stderr tell the real story.
  proc.stdin.on('error', () => {});
  const explain = async (): Promise<Error> => {
    const { code, signal } = await exited;
    temp.discard();
    return (
      failure ??
      new Error(
        `ffmpeg failed writing ${path} (${signal ?? `exit ${code}`}): ${lastLines(stderr.text, 6) || 'no message'}`,
      )
    );
  };
  let frames = 0;
  let done = false;
  const frameBytes = W * H * 3;
  return {
    path,
    get frames() {
      return frames;
    },
    async write(rgb) {
      if (done) throw new Error(`write after close/abort of ${path}`);
      if (rgb.length !== frameBytes)
        throw new Error(`frame has ${rgb.length} bytes, expected ${W}x${H}x3 = ${frameBytes}`);
      if (failure || proc.exitCode !== null) {
        done = true;
        throw await explain();
      }
      frames++;
      if (!proc.stdin.write(Buffer.from(rgb))) {
        const drained = new Promise<boolean>((res) => proc.stdin.once('drain', () => res(true)));
        const ended = exited.then(() => false);
        if (!(await Promise.race([drained, ended]))) {
          done = true;
          throw await explain();
        }
      }
    },
    async close() {
      if (done) throw new Error(`${path} was already closed or aborted`);
      done = true;
      if (frames === 0) {
        proc.kill('SIGKILL');
        await exited;
        temp.discard();
        throw new Error(`no frames were written to ${path}`);
      }
      proc.stdin.end();
      const { code } = await exited;
      if (failure || code !== 0) throw await explain();
      temp.commit();
      return { path, frames, bytes: statSync(target).size };
    },
    async abort() {
      if (done) return;
      done = true;
      proc.kill('SIGKILL');
      await exited;
      temp.discard();
    },
  };
}
