import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateStory, grammarWords } from '../../../src/data/world/index.js';
import {
  decodeText,
  encodeText,
  encodeTextBatch,
  makeTokenizer,
  TOKEN_BOS,
  TOKEN_EOS,
  TOKEN_PAD,
  tokenizeText,
  tokenName,
} from '../../../src/models/text/tokenizer.js';
import { VOCAB_V1 } from '../../../src/models/text/vocab.js';

const tok = makeTokenizer();

describe('caption tokenizer', () => {
  it('knows every word of the world grammar', () => {
    const vocab = new Set(VOCAB_V1);
    for (const w of grammarWords()) assert.ok(vocab.has(w), `grammar word '${w}' is missing from VOCAB_V1`);
  });

  it('round-trips every caption of many stories as whole words, with no unknowns', () => {
    let longest = 0;
    for (let seed = 0; seed < 300; seed++) {
      const s = generateStory({ seed });
      for (const text of [...s.shots.map((sh) => sh.caption), s.globalCaption!]) {
        const e = encodeText(tok, text);
        assert.deepEqual(e.unknown, [], text);
        assert.equal(e.truncated, false, text);
        assert.equal(decodeText(tok, e.ids), text);
        // Whole words: one token per word or comma, no byte fallback.
        const pieces = text.replace(/,/g, ' ,').split(' ').filter(Boolean).length;
        assert.equal(e.length, pieces + 2, text);
        longest = Math.max(longest, e.length);
      }
    }
    assert.ok(longest <= tok.maxLength, `longest caption ${longest} tokens`);
  });

  it('encodes any text through bytes, reports the unknown words, and decodes it back exactly', () => {
    const text = 'A  green Zebra-ish star  drifts →right, 12 häuser 🎬\n\tend ';
    const e = encodeText(tok, text);
    assert.equal(decodeText(tok, e.ids, e.length), text);
    assert.deepEqual(e.unknown, ['A', 'Zebra-ish', '→', 'häuser', '🎬', 'end']);
    // Known words stay whole tokens even next to unknown ones.
    const { tokens } = tokenizeText(tok, ' green star');
    assert.deepEqual(
      tokens.map((id) => tokenName(tok, id)),
      ['▁green', '▁star'],
    );
    assert.equal(decodeText(tok, encodeText(tok, '').ids), '');
  });

  it('pads to a fixed length with an attention length, and truncates long text', () => {
    const e = encodeText(tok, 'a red star spins');
    assert.equal(e.ids.length, 64);
    assert.equal(e.length, 6);
    assert.equal(e.ids[0], TOKEN_BOS);
    assert.equal(e.ids[5], TOKEN_EOS);
    assert.ok(e.ids.slice(6).every((id) => id === TOKEN_PAD));
    const small = makeTokenizer(VOCAB_V1, 5);
    const t = encodeText(small, 'a red star spins on a wall');
    assert.equal(t.truncated, true);
    assert.equal(t.length, 5);
    assert.equal(decodeText(small, t.ids), 'a red star');
    const b = encodeTextBatch(tok, ['a red star', 'the star returns']);
    assert.deepEqual([...b.lengths], [5, 5]);
    assert.equal(b.ids.length, 2 * 64);
    assert.equal(decodeText(tok, b.ids.subarray(64, 128)), 'the star returns');
  });

  it('rejects bad ids and vocabularies with clear errors', () => {
    assert.throws(() => decodeText(tok, [tok.vocabSize]), /outside the vocabulary/);
    assert.throws(() => makeTokenizer(['a', 'a']), /appears twice/);
    assert.throws(() => makeTokenizer(['two words']), /whitespace/);
    assert.throws(() => makeTokenizer(VOCAB_V1, 1), /maxLength/);
  });
});
