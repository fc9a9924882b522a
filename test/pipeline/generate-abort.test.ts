/**
 * generate's AbortSignal (what `moga serve` cancels a job with): an abort during sampling or
 * during decoding rejects with the signal's reason, and every tensor the generation allocated is
 * freed (the backend's live bytes return to what the model alone holds).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { getBackend } from '../../src/backends/registry.js';
import { generate } from '../../src/pipeline/generate.js';
import { initModel } from '../../src/pipeline/model.js';
import type { Stage } from '../../src/pipeline/progress.js';
import { parseStory } from '../../src/story/story.js';
import { microConfig, TWO_SHOTS } from './helpers.js';

async function abortAt(stage: Stage, done: number) {
  const be = getBackend();
  const model = initModel(microConfig(), 2);
  const base = be.liveBytes();
  const ctl = new AbortController();
  const seen: string[] = [];
  const run = generate(parseStory(TWO_SHOTS), model, {
    steps: 3,
    signal: ctl.signal,
    onFrame: () => {},
    decodeChunk: 1,
    onProgress: (e) => {
      seen.push(`${e.stage} ${e.done}`);
      if (e.stage === stage && e.done >= done && !ctl.signal.aborted) ctl.abort();
    },
  });
  await assert.rejects(run, (e: Error) => e.name === 'AbortError');
  const left = be.liveBytes() - base;
  model.dispose();
  return { seen, left };
}

test('an abort after a sampler step stops before the next one and frees everything', async () => {
  const { seen, left } = await abortAt('sample', 1);
  assert.deepEqual(seen, ['text 1', 'sample 0', 'sample 1']);
  assert.equal(left, 0, 'bytes left allocated after the abort');
});

test('an abort while decoding stops after the chunk and frees everything', async () => {
  const { seen, left } = await abortAt('decode', 1);
  // the first chunk is 1 + 1 latent frames = 5 frames of the 25
  assert.deepEqual(seen.slice(-2), ['decode 0', 'decode 5']);
  assert.equal(left, 0, 'bytes left allocated after the abort');
});

test('an already aborted signal refuses before any work', async () => {
  const ctl = new AbortController();
  ctl.abort(new Error('cancelled by the user'));
  const model = initModel(microConfig(), 2);
  let events = 0;
  await assert.rejects(
    generate(parseStory(TWO_SHOTS), model, { signal: ctl.signal, onProgress: () => events++ }),
    /cancelled by the user/,
  );
  assert.equal(events, 0);
  model.dispose();
});
