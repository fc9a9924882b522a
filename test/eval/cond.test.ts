/**
 * `evalCond` (eval/cond.ts) on two short held-out stories with a conditioned micro model and the
 * pool codec, whose latent frames decode alone: so the frames of a given image's latent frame are
 * exactly the codec's own round trip of the image, and no kept frame of a regenerated story may
 * change. The figures of a trained model are the model card's.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evalCond } from '../../src/eval/cond.js';
import { loadProbe } from '../../src/eval/probe-model.js';
import { initModel } from '../../src/pipeline/model.js';
import { Rng } from '../../src/tensor/random.js';
import { moveOffInit } from '../models/micro-dit.js';
import { microConfig } from '../pipeline/helpers.js';

test('eval cond: image PSNR is the codec round trip, regenerate keeps every other frame, extend scores the whole story', async () => {
  const c = microConfig();
  const model = initModel({ ...c, dit: { ...c.dit, conditioning: true } }, 1);
  moveOffInit(model.dit, new Rng(4), 0.05);
  const r = await evalCond({
    model,
    probe: loadProbe().probe,
    tasks: ['image', 'regenerate', 'extend'],
    stories: 2,
    seconds: 8,
    fps: 24,
    width: 80,
    height: 48,
    sampling: { steps: 1, guidance: 1 },
    metric: { framesPerShot: 2 },
  });
  assert.equal(r.stories.length, 2);
  const im = r.image!;
  // story 0 gives shot 0 (latent frame 0, the image alone), story 1 shot 1 (a later latent frame)
  assert.deepEqual(
    im.cases.map((x) => x.shot),
    [0, 1],
  );
  for (const x of im.cases) {
    assert.ok(Number.isFinite(x.psnr) && x.psnr > 10, `story ${x.story}: PSNR ${x.psnr}`);
    assert.ok(
      Math.abs(x.psnr - x.vaePsnr) < 1e-9,
      `story ${x.story}: ${x.psnr} vs the round trip ${x.vaePsnr}`,
    );
    assert.ok(x.found.cond <= x.colour.cond && x.colour.cond <= x.objects);
  }
  assert.equal(im.objects.n, im.cases[0].objects + im.cases[1].objects);
  assert.equal(im.allFound.n, im.cases.filter((x) => x.objects > 0).length);
  assert.ok(im.allFound.cond <= im.allFound.n);

  const g = r.regenerate!;
  assert.equal(g.cases.length, 2);
  for (const x of g.cases) {
    assert.ok(x.shot >= 2, 'a recall shot after a gap');
    assert.ok(x.kept > 0 && x.kept < r.stories.find((s) => s.index === x.story)!.frames);
    assert.equal(x.keptChanged, 0, `story ${x.story}: kept frames changed`);
  }

  const e = r.extend!;
  assert.equal(e.cases.length, 2);
  for (const x of e.cases) assert.ok(x.splitShot >= 1 && x.splitFrame > 0);
  assert.equal(
    e.cuts.truth,
    r.stories.reduce((a, s) => a + s.shots - 1, 0),
    'every story cut counted once',
  );
  assert.ok(e.recall.n >= 2 && e.recall.cond <= e.recall.n);
  model.dispose();
});
