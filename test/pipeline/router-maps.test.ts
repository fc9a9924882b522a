/**
 * Router maps (`generate --maps DIR`): the routing of the last sampler step only, one map per
 * routed layer and latent frame, each token's patch tinted by its group's colour over the decoded
 * frame (read back through ffmpeg and checked pixel by pixel), and groups.json's numbers add up
 * (sizes per layer and per frame, each group's share per shot); the CLI writes them too.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { generate } from '../../src/pipeline/generate.js';
import { generateMp4 } from '../../src/pipeline/generate-mp4.js';
import { initModel, saveModel } from '../../src/pipeline/model.js';
import { GROUP_COLOURS, type RouterMapsSummary } from '../../src/pipeline/router-maps.js';
import { parseStory } from '../../src/story/story.js';
import { readVideo } from '../../src/video/index.js';
import { microConfig, TWO_SHOTS } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'moga-maps-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('generate reports the routing of the last sampler step only, one call per routed layer', async () => {
  const model = initModel({ ...microConfig(), dit: { ...microConfig().dit, layers: 2 } }, 3);
  const calls: { layer: number; tokens: number; groups: number }[] = [];
  await generate(parseStory(TWO_SHOTS), model, {
    steps: 3,
    onFrame: () => {},
    onRouting: (r) => calls.push({ layer: r.layer, tokens: r.groupIds.length, groups: r.groups }),
  });
  // 7 latent frames of 4x8 cells, patch 1x2x2: 7 x 2 x 4 tokens, for the conditional sample only
  assert.deepEqual(calls, [
    { layer: 0, tokens: 56, groups: 2 },
    { layer: 1, tokens: 56, groups: 2 },
  ]);
  model.dispose();
});

test('maps: each token tinted by its group over the decoded frame; groups.json adds up', async () => {
  const model = initModel(microConfig(), 3);
  const frames: Uint8Array[] = [];
  const routed: Int32Array[] = [];
  const maps = join(dir, 'maps');
  const story = parseStory(TWO_SHOTS);
  const report = await generateMp4(story, model, join(dir, 'two.mp4'), {
    steps: 2,
    maps,
    onFrame: (rgb) => frames.push(rgb),
  });
  await generate(story, model, { steps: 2, onFrame: () => {}, onRouting: (r) => routed.push(r.groupIds) });
  model.dispose();
  const summary = JSON.parse(readFileSync(join(maps, 'groups.json'), 'utf8')) as RouterMapsSummary;
  assert.deepEqual(report.maps, { dir: maps, files: 7, layers: 1, groups: 2 });
  assert.deepEqual(summary.tokens, { rows: 2, columns: 4, pixels: [16, 16] });
  assert.deepEqual(summary.frames, [0, 1, 5, 9, 13, 17, 21]);
  assert.deepEqual(summary.shotStarts, [0, 4]);
  assert.deepEqual(readdirSync(maps).sort(), [...summary.files, 'groups.json'].sort());
  const [layer] = summary.layers;
  assert.equal(
    layer.sizes.reduce((a, b) => a + b, 0),
    56,
  );
  for (const f of layer.perFrame)
    assert.equal(
      f.reduce((a, b) => a + b, 0),
      8,
    );
  layer.shotShare.forEach((row, g) => {
    const total = row.reduce((a, b) => a + b, 0);
    assert.ok(
      layer.sizes[g] === 0 ? total === 0 : Math.abs(total - 1) < 1e-9,
      `group ${g}'s shares sum to ${total}`,
    );
  });
  // the same story and seed routes the same way: check the pixels of latent frame 2 (video frame 5)
  const ids = routed[0];
  const { frames: png, info } = await readVideo(join(maps, 'layer-0-frame-0002.png'));
  assert.deepEqual([info.width, info.height], [64, 32]);
  const base = frames[5];
  let checked = 0;
  for (let y = 0; y < 2; y++)
    for (let x = 0; x < 4; x++) {
      const g = ids[(2 * 2 + y) * 4 + x];
      const colour = GROUP_COLOURS[g];
      for (const [py, px] of [
        [y * 16, x * 16],
        [y * 16 + 15, x * 16 + 15],
        [y * 16 + 7, x * 16 + 9],
      ]) {
        const o = 3 * (py * 64 + px);
        for (let c = 0; c < 3; c++) {
          const want = Math.round(base[o + c] * 0.5 + colour[c] * 0.5);
          assert.ok(
            Math.abs(png[0][o + c] - want) <= 1,
            `pixel (${px}, ${py}) channel ${c}: ${png[0][o + c]} vs ${want}`,
          );
          checked++;
        }
      }
    }
  assert.equal(checked, 72);
});

test('moga generate --maps DIR writes the maps and names them in the report', () => {
  const modelDir = join(dir, 'model');
  saveModel(modelDir, initModel(microConfig(), 3));
  const storyPath = join(dir, 'two.story.json');
  writeFileSync(storyPath, JSON.stringify(TWO_SHOTS));
  const maps = join(dir, 'cli-maps');
  const args = ['--import', 'tsx', 'src/cli/main.ts', 'generate', '--story', storyPath, '--model', modelDir];
  const r = spawnSync(
    process.execPath,
    [...args, '--out', join(dir, 'cli.mp4'), '--maps', maps, '--json', '--quiet', '--backend', 'ref'],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout).maps, { dir: maps, files: 7, layers: 1, groups: 2 });
  assert.equal(readdirSync(maps).filter((f) => f.endsWith('.png')).length, 7);
  const bad = spawnSync(process.execPath, [...args, '--out', join(dir, 'x.mp4'), '--maps', storyPath], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--maps '.*two\.story\.json' is a file; name a folder/);
});
