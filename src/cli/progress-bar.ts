/**
 * Progress bars on stderr for `moga generate` and `moga demo`: redrawn in place on a terminal,
 * one line every few seconds (and at each stage's end) when stderr is a file or a pipe.
 */
import { type ProgressEvent, progressBar } from '../pipeline/progress.js';

export function stderrProgress(
  opts: { quiet?: boolean; everySeconds?: number } = {},
): (e: ProgressEvent) => void {
  if (opts.quiet) return () => {};
  const tty = process.stderr.isTTY === true;
  const every = (opts.everySeconds ?? (tty ? 0.2 : 5)) * 1000;
  let last = 0;
  let open = false;
  return (e) => {
    const now = performance.now();
    const end = e.done >= e.total;
    if (!end && e.done > 0 && now - last < every) return;
    if (!end && e.done === 0 && !tty) return;
    last = now;
    const line = progressBar(e);
    if (tty) {
      process.stderr.write(`\r${line}\x1b[K${end ? '\n' : ''}`);
      open = !end;
    } else process.stderr.write(`${line}\n`);
    if (end && open) open = false;
  };
}
