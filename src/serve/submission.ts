/**
 * A job request, checked: the body of `POST /api/jobs` is
 *   { "story": { ...the story file's fields... }, "steps": 2, "seed": 7, "guidance": 1, "strictVocab": false }
 * (and `"maps": true` for router maps) with everything but `story` optional. The story goes through the CLI's own parser (story/story.ts),
 * so a request gets the same message a story file would, with `story` for the file name
 * ("story.shots[0].seconds: -2 is out of range [0.041666666666666664, 600]"); the options get the
 * CLI's ranges. On top of the parser's limits, a server can take shorter stories (`--max-seconds`).
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

export interface Submission {
  readonly story: Story;
  readonly options: JobOptions;
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

/** Parses and checks a request body (already within the size limit). */
export function parseSubmission(text: string, limits: { maxSeconds: number }): Submission {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (e) {
    throw new RequestError(400, `request body is not valid JSON: ${(e as Error).message}`);
  }
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new RequestError(
      400,
      'request body must be a JSON object: {"story": {...}, "steps"?, "seed"?, "guidance"?, "strictVocab"?, "maps"?}',
    );
  const o = body as Record<string, unknown>;
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
