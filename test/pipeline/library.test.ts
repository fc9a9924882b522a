/**
 * The library as a user calls it, without setBackend: loadModel picks the best backend here (the
 * CLI's order), an explicit one is honoured and generate runs on the model's backend whatever the
 * current one is, a mix of backends names the fix, generate validates its story like a story file,
 * reports unknown caption words, and model.dispose frees the weights.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { DEFAULT_BACKENDS, getBackend, initBackend } from '../../src/backends/index.js';
import { paramList } from '../../src/nn/params.js';
import { generate } from '../../src/pipeline/generate.js';
import { initModel, loadModel, saveModel } from '../../src/pipeline/model.js';
import type { Story } from '../../src/story/story.js';
import { add } from '../../src/tensor/ops.js';
import { fromArray, toBackend } from '../../src/tensor/tensor.js';
import { microConfig, TWO_SHOTS } from './helpers.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'moga-library-'));
  saveModel(join(dir, 'm'), initModel(microConfig(), 1));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function bestHere(): Promise<string> {
  for (const n of DEFAULT_BACKENDS) {
    try {
      return (await initBackend(n)).name;
    } catch {}
  }
  throw new Error('no backend');
}

test('loadModel without a backend: the best one here, which becomes the current backend', async () => {
  assert.equal(getBackend().name, 'ref', 'nothing chosen yet: the ref default');
  const model = await loadModel(join(dir, 'm'));
  assert.equal(model.backend.name, await bestHere());
  assert.equal(getBackend(), model.backend);
  model.dispose();
});

test('loadModel with a backend: weights there, generate runs there, the current backend is untouched', async () => {
  const current = getBackend();
  const model = await loadModel(join(dir, 'm'), { backend: 'ref' });
  assert.equal(model.backend.name, 'ref');
  assert.equal(paramList(model.text)[0].backend.name, 'ref');
  assert.equal(getBackend(), current);
  const r = await generate(TWO_SHOTS, model);
  assert.equal(r.frames, 25);
  assert.equal(getBackend(), current, 'restored after generate');
  model.dispose();
});

test('tensors on two backends: the error names both and the fix; toBackend moves one', async () => {
  const ref = await initBackend('ref');
  const other = await initBackend(await bestHere());
  const a = fromArray([1, 2], [2], ref);
  const b = fromArray([3, 4], [2], other);
  if (other !== ref)
    assert.throws(() => add(a, b), /different backends \(ref and \w+\).*toBackend\(tensor, 'ref'\)/);
  assert.deepEqual([...add(a, toBackend(b, ref)).dataSync()], [4, 6]);
  assert.throws(() => toBackend(a, 'nope'), /backend 'nope' is not initialised/);
});

test('generate validates the story with the story file messages, and reports unknown words', async () => {
  const model = await loadModel(join(dir, 'm'));
  const { shots: _, ...noShots } = TWO_SHOTS;
  await assert.rejects(
    generate(noShots as unknown as Story, model),
    /^StoryError: story\.shots: expected a non-empty array$/,
  );
  await assert.rejects(
    generate({ ...TWO_SHOTS, width: 40 }, model),
    /story\.width: 40 is not a multiple of 16/,
  );
  const story = { ...TWO_SHOTS, global: 'a purple elephant' };
  const r = await generate(story, model);
  assert.deepEqual(r.unknownWords, [{ caption: 'global', words: ['elephant'] }]);
  await assert.rejects(generate(story, model, { strictVocab: true }), /vocabulary: global: elephant/);
  model.dispose();
  assert.ok(paramList(model.text).every((t) => t.disposed));
  await assert.rejects(generate(TWO_SHOTS, model), /disposed tensor/);
});
