/**
 * The one parser of --guidance, --guidance-until and --noise-correlation (cli/options.ts
 * `samplingOptions`) that
 * generate, regenerate, extend and eval gen share: the pipeline's ranges, and every refusal names
 * the command, the flag and the value as given.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { samplingOptions } from '../../src/cli/options.js';

test('--guidance and --guidance-until: in range parsed, not given undefined', () => {
  assert.deepEqual(samplingOptions('generate', {}), {
    guidance: undefined,
    guidanceUntil: undefined,
    noiseCorrelation: undefined,
  });
  assert.deepEqual(
    samplingOptions('generate', { guidance: '3.5', 'guidance-until': '0.25', 'noise-correlation': '0.9' }),
    { guidance: 3.5, guidanceUntil: 0.25, noiseCorrelation: 0.9 },
  );
  for (const r of ['0', '0.95', '0.999'])
    assert.equal(samplingOptions('eval gen', { 'noise-correlation': r }).noiseCorrelation, Number(r), r);
  for (const t of ['0', '1', ' 0.5 '])
    assert.equal(samplingOptions('extend', { 'guidance-until': t }).guidanceUntil, Number(t), t);
  for (const g of ['0', '50', '1'])
    assert.equal(samplingOptions('regenerate', { guidance: g }).guidance, Number(g), g);
});

test('a bad --guidance-until or --guidance is refused naming the command and the flag', () => {
  for (const cmd of ['generate', 'regenerate', 'extend', 'eval gen'])
    for (const v of ['-1', '2', 'x', '', ' ', 'NaN', 'Infinity'])
      assert.throws(
        () => samplingOptions(cmd, { 'guidance-until': v }),
        {
          message: `${cmd}: --guidance-until must be a number in [0, 1], got '${v}'`,
        },
        `${cmd} --guidance-until '${v}'`,
      );
  for (const v of ['-1', '51', 'x', '', 'NaN', 'Infinity'])
    assert.throws(() => samplingOptions('regenerate', { guidance: v }), {
      message: `regenerate: --guidance must be a number in [0, 50], got '${v}'`,
    });
  // 1 would make every latent frame of a shot the same noise: refused, as are negatives
  for (const v of ['1', '-0.1', '1.5', 'x', '', 'NaN'])
    assert.throws(() => samplingOptions('generate', { 'noise-correlation': v }), {
      message: `generate: --noise-correlation must be a number in [0, 1), got '${v}'`,
    });
});
