/**
 * The API as a client uses it, on a server in this process with the micro model on the ref
 * backend: submit the 1-second two-shot story, follow its event stream to the end, fetch a real
 * MP4 (checked with the project's ffmpeg reader), the contact sheet and the report; a story error
 * gets the CLI parser's own message; cancel stops a running job (its worker gone, nothing kept)
 * and a queued one; jobs run one at a time in submission order.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pidAlive } from '../../src/io/atomic-file.js';
import type { JobQueue } from '../../src/serve/queue.js';
import { type RunningServer, startServer } from '../../src/serve/server.js';
import { parseStory } from '../../src/story/story.js';
import { countFrames, probeVideo } from '../../src/video/index.js';
import { api, microModelDir, readEvents, TWO_SHOTS, twoShotJob, waitFor } from './helpers.js';

let dir: string;
let server: RunningServer;

before(async () => {
  const m = microModelDir('api');
  dir = m.dir;
  server = await startServer({ data: join(dir, 'data'), model: m.model, backend: 'ref', port: 0 });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('round trip: submit, follow the events to the end, fetch the MP4, the sheet and the report', async () => {
  const sub = await api(server.url, '/api/jobs', { json: twoShotJob({ seed: 7 }) });
  assert.equal(sub.status, 202, JSON.stringify(sub.body));
  const id = sub.body.id;
  assert.match(id, /^[0-9a-f]{16}$/);
  assert.equal(sub.headers.get('location'), `/api/jobs/${id}`);
  assert.ok(['queued', 'running'].includes(sub.body.status), `status after submit: ${sub.body.status}`);

  const events = await readEvents(`${server.url}/api/jobs/${id}/events`);
  const progress = events.filter((e) => e.event === 'progress').map((e) => e.data);
  // the CLI bars' events: every stage, with step counts, rate and time left
  assert.deepEqual([...new Set(progress.map((p) => p.stage))], ['text', 'sample', 'decode']);
  const sample = progress.filter((p) => p.stage === 'sample');
  assert.deepEqual(
    sample.map((p) => `${p.done}/${p.total} ${p.unit}`),
    ['0/2 steps', '1/2 steps', '2/2 steps'],
  );
  for (const p of progress) {
    assert.equal(typeof p.rate, 'number', 'rate is a number');
    assert.ok(p.eta === null || p.eta >= 0, `eta ${p.eta}`);
    assert.equal(typeof p.elapsed, 'number', 'elapsed is a number');
  }
  assert.equal(sample[0].eta, null, 'no time left is known before the first step (Infinity -> null)');
  const last = events.at(-1)!;
  assert.equal(last.event, 'end');
  assert.equal(last.data.status, 'done', JSON.stringify(last.data));
  assert.deepEqual(last.data.files, ['video.mp4', 'sheet.png', 'report.json']);

  const video = await fetch(`${server.url}/api/jobs/${id}/video.mp4`);
  assert.equal(video.status, 200);
  assert.equal(video.headers.get('content-type'), 'video/mp4');
  const bytes = Buffer.from(await video.arrayBuffer());
  const file = join(dir, 'fetched.mp4');
  writeFileSync(file, bytes);
  const info = await probeVideo(file);
  assert.deepEqual([info.width, info.height, info.fps, info.codec], [64, 32, 24, 'h264']);
  assert.equal(await countFrames(file), 25);

  // a range, as a video element asks when it seeks
  const part = await fetch(`${server.url}/api/jobs/${id}/video.mp4`, { headers: { range: 'bytes=10-19' } });
  assert.equal(part.status, 206);
  assert.equal(part.headers.get('content-range'), `bytes 10-19/${bytes.length}`);
  assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(10, 20));
  const bad = await fetch(`${server.url}/api/jobs/${id}/video.mp4`, {
    headers: { range: `bytes=${bytes.length}-` },
  });
  assert.equal(bad.status, 416);

  const story = await api(server.url, `/api/jobs/${id}/story.json`);
  assert.equal(story.status, 200, 'story.json');
  assert.deepEqual(story.body, parseStory(TWO_SHOTS, 'story'), 'the job story as checked');

  const sheet = await fetch(`${server.url}/api/jobs/${id}/sheet.png`);
  assert.equal(sheet.headers.get('content-type'), 'image/png');
  assert.deepEqual(
    [...Buffer.from(await sheet.arrayBuffer()).subarray(0, 8)],
    [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a],
  );
  const report = await api(server.url, `/api/jobs/${id}/report.json`);
  assert.equal(report.body.job, id);
  assert.deepEqual(
    [report.body.frames, report.body.steps, report.body.seed, report.body.shots],
    [25, 2, 7, 2],
  );
  assert.deepEqual(report.body.latent.shotStarts, [0, 4]);

  const list = await api(server.url, '/api/jobs');
  assert.ok(
    list.body.jobs.some((j: { id: string }) => j.id === id),
    'the job is in the list',
  );
  const one = await api(server.url, `/api/jobs/${id}`);
  assert.equal(one.body.status, 'done');
  assert.deepEqual(
    one.body.runs.map((r: { outcome: string }) => r.outcome),
    ['done'],
  );
  // the attempt's own folder is gone; only the record, the story and the outputs remain
  assert.deepEqual(readdirSync(join(dir, 'data', 'jobs', id)).sort(), [
    'job.json',
    'report.json',
    'sheet.png',
    'story.json',
    'video.mp4',
  ]);
  // events of a finished job: its record, then the end
  const again = await readEvents(`${server.url}/api/jobs/${id}/events`);
  assert.deepEqual(
    again.map((e) => e.event),
    ['status', 'end'],
  );
});

test("a bad story gets the CLI story parser's own message and field, and nothing is queued", async () => {
  const before = (await api(server.url, '/api/jobs')).body.jobs.length;
  const story = { ...TWO_SHOTS, shots: [{ caption: 'a red circle', seconds: -2 }] };
  const r = await api(server.url, '/api/jobs', { json: { story } });
  assert.equal(r.status, 400);
  assert.throws(() => parseStory(story, 'story'), { message: r.body.error });
  assert.match(r.body.error, /^story\.shots\[0\]\.seconds: -2 is out of range/);
  assert.equal(r.body.field, 'story.shots[0].seconds');
  const cases: [unknown, RegExp][] = [
    [{ story: { ...TWO_SHOTS, width: 65 } }, /^story\.width: 65 is not a multiple of 16/],
    [{ story: { ...TWO_SHOTS, colour: 'red' } }, /^story\.colour: unknown field/],
    [{ story: { ...TWO_SHOTS, shots: [] } }, /^story\.shots: expected a non-empty array/],
    [{ story: TWO_SHOTS, steps: 0 }, /^steps: must be an integer in \[1, 1000\], got 0/],
    [{ story: TWO_SHOTS, seed: 2 ** 32 }, /^seed: must be an integer/],
    [{ story: TWO_SHOTS, guidance: 'high' }, /^guidance: must be a number in \[0, 50\]/],
    [{ story: TWO_SHOTS, strictVocab: 'yes' }, /^strictVocab: must be true or false/],
    [{ story: TWO_SHOTS, backend: 'cuda' }, /^backend: unknown field/],
    [{ steps: 2 }, /^story: required/],
    [
      { story: { ...TWO_SHOTS, shots: [{ caption: 'a long one', seconds: 200 }] } },
      /story\.shots: total 200 s exceeds this server's limit of 120 s/,
    ],
  ];
  for (const [body, re] of cases) {
    const x = await api(server.url, '/api/jobs', { json: body });
    assert.equal(x.status, 400, JSON.stringify(body));
    assert.match(x.body.error, re);
  }
  assert.equal((await api(server.url, '/api/jobs')).body.jobs.length, before);
});

test('checked against the model before queueing: a shot too short, strict vocabulary; unknown words come back', async () => {
  const before = (await api(server.url, '/api/jobs')).body.jobs.length;
  const blink = { caption: 'a blink', seconds: 1 / 24 };
  const short = { ...TWO_SHOTS, shots: [TWO_SHOTS.shots[0], blink, TWO_SHOTS.shots[1]] };
  const r = await api(server.url, '/api/jobs', { json: { story: short } });
  assert.equal(r.status, 400);
  assert.match(
    r.body.error,
    /^story shot 1 \(starting at frame 12 of 26\) is too short: it owns no latent frame/,
  );
  const words = {
    ...TWO_SHOTS,
    shots: [TWO_SHOTS.shots[0], { caption: 'a purple elephant dances', seconds: 0.5 }],
  };
  const strict = await api(server.url, '/api/jobs', { json: { story: words, strictVocab: true } });
  assert.equal(strict.status, 400);
  assert.match(strict.body.error, /outside the model's vocabulary: shots\[1\]: elephant, dances/);
  assert.equal((await api(server.url, '/api/jobs')).body.jobs.length, before, 'nothing queued');
  // the check alone: nothing queued, the same messages, the layout when it passes
  const check = await api(server.url, '/api/stories/check', { json: { story: words } });
  assert.equal(check.status, 200, JSON.stringify(check.body));
  assert.deepEqual(check.body, {
    ok: true,
    unknownWords: [{ caption: 1, words: ['elephant', 'dances'] }],
    frames: 25,
    latent: { frames: 7, shotStarts: [0, 4] },
  });
  assert.equal((await api(server.url, '/api/stories/check', { json: { story: short } })).status, 400);
  assert.equal((await api(server.url, '/api/jobs')).body.jobs.length, before, 'a check queues nothing');
  const sub = await api(server.url, '/api/jobs', { json: { story: words, steps: 1 } });
  assert.equal(sub.status, 202);
  assert.deepEqual(sub.body.unknownWords, [{ caption: 1, words: ['elephant', 'dances'] }]);
  const end = (await readEvents(`${server.url}/api/jobs/${sub.body.id}/events`)).at(-1)!.data;
  assert.equal(end.status, 'done');
});

test('cancel: a running job stops (worker gone, no outputs), a queued one at once; the rest run in order', async () => {
  const long = await api(server.url, '/api/jobs', { json: twoShotJob({ steps: 1000 }) });
  const queued = await api(server.url, '/api/jobs', { json: twoShotJob({ seed: 1 }) });
  const third = await api(server.url, '/api/jobs', { json: twoShotJob({ seed: 2 }) });
  assert.equal(queued.body.status, 'queued');
  assert.equal(third.body.status, 'queued');
  // wait for the long job's first sampler step, then cancel it
  await readEvents(`${server.url}/api/jobs/${long.body.id}/events`, {
    until: (e) => e.event === 'progress' && e.data.stage === 'sample' && e.data.done >= 1,
  });
  const pid = (server.queue as JobQueue).workerPid();
  assert.ok(pid && pidAlive(pid), 'the worker runs');
  const c1 = await api(server.url, `/api/jobs/${queued.body.id}/cancel`, { method: 'POST' });
  assert.equal(c1.status, 202);
  assert.equal(c1.body.status, 'cancelled');
  assert.equal((await api(server.url, `/api/jobs/${queued.body.id}/cancel`, { method: 'POST' })).status, 409);
  const c2 = await api(server.url, `/api/jobs/${long.body.id}/cancel`, { method: 'POST' });
  assert.equal(c2.status, 202);
  assert.equal(c2.body.cancelling, true);
  const end = await readEvents(`${server.url}/api/jobs/${long.body.id}/events`);
  const job = end.at(-1)!.data;
  assert.equal(job.status, 'cancelled', JSON.stringify(job));
  assert.equal(job.runs[0].outcome, 'cancelled');
  assert.ok(job.runs[0].ended, 'the attempt has an end time');
  assert.deepEqual(job.files, []);
  await waitFor('the worker to exit', () => (pidAlive(pid!) ? undefined : true), 10_000);
  assert.equal(existsSync(join(dir, 'data', 'jobs', long.body.id, 'run-1')), false);
  assert.equal((await api(server.url, `/api/jobs/${long.body.id}/video.mp4`)).status, 404);
  // the third job was not held up by either cancel, and ran after the long one
  const t = (await readEvents(`${server.url}/api/jobs/${third.body.id}/events`)).at(-1)!.data;
  assert.equal(t.status, 'done');
  assert.ok(t.runs[0].started >= job.runs[0].ended, 'one generation at a time, in order');
  assert.equal((await api(server.url, `/api/jobs/${queued.body.id}`)).body.runs.length, 0);
});

test('router maps: a job submitted with maps serves their index and each map; one without says how to ask', async () => {
  const sub = await api(server.url, '/api/jobs', { json: twoShotJob({ maps: true }) });
  assert.equal(sub.status, 202, JSON.stringify(sub.body));
  const id = sub.body.id;
  const end = (await readEvents(`${server.url}/api/jobs/${id}/events`)).at(-1)!.data;
  assert.equal(end.status, 'done', JSON.stringify(end));
  assert.deepEqual(end.files, ['video.mp4', 'sheet.png', 'report.json', 'maps']);
  const index = await api(server.url, `/api/jobs/${id}/maps`);
  assert.equal(index.status, 200);
  assert.equal(index.body.files.length, 7);
  assert.deepEqual(index.body.tokens, { rows: 2, columns: 4, pixels: [16, 16] });
  const png = await fetch(`${server.url}/api/jobs/${id}/maps/${index.body.files[3]}`);
  assert.equal(png.status, 200);
  assert.equal(png.headers.get('content-type'), 'image/png');
  assert.equal((await api(server.url, `/api/jobs/${id}/report.json`)).body.maps.dir, 'maps');
  for (const bad of ['layer-0-frame-0099.png', 'story.json', '..%2f..%2fserver.lock', '..%2fjob.json']) {
    const r = await api(server.url, `/api/jobs/${id}/maps/${bad}`);
    assert.equal(r.status, 404, bad);
    assert.equal(typeof r.body.error, 'string', `${bad}: a message`);
  }
  const first = (await api(server.url, '/api/jobs')).body.jobs[0].id;
  const none = await api(server.url, `/api/jobs/${first}/maps`);
  assert.equal(none.status, 404);
  assert.match(none.body.error, /has no router maps .*"maps": true/);
});

test('a model without dit.conditioning: health says it cannot regenerate, and the endpoint says why', async () => {
  assert.equal((await api(server.url, '/api/health')).body.canRegenerate, false);
  const done = (await api(server.url, '/api/jobs')).body.jobs.find(
    (j: { status: string }) => j.status === 'done',
  );
  assert.ok(done, 'a finished job');
  assert.ok(!done.files.includes('latent'), 'no latent kept without conditioning');
  const r = await api(server.url, `/api/jobs/${done.id}/regenerate`, { json: { shots: [1] } });
  assert.equal(r.status, 409);
  assert.match(r.body.error, /cannot regenerate shots: .*the model needs dit\.conditioning/);
});
