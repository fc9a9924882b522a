import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serializeSafetensors } from '../../src/io/safetensors.js';
import { loadCheckpoint, saveCheckpoint } from '../../src/train/checkpoint.js';
import { initTrainState, resolveHyper, trainLoop } from '../../src/train/loop.js';
import { batchAt, initMlp2, mlpLoss } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'moga-ck-'));
after(() => rmSync(root, { recursive: true, force: true }));
const good = join(root, 'good');
const opts = (p: ReturnType<typeof initMlp2>, steps: number) => ({
  params: p,
  lossFn: (b: ReturnType<typeof batchAt>, _s: number, rng: Parameters<typeof mlpLoss>[2]) =>
    mlpLoss(p, b, rng),
  nextBatch: (s: number, m: number) => batchAt(s, m),
  steps,
  emaDecay: 0.99,
  progress: 'none' as const,
});

before(() => {
  const p = initMlp2(1);
  trainLoop({ ...opts(p, 2), checkpoint: { dir: good } });
});

let n = 0;
/** A copy of the good checkpoint with `file` rewritten by `edit`. */
function corrupt(file: string, edit: (bytes: Buffer) => Uint8Array | string): string {
  const d = join(root, `bad${n++}`);
  cpSync(good, d, { recursive: true });
  writeFileSync(join(d, file), edit(readFileSync(join(d, file))));
  return d;
}

/** Rewrites the JSON header of a safetensors file (keeping the data). */
function editHeader(
  bytes: Buffer,
  f: (h: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>) => void,
  lengthDelta = 0,
): Buffer {
  const len = Number(bytes.readBigUInt64LE(0));
  const h = JSON.parse(bytes.subarray(8, 8 + len).toString());
  f(h);
  const hb = Buffer.from(JSON.stringify(h).padEnd(len, ' '));
  const out = Buffer.concat([Buffer.alloc(8), hb, bytes.subarray(8 + len)]);
  out.writeBigUInt64LE(BigInt(hb.length + lengthDelta), 0);
  return out;
}

function load(d: string) {
  const p = initMlp2(2);
  const state = initTrainState(p, resolveHyper(opts(p, 2)));
  return () => loadCheckpoint(d, p, state);
}

describe('corrupt checkpoints give clear errors', () => {
  it('loads the good one', () => {
    assert.doesNotThrow(load(good));
  });

  const cases: [string, () => string, RegExp][] = [
    [
      'truncated model file',
      () => corrupt('model.safetensors', (b) => b.subarray(0, b.length - 10)),
      /model\.safetensors: tensor 'l2\.weight': data_offsets \[192, 256\] out of range: the data buffer has 250 bytes \(file truncated\?\)/,
    ],
    [
      'header length beyond the file',
      () =>
        corrupt('model.safetensors', (b) => {
          const c = Buffer.from(b);
          c.writeBigUInt64LE(BigInt(b.length), 0);
          return c;
        }),
      /model\.safetensors: header length \d+ goes beyond the end of the file/,
    ],
    [
      'offsets out of range',
      () =>
        corrupt('optimizer.safetensors', (b) =>
          editHeader(b, (h) => {
            h['m.l1.weight'].data_offsets = [0, 1 << 20];
          }),
        ),
      /optimizer\.safetensors: tensor 'm\.l1\.weight': data_offsets \[0, 1048576\] out of range/,
    ],
    [
      'unknown dtype',
      () =>
        corrupt('ema.safetensors', (b) =>
          editHeader(b, (h) => {
            h['l1.bias'].dtype = 'Q4';
          }),
        ),
      /ema\.safetensors: tensor 'l1\.bias': unknown or unsupported dtype "Q4"/,
    ],
    [
      'shape vs byte size',
      () =>
        corrupt('model.safetensors', (b) =>
          editHeader(b, (h) => {
            h['l1.weight'].shape = [16, 3];
          }),
        ),
      /tensor 'l1\.weight': shape \[16, 3\] of F32 needs 192 bytes but data_offsets span 128/,
    ],
    [
      'non-JSON header',
      () =>
        corrupt('model.safetensors', (b) => {
          const c = Buffer.from(b);
          c.write('#', 9);
          return c;
        }),
      /model\.safetensors: header is not valid UTF-8 JSON/,
    ],
    [
      'mis-shaped parameter (well-formed file)',
      () =>
        corrupt('model.safetensors', () =>
          serializeSafetensors({
            'l1.weight': { shape: [2, 16], data: new Float32Array(32) },
            'l1.bias': { shape: [16], data: new Float32Array(16) },
            'l2.weight': { shape: [1, 16], data: new Float32Array(16) },
            'l2.bias': { shape: [1], data: new Float32Array(1) },
          }),
        ),
      /does not fit the model: mis-shaped 1: l1\.weight \(file \[2, 16\], model \[16, 2\]\)/,
    ],
    [
      'missing optimizer moment',
      () =>
        corrupt('optimizer.safetensors', () =>
          serializeSafetensors({ 'm.l1.weight': { shape: [16, 2], data: new Float32Array(32) } }),
        ),
      /optimizer\.safetensors does not fit the model: missing v\.l1\.weight, m\.l1\.bias, v\.l1\.bias, m\.l2\.weight/,
    ],
    [
      'missing file',
      () => {
        const d = corrupt('state.json', (b) => b);
        rmSync(join(d, 'ema.safetensors'));
        return d;
      },
      /ema\.safetensors: cannot read/,
    ],
    ['state.json not JSON', () => corrupt('state.json', () => '{"step": '), /state\.json: not valid JSON/],
    [
      'state.json bad step',
      () => corrupt('state.json', (b) => JSON.stringify({ ...JSON.parse(b.toString()), step: -1 })),
      /state\.json: step -1 is not an integer >= 0/,
    ],
    [
      'state.json bad rng',
      () => corrupt('state.json', (b) => JSON.stringify({ ...JSON.parse(b.toString()), rng: { seed: 'x' } })),
      /state\.json: rng \{"seed":"x"\} is not \{seed, offset\} integers/,
    ],
    ['state.json wrong format', () => corrupt('state.json', () => '{}'), /not a moga-checkpoint state file/],
  ];
  for (const [name, make, re] of cases)
    it(name, () => {
      const d = make();
      const p = initMlp2(2);
      const w = Array.from(p.l1.weight.dataSync());
      const state = initTrainState(p, resolveHyper(opts(p, 2)));
      assert.throws(() => loadCheckpoint(d, p, state), re);
      assert.deepEqual(Array.from(p.l1.weight.dataSync()), w, 'nothing written on failure');
      assert.equal(state.step, 0);
    });

  it('no checkpoint at all', () => {
    assert.throws(load(join(root, 'absent')), /no checkpoint at .*absent/);
  });
});

describe('checkpoint folders', () => {
  it('a checkpoint directory whose parent does not exist yet is created', () => {
    const dir = join(root, 'new-parent', 'deeper', 'run');
    trainLoop({ ...opts(initMlp2(3), 1), checkpoint: { dir } });
    assert.equal(JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')).step, 1);
  });

  it("a caller's files go into each checkpoint with its step; names that could escape or clash are refused", () => {
    const dir = join(root, 'with-files');
    const files = (step: number) => ({ 'history.json': `{"step":${step}}` });
    trainLoop({ ...opts(initMlp2(3), 3), checkpoint: { dir, every: 1, files } });
    assert.equal(readFileSync(join(dir, 'history.json'), 'utf8'), '{"step":3}');
    const p = initMlp2(3);
    const hyper = resolveHyper(opts(p, 1));
    const state = initTrainState(p, hyper);
    for (const name of ['../out.json', 'a/b', '.hidden', 'state.json', 'model.safetensors', ''])
      assert.throws(
        () => saveCheckpoint(join(root, 'bad-files'), p, state, hyper, null, { [name]: 'x' }),
        /cannot add a file named/,
        name,
      );
    assert.equal(existsSync(join(root, 'bad-files')), false, 'nothing written');
  });
});
