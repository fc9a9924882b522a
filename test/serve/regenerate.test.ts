/**
 * POST /api/jobs/:id/regenerate on a server in this process with a micro model that has
 * dit.conditioning (test/serve/helpers.ts): every finished job keeps its saved latent and settings
 * (video.json, video.latent.safetensors: generate --save-latent's files); a regenerate job of shot 1
 * with a new caption runs through the CLI's path (pipeline/conditioning.ts `regeneration`) and keeps
 * shot 0's latent frames bit for bit, as test/cli/conditioning.test.ts asserts of `moga regenerate`;
 * its record names the job and shots it came from; and every bad request is refused with its status,
 * message and field, nothing queued. (A model without dit.conditioning: test/serve/api.test.ts.)
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readSafetensors } from '../../src/io/safetensors.js';
import { type RunningServer, startServer } from '../../src/serve/server.js';
import { api, type Json, microModelDir, readEvents, twoShotJob } from './helpers.js';

let dir: string;
let server: RunningServer;
/** The finished source job and the regenerate job made from it (test 1), for test 2. */
let source: string;
let regenerated: string;

const NEW_CAPTION = 'a white star spins in front of a navy sky';

before(async () => {
  const m = microModelDir('regen', { conditioning: true });
  dir = m.dir;
  server = await startServer({ data: join(dir, 'data'), model: m.model, backend: 'ref', port: 0 });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const jobDir = (id: string) => join(dir, 'data', 'jobs', id);
const latentOf = (id: string) => {
  const t = readSafetensors(join(jobDir(id), 'video.latent.safetensors')).tensors.get('latent')!;
  return { data: t.data as Float32Array, shape: t.shape };
};
const finished = async (id: string): Promise<Json> =>
  (await readEvents(`${server.url}/api/jobs/${id}/events`)).at(-1)!.data;

test('a finished job keeps its latent; regenerating shot 1 keeps shot 0 bit for bit and names its source', async () => {
  const health = await api(server.url, '/api/health');
  assert.equal(health.body.canRegenerate, true, 'health: the model can regenerate');

  const sub = await api(server.url, '/api/jobs', { json: twoShotJob({ seed: 7 }) });
  assert.equal(sub.status, 202, JSON.stringify(sub.body));
  source = sub.body.id;
  const src = await finished(source);
  assert.equal(src.status, 'done', JSON.stringify(src));
  assert.deepEqual(src.files, ['video.mp4', 'sheet.png', 'report.json', 'latent']);
  assert.deepEqual(readdirSync(jobDir(source)).sort(), [
    'job.json',
    'report.json',
    'sheet.png',
    'story.json',
    'video.json',
    'video.latent.safetensors',
    'video.mp4',
  ]);
  const saved = JSON.parse(readFileSync(join(jobDir(source), 'video.json'), 'utf8'));
  assert.equal(saved.format, 'moga-generation');
  assert.equal(saved.seed, 7);
  assert.equal(saved.guidanceUntil, 0, "guidanceUntil saved: the model's default");
  // as if the source had been made guided only while t > 0.5: the regenerate job takes the saved value
  writeFileSync(join(jobDir(source), 'video.json'), JSON.stringify({ ...saved, guidanceUntil: 0.5 }));
  assert.equal((await api(server.url, `/api/jobs/${source}/report.json`)).body.saved.json, 'video.json');
  // the saved files are kept, not served
  assert.equal((await api(server.url, `/api/jobs/${source}/video.json`)).status, 404);

  const r = await api(server.url, `/api/jobs/${source}/regenerate`, {
    json: { shots: [1], captions: { 1: `  ${NEW_CAPTION} ` } },
  });
  assert.equal(r.status, 202, JSON.stringify(r.body));
  regenerated = r.body.id;
  assert.notEqual(regenerated, source, 'a new job');
  assert.equal(r.headers.get('location'), `/api/jobs/${regenerated}`);
  assert.deepEqual(r.body.from, { job: source, shots: [1], captions: { 1: NEW_CAPTION } });
  const end = await finished(regenerated);
  assert.equal(end.status, 'done', JSON.stringify(end));
  assert.deepEqual(
    end.files,
    ['video.mp4', 'sheet.png', 'report.json', 'latent'],
    'it can be regenerated too',
  );
  assert.deepEqual((await api(server.url, `/api/jobs/${regenerated}`)).body.from, r.body.from, 'the record');

  // shot 0 owns latent frames 0..3, shot 1 4..6 (TWO_SHOTS on the pool codec)
  const a = latentOf(source);
  const b = latentOf(regenerated);
  assert.deepEqual(b.shape, [16, 7, 4, 8]);
  const per = 4 * 8;
  let changed = 0;
  a.data.forEach((v, i) => {
    const f = Math.floor(i / per) % 7;
    if (f < 4) assert.equal(b.data[i], v, `kept latent frame ${f} changed at ${i}`);
    else if (b.data[i] !== v) changed++;
  });
  assert.ok(changed > 0, 'the regenerated shot is new');

  const story = (await api(server.url, `/api/jobs/${regenerated}/story.json`)).body;
  assert.equal(story.shots[1].caption, NEW_CAPTION, "the new job's story has the new caption");
  assert.equal(story.shots[0].caption, twoShotJob().story.shots[0].caption);
  const again = JSON.parse(readFileSync(join(jobDir(regenerated), 'video.json'), 'utf8'));
  assert.equal(again.seed, 8, "default seed: the source's + 1, as moga regenerate");
  assert.equal(again.steps, 2, "steps: the source's");
  assert.equal(again.guidanceUntil, 0.5, "guidanceUntil: the source's");
  assert.equal(again.story.shots[1].caption, NEW_CAPTION);
  const report = (await api(server.url, `/api/jobs/${regenerated}/report.json`)).body;
  assert.deepEqual(report.regenerated, { from: source, shots: [1] });
  assert.equal(report.guidanceUntil, 0.5, "the report: the source's guidanceUntil");
});

test('regenerate refusals: each bad request gets its status, message and field; nothing is queued', async () => {
  assert.ok(source && regenerated, 'the first test made its jobs');
  const count = async () => (await api(server.url, '/api/jobs')).body.jobs.length;
  const before = await count();
  const at = (id: string) => `/api/jobs/${id}/regenerate`;
  const cases: [string, unknown, number, RegExp, string?][] = [
    [
      at(source),
      { shots: [2] },
      400,
      /^shots: shot 2 does not exist \(the story has shots 0\.\.1\)$/,
      'shots',
    ],
    [at(source), { shots: [0, 7] }, 400, /^shots: shot 7 does not exist/, 'shots'],
    [at(source), { shots: [] }, 400, /^shots: required, a non-empty array of shot indices/, 'shots'],
    [at(source), {}, 400, /^shots: required/, 'shots'],
    [at(source), { shots: [-1] }, 400, /^shots: -1 is not a shot index/, 'shots'],
    [at(source), { shots: [0.5] }, 400, /^shots: 0\.5 is not a shot index/, 'shots'],
    [at(source), { shots: ['1'] }, 400, /^shots: "1" is not a shot index/, 'shots'],
    [
      at(source),
      { shots: [1], captions: { 0: 'a blue square' } },
      400,
      /^captions\.0: a caption for shot 0, which is not regenerated$/,
      'captions.0',
    ],
    [
      at(source),
      { shots: [1], captions: { 5: 'a blue square' } },
      400,
      /^captions\.5: a caption for shot 5, which does not exist/,
      'captions.5',
    ],
    [
      at(source),
      { shots: [1], captions: { 1: '  ' } },
      400,
      /^captions\.1: expected a non-empty string/,
      'captions.1',
    ],
    [
      at(source),
      { shots: [1], captions: { 1: 5 } },
      400,
      /^captions\.1: expected a non-empty string, got 5/,
      'captions.1',
    ],
    [
      at(source),
      { shots: [1], captions: { one: 'x' } },
      400,
      /^captions: "one" is not a shot index/,
      'captions',
    ],
    [at(source), { shots: [1], captions: ['x'] }, 400, /^captions: must be an object/, 'captions'],
    [at(source), { shots: [1], seed: -1 }, 400, /^seed: must be an integer in \[0, 4294967295\]/, 'seed'],
    [at(source), { shots: [1], steps: 0 }, 400, /^steps: must be an integer in \[1, 1000\]/, 'steps'],
    [at(source), { shots: [1], guidance: 99 }, 400, /^guidance: must be a number in \[0, 50\]/, 'guidance'],
    [at(source), { shots: [1], story: {} }, 400, /^story: unknown field/, 'story'],
    [at('00000000000000ff'), { shots: [1] }, 404, /^no job 00000000000000ff$/],
    [at('nope'), { shots: [1] }, 400, /^not a job id/],
  ];
  for (const [path, body, status, re, field] of cases) {
    const x = await api(server.url, path, { json: body });
    assert.equal(x.status, status, `${JSON.stringify(body)}: ${JSON.stringify(x.body)}`);
    assert.match(x.body.error, re, JSON.stringify(body));
    assert.equal(x.body.field, field, `${JSON.stringify(body)}: field`);
  }
  const notJson = await api(server.url, at(source), {
    method: 'POST',
    body: '{"shots": [1',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(notJson.status, 400);
  assert.match(notJson.body.error, /^request body is not valid JSON/);
  const form = await api(server.url, at(source), {
    method: 'POST',
    body: 'shots=1',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
  });
  assert.equal(form.status, 415);

  // the saved generation made by another model, or gone
  const json = join(jobDir(regenerated), 'video.json');
  const saved = JSON.parse(readFileSync(json, 'utf8'));
  writeFileSync(json, JSON.stringify({ ...saved, model: { ...saved.model, dit: '0'.repeat(64) } }));
  const other = await api(server.url, at(regenerated), { json: { shots: [0] } });
  assert.equal(other.status, 409);
  assert.match(other.body.error, /was generated by another model \(DiT 000000000000\), not by this server's/);
  writeFileSync(json, '{"format": "moga-generation"');
  const broken = await api(server.url, at(regenerated), { json: { shots: [0] } });
  assert.equal(broken.status, 409);
  assert.match(
    broken.body.error,
    new RegExp(`^job ${regenerated}'s saved settings cannot be read: .*not valid JSON`),
  );
  rmSync(join(jobDir(regenerated), 'video.latent.safetensors'));
  const gone = await api(server.url, at(regenerated), { json: { shots: [0] } });
  assert.equal(gone.status, 409);
  assert.match(gone.body.error, new RegExp(`^job ${regenerated} saved no latent`));
  assert.equal(await count(), before, 'nothing queued by a refusal');

  // a job that has not finished
  const long = await api(server.url, '/api/jobs', { json: twoShotJob({ steps: 1000 }) });
  const early = await api(server.url, at(long.body.id), { json: { shots: [1] } });
  assert.equal(early.status, 409);
  assert.match(
    early.body.error,
    /^job [0-9a-f]{16} is (queued|running): only a finished \(done\) job's shots/,
  );
  assert.equal((await api(server.url, `/api/jobs/${long.body.id}/cancel`, { method: 'POST' })).status, 202);
  assert.equal((await finished(long.body.id)).status, 'cancelled');
  const cancelled = await api(server.url, at(long.body.id), { json: { shots: [1] } });
  assert.equal(cancelled.status, 409);
  assert.match(cancelled.body.error, /is cancelled: only a finished \(done\) job's shots/);
});
