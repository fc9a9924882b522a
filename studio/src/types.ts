/**
 * The API's JSON as the page reads it (plain data; the server's own types are in src/serve/ and
 * src/pipeline/, which this browser bundle does not import: they pull in Node modules).
 */

export interface Shot {
  caption: string;
  seconds: number;
}

export interface Story {
  title: string;
  fps: number;
  width: number;
  height: number;
  seed: number;
  global?: string;
  shots: Shot[];
}

/** What the editor holds: the story plus the job's options. */
export interface Draft {
  story: Story;
  steps: number;
  guidance: number;
  maps: boolean;
}

export interface UnknownWords {
  /** A shot's index, or 'global'. */
  readonly caption: number | 'global';
  readonly words: readonly string[];
}

/** POST /api/stories/check, when the story is good. */
export interface CheckResult {
  readonly ok: true;
  readonly unknownWords: readonly UnknownWords[];
  readonly frames: number;
  readonly latent: { readonly frames: number; readonly shotStarts: readonly number[] };
}

export interface ProgressEvent {
  readonly stage: string;
  readonly done: number;
  readonly total: number;
  readonly unit: string;
  readonly rate: number;
  readonly eta: number | null;
  readonly elapsed: number;
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';

export interface JobRecord {
  readonly id: string;
  readonly seq: number;
  readonly status: JobStatus;
  readonly title: string;
  readonly shots: number;
  readonly seconds: number;
  readonly options: { steps?: number; seed?: number; guidance?: number; maps?: boolean };
  readonly created: string;
  readonly started?: string;
  readonly finished?: string;
  readonly runs: readonly { attempt: number; outcome?: string; reason?: string }[];
  readonly progress?: ProgressEvent;
  readonly error?: string;
  readonly note?: string;
  readonly unknownWords?: readonly UnknownWords[];
  readonly cancelling?: boolean;
  /** A regenerate job: the job and shots it came from. */
  readonly from?: { readonly job: string; readonly shots: readonly number[] };
  /** Outputs by name; `latent` when its saved latent is kept (its shots can be regenerated). */
  readonly files: readonly string[];
}

/** GET /api/health. */
export interface Health {
  readonly ok: boolean;
  readonly version: string;
  readonly queued: number;
  readonly running: number;
  /** The model has dit.conditioning: a finished job's shots can be regenerated. */
  readonly canRegenerate?: boolean;
}

/** report.json: `moga generate --json`'s report with the job id; the page shows what is there. */
export interface Report {
  readonly [field: string]: unknown;
  readonly frames?: number;
  readonly fps?: number;
  readonly seconds?: number;
  readonly timings?: Record<string, number>;
}

/** groups.json: the router maps' index (src/pipeline/router-maps.ts, RouterMapsSummary). */
export interface MapsIndex {
  readonly step: string;
  readonly groups: number;
  readonly tokens: { readonly rows: number; readonly columns: number; readonly pixels: readonly number[] };
  readonly frames: readonly number[];
  readonly shotStarts: readonly number[];
  readonly colours: readonly (readonly number[])[];
  readonly layers: readonly {
    readonly layer: number;
    readonly sizes: readonly number[];
    readonly perFrame: readonly (readonly number[])[];
    readonly shotShare: readonly (readonly number[])[];
  }[];
  readonly files: readonly string[];
}
