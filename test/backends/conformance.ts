/**
 * A reusable harness for backend conformance tests: `forEachBackend` declares one suite per
 * registered backend other than `ref` (an unavailable one fails the suite or, where
 * test/backends/required.ts allows, skips it with the reason); `onRef` / `onBackend` run a tensor
 * program on a backend and read its outputs back; `allClose` compares arrays elementwise with a
 * clear message naming the worst element. `ref` is the oracle, itself checked against float64
 * loops in test/backends/ref-float64.test.ts.
 *
 *   forEachBackend((name, b) => {
 *     it('matmul', () => compareWithRef(b(), () => matmul(randn([3, 17], 1), randn([17, 5], 2))));
 *   });
 */
import assert from 'node:assert/strict';
import {
  availableBackends,
  type Backend,
  readyBackend,
  registeredBackends,
  useBackend,
} from '../../src/backends/index.js';
import { createRefBackend } from '../../src/backends/ref/index.js';
import type { TypedArray } from '../../src/core/dtype.js';
import { type Tensor, tidy } from '../../src/tensor/tensor.js';
import { describeNeeding } from './required.js';

const availability = await availableBackends();
const REF = createRefBackend();

/** The ref backend used as the oracle (a private instance, so its liveBytes are the harness's own). */
export function refBackend(): Backend {
  return REF;
}

/**
 * Declares `describe(backend <name>)` for every registered backend but `ref` (comparing the oracle
 * with itself could not fail) and calls `fn(name, get)` inside it; `get()` returns the initialised
 * backend.
 */
export function forEachBackend(fn: (name: string, get: () => Backend) => void): void {
  for (const name of registeredBackends()) {
    if (name === 'ref') continue;
    describeNeeding(name, availability.unavailable[name], `backend ${name}`, () => {
      fn(name, () => {
        const b = readyBackend(name);
        if (!b) throw new Error(`backend ${name} is not initialised`);
        return b;
      });
    });
  }
}

/** Runs `f` with `b` as the current backend inside a tidy scope; returns copies of its outputs. */
export function onBackend(b: Backend, f: () => Tensor | Tensor[]): TypedArray[] {
  useBackend(b);
  return tidy(() => {
    const out = f();
    return (Array.isArray(out) ? out : [out]).map((t) => {
      if (t.backend !== b) throw new Error(`output lives on ${t.backend.name}, expected ${b.name}`);
      return t.dataSync();
    }) as never;
  }) as unknown as TypedArray[];
}

export function onRef(f: () => Tensor | Tensor[]): TypedArray[] {
  return onBackend(REF, f);
}

/**
 * Asserts |actual - expected| <= atol + rtol * |expected| everywhere (NaN matches NaN, infinities
 * must match exactly); the message names the worst element and the shapes' lengths.
 */
export function allClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol = 1e-5,
  atol = 1e-6,
  what = '',
): void {
  assert.equal(
    actual.length,
    expected.length,
    `${what}: length ${actual.length} != expected ${expected.length}`,
  );
  let worst = -1;
  let worstExcess = 0;
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) ? Number.isNaN(a) : a === e) continue;
    const excess = Math.abs(a - e) - (atol + rtol * Math.abs(e));
    if (!(excess <= 0)) {
      bad++;
      if (worst < 0 || !(excess <= worstExcess)) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (worst >= 0)
    assert.fail(
      `${what}: ${bad} of ${actual.length} elements differ; worst at [${worst}]: ${actual[worst]} vs expected ${expected[worst]} (rtol ${rtol}, atol ${atol})`,
    );
}

/** Runs `f` on `b` and on ref and compares every output. */
export function compareWithRef(
  b: Backend,
  f: () => Tensor | Tensor[],
  rtol = 1e-5,
  atol = 1e-6,
  what = '',
): void {
  const got = onBackend(b, f);
  const want = onRef(f);
  assert.equal(got.length, want.length);
  got.forEach((g, i) => {
    assert.equal(g.constructor, want[i].constructor, `${what} output ${i}: dtype differs`);
    allClose(g, want[i], rtol, atol, `${what} output ${i}`);
  });
}
