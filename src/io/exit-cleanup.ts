/**
 * What must not outlive the process: temp files and child processes (ffmpeg). Writers register a
 * synchronous cleanup while they hold something and release it when done; the cleanups run on
 * exit, and on SIGINT/SIGTERM once the CLI has called `exitOnSignals` (a library does not take
 * over a host program's signals unasked).
 */

const cleanups = new Set<() => void>();
let exitHookInstalled = false;

/**
 * Runs every registered cleanup once, the latest first (a child process is stopped before the temp
 * it writes is removed); one's failure is ignored so the others still run.
 */
export function runCleanups(): void {
  for (const fn of [...cleanups].reverse()) {
    cleanups.delete(fn);
    try {
      fn();
    } catch {}
  }
}

/** Registers `fn` to run on exit or signal; returns the function that unregisters it. */
export function onCleanup(fn: () => void): () => void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', runCleanups);
  }
  cleanups.add(fn);
  return () => {
    cleanups.delete(fn);
  };
}

/** Cleanups registered now (tests). */
export function pendingCleanups(): number {
  return cleanups.size;
}

/** The exit status after each signal the CLI handles: 128 + its number. */
export const SIGNAL_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
let signalsInstalled = false;

/**
 * On SIGINT or SIGTERM: say so on stderr, run the cleanups, exit 128 + the signal number. The
 * handler runs between event-loop turns, so long computations must yield now and then (the
 * sampler does, once per step).
 */
export function exitOnSignals(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const [sig, code] of Object.entries(SIGNAL_CODES)) {
    process.on(sig, () => {
      process.stderr.write(`\nmoga: ${sig}, removing temporary files and stopping\n`);
      runCleanups();
      process.exit(code);
    });
  }
}
