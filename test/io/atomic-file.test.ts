/**
 * The atomic-output helper: the target is either the old file or the whole new one, never a part;
 * a failed writer leaves no temp; temps of dead processes are recognised by the pid in their name.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import {
  atomicTempPath,
  openAtomicTemp,
  removeStaleTemps,
  writeFileAtomic,
} from '../../src/io/atomic-file.js';
import { pendingCleanups } from '../../src/io/exit-cleanup.js';

const dir = mkdtempSync(join(tmpdir(), 'moga-atomic-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('writeFileAtomic replaces the target whole and leaves no temp', () => {
  const p = join(dir, 'a.json');
  writeFileSync(p, 'old');
  writeFileAtomic(p, '{"new": true}');
  assert.equal(readFileSync(p, 'utf8'), '{"new": true}');
  writeFileAtomic(p, (tmp) => writeFileSync(tmp, 'streamed'));
  assert.equal(readFileSync(p, 'utf8'), 'streamed');
  assert.deepEqual(readdirSync(dir), ['a.json']);
  assert.equal(pendingCleanups(), 0);
});

test('a writer that fails half-way leaves the old target and no temp', () => {
  const p = join(dir, 'b.bin');
  writeFileSync(p, 'old');
  assert.throws(
    () =>
      writeFileAtomic(p, (tmp) => {
        writeFileSync(tmp, 'half');
        throw new Error('disk full');
      }),
    /disk full/,
  );
  assert.equal(readFileSync(p, 'utf8'), 'old');
  assert.deepEqual(
    readdirSync(dir).filter((f) => f.includes('b.bin')),
    ['b.bin'],
  );
  assert.equal(pendingCleanups(), 0);
});

test('temps are hidden, beside the target, carry the pid, and are registered until settled', () => {
  const p = join(dir, 'c.mp4');
  assert.match(atomicTempPath(p), new RegExp(`/\\.c\\.mp4\\.${process.pid}\\.[0-9a-z]+\\.tmp$`));
  const t = openAtomicTemp(p);
  assert.ok(existsSync(t.path));
  assert.equal(pendingCleanups(), 1);
  t.discard();
  assert.equal(existsSync(t.path), false);
  assert.equal(pendingCleanups(), 0);
});

test('removeStaleTemps removes temps of dead pids only, and nothing else', () => {
  const sub = mkdtempSync(join(dir, 'stale-'));
  const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
  const names = [
    `.x.mp4.${dead}.1.tmp`,
    `.x.mp4.${process.pid}.2.tmp`,
    `.x.mp4.${process.ppid}.3.tmp`,
    'x.mp4',
    'y.tmp',
  ];
  for (const n of names) writeFileSync(join(sub, n), '');
  assert.deepEqual(removeStaleTemps(sub), [`.x.mp4.${dead}.1.tmp`]);
  assert.deepEqual(readdirSync(sub).sort(), names.slice(1).sort());
});

test('a process that exits with a temp open removes it on the way out', () => {
  const p = join(dir, 'exit.mp4');
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      '-e',
      `import('./src/io/atomic-file.ts').then((m) => { const t = m.openAtomicTemp(${JSON.stringify(p)}); console.log(t.path); process.exit(3); })`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 3, r.stderr);
  const tmp = r.stdout.trim();
  assert.match(tmp, /\.exit\.mp4\.\d+\.0\.tmp$/);
  assert.equal(existsSync(tmp), false);
});
