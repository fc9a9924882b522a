/**
 * The worker process of `moga serve`: one per attempt at a job, started by the queue with
 * child_process.fork. It gets `{type: 'run', spec}` over the IPC channel, sends every progress
 * event back, and ends with one of `done` (with the report), `failed` (with the message) or
 * `cancelled`, then exits, so the operating system takes back all of its memory (tensors, the
 * native backend's pools, the WebAssembly heap, which never shrinks) whatever the generation
 * left behind.
 *
 * `{type: 'cancel'}` aborts the generation between sampler steps or decode chunks (generate's
 * AbortSignal). When the server goes away (killed, crashed) the channel closes and the worker
 * exits at once, its temp files and ffmpeg removed by io/exit-cleanup: an orphan never goes on
 * with a job that the next server will run again.
 */
import { exitOnSignals } from '../io/exit-cleanup.js';
import { type JobSpec, renderJob } from './render-job.js';

export type ToWorker = { type: 'run'; spec: JobSpec } | { type: 'cancel' };
export type FromWorker =
  | { type: 'progress'; event: import('../pipeline/progress.js').ProgressEvent }
  | { type: 'done'; report: Record<string, unknown> }
  | { type: 'failed'; error: string }
  | { type: 'cancelled' };

/** The reason an abort carries, so a cancel is told apart from a failure. */
const CANCELLED = 'cancelled by request';

function send(m: FromWorker): Promise<void> {
  return new Promise((res) => {
    if (!process.send || !process.connected) return res();
    process.send(m, undefined, {}, () => res());
  });
}

function main(): void {
  if (!process.send) throw new Error('serve worker: must be started by moga serve (no IPC channel)');
  exitOnSignals();
  process.on('disconnect', () => process.exit(70)); // the server is gone: stop now
  const ctl = new AbortController();
  let started = false;
  process.on('message', (m: ToWorker) => {
    if (m.type === 'cancel') ctl.abort(new Error(CANCELLED));
    else if (m.type === 'run' && !started) {
      started = true;
      void run(m.spec, ctl.signal);
    }
  });
}

async function run(spec: JobSpec, signal: AbortSignal): Promise<void> {
  let code = 0;
  try {
    const report = await renderJob(spec, {
      signal,
      onProgress: (event) => void send({ type: 'progress', event }),
    });
    await send({ type: 'done', report });
  } catch (e) {
    if (signal.aborted) await send({ type: 'cancelled' });
    else {
      await send({ type: 'failed', error: (e as Error).message ?? String(e) });
      code = 1;
    }
  }
  process.exit(code);
}

main();
