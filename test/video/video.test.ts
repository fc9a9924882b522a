import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateStory, makeRenderer } from '../../src/data/world/index.js';
import {
  contactSheet,
  countFrames,
  crc32,
  encodePng,
  evenlySpaced,
  findFfmpeg,
  findOnPath,
  openMp4Writer,
  probeVideo,
  readVideo,
  writePng,
} from '../../src/video/index.js';

const dir = mkdtempSync(join(tmpdir(), 'moga-video-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d += Math.abs(a[i] - b[i]);
  return d / a.length;
}

describe('video I/O', () => {
  it('finds ffmpeg on PATH or in the npm package', async () => {
    const loc = await findFfmpeg();
    assert.ok(existsSync(loc.path));
    assert.equal(findOnPath('ffmpeg', ''), null);
    assert.equal((await findFfmpeg('')).source, '@ffmpeg-installer/ffmpeg');
  });

  it('writes an MP4 of a short story that decodes back to the same frames', async () => {
    const story = generateStory({ seed: 5, seconds: 2, fps: 8, width: 64, height: 48, shots: 2 });
    const r = makeRenderer(story);
    const path = join(dir, 'story.mp4');
    const w = await openMp4Writer(path, { width: 64, height: 48, fps: 8 });
    const src: Uint8Array[] = [];
    const buf = new Uint8Array(64 * 48 * 3);
    for (let f = 0; f < story.frames; f++) {
      r.render(f, buf); // the writer copies, so reusing buf is fine
      src.push(buf.slice());
      await w.write(buf);
    }
    assert.equal(existsSync(path), false, 'the real name appears only on success');
    const res = await w.close();
    assert.equal(res.frames, 17);
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('tmp')),
      [],
    );
    assert.equal(await countFrames(path), 17);
    const { info, frames } = await readVideo(path);
    assert.deepEqual([info.width, info.height, info.fps, info.codec], [64, 48, 8, 'h264']);
    assert.equal(frames.length, 17);
    for (let f = 0; f < 17; f++)
      assert.ok(meanAbsDiff(frames[f], src[f]) < 6, `frame ${f} decoded too far off`);
    // Frames stay in order: each decoded frame is closest to its own source.
    assert.ok(meanAbsDiff(frames[0], src[0]) < meanAbsDiff(frames[0], src[16]));
  });

  it('fails clearly on odd sizes, missing folders, bad frames and ffmpeg errors', async () => {
    await assert.rejects(
      openMp4Writer(join(dir, 'a.mp4'), { width: 63, height: 48, fps: 8 }),
      /even width and height/,
    );
    await assert.rejects(
      openMp4Writer(join(dir, 'nope', 'a.mp4'), { width: 64, height: 48, fps: 8 }),
      /does not exist/,
    );
    const w = await openMp4Writer(join(dir, 'b.mp4'), { width: 64, height: 48, fps: 8 });
    await assert.rejects(w.write(new Uint8Array(10)), /expected 64x48x3/);
    await w.abort();
    const bad = await openMp4Writer(join(dir, 'c.mp4'), {
      width: 64,
      height: 48,
      fps: 8,
      preset: 'no-such-preset',
    });
    const frame = new Uint8Array(64 * 48 * 3);
    await assert.rejects(
      (async () => {
        for (let i = 0; i < 50; i++) await bad.write(frame);
        await bad.close();
      })(),
      /ffmpeg failed writing .*c\.mp4/,
    );
    assert.equal(existsSync(join(dir, 'c.mp4')), false);
    await assert.rejects(probeVideo(join(dir, 'missing.mp4')), /not found/);
    writeFileSync(join(dir, 'junk.mp4'), 'not a video');
    await assert.rejects(countFrames(join(dir, 'junk.mp4')), /ffmpeg failed/);
  });

  it('writes PNGs that ffmpeg decodes to the exact pixels', async () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
    const W = 37;
    const H = 11;
    const rgb = new Uint8Array(W * H * 3).map((_, i) => (i * 97 + (i >> 5)) & 255);
    const path = join(dir, 'x.png');
    writePng(path, rgb, W, H);
    const { info, frames } = await readVideo(path);
    assert.deepEqual([info.width, info.height, info.codec], [W, H, 'png']);
    assert.deepEqual(frames[0], rgb);
    const grey = new Uint8Array(W * H).map((_, i) => i & 255);
    writePng(path, grey, W, H, 1);
    const g = (await readVideo(path)).frames[0];
    for (let i = 0; i < W * H; i++)
      assert.deepEqual([g[3 * i], g[3 * i + 1], g[3 * i + 2]], [grey[i], grey[i], grey[i]]);
    assert.throws(() => encodePng(new Uint8Array(5), 2, 2), /expected 2x2x3/);
  });

  it('lays frames out in a contact sheet grid', () => {
    const W = 4;
    const H = 3;
    const frames = [10, 20, 30].map((v) => new Uint8Array(W * H * 3).fill(v));
    const s = contactSheet(frames, W, H, { columns: 2, gap: 1, borders: [null, [255, 0, 0], null] });
    assert.deepEqual([s.width, s.height], [2 * W + 3, 2 * H + 3]);
    const px = (x: number, y: number) => [
      ...s.rgb.subarray(3 * (y * s.width + x), 3 * (y * s.width + x) + 3),
    ];
    assert.deepEqual(px(1, 1), [10, 10, 10]);
    assert.deepEqual(px(1 + W + 1, 1), [20, 20, 20]);
    assert.deepEqual(px(1, 1 + H + 1), [30, 30, 30]);
    assert.deepEqual(px(W + 1, 0), [255, 0, 0]); // the border around tile 1
    assert.deepEqual(px(0, 0), [24, 24, 24]);
    assert.deepEqual(evenlySpaced(10, 3), [0, 5, 9]);
    assert.deepEqual(evenlySpaced(2, 3), [0, 1]);
  });
});
