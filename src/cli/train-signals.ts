/**
 * Ctrl-C (SIGINT) or SIGTERM during `moga train <model>`: the first stops the run after its current
 * step. The trainer sees the abort between steps (it runs as a generator driven by `runYielding`,
 * which lets the event loop, and so the handler, run after every step), writes its checkpoint
 * through train/checkpoint's atomic save and returns; the command then says the step it stopped at
 * and how to resume, and exits 130 (SIGINT) or 143 (SIGTERM). A second signal exits at once: the
 * last checkpoint on disk is whole, and the exit cleanups remove the temps of a save in progress.
 */
import { runCleanups, SIGNAL_CODES } from '../io/exit-cleanup.js';
import { findCheckpoint, readStateJson } from '../train/checkpoint.js';
import { runYielding } from '../train/loop.js';

/**
 * Runs `train(signal)` with the handlers installed (removed again when it ends). `cmd` is the
 * command's name ('train dit'), `argv` its arguments (for the resume line), `work` the checkpoint
 * directory.
 */
export async function trainUntilSignal<T>(
  cmd: string,
  argv: readonly string[],
  work: string,
  train: (signal: AbortSignal) => Generator<void, T, void>,
): Promise<T> {
  const ac = new AbortController();
  let received: keyof typeof SIGNAL_CODES | null = null;
  const handlers = Object.keys(SIGNAL_CODES).map((name) => {
    const sig = name as keyof typeof SIGNAL_CODES;
    const handler = () => {
      if (received) {
        process.stderr.write(`\nmoga ${cmd}: ${sig} again, stopping now (the last checkpoint stays)\n`);
        runCleanups();
        process.exit(SIGNAL_CODES[sig]);
      }
      received = sig;
      process.stderr.write(
        `\nmoga ${cmd}: ${sig}, stopping after the current step and saving a checkpoint (${sig} again to stop at once)\n`,
      );
      ac.abort(sig);
    };
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  try {
    const result = await runYielding(train(ac.signal));
    if (received) {
      process.stderr.write(`moga ${cmd}: ${stoppedLine(received, cmd, argv, work)}\n`);
      process.exitCode = SIGNAL_CODES[received];
    }
    return result;
  } finally {
    for (const [sig, handler] of handlers) process.off(sig, handler);
  }
}

function stoppedLine(sig: string, cmd: string, argv: readonly string[], work: string): string {
  const at = findCheckpoint(work);
  const again = `moga ${cmd} ${[...argv.filter((a) => a !== '--resume'), '--resume'].map(shellWord).join(' ')}`;
  return at
    ? `stopped by ${sig} at step ${readStateJson(at).step}, checkpoint in ${at}; continue with: ${again}`
    : `stopped by ${sig} before the first checkpoint (none in ${work}); start again with: ${again.replace(/ --resume$/, '')}`;
}

/** `s` as one word for a POSIX shell. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}
