/**
 * Checks an output path before any work: it must not be one of the inputs (same file, through a
 * symlink or a hard link too), not a directory, in a folder that exists, and end in the extension
 * of the container written there (moga writes MP4 only; a .avi name would lie about the content).
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';

export function checkOutputPath(
  cmd: string,
  flag: string,
  out: string,
  opts: { ext: string; inputs: { flag: string; path: string }[] },
): string {
  const target = resolve(out);
  const bad = (m: string) => new Error(`${cmd}: --${flag} '${out}' ${m}`);
  if (extname(target).toLowerCase() !== opts.ext)
    throw bad(`must end in ${opts.ext} (moga writes ${opts.ext.slice(1).toUpperCase()} only)`);
  const dir = dirname(target);
  if (!existsSync(dir) || !statSync(dir).isDirectory())
    throw bad(`is in folder ${dir}, which does not exist`);
  if (!existsSync(target)) return target;
  const st = statSync(target);
  if (st.isDirectory()) throw bad('is a directory; name a file');
  for (const input of opts.inputs) {
    if (!existsSync(input.path)) continue;
    const s = statSync(input.path);
    if (s.dev === st.dev && s.ino === st.ino)
      throw bad(`is the same file as --${input.flag} '${input.path}'; it would be overwritten`);
  }
  return target;
}
