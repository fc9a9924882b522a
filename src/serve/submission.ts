/**
 * A job request, checked: the body of `POST /api/jobs` is
 *   { "story": { ...the story file's fields... }, "steps": 2, "seed": 7, "guidance": 1, "strictVocab": false }
 * (and `"maps": true` for router maps) with everything but `story` optional. The story goes through the CLI's own parser (story/story.ts),
 * so a request gets the same message a story file would, with `story` for the file name
 * ("story.shots[0].seconds: -2 is out of range [0.041666666666666664, 600]"); the options get the
 * CLI's ranges. On top of the parser's limits, a server can take shorter stories (`--max-seconds`).
 *
 * The body of `POST /api/jobs/:id/regenerate` is
 *   { "shots": [1], "captions": { "1": "a new caption" }, "seed": 8, "steps": 2, "guidance": 1 }
 * with everything but `shots` optional (parseRegenerate; the shots are checked against the source
 * job's story by pipeline/conditioning.ts's checkRegenerate, the CLI's own rules).
 */
import { checkGuidance, MAX_GUIDANCE } from '../pipeline/generate.js';
import { formatPath, parseStory, type Story, StoryError } from '../story/story.js';

export interface JobOptions {
  readonly steps?: number;
  readonly seed?: number;
  readonly guidance?: number;
  readonly strictVocab?: boolean;
  /** Draw router maps too (generate --maps): served under /api/jobs/:id/maps. */
  readonly maps?: boolean;
}

/**
 * Where a regenerate job comes from: the finished job whose saved latent it keeps, the shots it
 * regenerates (0-based, sorted) and their new captions, by shot index.
 */
export interface RegenerateFrom {
  readonly job: string;
  readonly shots: readonly number[];
  readonly captions?: Readonly<Record<string, string>>;
}

export interface Submission {
  readonly story: Story;
  readonly options: JobOptions;
  /** Set for a regenerate job: its story is the source's, with the new captions. */
  readonly regenerate?: RegenerateFrom;
}

/** A request refused with a 4xx: the message, and the field at fault when there is one. */
export class RequestError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 421 | 429,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'RequestError';
  }
}

/** The most sampler steps a request may ask for (the CLI has no bound; a shared server does). */
export const MAX_STEPS = 1000;

const FIELDS = new Set(['story', 'steps', 'seed', 'guidance', 'strictVocab', 'maps']);

/** A body's JSON object (400 when it is not JSON or not an object); `shape` names what is expected. */
function jsonObject(text: string, shape: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new RequestError(400, `request body is not valid JSON: ${(e as Error).message}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new RequestError(400, `request body must be a JSON object: ${shape}`);
  return body as Record<string, unknown>;
}

/** steps, seed and guidance of a body, each checked against the CLI's range (undefined: not given). */
function sampling(o: Record<string, unknown>): { steps?: number; seed?: number; guidance?: number } {
  const int = (k: string, lo: number, hi: number): number | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
      throw new RequestError(400, `${k}: must be an integer in [${lo}, ${hi}], got ${JSON.stringify(v)}`, k);
    return v;
  };
  const steps = int('steps', 1, MAX_STEPS);
  const seed = int('seed', 0, 2 ** 32 - 1);
  let guidance: number | undefined;
  if (o.guidance !== undefined) {
    if (typeof o.guidance !== 'number' || !checkGuidance(o.guidance))
      throw new RequestError(
        400,
        `guidance: must be a number in [0, ${MAX_GUIDANCE}], got ${JSON.stringify(o.guidance)}`,
        'guidance',
      );
    guidance = o.guidance;
  }
  return { steps, seed, guidance };
}

/** Parses and checks a request body (already within the size limit). */
export function parseSubmission(text: string, limits: { maxSeconds: number }): Submission {
  const o = jsonObject(text, '{"story": {...}, "steps"?, "seed"?, "guidance"?, "strictVocab"?, "maps"?}');
  for (const k of Object.keys(o))
    if (!FIELDS.has(k))
      throw new RequestError(
        400,
        `${k}: unknown field (expected story, steps, seed, guidance, strictVocab, maps)`,
        k,
      );
  if (o.story === undefined) throw new RequestError(400, 'story: required (the story file as JSON)', 'story');
  let story: Story;
  try {
    story = parseStory(o.story, 'story');
  } catch (e) {
    if (e instanceof StoryError) throw new RequestError(400, e.message, formatPath(['story', ...e.path]));
    throw e;
  }
  const total = story.shots.reduce((a, s) => a + s.seconds, 0);
  if (total > limits.maxSeconds)
    throw new RequestError(
      400,
      `story.shots: total ${total} s exceeds this server's limit of ${limits.maxSeconds} s (moga serve --max-seconds)`,
      'story.shots',
    );
  const { steps, seed, guidance } = sampling(o);
  for (const k of ['strictVocab', 'maps'])
    if (o[k] !== undefined && typeof o[k] !== 'boolean')
      throw new RequestError(400, `${k}: must be true or false, got ${JSON.stringify(o[k])}`, k);
  const options: JobOptions = {
    ...(steps === undefined ? {} : { steps }),
    ...(seed === undefined ? {} : { seed }),
    ...(guidance === undefined ? {} : { guidance }),
    ...(o.strictVocab === undefined ? {} : { strictVocab: o.strictVocab as boolean }),
    ...(o.maps === undefined ? {} : { maps: o.maps as boolean }),
  };
  return { story, options };
}

/** A regenerate request, parsed: what checkRegenerate and the queue take. */
export interface RegenerateBody {
  /** Sorted, each once. */
  readonly shots: readonly number[];
  /** New captions (trimmed), by shot. */
  readonly captions: ReadonlyMap<number, string>;
  readonly options: Pick<JobOptions, 'steps' | 'seed' | 'guidance'>;
}

const REGENERATE_FIELDS = new Set(['shots', 'captions', 'seed', 'steps', 'guidance']);
const REGENERATE_SHAPE = '{"shots": [k, ...], "captions"?: {"k": "text"}, "seed"?, "steps"?, "guidance"?}';

/**
 * Parses the body of POST /api/jobs/:id/regenerate: its shape and types only (the shots against
 * the source's story are the endpoint's check). A caption must be a non-empty string, as a story's.
 */
export function parseRegenerate(text: string): RegenerateBody {
  const o = jsonObject(text, REGENERATE_SHAPE);
  for (const k of Object.keys(o))
    if (!REGENERATE_FIELDS.has(k))
      throw new RequestError(400, `${k}: unknown field (expected ${REGENERATE_SHAPE})`, k);
  if (!Array.isArray(o.shots) || o.shots.length === 0)
    throw new RequestError(
      400,
      `shots: required, a non-empty array of shot indices (0-based), got ${JSON.stringify(o.shots)}`,
      'shots',
    );
  for (const k of o.shots)
    if (typeof k !== 'number' || !Number.isInteger(k) || k < 0)
      throw new RequestError(
        400,
        `shots: ${JSON.stringify(k)} is not a shot index (an integer from 0)`,
        'shots',
      );
  const captions = new Map<number, string>();
  if (o.captions !== undefined) {
    const c = o.captions;
    if (!c || typeof c !== 'object' || Array.isArray(c))
      throw new RequestError(
        400,
        `captions: must be an object of shot index to caption, e.g. {"1": "a new caption"}, got ${JSON.stringify(c)}`,
        'captions',
      );
    for (const [k, v] of Object.entries(c)) {
      if (!/^(0|[1-9]\d{0,5})$/.test(k))
        throw new RequestError(
          400,
          `captions: ${JSON.stringify(k.slice(0, 32))} is not a shot index`,
          'captions',
        );
      if (typeof v !== 'string' || v.trim() === '')
        throw new RequestError(
          400,
          `captions.${k}: expected a non-empty string, got ${JSON.stringify(v)}`,
          `captions.${k}`,
        );
      captions.set(Number(k), v.trim());
    }
  }
  const { steps, seed, guidance } = sampling(o);
  return {
    shots: [...new Set(o.shots as number[])].sort((a, b) => a - b),
    captions,
    options: {
      ...(steps === undefined ? {} : { steps }),
      ...(seed === undefined ? {} : { seed }),
      ...(guidance === undefined ? {} : { guidance }),
    },
  };
}
