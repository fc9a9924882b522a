/**
 * No silent garbage from a model directory: config values out of range are refused by field
 * before any allocation, non-finite weights by tensor, a VAE path leading outside the model's
 * folder before it is opened; generate() refuses seeds and guidance it cannot honour, and the
 * sampler stops at the first step that goes non-finite.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { sample } from '../../src/diffusion/sample.js';
import { parseSafetensors, serializeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { generate } from '../../src/pipeline/generate.js';
import { initModel, loadModel, saveModel } from '../../src/pipeline/model.js';
import { parseStory } from '../../src/story/story.js';
import { mul } from '../../src/tensor/ops.js';
import { microConfig, TWO_SHOTS } from './helpers.js';

const root = mkdtempSync(join(tmpdir(), 'moga-model-safety-'));
after(() => rmSync(root, { recursive: true, force: true }));

const base = join(root, 'base');
saveModel(base, initModel(microConfig(), 1), 'F32');
const baseConfig = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8'));

/** A copy of the micro model with `edit` applied to its config.json (raw text, so 1e309 = Infinity). */
function withConfig(
  name: string,
  edit: (c: typeof baseConfig) => void,
  raw?: (text: string) => string,
): string {
  const dir = join(root, name);
  mkdirSync(dir);
  for (const f of ['dit.safetensors', 'text.safetensors'])
    writeFileSync(join(dir, f), readFileSync(join(base, f)));
  const c = structuredClone(baseConfig);
  edit(c);
  const text = JSON.stringify(c);
  writeFileSync(join(dir, 'config.json'), raw ? raw(text) : text);
  return dir;
}

test('config values out of range are refused by field, before the weights are allocated', async () => {
  const cases: [string, (c: typeof baseConfig) => void, RegExp][] = [
    ['eps-neg', (c) => (c.dit.eps = -1e-6), /dit\.eps must be a number in \(0, 0\.1\], got -0\.000001/],
    ['eps-zero', (c) => (c.text.eps = 0), /text\.eps must be a number in \(0, 0\.1\], got 0/],
    ['layers', (c) => (c.dit.layers = 100000), /dit\.layers must be an integer in \[1, 256\], got 100000/],
    ['dim', (c) => (c.dit.dim = 1e6), /dit\.dim must be an integer in \[1, 65536\], got 1000000/],
    ['dim-frac', (c) => (c.dit.dim = 32.5), /dit\.dim must be an integer/],
    ['heads', (c) => (c.dit.heads = 3), /dit\.dim 32 must be dit\.heads 3 times an even head width/],
    ['patch', (c) => (c.dit.patch = [1, 0, 2]), /dit\.patch\[1\] must be an integer in \[1, 16\], got 0/],
    ['window', (c) => (c.dit.attention.window = [2, 'x']), /dit\.attention\.window\[1\] must be an integer/],
    [
      'branch',
      (c) => (c.dit.attention.branches = ['toString']),
      /unknown attention branch 'toString' \(valid: routed, window, frame, full\)/,
    ],
    ['text-layers', (c) => (c.text.layers = -2), /text\.layers must be an integer in \[1, 256\], got -2/],
    ['steps', (c) => (c.sampling.steps = 0), /sampling\.steps must be an integer in \[1, 10000\], got 0/],
    [
      'guidance',
      (c) => (c.sampling.guidance = 51),
      /sampling\.guidance must be a number in \[0, 50\], got 51/,
    ],
    [
      'noise-correlation',
      (c) => ((c.sampling as { noiseCorrelation?: number }).noiseCorrelation = 1),
      /sampling\.noiseCorrelation must be a number in \[0, 1\), got 1/,
    ],
    [
      'prediction',
      (c) => (c.prediction = 'noise'),
      /prediction must be one of "velocity", "data", "preconditioned", got "noise"/,
    ],
    ['missing-dit', (c) => delete c.dit, /dit: missing or not an object/],
    // dims each in range whose weights do not fit in any machine's memory
    [
      'huge',
      (c) => Object.assign(c.dit, { dim: 65536, ffnDim: 262144, layers: 256, heads: 1024 }),
      /the weights alone need [\d.]+ GiB \(float32\), more than this machine's/,
    ],
  ];
  for (const [name, edit, msg] of cases) {
    const t0 = performance.now();
    await assert.rejects(loadModel(withConfig(name, edit)), msg, name);
    assert.ok(performance.now() - t0 < 1000, `${name}: refused at once, nothing allocated`);
  }
  // JSON's 1e309 parses as Infinity
  const inf = withConfig(
    'inf',
    () => {},
    (t) => t.replace(/"shift":1\b/, '"shift":1e309'),
  );
  await assert.rejects(loadModel(inf), /sampling\.shift must be a number in \(0, 1000\], got null/);
  (await loadModel(withConfig('ok', () => {}))).dispose();
});

test('non-finite weights are refused at load, naming the tensor and the element', async () => {
  const model = initModel(microConfig(), 1);
  const w = model.dit.params.head.modulation;
  const data = w.dataSync() as Float32Array;
  data[5] = Number.NaN;
  w.backend.write(w.storage, data);
  const dir = join(root, 'nan');
  saveModel(dir, model, 'F32');
  await assert.rejects(loadModel(dir), /dit\.safetensors: tensor head\.modulation holds NaN at element 5/);
  data[5] = Number.POSITIVE_INFINITY;
  w.backend.write(w.storage, data);
  saveModel(dir, model, 'F16');
  await assert.rejects(loadModel(dir), /tensor head\.modulation holds Infinity at element 5/);
});

/** A safetensors file with every tensor of dtype `from` relabelled `to` in the header (bytes kept). */
function relabel(bytes: Uint8Array, from: string, to: string): Buffer {
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
  for (const [k, v] of Object.entries(header) as [string, { dtype?: string }][])
    if (k !== '__metadata__' && v.dtype === from) v.dtype = to;
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, bytes.subarray(8 + n)]);
}

/** The bundled model and its VAE copied under root/<name>/models/, with `edit` applied to a file. */
function bundledCopy(
  name: string,
  file: 'dit-tiny/dit.safetensors' | 'vae-small/vae.safetensors',
  edit: (b: Uint8Array) => Uint8Array,
): string {
  const models = join(root, name, 'models');
  cpSync('models/dit-tiny', join(models, 'dit-tiny'), { recursive: true });
  cpSync('models/vae-small', join(models, 'vae-small'), { recursive: true });
  writeFileSync(join(models, file), edit(readFileSync(join(models, file))));
  return join(models, 'dit-tiny');
}

test('F16 weights labelled BF16, or weights far too large, are refused at load, naming the tensor', async () => {
  // the untouched copy loads: the check does not refuse real weights
  (
    await loadModel(
      bundledCopy('bundled', 'dit-tiny/dit.safetensors', (b) => b),
      { backend: 'ref' },
    )
  ).dispose();
  await assert.rejects(
    loadModel(bundledCopy('f16-as-bf16', 'dit-tiny/dit.safetensors', (b) => relabel(b, 'F16', 'BF16'))),
    /dit\.safetensors: tensor [\w.]+ \(BF16\): \d+ of its \d+ non-zero values are below 1e-6 in magnitude: not plausible weights F16 data labelled BF16\?/,
  );
  await assert.rejects(
    loadModel(bundledCopy('vae-f16-as-bf16', 'vae-small/vae.safetensors', (b) => relabel(b, 'F16', 'BF16'))),
    /vae\.safetensors: tensor [\w.]+ \(BF16\).* F16 data labelled BF16\?/,
  );
  // values far above any weight's (F32 bytes of another kind, corrupt data) are refused too
  const huge = (b: Uint8Array) => {
    const f = parseSafetensors(b);
    const scaled = (d: Float32Array | Int32Array) => Float32Array.from(d, (v) => v * 1e5);
    return serializeSafetensors(
      [...f.tensors].map(([k, t]): [string, TensorToWrite] => [k, { shape: t.shape, data: scaled(t.data) }]),
      f.metadata,
    );
  };
  await assert.rejects(
    loadModel(bundledCopy('huge', 'dit-tiny/dit.safetensors', huge)),
    /dit\.safetensors: tensor [\w.]+ \(F32\) holds values up to [\d.]+e\+\d+ in magnitude, above 10000: not plausible weights/,
  );
});

test('a VAE path leading outside the model directory is refused before it is opened', async () => {
  const secret = join(root, 'secret.bin');
  writeFileSync(secret, Buffer.alloc(12345));
  for (const path of ['../../../etc/passwd', '/etc', '../secret.bin', `${root}/secret.bin`]) {
    const dir = withConfig(`vae-${path.replace(/\W/g, '_')}`, (c) => (c.codec = { kind: 'vae', path }));
    await assert.rejects(
      loadModel(dir),
      (e: Error) => /points outside/.test(e.message) && !/12345|bytes|does not exist/.test(e.message),
      path,
    );
  }
  // inside by name, outside through a symlink
  const linked = withConfig('vae-link', (c) => (c.codec = { kind: 'vae', path: 'vae.safetensors' }));
  symlinkSync(secret, join(linked, 'vae.safetensors'));
  await assert.rejects(
    loadModel(linked),
    (e: Error) => /points outside/.test(e.message) && !/12345/.test(e.message),
  );
  // a missing file inside the directory is still reported as missing
  const missing = withConfig('vae-missing', (c) => (c.codec = { kind: 'vae', path: 'nope.safetensors' }));
  await assert.rejects(loadModel(missing), /nope\.safetensors.*does not exist/);
  // the bundled model names ../vae-small/vae.safetensors inside models/: it loads
  const bundled = await loadModel('models/dit-tiny');
  assert.equal(bundled.codec.kind, 'vae');
  bundled.dispose();
});

test('generate() refuses seeds outside [0, 2^32) and non-finite or huge guidance', async () => {
  const model = initModel(microConfig(), 1);
  const story = parseStory(TWO_SHOTS, 'two');
  for (const [opts, msg] of [
    [{ seed: 2 ** 32 }, /seed must be an integer in \[0, 2\^32\), got 4294967296/],
    [{ seed: -1 }, /seed must be an integer/],
    [{ seed: 0.5 }, /seed must be an integer/],
    [{ guidance: Number.POSITIVE_INFINITY }, /guidance must be a finite number in \[0, 50\], got Infinity/],
    [{ guidance: Number.NaN }, /guidance must be a finite number/],
    [{ guidance: 50.5 }, /guidance must be a finite number in \[0, 50\]/],
  ] as const)
    await assert.rejects(generate(story, model, { steps: 1, ...opts }), msg);
});

test('the sampler stops at the first step whose state is not finite, naming it', () => {
  const steps: number[] = [];
  assert.throws(
    () =>
      sample({
        velocity: (x, t) => (t < 0.6 ? mul(x, Number.NaN) : mul(x, 0.5)),
        shape: [2, 3],
        sampler: { kind: 'euler' },
        steps: 4,
        seed: 1,
        onStep: (i) => steps.push(i.step),
      }),
    /sample: step 3\/4 \(t 0\.500 -> 0\.250\) produced non-finite values/,
  );
  assert.deepEqual(steps, [0, 1], 'stopped before reporting the bad step');
});
