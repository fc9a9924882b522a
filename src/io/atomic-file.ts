/**
 * Outputs that never half-exist: every file moga writes goes to a hidden temp name beside the
 * target (`.NAME.<pid>.<n>.tmp`, same directory so the rename is atomic), is fsynced, renamed onto
 * the target, and the directory is fsynced so the rename itself survives a power cut.
 *
 * Live temps are registered with exit-cleanup.ts, so a signal or an exception removes them; a
 * temp of a process that died without cleaning up (SIGKILL) carries its pid in the name and is
 * removed by `removeStaleTemps` at the next start.
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { onCleanup } from './exit-cleanup.js';

let counter = 0;

/** `.NAME.<pid>.<n>.tmp` beside `target`. */
export function atomicTempPath(target: string): string {
  const abs = resolve(target);
  return join(dirname(abs), `.${basename(abs)}.${process.pid}.${(counter++).toString(36)}.tmp`);
}

const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-z]+\.tmp$/;

/** fsync of a directory, so a rename in it is durable (some filesystems refuse: then best effort). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // EISDIR/EINVAL on some platforms: directory fsync is not supported there
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** A temp file being written for `target`; `commit` puts it in place, `discard` removes it. */
export interface AtomicTemp {
  readonly path: string;
  readonly target: string;
  /** fsync the temp, rename it onto the target, fsync the directory. */
  commit(): void;
  /** Removes the temp (idempotent). */
  discard(): void;
}

/**
 * Creates an empty temp file for `target` (exclusively: never someone else's file) and registers
 * it for removal on exit or signal.
 */
export function openAtomicTemp(target: string): AtomicTemp {
  const abs = resolve(target);
  const path = atomicTempPath(abs);
  let settled = false;
  const release = onCleanup(() => rmSync(path, { force: true }));
  try {
    closeSync(openSync(path, 'wx'));
  } catch (e) {
    release();
    throw e;
  }
  return {
    path,
    target: abs,
    commit() {
      if (settled) throw new Error(`${target}: temp file already committed or discarded`);
      fsyncFile(path);
      renameSync(path, abs);
      settled = true;
      release();
      fsyncDir(dirname(abs));
    },
    discard() {
      if (settled) return;
      settled = true;
      rmSync(path, { force: true });
      release();
    },
  };
}

/**
 * Writes `target` atomically. `content` is the bytes or text, or a function that writes the temp
 * path it is given (for writers that stream, like safetensors).
 */
export function writeFileAtomic(
  target: string,
  content: Uint8Array | string | ((tmp: string) => void),
): void {
  const t = openAtomicTemp(target);
  try {
    if (typeof content === 'function') content(t.path);
    else {
      const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      const fd = openSync(t.path, 'w');
      try {
        let off = 0;
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      } finally {
        closeSync(fd);
      }
    }
    t.commit();
  } catch (e) {
    t.discard();
    throw e;
  }
}

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temps in `dir` left by processes that no longer run; returns the names removed. */
export function removeStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_NAME.exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    rmSync(join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}
