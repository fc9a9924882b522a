/**
 * The HTTP API of `moga serve` (Hono; see README "moga serve" for why). Every answer is JSON but
 * the outputs and the event stream; every refusal is a 4xx with `{"error": "...", "field"?: "..."}`.
 *
 *   GET  /, /studio/<file>             the studio page (studio/, built into dist/studio/): static, no
 *                                      token needed to load it (it holds no data; its calls do)
 *   GET  /api/health                   {ok, version, queued, running, canRegenerate} (canRegenerate:
 *                                      the model has dit.conditioning, so finished jobs keep their
 *                                      latent and their shots can be regenerated)
 *   GET  /api/jobs                     {jobs: [record, ...]} in submission order
 *   POST /api/jobs                     {story, steps?, seed?, guidance?, strictVocab?, maps?} -> 202 record
 *                                      (with the caption words the model does not know, if any)
 *   POST /api/stories/check            the same body, checked only: {ok, unknownWords, frames, latent}
 *   GET  /api/jobs/:id                 the record (status, runs, last progress, error, files)
 *   POST /api/jobs/:id/cancel          202 record (queued: cancelled now; running: stopping)
 *   POST /api/jobs/:id/regenerate      {shots: [k, ...], captions?: {"k": text}, seed?, steps?,
 *                                      guidance?} -> 202 the record of a NEW job (`from`: this job
 *                                      and the shots) that keeps every other shot of this finished
 *                                      job exactly (its saved latent) and generates these anew, as
 *                                      `moga regenerate` does (seed default: the source's + 1; steps,
 *                                      guidance: the source's). 409: the model has no
 *                                      dit.conditioning, the job is not done, it saved no latent,
 *                                      or another model made it; 400: a shot or caption at fault
 *   GET  /api/jobs/:id/events          Server-Sent Events: `status` (the record) at once and at each
 *                                      change, `progress` (stage, done, total, unit, rate, eta,
 *                                      elapsed: generate's ProgressEvent, what the CLI's bars
 *                                      draw; eta null while unknown), `end` (the final record)
 *   GET  /api/jobs/:id/story.json      the job's checked story (the page's shot markers, re-editing)
 *   GET  /api/jobs/:id/video.mp4 | sheet.png | report.json   a finished job's outputs (Range too)
 *   GET  /api/jobs/:id/maps            router maps' index (groups.json), for a job submitted with maps
 *   GET  /api/jobs/:id/maps/:name      one map (layer-<l>-frame-<kkkk>.png) or groups.json
 *
 * Safety: a token, when set, is required on every request (`Authorization: Bearer T`, compared in
 * constant time); without one (loopback only, serve.ts) the Host header must name the loopback, so
 * a web page cannot reach the API by rebinding its own name to 127.0.0.1; a request that carries an
 * Origin other than this server's is refused (browsers send one on cross-site requests); a
 * submission must say `Content-Type: application/json` (a cross-site form cannot, without a
 * preflight this server never grants) and fit in `maxBody` bytes; a job id must match the store's
 * pattern before anything is looked up, and the files served are a fixed list of names (maps: names
 * of the maps writer's one pattern).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { streamSSE } from 'hono/streaming';
import {
  checkRegenerate,
  RegenerateError,
  readSavedSettings,
  regeneratedStory,
  type SavedGeneration,
} from '../pipeline/conditioning.js';
import { type ModelFacts, preflight } from './preflight.js';
import { FINAL, type JobEvent, type Jobs } from './queue.js';
import { isOutputName, JOB_ID, type JobRecord, LATENT, MAP_NAME, MAPS_DIR, OUTPUTS, SAVED } from './store.js';
import { parseRegenerate, parseSubmission, RequestError } from './submission.js';

export interface AppOptions {
  readonly queue: Jobs;
  /** The model's vocabulary and latent grid, for the checks before queueing. */
  readonly facts: ModelFacts;
  /** Bearer token every request must carry (undefined: none, loopback only). */
  readonly token?: string;
  /** Largest request body in bytes. */
  readonly maxBody: number;
  /** Longest story in seconds. */
  readonly maxSeconds: number;
  readonly version: string;
  /** Seconds between keep-alive comments on an event stream (default 15). */
  readonly heartbeatSeconds?: number;
  /** The built studio page (dist/studio/); undefined: `/` says the page is not there. */
  readonly studioDir?: string;
}

/** The studio's files: a fixed list, nothing else is ever read from its folder. */
const STUDIO_FILES: Record<string, string> = {
  'studio.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

/** The page loads only its own files and calls only this server (blob: for media under a token). */
const STUDIO_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; media-src 'self' blob:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]']);

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** The host name of a Host header value: "127.0.0.1:8642" -> "127.0.0.1", "[::1]:80" -> "[::1]". */
function hostName(host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0];
}

function refuse(c: Context, e: RequestError): Response {
  return c.json({ error: e.message, ...(e.field ? { field: e.field } : {}) }, e.status);
}

export function createApp(opts: AppOptions): Hono {
  const { queue } = opts;
  const app = new Hono();
  const want = opts.token === undefined ? undefined : digest(opts.token);

  app.onError((e, c) => {
    if (e instanceof RequestError) return refuse(c, e);
    return c.json({ error: `internal error: ${e.message}` }, 500);
  });
  app.notFound((c) => c.json({ error: `no such endpoint: ${c.req.method} ${c.req.path}` }, 404));

  const isPage = (c: Context) =>
    (c.req.method === 'GET' || c.req.method === 'HEAD') &&
    (c.req.path === '/' || c.req.path.startsWith('/studio/'));

  app.use('*', async (c, next) => {
    if (want && isPage(c)) {
      // the page itself is public (no data in it); every API call it makes sends the token
    } else if (want) {
      const m = /^Bearer\s+(.+)$/i.exec(c.req.header('authorization') ?? '');
      if (!m || !timingSafeEqual(digest(m[1].trim()), want)) {
        c.header('WWW-Authenticate', 'Bearer realm="moga"');
        throw new RequestError(401, 'this server needs its token: Authorization: Bearer <token>');
      }
    } else {
      const host = c.req.header('host') ?? '';
      if (!LOOPBACK_NAMES.has(hostName(host)))
        throw new RequestError(
          403,
          `Host '${host}' is not a loopback name; a server without a token answers only to 127.0.0.1, localhost or [::1]`,
        );
    }
    const origin = c.req.header('origin');
    if (origin !== undefined) {
      let same = false;
      try {
        same = new URL(origin).host === c.req.header('host');
      } catch {}
      if (!same) throw new RequestError(403, `cross-origin request from ${origin} refused`);
    }
    await next();
  });

  // every :id is checked before any handler sees it
  const checkId = async (c: Context, next: () => Promise<void>) => {
    const id = c.req.param('id') ?? '';
    if (!JOB_ID.test(id))
      throw new RequestError(
        400,
        `not a job id: ${JSON.stringify(id.slice(0, 64))} (16 lowercase hex digits)`,
      );
    await next();
  };
  app.use('/api/jobs/:id', checkId);
  app.use('/api/jobs/:id/*', checkId);

  const jobOf = async (c: Context): Promise<JobRecord> => {
    const id = c.req.param('id')!;
    const job = await queue.get(id);
    if (!job) throw new RequestError(404, `no job ${id}`);
    return job;
  };

  const page = (c: Context, name: string, type: string): Response => {
    const path = opts.studioDir === undefined ? undefined : join(opts.studioDir, name);
    if (path === undefined || !existsSync(path))
      return c.json(
        { error: `the studio page is not built (${path ?? 'no studio folder'}): run npm run build` },
        404,
      );
    return sendFile(c, path, type, {
      'Content-Security-Policy': STUDIO_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': 'no-cache',
    });
  };
  app.get('/', (c) => page(c, 'index.html', 'text/html; charset=utf-8'));
  app.get('/studio/:name', (c) => {
    const name = c.req.param('name');
    if (!Object.hasOwn(STUDIO_FILES, name))
      throw new RequestError(404, `no such studio file: ${JSON.stringify(name.slice(0, 64))}`);
    return page(c, name, STUDIO_FILES[name]);
  });

  app.get('/api/health', async (c) =>
    c.json({
      ok: true,
      version: opts.version,
      queued: await queue.count('queued'),
      running: await queue.count('running'),
      canRegenerate: opts.facts.conditioning !== undefined,
    }),
  );

  app.get('/api/jobs', async (c) => c.json({ jobs: await queue.list() }));

  const limit = bodyLimit({
    maxSize: opts.maxBody,
    onError: (c) =>
      refuse(c, new RequestError(413, `request body over ${opts.maxBody} bytes (moga serve --max-body)`)),
  });
  const jsonBody = async (c: Context): Promise<string> => {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(type))
      throw new RequestError(415, `a story is sent as Content-Type: application/json, got '${type}'`);
    return c.req.text();
  };

  app.post('/api/jobs', limit, async (c) => {
    const sub = parseSubmission(await jsonBody(c), { maxSeconds: opts.maxSeconds });
    const job = await queue.submit(sub, preflight(sub, opts.facts).unknownWords);
    c.header('Location', `/api/jobs/${job.id}`);
    return c.json(job, 202);
  });

  app.post('/api/stories/check', limit, async (c) => {
    const sub = parseSubmission(await jsonBody(c), { maxSeconds: opts.maxSeconds });
    return c.json({ ok: true, ...preflight(sub, opts.facts) });
  });

  app.get('/api/jobs/:id', async (c) => c.json(await jobOf(c)));

  app.post('/api/jobs/:id/regenerate', limit, async (c) => {
    const cond = opts.facts.conditioning;
    if (!cond)
      throw new RequestError(
        409,
        "this server's model cannot regenerate shots: it has no conditioning input (the model needs dit.conditioning, set by a recipe's conditioning field), so it cannot keep the other shots' frames",
      );
    const body = parseRegenerate(await jsonBody(c));
    const src = await jobOf(c);
    if (src.status !== 'done')
      throw new RequestError(
        409,
        `job ${src.id} is ${src.status}: only a finished (done) job's shots can be regenerated`,
      );
    const story = queue.store.story(src.id);
    try {
      checkRegenerate(story.shots.length, body.shots, body.captions);
    } catch (e) {
      if (e instanceof RegenerateError) throw new RequestError(400, `${e.field}: ${e.message}`, e.field);
      throw e;
    }
    const json = queue.store.savedPath(src.id);
    if (!src.files.includes(LATENT) || !existsSync(join(dirname(json), SAVED.latent)))
      throw new RequestError(
        409,
        `job ${src.id} saved no latent (${SAVED.latent}), so its other shots cannot be kept: only jobs rendered by a model with dit.conditioning save one`,
      );
    let saved: SavedGeneration;
    try {
      saved = readSavedSettings(json);
    } catch (e) {
      throw new RequestError(409, `job ${src.id}'s saved settings cannot be read: ${(e as Error).message}`);
    }
    if (saved.model.dit !== cond.dit)
      throw new RequestError(
        409,
        `job ${src.id} was generated by another model (DiT ${saved.model.dit.slice(0, 12)}), not by this server's ${cond.dir} (DiT ${cond.dit.slice(0, 12)}); its latent means nothing to this model`,
      );
    const sub = {
      story: regeneratedStory(story, body.captions),
      options: body.options,
      regenerate: {
        job: src.id,
        shots: body.shots,
        ...(body.captions.size ? { captions: Object.fromEntries(body.captions) } : {}),
      },
    };
    const job = await queue.submit(sub, preflight(sub, opts.facts).unknownWords);
    c.header('Location', `/api/jobs/${job.id}`);
    return c.json(job, 202);
  });

  app.post('/api/jobs/:id/cancel', async (c) => c.json(await queue.cancel((await jobOf(c)).id), 202));

  app.get('/api/jobs/:id/events', async (c) => {
    const job = await jobOf(c);
    return streamSSE(c, async (stream) => {
      let n = 0;
      const put = (event: string, data: unknown) =>
        stream.writeSSE({ event, data: JSON.stringify(data), id: String(n++) });
      let wake: () => void = () => {};
      const pending: JobEvent[] = [];
      let gone = false;
      stream.onAbort(() => {
        gone = true;
        wake();
      });
      const unsubscribe = queue.subscribe(job.id, (e) => {
        pending.push(e);
        wake();
      });
      const beat = setInterval(
        async () => {
          const now = await queue.get(job.id);
          if (now) pending.push({ type: 'status', job: now });
          wake();
        },
        (opts.heartbeatSeconds ?? 15) * 1000,
      );
      try {
        await put('status', job);
        let last = job;
        while (!gone && !FINAL.has(last.status)) {
          if (pending.length === 0)
            await new Promise<void>((res) => {
              wake = res;
            });
          for (const e of pending.splice(0)) {
            if (gone) break;
            if (e.type === 'progress') await put('progress', e.event);
            else {
              last = e.job;
              await put('status', e.job);
            }
          }
        }
        if (!gone) await put('end', last);
      } finally {
        clearInterval(beat);
        unsubscribe();
      }
    });
  });

  const mapsOf = async (c: Context): Promise<JobRecord> => {
    const job = await jobOf(c);
    if (!job.files.includes(MAPS_DIR))
      throw new RequestError(
        404,
        `job ${job.id} has no router maps (status ${job.status}; submit with "maps": true to have them drawn)`,
      );
    return job;
  };

  app.get('/api/jobs/:id/maps', async (c) =>
    sendFile(c, queue.store.mapPath((await mapsOf(c)).id, 'groups.json'), 'application/json'),
  );

  app.get('/api/jobs/:id/maps/:name', async (c) => {
    const job = await mapsOf(c);
    const name = c.req.param('name');
    if (!MAP_NAME.test(name))
      throw new RequestError(
        404,
        `no such router map: ${JSON.stringify(name.slice(0, 64))} (layer-<l>-frame-<kkkk>.png or groups.json, listed in /api/jobs/${job.id}/maps)`,
      );
    const path = queue.store.mapPath(job.id, name);
    if (!existsSync(path)) throw new RequestError(404, `job ${job.id} has no router map ${name}`);
    return sendFile(c, path, name.endsWith('.png') ? 'image/png' : 'application/json');
  });

  app.get('/api/jobs/:id/story.json', async (c) => c.json(queue.store.story((await jobOf(c)).id)));

  app.get('/api/jobs/:id/:file', async (c) => {
    const job = await jobOf(c);
    const name = c.req.param('file');
    if (!isOutputName(name))
      throw new RequestError(
        404,
        `no such output: ${JSON.stringify(name.slice(0, 64))} (video.mp4, sheet.png, report.json)`,
      );
    if (!job.files.includes(name))
      throw new RequestError(404, `job ${job.id} has no ${name} (status ${job.status})`);
    return sendFile(c, queue.store.outputPath(job.id, name), OUTPUTS[name]);
  });

  return app;
}

/** A file, whole or one byte range of it (what a video element asks for when it seeks). */
function sendFile(c: Context, path: string, type: string, extra: Record<string, string> = {}): Response {
  const size = statSync(path).size;
  const headers: Record<string, string> = {
    ...extra,
    'Content-Type': type,
    'Accept-Ranges': 'bytes',
  };
  const range = c.req.header('range');
  let start = 0;
  let end = size - 1;
  let status = 200;
  if (range !== undefined) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (m && (m[1] || m[2])) {
      if (m[1]) {
        start = Number(m[1]);
        if (m[2]) end = Math.min(Number(m[2]), size - 1);
      } else start = Math.max(0, size - Number(m[2]));
    }
    if (!m || !(m[1] || m[2]) || start > end || start >= size) {
      headers['Content-Range'] = `bytes */${size}`;
      return new Response(JSON.stringify({ error: `unsatisfiable range ${range} of ${size} bytes` }), {
        status: 416,
        headers: { ...headers, 'Content-Type': 'application/json' },
      });
    }
    status = 206;
    headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
  }
  headers['Content-Length'] = String(end - start + 1);
  if (c.req.method === 'HEAD') return new Response(null, { status, headers });
  const body = Readable.toWeb(createReadStream(path, { start, end })) as ReadableStream;
  return new Response(body, { status, headers });
}
