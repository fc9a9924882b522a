/**
 * The queue loses nothing across a server's death: a real `moga serve` process is killed with
 * SIGKILL during a job, with two more waiting; its worker stops by itself (no orphan goes on with
 * the job); a new server on the same data folder runs the interrupted job again from the start
 * and the waiting ones after it: every job finishes exactly once, none is lost. A clean stop
 * (SIGTERM) puts the running job back in the queue the same way.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { countFrames } from '../../src/video/index.js';
import { api, microModelDir, readEvents, running, spawnServer, twoShotJob, waitFor } from './helpers.js';

const { dir, model } = microModelDir('restart');
const data = join(dir, 'data');
const args = ['--data', data, '--model', model, '--backend', 'ref', '--quiet'];
const started: ChildProcess[] = [];
after(() => {
  for (const c of started) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const record = (id: string) => JSON.parse(readFileSync(join(data, 'jobs', id, 'job.json'), 'utf8'));

async function start() {
  const s = await spawnServer(args);
  started.push(s.child);
  return s;
}

function exited(c: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  if (c.exitCode !== null || c.signalCode !== null)
    return Promise.resolve({ code: c.exitCode, signal: c.signalCode });
  return new Promise((res) => c.once('exit', (code, signal) => res({ code, signal })));
}

/** Waits for job `id`'s sampler step `n` (default 1) on server `url`; the events until then. */
function firstStep(url: string, id: string, n = 1) {
  return readEvents(`${url}/api/jobs/${id}/events`, {
    until: (e) => e.event === 'progress' && e.data.stage === 'sample' && e.data.done >= n,
  });
}

test('kill -9 during a job: the next server runs it again and the queued ones after it, each exactly once', async () => {
  const one = await start();
  const a = (await api(one.url, '/api/jobs', { json: twoShotJob({ steps: 120 }) })).body;
  const b = (await api(one.url, '/api/jobs', { json: twoShotJob({ seed: 1 }) })).body;
  const c = (await api(one.url, '/api/jobs', { json: twoShotJob({ seed: 2 }) })).body;
  const steps = (await firstStep(one.url, a.id, 2)).filter((e) => e.event === 'progress').slice(-2);
  const left = (120 - 2) * (steps[1].data.elapsed - steps[0].data.elapsed); // seconds the job still needed
  one.child.kill('SIGKILL');
  await exited(one.child);
  const killed = performance.now();

  // on disk: a was running in worker W, b and c wait
  const before = record(a.id);
  assert.equal(before.status, 'running');
  const worker = before.runs[0].pid;
  assert.ok(Number.isInteger(worker), 'the attempt names its worker');
  assert.deepEqual([record(b.id).status, record(c.id).status], ['queued', 'queued']);
  // the orphaned worker notices its server is gone and stops: it never finishes the job
  await waitFor('the orphaned worker to exit', () => (running(worker) ? undefined : true), 15_000);
  const lived = (performance.now() - killed) / 1000;
  assert.ok(
    lived < left / 2,
    `the orphan stopped ${lived.toFixed(2)} s after its server; the job needed ${left.toFixed(2)} s more`,
  );
  assert.equal(existsSync(join(data, 'jobs', a.id, 'video.mp4')), false);

  const two = await start(); // takes over the dead server's lock
  const ends = [];
  for (const j of [a, b, c]) ends.push((await readEvents(`${two.url}/api/jobs/${j.id}/events`)).at(-1)!.data);
  for (const j of ends) assert.equal(j.status, 'done', JSON.stringify(j));
  const [ra, rb, rc] = ends;
  assert.deepEqual(
    ra.runs.map((r: { outcome: string }) => r.outcome),
    ['interrupted', 'done'],
  );
  assert.match(ra.runs[0].reason, /the server stopped during this attempt/);
  assert.notEqual(ra.runs[1].pid, worker);
  for (const j of [rb, rc])
    assert.deepEqual(
      j.runs.map((r: { outcome: string }) => r.outcome),
      ['done'],
      'a queued job runs once',
    );
  // in order, one at a time: a (again) first, then b, then c
  assert.ok(ra.runs[1].ended <= rb.runs[0].started, 'b started after a finished');
  assert.ok(rb.runs[0].ended <= rc.runs[0].started, 'c started after b finished');
  const list = (await api(two.url, '/api/jobs')).body.jobs;
  assert.deepEqual(
    list.map((j: { id: string }) => j.id),
    [a.id, b.id, c.id],
    'no job lost, none added',
  );
  const mp4 = join(dir, 'a.mp4');
  writeFileSync(mp4, Buffer.from(await (await fetch(`${two.url}/api/jobs/${a.id}/video.mp4`)).arrayBuffer()));
  assert.equal(await countFrames(mp4), 25);
  assert.equal(existsSync(join(data, 'jobs', a.id, 'run-1')), false);
  assert.equal(existsSync(join(data, 'jobs', a.id, 'run-2')), false);

  // a clean stop (SIGTERM) during a job: it goes back in the queue, and the next start runs it
  const d = (await api(two.url, '/api/jobs', { json: twoShotJob({ steps: 120, seed: 3 }) })).body;
  await firstStep(two.url, d.id);
  two.child.kill('SIGTERM');
  assert.deepEqual(await exited(two.child), { code: 0, signal: null });
  const stopped = record(d.id);
  assert.equal(stopped.status, 'queued');
  assert.deepEqual(
    stopped.runs.map((r: { outcome: string }) => r.outcome),
    ['stopped'],
  );
  assert.match(stopped.note, /re-queued: the server was shut down during attempt 1/);
  const three = await start();
  const rd = (await readEvents(`${three.url}/api/jobs/${d.id}/events`)).at(-1)!.data;
  assert.equal(rd.status, 'done');
  assert.deepEqual(
    rd.runs.map((r: { outcome: string }) => r.outcome),
    ['stopped', 'done'],
  );
  three.child.kill('SIGTERM');
  assert.deepEqual(await exited(three.child), { code: 0, signal: null });
  assert.equal(existsSync(join(data, 'server.lock')), false, 'a clean stop releases the lock');
});
