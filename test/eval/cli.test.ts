/** `moga eval gen --truth` end to end on one short story: files written, the ceiling scores. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { run } from '../../src/cli/eval-gen.js';

test('moga eval gen --truth writes result.json, table.md and the contact sheets', async () => {
  const out = mkdtempSync(join(tmpdir(), 'moga-eval-'));
  try {
    const log = console.log;
    console.log = () => {};
    const err = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      await run(['--truth', '--stories', '1', '--seconds', '8', '--out', out]);
    } finally {
      console.log = log;
      process.stderr.write = err;
    }
    for (const f of ['result.json', 'table.md', 'worst.png', 'best.png'])
      assert.ok(existsSync(join(out, f)), f);
    const r = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
    assert.equal(r.source, 'truth');
    assert.equal(r.stories.length, 1);
    assert.ok(r.stories[0].seed >= 2 ** 31 + 2 ** 30, 'a test-split seed');
    assert.equal(r.cuts.recall, 1);
    assert.equal(r.stability.ratio, 1);
    assert.equal(r.fd.value, r.fd.floor);
    assert.equal(r.cost, null);
    assert.match(readFileSync(join(out, 'table.md'), 'utf8'), /\| truth \(world render\) \| 1 \|/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
