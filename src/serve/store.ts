/**
 * The job store: one folder per job under `<data>/jobs/`, each with
 *
 *   job.json      the record (status, options, runs, last progress, error), rewritten atomically
 *                 (io/atomic-file.ts) at every change, so a kill at any moment leaves the old or
 *                 the new record, never half of one
 *   story.json    the checked story, written before the record (a folder without a record is a
 *                 submission that was never acknowledged, and is removed at the next start)
 *   run-<n>/      attempt n's outputs while it runs (the worker writes only here)
 *   video.mp4, sheet.png, report.json, maps/ (router maps, when asked for)
 *                 the finished job's outputs, moved out of the run folder by the server only when
 *                 the worker has reported success
 *   video.json, video.latent.safetensors
 *                 the saved generation (pipeline/conditioning.ts: settings and final latent, what
 *                 `generate --save-latent` writes), kept with the outputs when the model has
 *                 dit.conditioning: what a regenerate job of this one starts from (not served)
 *
 * A job id is 16 lowercase hex digits; every path is built from an id that matched that pattern
 * (`jobDir` refuses anything else), never from a request's text. `<data>/server.lock` holds the pid
 * of the one server that owns the folder: two servers on one queue would run jobs twice.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { fsyncDir, pidAlive, removeStaleTemps, writeFileAtomic } from '../io/atomic-file.js';
import { onCleanup } from '../io/exit-cleanup.js';
import { savedPaths } from '../pipeline/conditioning.js';
import type { UnknownWords } from '../pipeline/generate.js';
import type { ProgressEvent } from '../pipeline/progress.js';
import type { Story } from '../story/story.js';
import type { JobOptions, RegenerateFrom } from './submission.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

/** What became of one attempt at a job. */
export type RunOutcome = 'done' | 'failed' | 'cancelled' | 'interrupted' | 'stopped';

export interface JobRun {
  readonly attempt: number;
  readonly started: string;
  /** The worker process of this attempt. */
  pid?: number;
  ended?: string;
  /**
   * interrupted: the server died during it (kill -9, crash, power cut); stopped: the server was
   * shut down cleanly during it; both put the job back in the queue (interrupted ones up to the
   * server's --retries).
   */
  outcome?: RunOutcome;
  reason?: string;
}

export interface JobRecord {
  readonly id: string;
  /** Submission order: the queue runs the lowest queued seq first. */
  readonly seq: number;
  status: JobStatus;
  readonly title: string;
  readonly shots: number;
  readonly seconds: number;
  readonly options: JobOptions;
  readonly created: string;
  started?: string;
  finished?: string;
  runs: JobRun[];
  /** The latest progress event of the running attempt. */
  progress?: ProgressEvent;
  /** Why it failed (or was cancelled). */
  error?: string;
  /** What happened to it that a reader should know (re-queued after a restart, ...). */
  note?: string;
  /** Caption words the model does not know (generated anyway, as the CLI does with a warning). */
  unknownWords?: readonly UnknownWords[];
  /** Set when a cancel was asked while it runs (the worker is stopping). */
  cancelling?: boolean;
  /** A regenerate job: the job and shots it came from (its story holds the new captions). */
  readonly from?: RegenerateFrom;
  /**
   * Output files of a finished job, by name (video.mp4, sheet.png, report.json, and maps/ when
   * drawn), and `latent` when its saved generation is kept (the model has dit.conditioning).
   */
  files: string[];
}

/** A job id: 16 lowercase hex digits. Nothing else is ever turned into a path. */
export const JOB_ID = /^[0-9a-f]{16}$/;

/** The outputs a job may have, and their content types: the only file names ever served. */
export const OUTPUTS = {
  'video.mp4': 'video/mp4',
  'sheet.png': 'image/png',
  'report.json': 'application/json',
} as const;
export type OutputName = keyof typeof OUTPUTS;

export function isOutputName(name: string): name is OutputName {
  return Object.hasOwn(OUTPUTS, name);
}

/** The router maps' folder in a job's folder (and in an attempt's). */
export const MAPS_DIR = 'maps';

/** `files` holds this when the job's saved generation (SAVED) is kept: its shots can be regenerated. */
export const LATENT = 'latent';

/** The saved generation's files beside video.mp4 (generateMp4's saveLatent names them). */
export const SAVED = savedPaths('video.mp4');

/** The names a maps folder holds (pipeline/router-maps.ts): nothing else is served from it. */
export const MAP_NAME = /^(layer-\d{1,3}-frame-\d{4,5}\.png|groups\.json)$/;

export class JobStore {
  readonly root: string;
  private readonly jobsDir: string;
  private readonly lockPath: string;
  private releaseLock: (() => void) | undefined;

  /**
   * Opens (creating) the data folder and takes its lock; throws when another live server holds it.
   * A Redis worker (`moga worker`) opens it without the lock: it shares the folder with the server
   * and writes only in its attempt's folder until it moves a finished job's outputs in.
   */
  constructor(dataDir: string, opts: { lock?: boolean } = {}) {
    this.root = resolve(dataDir);
    this.jobsDir = join(this.root, 'jobs');
    this.lockPath = join(this.root, 'server.lock');
    mkdirSync(this.jobsDir, { recursive: true });
    if (opts.lock !== false) this.lock();
  }

  private lock(): void {
    for (let tries = 0; tries < 2; tries++) {
      try {
        const fd = openSync(this.lockPath, 'wx');
        writeSync(fd, `${process.pid}\n`);
        closeSync(fd);
        const path = this.lockPath;
        const release = onCleanup(() => rmSync(path, { force: true }));
        this.releaseLock = () => {
          release();
          rmSync(path, { force: true });
        };
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const pid = Number(readFileSync(this.lockPath, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pidAlive(pid))
        throw new Error(
          `serve: ${this.root} is in use by another moga serve (pid ${pid}); one server per data folder (two would run jobs twice)`,
        );
      rmSync(this.lockPath, { force: true }); // left by a server that died
    }
    throw new Error(`serve: could not take the lock ${this.lockPath}`);
  }

  /** Releases the lock (the data stays). */
  close(): void {
    this.releaseLock?.();
    this.releaseLock = undefined;
  }

  /** The folder of job `id`; refuses anything that is not a job id. */
  jobDir(id: string): string {
    if (!JOB_ID.test(id)) throw new Error(`not a job id: ${JSON.stringify(id)}`);
    return join(this.jobsDir, id);
  }

  runDir(id: string, attempt: number): string {
    if (!Number.isInteger(attempt) || attempt < 1) throw new Error(`bad attempt ${attempt}`);
    return join(this.jobDir(id), `run-${attempt}`);
  }

  /** A file of job `id`'s router maps; refuses any name the maps writer does not make. */
  mapPath(id: string, name: string): string {
    if (!MAP_NAME.test(name)) throw new Error(`not a router map: ${JSON.stringify(name)}`);
    return join(this.jobDir(id), MAPS_DIR, name);
  }

  /** The saved generation's settings file of job `id` (video.json; it names the latent beside it). */
  savedPath(id: string): string {
    return join(this.jobDir(id), SAVED.json);
  }

  outputPath(id: string, name: OutputName): string {
    if (!isOutputName(name)) throw new Error(`not an output: ${JSON.stringify(name)}`);
    return join(this.jobDir(id), name);
  }

  /** A fresh id (random; the folder does not exist yet). */
  newId(): string {
    for (;;) {
      const id = randomBytes(8).toString('hex');
      if (!existsSync(this.jobDir(id))) return id;
    }
  }

  /**
   * Moves a finished attempt's outputs (video.mp4, sheet.png, report.json, maps/, the saved
   * generation) from its run folder into the job's folder; the names kept. Throws when there is no
   * video.
   */
  keep(id: string, runDir: string): string[] {
    const files: string[] = [];
    for (const name of Object.keys(OUTPUTS) as OutputName[]) {
      const from = join(runDir, name);
      if (!existsSync(from)) continue;
      renameSync(from, this.outputPath(id, name));
      files.push(name);
    }
    if (!files.includes('video.mp4')) throw new Error('the worker reported success but wrote no video');
    if (existsSync(join(runDir, SAVED.json)) && existsSync(join(runDir, SAVED.latent))) {
      // the latent first: a settings file is only ever beside the latent it names
      renameSync(join(runDir, SAVED.latent), join(this.jobDir(id), SAVED.latent));
      renameSync(join(runDir, SAVED.json), join(this.jobDir(id), SAVED.json));
      files.push(LATENT);
    }
    const maps = join(runDir, MAPS_DIR);
    if (existsSync(maps)) {
      const to = join(this.jobDir(id), MAPS_DIR);
      rmSync(to, { recursive: true, force: true });
      renameSync(maps, to);
      files.push(MAPS_DIR);
    }
    fsyncDir(this.jobDir(id));
    return files;
  }

  /** Writes a job's story only (the Redis mode keeps the record in Redis). */
  createStory(id: string, story: Story): void {
    const dir = this.jobDir(id);
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(join(dir, 'story.json'), `${JSON.stringify(story, null, 2)}\n`);
  }

  /** Writes a new job: its story, then its record (the record makes it exist). */
  create(job: JobRecord, story: Story): void {
    const dir = this.jobDir(job.id);
    mkdirSync(dir, { recursive: true });
    writeFileAtomic(join(dir, 'story.json'), `${JSON.stringify(story, null, 2)}\n`);
    this.save(job);
  }

  save(job: JobRecord): void {
    writeFileAtomic(join(this.jobDir(job.id), 'job.json'), `${JSON.stringify(job, null, 2)}\n`);
  }

  story(id: string): Story {
    return JSON.parse(readFileSync(join(this.jobDir(id), 'story.json'), 'utf8')) as Story;
  }

  /**
   * Every job on disk, in submission order. A folder without a record (a submission cut short
   * before it was acknowledged) is removed; a record that does not read is an error naming it
   * (records are written atomically, so that is damage from outside, and nothing is dropped silently).
   */
  loadAll(): JobRecord[] {
    const jobs: JobRecord[] = [];
    for (const name of readdirSync(this.jobsDir)) {
      if (!JOB_ID.test(name)) continue;
      const dir = join(this.jobsDir, name);
      removeStaleTemps(dir);
      const file = join(dir, 'job.json');
      if (!existsSync(file)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      let job: JobRecord;
      try {
        job = JSON.parse(readFileSync(file, 'utf8')) as JobRecord;
      } catch (e) {
        throw new Error(`serve: job record ${file} does not read: ${(e as Error).message}`);
      }
      if (job.id !== name) throw new Error(`serve: job record ${file} names job ${job.id}`);
      jobs.push(job);
    }
    return jobs.sort((a, b) => a.seq - b.seq);
  }
}
