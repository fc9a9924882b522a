/**
 * The one parser of --guidance and --guidance-until (cli/options.ts `guidanceOptions`) that
 * generate, regenerate, extend and eval gen share: the pipeline's ranges, and every refusal names
 * the command, the flag and the value as given.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { guidanceOptions } from '../../src/cli/options.js';

test('--guidance and --guidance-until: in range parsed, not given undefined', () => {
  assert.deepEqual(guidanceOptions('generate', {}), { guidance: undefined, guidanceUntil: undefined });
  assert.deepEqual(guidanceOptions('generate', { guidance: '3.5', 'guidance-until': '0.25' }), {
    guidance: 3.5,
    guidanceUntil: 0.25,
  });
  for (const t of ['0', '1', ' 0.5 '])
    assert.equal(guidanceOptions('extend', { 'guidance-until': t }).guidanceUntil, Number(t), t);
  for (const g of ['0', '50', '1'])
    assert.equal(guidanceOptions('regenerate', { guidance: g }).guidance, Number(g), g);
});

test('a bad --guidance-until or --guidance is refused naming the command and the flag', () => {
  for (const cmd of ['generate', 'regenerate', 'extend', 'eval gen'])
    for (const v of ['-1', '2', 'x', '', ' ', 'NaN', 'Infinity'])
      assert.throws(
        () => guidanceOptions(cmd, { 'guidance-until': v }),
        {
          message: `${cmd}: --guidance-until must be a number in [0, 1], got '${v}'`,
        },
        `${cmd} --guidance-until '${v}'`,
      );
  for (const v of ['-1', '51', 'x', '', 'NaN', 'Infinity'])
    assert.throws(() => guidanceOptions('regenerate', { guidance: v }), {
      message: `regenerate: --guidance must be a number in [0, 50], got '${v}'`,
    });
});
