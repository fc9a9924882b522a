/**
 * The queue's start over a data folder left by a server that died, without running anything: a
 * job found running is failed with the reason once it has been interrupted more than --retries
 * times, cancelled when a cancel was under way, re-queued otherwise; a folder with no record (a
 * submission never acknowledged) is removed; a lock left by a dead server is taken over.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { JobQueue } from '../../src/serve/queue.js';
import { type JobRecord, JobStore } from '../../src/serve/store.js';
import { TWO_SHOTS } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'moga-serve-queue-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** A pid that is certainly not running (a process that has exited). */
const deadPid = spawnSync(process.execPath, ['-e', '0']).pid!;

function runningJob(id: string, seq: number, over: Partial<JobRecord> = {}): JobRecord {
  return {
    id,
    seq,
    status: 'running',
    title: 'two shots',
    shots: 2,
    seconds: 1,
    options: { steps: 2 },
    created: new Date().toISOString(),
    runs: [{ attempt: 1, started: new Date().toISOString(), pid: deadPid }],
    files: [],
    ...over,
  };
}

/** A data folder as a dead server left it: its lock, and the given jobs. */
function leftBehind(name: string, jobs: JobRecord[]): string {
  const data = join(root, name);
  mkdirSync(join(data, 'jobs'), { recursive: true });
  writeFileSync(join(data, 'server.lock'), `${deadPid}\n`);
  for (const j of jobs) {
    mkdirSync(join(data, 'jobs', j.id, `run-${j.runs.length}`), { recursive: true });
    writeFileSync(join(data, 'jobs', j.id, 'story.json'), JSON.stringify(TWO_SHOTS));
    writeFileSync(join(data, 'jobs', j.id, 'job.json'), JSON.stringify(j));
  }
  return data;
}

const opts = { model: 'unused', maxQueued: 4, retries: 0 };

test('--retries 0: a job the dead server was running is failed with the reason, never forgotten', async () => {
  const data = leftBehind('retries0', [runningJob('00000000000000a1', 1)]);
  const q = new JobQueue(new JobStore(data), opts);
  const j = q.get('00000000000000a1')!;
  assert.equal(j.status, 'failed');
  assert.match(
    j.error!,
    /the server stopped during attempt 1 \(killed or crashed\).*--retries is 0; not run again/,
  );
  assert.deepEqual(
    j.runs.map((r) => r.outcome),
    ['interrupted'],
  );
  assert.ok(j.finished, 'a failed job has an end time');
  // written down, not only in memory; the attempt's partial outputs are gone
  const disk = JSON.parse(readFileSync(join(data, 'jobs', j.id, 'job.json'), 'utf8'));
  assert.equal(disk.status, 'failed');
  assert.equal(existsSync(join(data, 'jobs', j.id, 'run-1')), false);
  assert.equal(
    readFileSync(join(data, 'server.lock'), 'utf8').trim(),
    String(process.pid),
    'the stale lock is ours now',
  );
  await q.close();
  assert.equal(existsSync(join(data, 'server.lock')), false);
});

test('--retries 1: a job interrupted for the second time is failed; a cancel under way ends as cancelled', async () => {
  const twice = runningJob('00000000000000b1', 1, {
    runs: [
      {
        attempt: 1,
        started: '2026-01-01T00:00:00.000Z',
        ended: '2026-01-01T00:00:01.000Z',
        outcome: 'interrupted',
        reason: 'the server stopped during this attempt (killed or crashed)',
      },
      { attempt: 2, started: '2026-01-01T00:00:02.000Z', pid: deadPid },
    ],
  });
  const cancelling = runningJob('00000000000000b2', 2, { cancelling: true });
  const data = leftBehind('retries1', [twice, cancelling]);
  mkdirSync(join(data, 'jobs', '00000000000000b3')); // a submission cut short before its record
  writeFileSync(join(data, 'jobs', '00000000000000b3', 'story.json'), '{}');
  const q = new JobQueue(new JobStore(data), { ...opts, retries: 1 });
  const t = q.get(twice.id)!;
  assert.equal(t.status, 'failed');
  assert.match(t.error!, /attempt 2 .* the 2nd interruption of this job, and moga serve --retries is 1/);
  const c = q.get(cancelling.id)!;
  assert.equal(c.status, 'cancelled');
  assert.equal(c.cancelling, undefined);
  assert.deepEqual(
    q.list().map((j) => j.id),
    [twice.id, cancelling.id],
  );
  assert.equal(existsSync(join(data, 'jobs', '00000000000000b3')), false);
  await q.close();
});

test('a lock held by a live process is respected; a damaged record is an error naming it', () => {
  const data = leftBehind('live', []);
  writeFileSync(join(data, 'server.lock'), `${process.ppid}\n`);
  assert.throws(() => new JobStore(data), /is in use by another moga serve \(pid \d+\)/);
  rmSync(join(data, 'server.lock'));
  mkdirSync(join(data, 'jobs', '00000000000000c1'));
  writeFileSync(join(data, 'jobs', '00000000000000c1', 'job.json'), '{"id": ');
  const store = new JobStore(data);
  assert.throws(() => store.loadAll(), /job record .*00000000000000c1\/job\.json does not read/);
  assert.throws(() => store.jobDir('../x'), /not a job id/);
  store.close();
});
