/**
 * The bundled model as a user runs it: loads (DiT, text encoder, VAE), generates a fixed 2-shot
 * story in 2 sampler steps, and matches the committed statistics of test/golden/dit-tiny.json.
 * A broken loader, codec, text path or sampler moves them far beyond the tolerance.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { before, test } from 'node:test';
import { setBackend } from '../../src/backends/index.js';
import { bundledStats, GOLDEN_FILE, type GoldenStats, weightsId } from './bundled-stats.js';

before(async () => {
  await setBackend('wasm');
});

test('bundled model: a 2-step generation matches the committed statistics', async () => {
  const golden = JSON.parse(readFileSync(GOLDEN_FILE, 'utf8')) as GoldenStats;
  assert.equal(
    weightsId(),
    golden.weights,
    `models/dit-tiny changed since ${GOLDEN_FILE} was written: check it, then run node --import tsx test/golden/bundled-stats.ts --write`,
  );
  const now = await bundledStats(golden.steps);
  now.shots.forEach((s, i) =>
    s.forEach((v, j) =>
      assert.ok(
        Math.abs(v - golden.shots[i][j]) < 0.01,
        `shot ${i} statistic ${j}: ${v.toFixed(4)}, committed ${golden.shots[i][j].toFixed(4)}`,
      ),
    ),
  );
  // the two shots have different captions, so a working caption path paints them differently
  const [a, b] = now.shots;
  assert.ok(Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]) > 0.02, 'the two shots look the same');
});
