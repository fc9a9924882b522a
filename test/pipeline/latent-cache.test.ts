/**
 * Latent-cache files are checked for kind, version and content when read back: a foreign file in
 * the cache folder is named with what is wrong (it used to be `"undefined" is not valid JSON`),
 * and files from before the kind existed still read.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { type CachedClip, readCachedClip, writeCachedClip } from '../../src/pipeline/latent-cache.js';
import { trainDit } from '../../src/pipeline/train-dit.js';
import { microRecipe } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'moga-latent-cache-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const clip: CachedClip = {
  latent: Float32Array.from({ length: 16 }, (_, i) => i / 7),
  shape: [1, 2, 2, 4],
  captions: ['a red circle', 'a blue wall'],
  shotFrames: [0, 5],
  global: 'two shots',
};

function raw(name: string, metadata: Record<string, string>, shape = [1, 2, 2, 4]): string {
  const p = join(dir, name);
  writeSafetensors(p, [['latent', { shape, data: new Float32Array(16), dtype: 'F32' }]], metadata);
  return p;
}

test('a cached clip reads back as written; a file from before the kind field still reads', () => {
  const p = join(dir, 'ok.safetensors');
  writeCachedClip(p, clip);
  assert.deepEqual(readCachedClip(p), clip);
  const legacy = raw('legacy.safetensors', { clip: JSON.stringify({ captions: ['x'], shotFrames: [0] }) });
  assert.deepEqual(readCachedClip(legacy).captions, ['x']);
});

test('foreign or damaged cache files are refused with the path and what is wrong', () => {
  const meta = JSON.stringify({ captions: ['x'], shotFrames: [0] });
  const cases: [string, RegExp][] = [
    [
      raw('model.safetensors', { format: 'moga-dit' }),
      /not a latent-cache file \(metadata format "moga-dit"\)/,
    ],
    [raw('none.safetensors', {}), /no "clip" metadata/],
    [
      raw('v2.safetensors', { format: 'moga-latent-cache', version: '2', clip: meta }),
      /version "2", this build reads version 1/,
    ],
    [raw('json.safetensors', { clip: '{"captions": [' }), /"clip" metadata is not valid JSON/],
    [raw('fields.safetensors', { clip: '{"captions": [3]}' }), /lacks captions \(strings\) or shotFrames/],
    [
      raw('rank.safetensors', { clip: meta }, [16]),
      /expected a tensor "latent" F32 \[C, F, H, W\], found F32 \[16\]/,
    ],
  ];
  for (const [path, msg] of cases) {
    assert.throws(
      () => readCachedClip(path),
      (e: Error) => msg.test(e.message) && e.message.includes(path),
      path,
    );
    assert.throws(() => readCachedClip(path), /remove the file \(it is rebuilt\)/);
  }
});

test('trainDit names a foreign file in its cache folder instead of failing on its JSON', () => {
  const r = microRecipe(dir, {
    cache: join(dir, 'cache'),
    work: join(dir, 'work'),
    out: join(dir, 'model'),
    steps: 1,
  });
  trainDit(r, { log: () => {} });
  const folder = join(r.cache, readdirSync(r.cache)[0]);
  writeSafetensors(join(folder, 'clip-1.safetensors'), [['w', { shape: [2], data: new Float32Array(2) }]], {
    format: 'moga-dit',
  });
  assert.throws(
    () => trainDit({ ...r, steps: 2 }, { resume: true, log: () => {} }),
    /latent cache .*clip-1\.safetensors: not a latent-cache file \(metadata format "moga-dit"\)/,
  );
});
