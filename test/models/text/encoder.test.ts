import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readCaptionEmbeddings, writeCaptionEmbeddings } from '../../../src/io/caption-embeddings.js';
import { writeSafetensors } from '../../../src/io/safetensors.js';
import {
  initTextEncoder,
  learnedCaptionEncoder,
  precomputedCaptionEncoder,
  textEncoderConfig,
  textEncoderForward,
} from '../../../src/models/text/encoder.js';
import { encodeTextBatch, makeTokenizer } from '../../../src/models/text/tokenizer.js';
import { initLinear, linear } from '../../../src/nn/linear.js';
import { namedTensors } from '../../../src/nn/params-file.js';
import { gradients } from '../../../src/tensor/autodiff.js';
import { gatherRows, logSoftmax, mean, mul, sum } from '../../../src/tensor/ops.js';
import { Rng } from '../../../src/tensor/random.js';
import { fromArray, tidy } from '../../../src/tensor/tensor.js';
import { trainLoop } from '../../../src/train/loop.js';
import { relL2 } from '../../helpers/compare.js';

const dir = mkdtempSync(join(tmpdir(), 'moga-text-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const tok = makeTokenizer(undefined, 16);
const cfg = textEncoderConfig(tok, 24, { dim: 32, heads: 4, ffnDim: 64 });
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('learned text encoder', () => {
  const p = initTextEncoder(new Rng(1), cfg);
  const enc = learnedCaptionEncoder(p, cfg, tok);

  it('returns one [length, textDim] embedding per caption', () => {
    const out = enc.encode(['a red star', 'the star returns , close-up']);
    assert.equal(out.length, 2);
    assert.deepEqual(out[0].embeddings.shape, [5, 24]); // <bos> a red star <eos>
    assert.equal(out[0].length, 5);
    assert.deepEqual(out[1].embeddings.shape, [7, 24]);
    assert.equal(enc.textDim, 24);
  });

  it('masks padding: a caption encodes the same alone, in a batch, and with garbage in its pad rows', () => {
    const alone = enc.encode(['a red star'])[0].embeddings.dataSync();
    const batched = enc.encode(['a green dotted heart spins left', 'a red star'])[1].embeddings.dataSync();
    assert.ok(maxDiff(alone, batched) < 1e-6);
    const { ids, lengths } = encodeTextBatch(tok, ['a red star']);
    const clean = textEncoderForward(p, cfg, ids, lengths).dataSync();
    ids.fill(77, lengths[0]);
    const dirty = textEncoderForward(p, cfg, ids, lengths).dataSync();
    assert.ok(maxDiff(clean.slice(0, 5 * 24), dirty.slice(0, 5 * 24)) < 1e-6);
  });

  it('mixes context: changing one word changes the embedding of the other tokens', () => {
    const [a, b] = enc.encode(['a red star', 'a blue star']);
    const row = (t: typeof a, i: number) => t.embeddings.dataSync().slice(i * 24, (i + 1) * 24);
    assert.ok(maxDiff(row(a, 3), row(b, 3)) > 1e-4, "'star' depends on its colour");
    assert.ok(maxDiff(row(a, 0), row(b, 0)) > 1e-4, '<bos> sees the whole caption (bidirectional)');
  });

  it('reports unknown words and refuses bad ids or a tokenizer of another length', () => {
    const heard: string[][] = [];
    learnedCaptionEncoder(p, cfg, tok, { onUnknown: (_c, w) => heard.push(w) }).encode(['a red zeppelin']);
    assert.deepEqual(heard, [['zeppelin']]);
    const ids = new Int32Array(16).fill(cfg.vocabSize);
    assert.throws(
      () => textEncoderForward(p, cfg, ids, Int32Array.from([3])),
      /token id \d+ \(caption 0\) outside the vocabulary/,
    );
    assert.throws(
      () => textEncoderForward(p, cfg, new Int32Array(16), Int32Array.from([0])),
      /caption 0 has length 0, expected 1..16/,
    );
    assert.throws(
      () => learnedCaptionEncoder(p, cfg, makeTokenizer(undefined, 8)),
      /tokenizer pads to 8 tokens but the encoder has 16/,
    );
    assert.throws(
      () => textEncoderConfig(tok, 24, { dim: 30, heads: 4 }),
      /dim 30 is not divisible by heads 4/,
    );
  });

  it('has gradients for every parameter and trains jointly with a head (loss falls 10x)', () => {
    // task: from the caption's <bos> embedding, tell the colour of the object (needs attention)
    const colours = ['red', 'blue', 'green', 'yellow'];
    const shapes = ['star', 'heart'];
    const captions = colours.flatMap((c) => shapes.map((s) => `a ${c} ${s} drifts left`));
    const labels = colours.flatMap((_, i) => shapes.map(() => i));
    const { ids, lengths } = encodeTextBatch(tok, captions);
    const onehot = new Float32Array(captions.length * 4);
    labels.forEach((l, i) => (onehot[i * 4 + l] = 1));
    const q = initTextEncoder(new Rng(5), cfg);
    const head = initLinear(new Rng(6), 24, 4);
    const model = { q, head };
    const loss = () => {
      const rows = textEncoderForward(q, cfg, ids, lengths); // (B*L, 24)
      const bos = fromArray(
        Int32Array.from(captions, (_, b) => b * 16),
        [captions.length],
      );
      const logits = linear(head, gatherRows(rows, bos)); // (B, 4) from each <bos> row
      return mul(mean(sum(mul(logSoftmax(logits), fromArray(onehot, [captions.length, 4])), -1)), -1);
    };
    const names: string[] = [];
    tidy(() => {
      const all = namedTensors(q);
      for (const [, t] of all) t.requiresGrad = true;
      const gs = gradients(
        loss(),
        all.map(([, t]) => t),
      );
      gs.forEach((g, i) => {
        if (!g || !(maxDiff(g.dataSync(), new Float32Array(g.size)) > 0)) names.push(all[i][0]);
      });
    });
    assert.deepEqual(names, [], 'parameters without gradient');
    const r = trainLoop({
      params: model,
      lossFn: () => loss(),
      nextBatch: () => null,
      steps: 40,
      adamw: { lr: 0.01, weightDecay: 0 },
      progress: 'none',
    });
    assert.ok(r.losses.at(-1)! < r.losses[0] / 10, `loss ${r.losses[0]} -> ${r.losses.at(-1)}`);
  });
});

describe('precomputed caption embeddings', () => {
  const caps = ['a red star', 'the star returns'];
  const rows = [
    Float32Array.from({ length: 3 * 8 }, (_, i) => i),
    Float32Array.from({ length: 2 * 8 }, (_, i) => -i),
  ];
  const path = join(dir, 'emb.safetensors');
  writeCaptionEmbeddings(path, caps, rows, 8, { seqLen: 4 });

  it('looks captions up and returns their real rows', () => {
    const enc = precomputedCaptionEncoder(path, { textDim: 8, maxLength: 16 });
    const [b, a] = enc.encode(['the star returns', 'a red star']);
    assert.deepEqual(a.embeddings.shape, [3, 8]);
    assert.deepEqual(a.embeddings.dataSync(), rows[0]);
    assert.deepEqual(b.embeddings.shape, [2, 8]);
    assert.deepEqual(b.embeddings.dataSync(), rows[1]);
    assert.equal(enc.maxLength, 4);
  });

  it('checks width, sequence length and coverage with clear errors', () => {
    assert.throws(
      () => precomputedCaptionEncoder(path, { textDim: 16, maxLength: 16 }),
      /width 8 does not match the model's textDim 16/,
    );
    assert.throws(
      () => precomputedCaptionEncoder(path, { textDim: 8, maxLength: 3 }),
      /sequence length 4 exceeds the model's text length 3/,
    );
    const enc = precomputedCaptionEncoder(path, { textDim: 8, maxLength: 16 });
    assert.throws(
      () => enc.encode(['a blue star']),
      /no embedding for caption "a blue star" \(the file has 2 captions\)/,
    );
  });

  it('refuses malformed files', () => {
    const bad = (
      name: string,
      tensors: Parameters<typeof writeSafetensors>[1],
      meta: Record<string, string>,
      re: RegExp,
    ) => {
      const f = join(dir, `${name}.safetensors`);
      writeSafetensors(f, tensors, meta);
      assert.throws(() => readCaptionEmbeddings(f), re, name);
    };
    const emb = { shape: [2, 4, 8], data: new Float32Array(64) };
    const lengths = { shape: [2], data: Int32Array.from([1, 2]) };
    const captions = JSON.stringify(caps);
    bad('no-emb', { lengths }, { captions }, /no 'embeddings' tensor \(has: lengths\)/);
    bad(
      'rank',
      { embeddings: { shape: [8, 8], data: new Float32Array(64) }, lengths },
      { captions },
      /must be \[captions, seqLen, width\], got \[8, 8\]/,
    );
    bad(
      'len-dtype',
      { embeddings: emb, lengths: { shape: [2], data: Float32Array.from([1, 2]) } },
      { captions },
      /'lengths' must be I32 \[2\], got F32 \[2\]/,
    );
    bad(
      'len-range',
      { embeddings: emb, lengths: { shape: [2], data: Int32Array.from([1, 5]) } },
      { captions },
      /caption 1 \("the star returns"\) has length 5, expected 1..4/,
    );
    bad(
      'meta-count',
      { embeddings: emb, lengths },
      { captions: '["x"]' },
      /__metadata__.captions must be a JSON array of 2 strings/,
    );
    bad(
      'meta-json',
      { embeddings: emb, lengths },
      { captions: '[x' },
      /__metadata__.captions is not valid JSON/,
    );
    bad('dup', { embeddings: emb, lengths }, { captions: '["x","x"]' }, /caption "x" appears twice/);
  });
});

it('a fresh encoder keeps a caption word apart: one word changed moves its row, not the others', () => {
  const tok = makeTokenizer(undefined, 48);
  const c = textEncoderConfig(tok, 64);
  const enc = learnedCaptionEncoder(initTextEncoder(new Rng(3), c), c, tok);
  const [a, b] = enc.encode(['a red circle rests on a yellow wall', 'a red circle rests on a navy wall']);
  const row = (e: typeof a, i: number) => e.embeddings.dataSync().slice(i * 64, (i + 1) * 64);
  // <bos> a red circle rests on a [yellow|navy] wall <eos>: row 7 is the colour
  assert.ok(relL2(row(a, 7), row(b, 7)) > 0.7, `colour row moved by ${relL2(row(a, 7), row(b, 7))}`);
  assert.ok(
    relL2(row(a, 2), row(b, 2)) < 0.3,
    `an unchanged word's row moved by ${relL2(row(a, 2), row(b, 2))}`,
  );
});
