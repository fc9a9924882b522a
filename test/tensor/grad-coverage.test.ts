/**
 * Every differentiable primitive has a finite-difference check somewhere under test/ (a call of
 * `checkOpGrad('<op>'`), and the non-differentiable set agrees with the null rules.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { UNARY_OPS } from '../../src/core/op-spec.js';
import { NOT_DIFFERENTIABLE } from '../../src/tensor/grad-kind.js';
import { GRAD_RULES } from '../../src/tensor/grad-rules.js';

const sources = readdirSync('test', { recursive: true })
  .map(String)
  .filter((f) => f.endsWith('.ts'))
  .map((f) => readFileSync(join('test', f), 'utf8'))
  .join('\n');

test('every differentiable op has a finite-difference gradient check', () => {
  const checked = new Set([...sources.matchAll(/checkOpGrad\(\s*'(\w+)'/g)].map((m) => m[1]));
  // grad.test.ts checks the unary ops in a loop over UNARY_OPS.
  if (/for \(const op of UNARY_OPS/.test(sources)) for (const op of UNARY_OPS) checked.add(op);
  for (const op of ['add', 'sub', 'mul', 'div', 'maximum'])
    if (/'add', 'sub', 'mul', 'div', 'maximum'/.test(sources)) checked.add(op);
  const missing = Object.entries(GRAD_RULES)
    .filter(([op, rule]) => rule !== null && !checked.has(op))
    .map(([op]) => op);
  assert.deepEqual(missing, []);
});

test('ops without a gradient rule are exactly the non-differentiable set', () => {
  const nulls = Object.entries(GRAD_RULES)
    .filter(([, rule]) => rule === null)
    .map(([op]) => op)
    .sort();
  assert.deepEqual(nulls, [...NOT_DIFFERENTIABLE].sort());
});
