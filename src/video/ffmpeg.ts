/**
 * Finding and running ffmpeg: the system `ffmpeg` on PATH first (usually newer, with the user's
 * codecs), else the static binary shipped by the npm package @ffmpeg-installer/ffmpeg.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface FfmpegLocation {
  path: string;
  source: 'PATH' | '@ffmpeg-installer/ffmpeg';
}

let found: Promise<FfmpegLocation> | null = null;

function executable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The search path is a parameter so tests can hide the system ffmpeg. */
export function findOnPath(name: string, searchPath = process.env.PATH ?? ''): string | null {
  const exts = process.platform === 'win32' ? ['.exe', ''] : [''];
  for (const dir of searchPath.split(delimiter).filter(Boolean))
    for (const ext of exts) {
      const p = join(dir, name + ext);
      if (executable(p)) return p;
    }
  return null;
}

async function locate(searchPath?: string): Promise<FfmpegLocation> {
  const onPath = findOnPath('ffmpeg', searchPath);
  if (onPath) return { path: onPath, source: 'PATH' };
  let why = '';
  try {
    const mod = (await import('@ffmpeg-installer/ffmpeg')) as { default?: { path: string }; path?: string };
    const p = mod.default?.path ?? mod.path;
    if (p && executable(p)) return { path: p, source: '@ffmpeg-installer/ffmpeg' };
    why = p ? `${p} is not executable` : 'it exports no path';
  } catch (e) {
    why = (e as Error).message.split('\n')[0];
  }
  throw new Error(
    `ffmpeg not found: no 'ffmpeg' on PATH and the npm package @ffmpeg-installer/ffmpeg is unusable (${why}). ` +
      'Install ffmpeg (e.g. apt install ffmpeg) or run npm install.',
  );
}

/** The ffmpeg to use (found once per process unless searchPath is given). */
export function findFfmpeg(searchPath?: string): Promise<FfmpegLocation> {
  if (searchPath !== undefined) return locate(searchPath);
  found ??= locate().catch((e) => {
    found = null; // let a later call retry after the user fixes the install
    throw e;
  });
  return found;
}

/** Keeps the last `limit` characters of a stream (ffmpeg's stderr, for error messages). */
export function tailCollector(limit = 4000) {
  let text = '';
  return {
    push(chunk: Buffer | string) {
      text += chunk.toString();
      if (text.length > 2 * limit) text = text.slice(-limit);
    },
    get text() {
      return text.slice(-limit).trim();
    },
  };
}

/** Runs ffmpeg with args to completion; resolves stdout, rejects with stderr's tail. */
export async function runFfmpeg(args: string[]): Promise<{ stdout: Buffer; stderr: string }> {
  const { path } = await findFfmpeg();
  return new Promise((resolve, reject) => {
    const p = spawn(path, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err = tailCollector(20000);
    p.stdout.on('data', (c: Buffer) => out.push(c));
    p.stderr.on('data', (c: Buffer) => err.push(c));
    p.on('error', (e) => reject(new Error(`could not start ffmpeg (${path}): ${e.message}`)));
    p.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout: Buffer.concat(out), stderr: err.text });
      else reject(new Error(`ffmpeg failed (${signal ?? `exit ${code}`}): ${lastLines(err.text, 6)}`));
    });
  });
}

export function lastLines(text: string, n: number): string {
  return text.split('\n').slice(-n).join('\n');
}
