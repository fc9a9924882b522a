/**
 * The Redis mode on a real redis-server (Debian's, installed by the test setup when missing):
 * the compiled `moga serve --redis` and two `moga worker --redis` processes on one data folder;
 * six jobs submitted through the API, one worker killed with SIGKILL in the middle of a job; all
 * six finish, each completed exactly once (counted from BullMQ's own event stream), the killed
 * worker's job run again from the start by the other worker, and every video served. The model has
 * dit.conditioning, so a regenerate job goes through Redis too: its record names its source, and the
 * kept shot's latent frames are the source's.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { QueueEvents } from 'bullmq';
import { readSafetensors } from '../../src/io/safetensors.js';
import { QUEUE_NAME, redisConnection } from '../../src/serve/redis-queue.js';
import { debianProgram } from '../helpers/debian-package.js';
import { api, type Json, microModelDir, spawnServer, twoShotJob, waitFor } from './helpers.js';

const redisFound = debianProgram('redis-server', '/usr/bin/redis-server');

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => res(port));
    });
  });
}

/** A process that prints `ready` on stdout when it is; its stderr kept for messages. */
async function started(
  child: ChildProcess,
  ready: RegExp,
  what: string,
): Promise<{ child: ChildProcess; log: () => string }> {
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d));
  await new Promise<void>((res, rej) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (ready.test(out)) res();
    });
    child.once('exit', (code) =>
      rej(new Error(`${what} exited (${code}) before it was ready: ${out} ${log}`)),
    );
  });
  return { child, log: () => log };
}

const stop = async (c: ChildProcess | undefined, sig: NodeJS.Signals = 'SIGTERM') => {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill(sig);
  await gone;
};

describe('moga serve --redis with two moga worker processes', { skip: redisFound.skip }, () => {
  let dir: string;
  let redis: ChildProcess;
  let url: string;
  let server: Awaited<ReturnType<typeof spawnServer>>;
  const workers: { child: ChildProcess; log: () => string }[] = [];
  let events: QueueEvents;
  let data: string;
  const completed = new Map<string, number>();

  before(async () => {
    assert.ok(existsSync('dist/src/cli/main.js'), 'dist/src/cli/main.js is missing: run npm run build first');
    const m = microModelDir('redis', { conditioning: true });
    dir = m.dir;
    const port = await freePort();
    url = `redis://127.0.0.1:${port}`;
    const rdir = mkdtempSync(join(tmpdir(), 'moga-redis-'));
    redis = (
      await started(
        spawn(
          redisFound.skip === undefined ? redisFound.path : 'redis-server',
          ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', rdir],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        ),
        /Ready to accept connections/,
        'redis-server',
      )
    ).child;
    events = new QueueEvents(QUEUE_NAME, { connection: { url, maxRetriesPerRequest: null } });
    await events.waitUntilReady();
    events.on('completed', ({ jobId }) => completed.set(jobId, (completed.get(jobId) ?? 0) + 1));
    data = join(dir, 'data');
    server = await spawnServer(['--data', data, '--model', m.model, '--redis', url, '--max-queue', '8'], {
      compiled: true,
    });
    for (const name of ['w1', 'w2'])
      workers.push(
        await started(
          spawn(
            process.execPath,
            [
              'bin/moga.js',
              'worker',
              '--redis',
              url,
              '--data',
              data,
              '--model',
              m.model,
              '--backend',
              'ref',
              '--name',
              name,
              '--lock-seconds',
              '2',
            ],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          ),
          /moga worker: \S+ ready/,
          `moga worker ${name}`,
        ),
      );
  });

  after(async () => {
    await events?.close();
    for (const w of workers) await stop(w.child);
    await stop(server?.child);
    await stop(redis);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('six jobs, a worker killed mid-job: all six complete, each exactly once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await api(server.url, '/api/jobs', { json: twoShotJob({ steps: 8, seed: i }) });
      assert.equal(r.status, 202, `submission ${i}: ${JSON.stringify(r.body)}`);
      ids.push(r.body.id);
    }
    // kill w1 once it is sampling a job
    const victim: Json = await waitFor(
      'a job sampling on worker w1',
      async () => {
        const { body } = await api(server.url, '/api/jobs');
        return body.jobs.find(
          (j: Json) =>
            j.status === 'running' && j.note === 'running on worker w1' && j.progress?.stage === 'sample',
        );
      },
      60_000,
    );
    await stop(workers[0].child, 'SIGKILL');

    const jobs: Json[] = await waitFor(
      'all six jobs to finish',
      async () => {
        const { body } = await api(server.url, '/api/jobs');
        const mine = body.jobs.filter((j: Json) => ids.includes(j.id));
        return mine.every((j: Json) => ['done', 'failed', 'cancelled'].includes(j.status)) ? mine : undefined;
      },
      120_000,
    );
    const why = `w2 log: ${workers[1].log().slice(-1500)}\nserver log: ${server.stderr().slice(-500)}`;
    assert.deepEqual(
      jobs.map((j: Json) => j.status),
      ['done', 'done', 'done', 'done', 'done', 'done'],
      `every job done: ${JSON.stringify(jobs.map((j: Json) => [j.id, j.status, j.error]))}\n${why}`,
    );
    // exactly once: one `completed` event per job in BullMQ's stream (the events may trail the API)
    await waitFor('six completed events', () => (completed.size >= 6 ? true : undefined), 10_000);
    assert.deepEqual(
      ids.map((id) => completed.get(id)),
      [1, 1, 1, 1, 1, 1],
      'each job completed exactly once',
    );
    assert.equal(completed.size, 6, 'no other completions');
    const again = jobs.find((j: Json) => j.id === victim.id);
    assert.equal(again.runs.length, 2, `the killed worker's job ran twice: ${JSON.stringify(again.runs)}`);
    assert.equal(again.runs[0].outcome, 'interrupted', 'its first attempt was interrupted');
    const report = await api(server.url, `/api/jobs/${victim.id}/report.json`);
    assert.equal(report.body.attempt, 2, 'the report is the second attempt');
    for (const id of ids) {
      const v = await fetch(`${server.url}/api/jobs/${id}/video.mp4`);
      assert.equal(v.status, 200, `video of ${id}`);
      assert.ok((await v.arrayBuffer()).byteLength > 1000, `video of ${id} has bytes`);
    }
  });

  test('cancel: a running job stops (status cancelled), and the worker takes the next job', async () => {
    const long = await api(server.url, '/api/jobs', { json: twoShotJob({ steps: 400 }) });
    assert.equal(long.status, 202, JSON.stringify(long.body));
    const id = long.body.id;
    await waitFor('the long job sampling', async () => {
      const j = (await api(server.url, `/api/jobs/${id}`)).body;
      return j.status === 'running' && j.progress?.stage === 'sample' ? true : undefined;
    });
    const c = await api(server.url, `/api/jobs/${id}/cancel`, { method: 'POST' });
    assert.equal(c.status, 202, JSON.stringify(c.body));
    assert.equal(c.body.cancelling, true, 'the record says it is stopping');
    const end: Json = await waitFor('the job cancelled', async () => {
      const j = (await api(server.url, `/api/jobs/${id}`)).body;
      return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
    });
    assert.equal(end.status, 'cancelled', JSON.stringify(end));
    assert.match(end.error, /cancelled by request/);
    assert.ok(end.progress === undefined || end.progress.done < 400, 'stopped before the last step');
    const again = await api(server.url, `/api/jobs/${id}/cancel`, { method: 'POST' });
    assert.equal(again.status, 409, 'a cancelled job cannot be cancelled again');
    const next = await api(server.url, '/api/jobs', { json: twoShotJob({ steps: 1 }) });
    await waitFor('the next job done', async () => {
      const j = (await api(server.url, `/api/jobs/${next.body.id}`)).body;
      return j.status === 'done' ? true : undefined;
    });
  });

  test('regenerate on Redis: a new job from a finished one keeps its other shot and names its source', async () => {
    const done = (await api(server.url, '/api/jobs')).body.jobs.find((j: Json) => j.status === 'done');
    assert.ok(done?.files.includes('latent'), `a finished job with its latent: ${JSON.stringify(done)}`);
    const r = await api(server.url, `/api/jobs/${done.id}/regenerate`, {
      json: { shots: [1], captions: { 1: 'a white star spins' }, steps: 1 },
    });
    assert.equal(r.status, 202, JSON.stringify(r.body));
    assert.deepEqual(r.body.from, { job: done.id, shots: [1], captions: { 1: 'a white star spins' } });
    const end: Json = await waitFor('the regenerate job to finish', async () => {
      const j = (await api(server.url, `/api/jobs/${r.body.id}`)).body;
      return ['done', 'failed', 'cancelled'].includes(j.status) ? j : undefined;
    });
    assert.equal(end.status, 'done', JSON.stringify(end));
    assert.deepEqual(end.from, r.body.from, 'the record names its source');
    const latent = (id: string) =>
      readSafetensors(join(data, 'jobs', id, 'video.latent.safetensors')).tensors.get('latent')!
        .data as Float32Array;
    const a = latent(done.id);
    const b = latent(end.id);
    a.forEach((v, i) => {
      if (Math.floor(i / 32) % 7 < 4) assert.equal(b[i], v, `shot 0's latent changed at ${i}`);
    });
  });
});

test('--redis: a URL that is not redis:// is refused by name; moga worker needs --redis', async () => {
  assert.throws(() => redisConnection('http://127.0.0.1:6379'), /expected a redis:\/\/ or rediss:\/\/ URL/);
  assert.throws(() => redisConnection('localhost:6379x'), /--redis: /);
  assert.doesNotThrow(() => redisConnection('redis://127.0.0.1:6379/2'));
  const { run } = await import('../../src/cli/worker.js');
  await assert.rejects(run([]), /worker: --redis URL is required/);
});
