import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  backgroundPhrase,
  COLOURS,
  frameCount,
  frameTruth,
  generateStory,
  grammarWords,
  MAX_SHOTS,
  PATTERNS,
  SPLIT_RANGES,
  splitOf,
  splitSeed,
} from '../../../src/data/world/index.js';

describe('world stories', () => {
  it('are a pure function of the seed', () => {
    const a = generateStory({ seed: 123, seconds: 30 });
    const b = generateStory({ seed: 123, seconds: 30 });
    assert.deepEqual(a, b);
    assert.notDeepEqual(generateStory({ seed: 124, seconds: 30 }).shots, a.shots);
  });

  it('count frames as seconds * fps + 1 (60 s at 24 fps = 1441)', () => {
    assert.equal(frameCount(60, 24), 1441);
    const s = generateStory({ seed: 7, seconds: 60, fps: 24 });
    assert.equal(s.frames, 1441);
    assert.equal(
      s.shots.reduce((n, sh) => n + sh.frames, 0),
      1441,
    );
  });

  it('tile the frames with shots whose starts are the recorded cuts', () => {
    for (let seed = 0; seed < 200; seed++) {
      const s = generateStory({ seed });
      assert.ok(s.shots.length >= 1 && s.shots.length <= MAX_SHOTS);
      assert.equal(s.shots[0].startFrame, 0);
      assert.deepEqual(
        s.cuts,
        s.shots.slice(1).map((sh) => sh.startFrame),
      );
      for (let k = 1; k < s.shots.length; k++)
        assert.equal(s.shots[k].startFrame, s.shots[k - 1].startFrame + s.shots[k - 1].frames);
      const last = s.shots[s.shots.length - 1];
      assert.equal(last.startFrame + last.frames, s.frames);
      // Per-frame truth agrees: the shot index changes exactly at the cuts.
      for (let f = 0; f < s.frames; f += 1 + (f % 7)) {
        const t = frameTruth(s, f);
        assert.equal(t.isCut, s.cuts.includes(f));
        assert.ok(s.shots[t.shot].startFrame <= f && f < s.shots[t.shot].startFrame + s.shots[t.shot].frames);
      }
      for (const c of s.cuts) {
        assert.equal(frameTruth(s, c).shot, frameTruth(s, c - 1).shot + 1);
        assert.notEqual(
          s.shots[frameTruth(s, c).shot].background.colour,
          s.shots[frameTruth(s, c - 1).shot].background.colour,
        );
      }
    }
  });

  it('span a few seconds to over a minute with 1 to 12 shots', () => {
    const secs: number[] = [];
    const shots = new Set<number>();
    for (let i = 0; i < 300; i++) {
      const s = generateStory({ seed: splitSeed('train', i) });
      secs.push(s.seconds);
      shots.add(s.shots.length);
    }
    assert.ok(Math.min(...secs) <= 5, `shortest ${Math.min(...secs)}`);
    assert.ok(Math.max(...secs) > 60, `longest ${Math.max(...secs)}`);
    assert.ok(shots.has(1) && shots.has(12), `shot counts seen: ${[...shots].sort((a, b) => a - b)}`);
  });

  it('recall earlier characters with their exact look, under captions without colour or pattern', () => {
    const colourWords = new Set<string>([...COLOURS]);
    const patternWords = new Set<string>(PATTERNS.filter((p) => p !== 'plain'));
    let recalls = 0;
    for (let seed = 0; seed < 300; seed++) {
      const s = generateStory({ seed });
      if (s.shots.length >= 3)
        assert.ok(s.recalls.length >= 1, `seed ${seed}: ${s.shots.length} shots, no recall`);
      for (const r of s.recalls) {
        recalls++;
        const shot = s.shots[r.shot];
        const main = s.characters[shot.objects[0].character];
        assert.deepEqual(shot.recall, { character: r.character, fromShot: r.fromShot });
        assert.equal(main.id, r.character);
        assert.ok(r.shot - r.fromShot >= 2, 'a recall comes at least two shots later');
        // The earlier shot really showed this character, and no shot in between did.
        const earlier = s.shots[r.fromShot].objects.map((o) => o.character);
        assert.ok(earlier.includes(r.character));
        assert.ok(!s.shots[r.shot - 1].objects.some((o) => o.character === r.character));
        // Same look: a character's shape, colour, pattern and size are fixed for the story.
        const intro = s.characters[r.character];
        assert.deepEqual(
          [main.shape, main.colour, main.pattern, main.radius],
          [intro.shape, intro.colour, intro.pattern, intro.radius],
        );
        // The caption names the shape only (the background phrase may say "yellow" or "striped").
        const first = shot.caption.split(',')[0].replace(backgroundPhrase(shot.background), '').split(' ');
        assert.deepEqual(first.slice(0, 4), ['the', main.shape, 'returns', 'and']);
        assert.ok(!first.some((w) => colourWords.has(w) || patternWords.has(w)), shot.caption);
      }
      // Within a story each shape is one character, so "the star" is never ambiguous.
      assert.equal(new Set(s.characters.map((c) => c.shape)).size, s.characters.length);
    }
    assert.ok(recalls > 100, `only ${recalls} recalls in 300 stories`);
  });

  it('caption every shot from the grammar', () => {
    const vocab = new Set(grammarWords());
    for (let seed = 0; seed < 100; seed++) {
      const s = generateStory({ seed });
      for (const text of [...s.shots.map((sh) => sh.caption), s.globalCaption!]) {
        const words = text.replace(/,/g, ' , ').split(/\s+/).filter(Boolean);
        for (const w of words) assert.ok(vocab.has(w), `'${w}' of "${text}" is not a grammar word`);
      }
      for (const sh of s.shots)
        if (!sh.recall) {
          const c = s.characters[sh.objects[0].character];
          assert.ok(
            sh.caption.includes(`${c.colour} ${c.pattern === 'plain' ? '' : `${c.pattern} `}${c.shape}`),
            sh.caption,
          );
        }
    }
    assert.equal(generateStory({ seed: 5, globalCaption: false }).globalCaption, null);
  });

  it('splits come from disjoint seed ranges', () => {
    assert.equal(splitOf(splitSeed('train', 0)), 'train');
    assert.equal(splitOf(splitSeed('val', 0)), 'val');
    assert.equal(splitOf(splitSeed('test', 5)), 'test');
    assert.equal(splitOf(SPLIT_RANGES.val[0] - 1), 'train');
    assert.equal(splitOf(2 ** 32 - 1), 'test');
    assert.equal(generateStory({ seed: splitSeed('val', 3) }).split, 'val');
    assert.throws(() => splitSeed('val', 2 ** 30), /outside the val split/);
    assert.throws(() => splitOf(-1), /seed must be an integer/);
  });

  it('rejects bad options with clear errors', () => {
    assert.throws(() => generateStory({ seed: 1, shots: 13 }), /shots must be an integer in \[1, 12\]/);
    assert.throws(
      () => generateStory({ seed: 1, seconds: 0.1, fps: 10, shots: 5 }),
      /shots must be an integer in \[1, 2\]/,
    );
    assert.throws(() => generateStory({ seed: 1, seconds: -1 }), /seconds must be in/);
    assert.throws(() => generateStory({ seed: 1.5 }), /seed must be an integer/);
    assert.throws(() => generateStory({ seed: 1, fps: 0 }), /fps must be an integer/);
  });
});
