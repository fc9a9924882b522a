import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { run } from '../../src/cli/world.js';
import { countFrames, readVideo } from '../../src/video/index.js';

const dir = mkdtempSync(join(tmpdir(), 'moga-world-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const small = ['--seconds', '2', '--fps', '4', '--width', '64', '--height', '48'];

describe('moga world', () => {
  it('writes an MP4, its JSON truth and a contact sheet', async () => {
    const out = join(dir, 'story.mp4');
    await run(['--seed', '11', ...small, '--shots', '2', '--out', out, '--sheet', join(dir, 'sheet.png')]);
    assert.equal(await countFrames(out), 9); // 2 s * 4 fps + 1
    const json = JSON.parse(readFileSync(join(dir, 'story.json'), 'utf8'));
    assert.equal(json.seed, 11);
    assert.equal(json.frames, 9);
    assert.equal(json.shots.length, 2);
    assert.equal(typeof json.shots[0].caption, 'string');
    assert.equal(json.truth.length, 9);
    assert.deepEqual(json.cuts, [json.shots[1].startFrame]);
    assert.equal(json.truth[json.cuts[0]].cut, true);
    const sheet = await readVideo(join(dir, 'sheet.png'));
    assert.equal(sheet.info.width, 3 * 64 + 4 * 3);
  });

  it('writes PNG frames with --png', async () => {
    const png = join(dir, 'frames');
    await run(['--split', 'val', '--index', '2', ...small, '--png', png]);
    const files = readdirSync(png).sort();
    assert.equal(files.filter((f) => f.endsWith('.png')).length, 9);
    assert.equal(files[0], 'frame_00000.png');
    assert.equal(JSON.parse(readFileSync(join(png, 'story.json'), 'utf8')).split, 'val');
  });

  it('rejects bad arguments with clear errors', async () => {
    const out = join(dir, 'bad.mp4');
    await assert.rejects(run(['--bogus']), /Unknown option '--bogus'/);
    await assert.rejects(run(['--seed', '1']), /give --out FILE.mp4 and\/or --png DIR/);
    await assert.rejects(run(['--seed', '-3', '--out', out]), /--seed/);
    await assert.rejects(run(['--seconds', 'abc', '--out', out]), /--seconds must be a positive number/);
    await assert.rejects(run(['--width', '63', '--out', out]), /even --width and --height/);
    await assert.rejects(run(['--shots', '13', '--out', out]), /--shots must be an integer in \[1, 12\]/);
    await assert.rejects(run(['--out', join(dir, 'x.avi')]), /must end in \.mp4/);
    await assert.rejects(run(['--out', join(dir, 'no', 'x.mp4')]), /does not exist/);
    await assert.rejects(run(['--split', 'dev', '--out', out]), /--split must be train, val or test/);
    assert.equal(existsSync(out), false);
  });
});
