/**
 * The job queue of `moga serve`: embedded (the store's folder is the whole state; no other
 * service), one generation at a time, the others waiting in submission order.
 *
 * Each attempt runs in its own worker process (serve/worker.ts, child_process.fork), not a worker
 * thread: the server stays responsive whatever the generation does to its event loop, a crash or
 * an out-of-memory kill of the generation fails one job instead of the server, and when the
 * attempt ends (finished, failed, cancelled) the process exits, so its memory (tensors, the
 * native backend's thread pools, a WebAssembly heap that never shrinks, ffmpeg) is back with the
 * operating system. Loading the model per attempt is the price: small next to a generation.
 *
 * Nothing is lost: a job is on disk (job.json, atomically) before its submission is answered, and
 * every change of status is written before it is announced. At start, a job found `running` was
 * cut short by the previous server's death: its attempt is recorded as interrupted and the job
 * goes back in the queue to run again from the start, or, once interrupted more than `retries`
 * times, is marked failed with that reason. A job runs in one place only: one server per data
 * folder (the store's lock), one worker at a time, a worker that exits when its server dies, and
 * outputs that reach the job's folder only when the live server moves them out of the attempt's
 * own folder after the worker reported success.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { UnknownWords } from '../pipeline/generate.js';
import type { ProgressEvent } from '../pipeline/progress.js';
import { tailCollector } from '../video/ffmpeg.js';
import type { JobSpec } from './render-job.js';
import type { JobRecord, JobStore, RunOutcome } from './store.js';
import { type RegenerateFrom, RequestError, type Submission } from './submission.js';
import type { FromWorker, ToWorker } from './worker.js';

export interface QueueOptions {
  /** Model directory every job is generated with. */
  readonly model: string;
  /** Backend name for the workers (default: the first that starts of native, wasm, ref). */
  readonly backend?: string;
  /** Queued jobs at most (the running one not counted); a submission beyond gets 429. */
  readonly maxQueued: number;
  /** How many times a job interrupted by the server's death runs again before it is failed. */
  readonly retries: number;
  /** After a cancel, how long the worker has to stop before it is killed (ms, default 5000). */
  readonly cancelGraceMs?: number;
  readonly log?: (line: string) => void;
}

/**
 * What the HTTP API needs of a queue: the embedded one (JobQueue, below) or the Redis one
 * (redis-queue.ts, BullMQ, workers elsewhere). Reads may answer later (Redis is a round trip).
 */
export interface Jobs {
  /** The data folder: stories and outputs (shared with the workers in the Redis mode). */
  readonly store: JobStore;
  submit(sub: Submission, unknownWords?: readonly UnknownWords[]): JobRecord | Promise<JobRecord>;
  list(): JobRecord[] | Promise<JobRecord[]>;
  get(id: string): JobRecord | undefined | Promise<JobRecord | undefined>;
  count(status: JobRecord['status']): number | Promise<number>;
  cancel(id: string): JobRecord | Promise<JobRecord>;
  subscribe(id: string, fn: (e: JobEvent) => void): () => void;
  close(): Promise<void>;
}

export type JobEvent =
  | { readonly type: 'progress'; readonly event: ProgressEvent }
  | { readonly type: 'status'; readonly job: JobRecord };

/** Each job's event listeners (SSE streams): one registry for both queues. */
export class JobListeners {
  private readonly byJob = new Map<string, Set<(e: JobEvent) => void>>();

  /** Calls `fn` with every event of job `id`; returns the unsubscribe. */
  subscribe(id: string, fn: (e: JobEvent) => void): () => void {
    let set = this.byJob.get(id);
    if (!set) this.byJob.set(id, (set = new Set()));
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.byJob.delete(id);
    };
  }

  has(id: string): boolean {
    return (this.byJob.get(id)?.size ?? 0) > 0;
  }

  emit(id: string, e: JobEvent): void {
    for (const fn of this.byJob.get(id) ?? []) fn(e);
  }
}

/** Statuses a job never leaves. */
export const FINAL = new Set(['done', 'failed', 'cancelled']);

interface Running {
  readonly id: string;
  readonly child: ChildProcess;
  /** The worker's last word: done / failed / cancelled (none: it died). */
  result?: FromWorker;
  /** Set by close(): the server is shutting down. */
  stopping?: boolean;
  killTimer?: NodeJS.Timeout;
  readonly stderr: ReturnType<typeof tailCollector>;
  readonly exited: Promise<void>;
}

/** The worker's entry: worker.ts beside this file under tsx, worker.js in dist/. */
function workerEntry(): { path: string; execArgv: string[] } {
  const here = fileURLToPath(import.meta.url);
  const ext = extname(here);
  const path = join(here, '..', `worker${ext}`);
  if (ext !== '.ts') return { path, execArgv: [] };
  // running from source: the worker needs tsx too (resolved here, not from the cwd)
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { path, execArgv: ['--import', tsx] };
}

/** One attempt's worker process (worker.ts) with the tail of its stderr kept for the failure message. */
export function forkWorker(): { child: ChildProcess; stderr: ReturnType<typeof tailCollector> } {
  const entry = workerEntry();
  const child = fork(entry.path, [], {
    execArgv: entry.execArgv,
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    serialization: 'json',
  });
  const stderr = tailCollector(2000);
  child.stderr?.on('data', (d: Buffer) => stderr.push(d));
  return { child, stderr };
}

const now = () => new Date().toISOString();

/** A regenerate job's part of its spec: the source's saved generation, by path (both queues). */
export function regenerateSpec(
  store: JobStore,
  from: RegenerateFrom | undefined,
): Pick<JobSpec, 'regenerate'> {
  return from ? { regenerate: { ...from, saved: store.savedPath(from.job) } } : {};
}

export class JobQueue implements Jobs {
  private readonly jobs = new Map<string, JobRecord>();
  private readonly listeners = new JobListeners();
  private running: Running | undefined;
  private seq = 0;
  private closed = false;
  private readonly log: (line: string) => void;

  constructor(
    readonly store: JobStore,
    private readonly opts: QueueOptions,
  ) {
    this.log = opts.log ?? (() => {});
    for (const job of store.loadAll()) {
      if (job.status === 'running') this.recover(job);
      this.jobs.set(job.id, job);
      this.seq = Math.max(this.seq, job.seq);
    }
    this.pump();
  }

  /** A job the previous server was running when it died: re-queued, or failed with the reason. */
  private recover(job: JobRecord): void {
    const run = job.runs.at(-1);
    const n = run?.attempt ?? 0;
    if (run && !run.outcome) {
      run.outcome = 'interrupted';
      run.ended = now();
      run.reason = 'the server stopped during this attempt (killed or crashed)';
    }
    const interrupted = job.runs.filter((r) => r.outcome === 'interrupted').length;
    job.progress = undefined;
    if (job.cancelling) {
      job.status = 'cancelled';
      job.finished = now();
      job.error = 'cancelled by request (the server stopped while the attempt was stopping)';
    } else if (interrupted <= this.opts.retries) {
      job.status = 'queued';
      job.note = `re-queued at start: the server stopped during attempt ${n}; the job runs again from the start`;
    } else {
      job.status = 'failed';
      job.finished = now();
      job.error = `the server stopped during attempt ${n} (killed or crashed), the ${ordinal(interrupted)} interruption of this job, and moga serve --retries is ${this.opts.retries}; not run again`;
    }
    job.cancelling = undefined;
    if (n > 0) rmSync(this.store.runDir(job.id, n), { recursive: true, force: true });
    this.store.save(job);
    this.log(`job ${job.id}: ${job.status} after an interrupted attempt ${n}`);
  }

  /** Adds a job at the end of the queue (429 when the queue is full). */
  submit(sub: Submission, unknownWords: readonly UnknownWords[] = []): JobRecord {
    if (this.closed) throw new RequestError(409, 'the server is shutting down');
    const queued = this.count('queued');
    if (queued >= this.opts.maxQueued)
      throw new RequestError(
        429,
        `the queue is full (${queued} jobs waiting, moga serve --max-queue ${this.opts.maxQueued}); try again when one has finished`,
      );
    const { story } = sub;
    const job: JobRecord = {
      id: this.store.newId(),
      seq: ++this.seq,
      status: 'queued',
      title: story.title,
      shots: story.shots.length,
      seconds: story.shots.reduce((a, s) => a + s.seconds, 0),
      options: sub.options,
      ...(sub.regenerate ? { from: sub.regenerate } : {}),
      ...(unknownWords.length ? { unknownWords } : {}),
      created: now(),
      runs: [],
      files: [],
    };
    this.store.create(job, story);
    this.jobs.set(job.id, job);
    this.log(`job ${job.id}: queued "${job.title}"`);
    this.emit(job);
    this.pump();
    return job;
  }

  list(): JobRecord[] {
    return [...this.jobs.values()].sort((a, b) => a.seq - b.seq);
  }

  get(id: string): JobRecord | undefined {
    return this.jobs.get(id);
  }

  count(status: JobRecord['status']): number {
    let n = 0;
    for (const j of this.jobs.values()) if (j.status === status) n++;
    return n;
  }

  /** Cancels a queued job at once, a running one by stopping its worker (409 for a finished one). */
  cancel(id: string): JobRecord {
    const job = this.jobs.get(id);
    if (!job) throw new RequestError(404, `no job ${id}`);
    if (FINAL.has(job.status)) throw new RequestError(409, `job ${id} is already ${job.status}`);
    if (job.status === 'queued') {
      job.status = 'cancelled';
      job.finished = now();
      job.error = 'cancelled by request before it ran';
      this.store.save(job);
      this.emit(job);
      return job;
    }
    const r = this.running;
    if (!r || r.id !== id) throw new Error(`job ${id} is running but has no worker`);
    if (!job.cancelling) {
      job.cancelling = true;
      this.store.save(job);
      this.send(r, { type: 'cancel' });
      r.killTimer = setTimeout(() => r.child.kill('SIGKILL'), this.opts.cancelGraceMs ?? 5000);
      this.emit(job);
    }
    return job;
  }

  /** Calls `fn` with every progress and status event of job `id`; returns the unsubscribe. */
  subscribe(id: string, fn: (e: JobEvent) => void): () => void {
    return this.listeners.subscribe(id, fn);
  }

  /** The worker's pid while a job runs (tests, logs). */
  workerPid(): number | undefined {
    return this.running?.child.pid;
  }

  /**
   * Shuts down cleanly: the running attempt is stopped and its job put back at the head of the
   * queue (the next server runs it first); then the store's lock is released.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const r = this.running;
    if (r) {
      r.stopping = true;
      r.child.kill('SIGTERM');
      const kill = setTimeout(() => r.child.kill('SIGKILL'), this.opts.cancelGraceMs ?? 5000);
      await r.exited;
      clearTimeout(kill);
    }
    this.store.close();
  }

  private emit(job: JobRecord): void {
    this.listeners.emit(job.id, { type: 'status', job });
  }

  private send(r: Running, m: ToWorker): void {
    if (r.child.connected) r.child.send(m);
  }

  private pump(): void {
    if (this.running || this.closed) return;
    let next: JobRecord | undefined;
    for (const j of this.jobs.values()) if (j.status === 'queued' && (!next || j.seq < next.seq)) next = j;
    if (next) this.start(next);
  }

  private start(job: JobRecord): void {
    const attempt = job.runs.length + 1;
    const runDir = this.store.runDir(job.id, attempt);
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir, { recursive: true });
    const { child, stderr } = forkWorker();
    let resolveExit!: () => void;
    const exited = new Promise<void>((res) => {
      resolveExit = res;
    });
    const r: Running = { id: job.id, child, stderr, exited };
    this.running = r;
    job.status = 'running';
    job.started ??= now();
    job.note = undefined;
    job.runs.push({ attempt, started: now(), pid: child.pid });
    this.store.save(job);
    this.log(`job ${job.id}: attempt ${attempt} running in worker ${child.pid}`);
    this.emit(job);
    child.on('message', (m: FromWorker) => {
      if (m.type === 'progress') {
        job.progress = m.event;
        this.listeners.emit(job.id, { type: 'progress', event: m.event });
      } else r.result = m;
    });
    let ended = false;
    const end = (code: number | null, signal: string | null, error?: Error) => {
      if (ended) return;
      ended = true;
      clearTimeout(r.killTimer);
      try {
        this.finish(job, r, runDir, code, signal, error);
      } finally {
        this.running = undefined;
        resolveExit();
        this.pump();
      }
    };
    child.on('error', (e) => {
      // spawn failures come here without an exit
      if (child.exitCode === null && child.pid === undefined) end(null, null, e);
    });
    child.on('exit', (code, signal) => end(code, signal));
    const spec: JobSpec = {
      id: job.id,
      attempt,
      story: this.store.story(job.id),
      options: job.options,
      ...regenerateSpec(this.store, job.from),
      model: this.opts.model,
      backend: this.opts.backend,
      runDir,
    };
    this.send(r, { type: 'run', spec });
  }

  /** Records how the attempt ended; a finished job's outputs move into its folder first. */
  private finish(
    job: JobRecord,
    r: Running,
    runDir: string,
    code: number | null,
    signal: string | null,
    error?: Error,
  ): void {
    const run = job.runs.at(-1)!;
    const result = r.result;
    let outcome: RunOutcome;
    let reason: string | undefined;
    if (result?.type === 'done') {
      try {
        const files = this.store.keep(job.id, runDir);
        job.files = files;
        outcome = 'done';
      } catch (e) {
        outcome = 'failed';
        reason = `could not keep the outputs: ${(e as Error).message}`;
      }
    } else if (result?.type === 'cancelled' || (job.cancelling && !r.stopping)) {
      outcome = 'cancelled';
      reason = 'cancelled by request';
    } else if (r.stopping) {
      outcome = 'stopped';
      reason = 'the server was shut down during this attempt';
    } else if (result?.type === 'failed') {
      outcome = 'failed';
      reason = result.error;
    } else {
      outcome = 'failed';
      const how = error ? error.message : signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reason = `the worker process ${how} before finishing${r.stderr.text ? `: ${r.stderr.text}` : ''}`;
    }
    rmSync(runDir, { recursive: true, force: true });
    run.ended = now();
    run.outcome = outcome;
    if (reason) run.reason = reason;
    job.cancelling = undefined;
    if (outcome === 'stopped') {
      job.status = 'queued';
      job.progress = undefined;
      job.note = `re-queued: the server was shut down during attempt ${run.attempt}; it runs again from the start`;
    } else {
      job.status = outcome;
      job.finished = now();
      if (outcome !== 'done') job.error = reason;
    }
    this.store.save(job);
    this.log(`job ${job.id}: ${job.status}${reason ? ` (${reason})` : ''}`);
    this.emit(job);
  }
}

function ordinal(n: number): string {
  return n === 1 ? '1st' : n === 2 ? '2nd' : n === 3 ? '3rd' : `${n}th`;
}
