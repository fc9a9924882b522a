/** `moga inspect`: a safetensors header as a table or JSON; a bad file is refused by name, exit 1. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { serializeSafetensors } from '../../src/io/safetensors.js';

const dir = mkdtempSync(join(tmpdir(), 'moga-inspect-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function moga(...args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });
}

test('moga inspect lists names, dtypes, shapes and sizes, as a table and as JSON', () => {
  const file = join(dir, 'two.safetensors');
  writeFileSync(
    file,
    serializeSafetensors(
      {
        'blocks.0.w': { shape: [2, 3], data: new Float32Array(6), dtype: 'F16' },
        ids: { shape: [4], data: new Int32Array(4) },
      },
      { format: 'test' },
    ),
  );
  const table = moga('inspect', file);
  assert.equal(table.status, 0, table.stderr);
  assert.match(table.stdout, /2 tensors, 10 elements, 28 bytes of data/);
  assert.match(table.stdout, /^metadata format: test$/m);
  assert.match(table.stdout, /^blocks\.0\.w\s+F16\s+\[2, 3\]\s+12$/m);
  assert.match(table.stdout, /^ids\s+I32\s+\[4\]\s+16$/m);
  const json = JSON.parse(moga('inspect', file, '--json').stdout);
  assert.deepEqual(json.tensors, [
    { name: 'blocks.0.w', dtype: 'F16', shape: [2, 3], bytes: 12 },
    { name: 'ids', dtype: 'I32', shape: [4], bytes: 16 },
  ]);
});

test('moga inspect refuses a corrupt file by name, and a missing argument', () => {
  const bad = join(dir, 'bad.safetensors');
  writeFileSync(bad, new Uint8Array(5));
  const r = moga('inspect', bad);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /safetensors .*bad\.safetensors: file is 5 bytes, too short/);
  const none = moga('inspect');
  assert.equal(none.status, 1);
  assert.match(none.stderr, /inspect: give exactly one \.safetensors file/);
});
