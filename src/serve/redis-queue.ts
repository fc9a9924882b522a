/**
 * The job queue on Redis (BullMQ), for `moga serve --redis URL` with `moga worker --redis URL`
 * processes, on this machine or others sharing the data folder: the same job model as the
 * embedded queue (queue.ts) - submit, status, progress, cancel, outputs in `<data>/jobs/<id>/` - with
 * Redis holding the queue and each job's state, so any number of workers take jobs, and a job whose
 * worker dies is taken again by another.
 *
 * The server side (RedisJobQueue) adds jobs (id = the job id, data = the story, options and record
 * fields), reads their state back as JobRecords, and turns BullMQ's queue events into the API's
 * status and progress events. The worker side (runRedisWorker) runs each job in a worker process
 * of its own, exactly as the embedded queue does (worker.ts, render-job.ts), reports progress with
 * job.updateProgress, polls for a cancel, and moves the outputs into the job's folder when done.
 *
 * Exactly once: a job is active in one worker at a time (BullMQ's lock, renewed while it runs);
 * a worker that dies stops renewing it, and after `lockSeconds` the job is found stalled and goes
 * back to the wait list (at most `retries` times, then it fails with the reason), where another
 * worker takes it and runs it from the start (attempt n writes only in run-<n>/). A failure or a
 * cancel is final (UnrecoverableError): only an interruption is retried, as in the embedded queue.
 * bullmq and ioredis are optional dependencies, loaded only in this mode.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Job, Queue, QueueEvents } from 'bullmq';
import type { UnknownWords } from '../pipeline/generate.js';
import type { ProgressEvent } from '../pipeline/progress.js';
import type { Story } from '../story/story.js';
import { FINAL, forkWorker, type JobEvent, JobListeners, type Jobs, regenerateSpec } from './queue.js';
import type { JobSpec } from './render-job.js';
import type { JobRecord, JobRun, JobStatus, JobStore } from './store.js';
import { type JobOptions, type RegenerateFrom, RequestError, type Submission } from './submission.js';
import type { FromWorker, ToWorker } from './worker.js';

/** The BullMQ queue's name (one per Redis database; `--redis redis://host/2` picks another). */
export const QUEUE_NAME = 'moga-jobs';

/** What a BullMQ job carries. */
export interface RedisJobData {
  readonly seq: number;
  readonly title: string;
  readonly shots: number;
  readonly seconds: number;
  readonly options: JobOptions;
  readonly created: string;
  readonly story: Story;
  readonly unknownWords?: readonly UnknownWords[];
  /** A regenerate job's source (JobRecord.from). */
  readonly from?: RegenerateFrom;
  /** Set by a cancel: a waiting job is dropped when a worker takes it, a running one stops. */
  readonly cancel?: boolean;
}

type BullMQ = typeof import('bullmq');

async function bullmq(): Promise<BullMQ> {
  try {
    return await import('bullmq');
  } catch (e) {
    throw new Error(
      `--redis needs the optional dependencies bullmq and ioredis (npm install bullmq ioredis): ${(e as Error).message}`,
    );
  }
}

/** Connection options for a URL (redis://[user:pass@]host:port[/db]); checked here, with a clear error. */
export function redisConnection(url: string): { url: string; maxRetriesPerRequest: null } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--redis: not a URL: '${url}' (expected redis://host:port)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new Error(`--redis: expected a redis:// or rediss:// URL, got '${url}'`);
  return { url, maxRetriesPerRequest: null };
}

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : undefined);
const CANCELLED = 'cancelled by request';

/** A BullMQ job as the API's record, in `state` (read from Redis when not given). */
export async function recordOf(job: Job<RedisJobData>, given?: string): Promise<JobRecord> {
  const state = given ?? (await job.getState());
  const d = job.data;
  const reason = job.failedReason;
  const status: JobStatus =
    state === 'active'
      ? 'running'
      : state === 'completed'
        ? 'done'
        : state === 'failed'
          ? reason?.startsWith(CANCELLED)
            ? 'cancelled'
            : 'failed'
          : 'queued';
  const started = job.attemptsStarted ?? 0;
  const runs: JobRun[] = Array.from({ length: started }, (_, i) => {
    const last = i === started - 1;
    return {
      attempt: i + 1,
      started: last ? (iso(job.processedOn) ?? '') : '',
      ...(last
        ? FINAL.has(status)
          ? { outcome: status === 'done' ? 'done' : status, ended: iso(job.finishedOn) }
          : {}
        : { outcome: 'interrupted', reason: 'its worker stopped renewing the lock (killed or crashed)' }),
    } as JobRun;
  });
  const progress = job.progress as ProgressEvent | number | undefined;
  const rv = job.returnvalue as { files?: string[] } | null | undefined;
  return {
    id: job.id!,
    seq: d.seq,
    status,
    title: d.title,
    shots: d.shots,
    seconds: d.seconds,
    options: d.options,
    created: d.created,
    ...(d.from ? { from: d.from } : {}),
    ...(job.processedOn ? { started: iso(job.processedOn) } : {}),
    ...(job.finishedOn && FINAL.has(status) ? { finished: iso(job.finishedOn) } : {}),
    runs,
    ...(progress && typeof progress === 'object' && status === 'running' ? { progress } : {}),
    ...(status === 'failed' || status === 'cancelled' ? { error: reason } : {}),
    ...(d.unknownWords?.length ? { unknownWords: d.unknownWords } : {}),
    ...(d.cancel && !FINAL.has(status) ? { cancelling: true } : {}),
    ...(job.processedBy && status === 'running' ? { note: `running on worker ${job.processedBy}` } : {}),
    files: status === 'done' ? (rv?.files ?? []) : [],
  };
}

export interface RedisQueueOptions {
  readonly url: string;
  readonly maxQueued: number;
  readonly log?: (line: string) => void;
}

export class RedisJobQueue implements Jobs {
  private readonly listeners = new JobListeners();
  private closed = false;
  private lastSeq = 0;

  private constructor(
    readonly store: JobStore,
    private readonly mq: BullMQ,
    private readonly queue: Queue<RedisJobData>,
    private readonly events: QueueEvents,
    private readonly opts: RedisQueueOptions,
  ) {
    const status = async ({ jobId }: { jobId: string }) => {
      if (!this.listeners.has(jobId)) return;
      const job = await this.get(jobId).catch(() => undefined);
      if (job) this.listeners.emit(jobId, { type: 'status', job });
    };
    for (const e of ['waiting', 'active', 'completed', 'failed', 'stalled', 'removed'] as const)
      events.on(e, status as never);
    events.on('progress', ({ jobId, data }) => {
      if (data && typeof data === 'object')
        this.listeners.emit(jobId, { type: 'progress', event: data as unknown as ProgressEvent });
    });
  }

  /** Connects (a Redis that does not answer stops the start here, with its error). */
  static async open(store: JobStore, opts: RedisQueueOptions): Promise<RedisJobQueue> {
    const mq = await bullmq();
    const connection = redisConnection(opts.url);
    const queue = new mq.Queue<RedisJobData>(QUEUE_NAME, { connection });
    const events = new mq.QueueEvents(QUEUE_NAME, { connection });
    const fail = (e: Error) => {
      void queue.close();
      void events.close();
      throw new Error(`--redis ${opts.url}: ${e.message}`);
    };
    const timeout = new Promise<never>((_, rej) =>
      setTimeout(() => rej(new Error('no answer in 10 s')), 10_000).unref(),
    );
    await Promise.race([Promise.all([queue.waitUntilReady(), events.waitUntilReady()]), timeout]).catch(fail);
    opts.log?.(`jobs on Redis ${opts.url} (queue ${QUEUE_NAME}); run moga worker --redis to process them`);
    return new RedisJobQueue(store, mq, queue, events, opts);
  }

  async submit(sub: Submission, unknownWords: readonly UnknownWords[] = []): Promise<JobRecord> {
    if (this.closed) throw new RequestError(409, 'the server is shutting down');
    const queued = await this.count('queued');
    if (queued >= this.opts.maxQueued)
      throw new RequestError(
        429,
        `the queue is full (${queued} jobs waiting, moga serve --max-queue ${this.opts.maxQueued}); try again when one has finished`,
      );
    const { story } = sub;
    const id = this.store.newId();
    this.store.createStory(id, story);
    const seq = (this.lastSeq = Math.max(Date.now(), this.lastSeq + 1));
    const data: RedisJobData = {
      seq,
      title: story.title,
      shots: story.shots.length,
      seconds: story.shots.reduce((a, s) => a + s.seconds, 0),
      options: sub.options,
      created: new Date().toISOString(),
      story,
      ...(sub.regenerate ? { from: sub.regenerate } : {}),
      ...(unknownWords.length ? { unknownWords } : {}),
    };
    const job = await this.queue.add('generate', data, { jobId: id, attempts: 1 });
    this.opts.log?.(`job ${id}: queued "${data.title}" on Redis`);
    return recordOf(job);
  }

  /**
   * The record of a job object read earlier: its state first, then, when that state is final, the
   * job read again, because an object read while the job ran lacks its failure reason (a cancelled
   * job then showed as 'failed', seen once in the cancel test under load).
   */
  private async record(job: Job<RedisJobData>): Promise<JobRecord> {
    const state = await job.getState();
    const final = state === 'completed' || state === 'failed';
    return recordOf(final ? ((await this.job(job.id!)) ?? job) : job, state);
  }

  private async job(id: string): Promise<Job<RedisJobData> | undefined> {
    return (await this.mq.Job.fromId<RedisJobData>(this.queue, id)) ?? undefined;
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const job = await this.job(id);
    return job ? this.record(job) : undefined;
  }

  async list(): Promise<JobRecord[]> {
    const jobs = await this.queue.getJobs([
      'waiting',
      'prioritized',
      'delayed',
      'active',
      'completed',
      'failed',
    ]);
    const records = await Promise.all(jobs.filter((j) => j?.id).map((j) => this.record(j)));
    return records.sort((a, b) => a.seq - b.seq);
  }

  async count(status: JobStatus): Promise<number> {
    if (status === 'queued') return this.queue.getJobCountByTypes('waiting', 'prioritized', 'delayed');
    if (status === 'running') return this.queue.getActiveCount();
    return (await this.list()).filter((j) => j.status === status).length;
  }

  /** Marks the job cancelled: its worker stops it (running) or drops it when it comes up (waiting). */
  async cancel(id: string): Promise<JobRecord> {
    const job = await this.job(id);
    if (!job) throw new RequestError(404, `no job ${id}`);
    const now = await this.record(job);
    if (FINAL.has(now.status)) throw new RequestError(409, `job ${id} is already ${now.status}`);
    if (!job.data.cancel) await job.updateData({ ...job.data, cancel: true });
    const after = { ...now, cancelling: true };
    this.listeners.emit(id, { type: 'status', job: after });
    return after;
  }

  subscribe(id: string, fn: (e: JobEvent) => void): () => void {
    return this.listeners.subscribe(id, fn);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.events.close(), this.queue.close()]);
    this.store.close();
  }
}

export interface RedisWorkerOptions {
  readonly url: string;
  readonly store: JobStore;
  readonly model: string;
  readonly backend?: string;
  /** A name for this worker (BullMQ's processedBy; the record's note). */
  readonly name: string;
  /** Seconds a dead worker's job stays locked before another worker takes it (BullMQ lockDuration). */
  readonly lockSeconds: number;
  /** Re-runs of a job whose worker died (BullMQ maxStalledCount). */
  readonly retries: number;
  readonly log?: (line: string) => void;
}

export interface RunningWorker {
  /** Stops taking jobs; a running one is stopped and put back in the wait list for another worker. */
  close(): Promise<void>;
}

/** One attempt in its own process (worker.ts), as the embedded queue runs it. */
function attempt(
  spec: JobSpec,
  onProgress: (e: ProgressEvent) => void,
): { child: ChildProcess; result: Promise<FromWorker | { type: 'died'; why: string }> } {
  const { child, stderr } = forkWorker();
  let last: FromWorker | undefined;
  child.on('message', (m: FromWorker) => {
    if (m.type === 'progress') onProgress(m.event);
    else last = m;
  });
  const result = new Promise<FromWorker | { type: 'died'; why: string }>((res) => {
    child.once('error', (e) => res({ type: 'died', why: e.message }));
    child.once('exit', (code, signal) =>
      res(
        last ?? {
          type: 'died',
          why: `the worker process ${signal ? `was killed by ${signal}` : `exited with code ${code}`} before finishing${stderr.text ? `: ${stderr.text}` : ''}`,
        },
      ),
    );
  });
  child.send({ type: 'run', spec } satisfies ToWorker);
  return { child, result };
}

/** `moga worker --redis`: takes jobs from the Redis queue one at a time until closed. */
export async function runRedisWorker(opts: RedisWorkerOptions): Promise<RunningWorker> {
  const mq = await bullmq();
  const connection = redisConnection(opts.url);
  const log = opts.log ?? (() => {});
  const queue = new mq.Queue<RedisJobData>(QUEUE_NAME, { connection });
  let current: ChildProcess | undefined;
  let stopping = false;
  const processor = async (job: Job<RedisJobData>, token?: string): Promise<{ files: string[] }> => {
    const id = job.id!;
    if (job.data.cancel) throw new mq.UnrecoverableError(`${CANCELLED} before it ran`);
    const n = job.attemptsStarted;
    // an earlier attempt's folder is left by a worker that died: this attempt starts clean
    const dir = opts.store.jobDir(id);
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir))
      if (/^run-\d+$/.test(f)) rmSync(join(dir, f), { recursive: true, force: true });
    const runDir = opts.store.runDir(id, n);
    mkdirSync(runDir, { recursive: true });
    log(`job ${id}: attempt ${n} on ${opts.name}`);
    const spec: JobSpec = {
      id,
      attempt: n,
      story: job.data.story,
      options: job.data.options,
      ...regenerateSpec(opts.store, job.data.from),
      model: opts.model,
      backend: opts.backend,
      runDir,
    };
    const run = attempt(spec, (e) => void job.updateProgress(e as never).catch(() => {}));
    current = run.child;
    const poll = setInterval(async () => {
      const now = await mq.Job.fromId<RedisJobData>(queue, id).catch(() => undefined);
      if (now?.data.cancel && run.child.connected) run.child.send({ type: 'cancel' } satisfies ToWorker);
    }, 500);
    try {
      const r = await run.result;
      if (r.type === 'done') {
        const files = opts.store.keep(id, runDir);
        log(`job ${id}: done on ${opts.name}`);
        return { files };
      }
      if (stopping) {
        // this worker is shutting down: the job goes back to the wait list for another one
        await job.moveToWait(token);
        log(`job ${id}: stopped by the worker's shutdown, back in the queue`);
        throw new mq.WaitingError();
      }
      if (r.type === 'cancelled') throw new mq.UnrecoverableError(CANCELLED);
      throw new mq.UnrecoverableError(
        r.type === 'failed' ? r.error : r.type === 'died' ? r.why : 'no result',
      );
    } finally {
      clearInterval(poll);
      current = undefined;
      rmSync(runDir, { recursive: true, force: true });
    }
  };
  const worker = new mq.Worker<RedisJobData, { files: string[] }>(QUEUE_NAME, processor, {
    connection,
    concurrency: 1,
    name: opts.name,
    lockDuration: opts.lockSeconds * 1000,
    stalledInterval: Math.max(500, (opts.lockSeconds * 1000) / 2),
    maxStalledCount: opts.retries,
  });
  worker.on('failed', (job, e) => log(`job ${job?.id}: ${e.message}`));
  worker.on('error', (e) => log(`redis: ${e.message}`));
  await worker.waitUntilReady();
  log(`${opts.name}: taking jobs from Redis ${opts.url} (queue ${QUEUE_NAME})`);
  return {
    async close() {
      stopping = true;
      current?.kill('SIGTERM');
      await worker.close();
      await queue.close();
    },
  };
}
