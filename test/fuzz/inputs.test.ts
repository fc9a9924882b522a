/**
 * A seeded fuzzer for the two files a user hands moga: story files and model configs. Each case
 * mutates a valid one (a field set to a hostile value, removed, or a prototype-named key added)
 * and checks the contract: either a named refusal (StoryError / the config check's message), or
 * a value that the next stage accepts. Any other exception (TypeError, RangeError, a typed-array
 * length error) is a crash and fails the test with the seed and the input.
 *
 * 2,000 cases of each by default (a few seconds); MOGA_FUZZ_CASES=100000 for the long mode.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { latentLayout } from '../../src/pipeline/layout.js';
import { initModel, type ModelConfig, ModelLoadError } from '../../src/pipeline/model.js';
import { checkModelConfig, modelParamCount } from '../../src/pipeline/model-config.js';
import { parseStory, StoryError, storyFrames } from '../../src/story/story.js';
import { microConfig, TWO_SHOTS } from '../pipeline/helpers.js';
import { CASES, type Rng, rng, SEED } from './rng.js';

const HOSTILE: readonly unknown[] = [
  -1,
  0,
  0.5,
  1,
  2,
  3,
  7,
  16,
  17,
  31,
  64,
  1e6,
  1e9,
  2 ** 32,
  -(2 ** 31),
  1e308,
  -0,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  null,
  true,
  false,
  '',
  ' ',
  'x',
  '16',
  '__proto__',
  'toString',
  [],
  [1],
  [1, 2, 3],
  [0, 0, 0],
  {},
  { kind: 'vae' },
  { kind: 'pool' },
  'x'.repeat(5000),
];
const KEYS = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'extra'];

/** Paths to every value in a JSON-like tree (objects and arrays). */
function paths(x: unknown, at: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [at];
  if (Array.isArray(x)) x.forEach((v, i) => out.push(...paths(v, [...at, i])));
  else if (x && typeof x === 'object')
    for (const [k, v] of Object.entries(x)) out.push(...paths(v, [...at, k]));
  return out;
}

/** 1-3 mutations of a deep copy of `base`. */
function mutate<T>(base: T, r: Rng): T {
  let x = structuredClone(base) as unknown;
  for (let m = 1 + r.int(3); m > 0; m--) {
    const path = r.pick(paths(x));
    const value = structuredClone(r.pick(HOSTILE)); // a copy: a shared one could end up inside itself
    if (path.length === 0) {
      x = r.next() < 0.5 ? value : x;
      continue;
    }
    type Node = Record<string | number, unknown>;
    const parent = path.slice(0, -1).reduce<unknown>((o, k) => (o as Node | undefined)?.[k], x) as Node;
    if (!parent || typeof parent !== 'object') continue;
    const key = path.at(-1)!;
    const op = r.int(4);
    if (op === 0) delete parent[key];
    else if (op === 1 && !Array.isArray(parent))
      Object.defineProperty(parent, r.pick(KEYS), {
        value,
        enumerable: true,
        configurable: true,
        writable: true,
      });
    else if (op === 2 && typeof parent[key] === 'number')
      parent[key] = (parent[key] as number) * r.pick([-1, 0, 0.5, 2, 1000, 1e6]) + r.pick([0, 0.5, 1]);
    else parent[key] = value;
  }
  return x as T;
}

/** A crash: any exception that is not the named refusal the contract allows. */
function crash(kind: string, i: number, input: unknown, e: unknown): never {
  const text = JSON.stringify(input, (_, v) =>
    typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
  )?.slice(0, 600);
  assert.fail(`${kind} case ${i} (seed ${SEED}) crashed with ${(e as Error)?.stack ?? e}\ninput: ${text}`);
}

test(`story files: ${CASES} mutated stories are accepted or refused by name, never crash`, () => {
  const r = rng(SEED);
  const t0 = performance.now();
  let accepted = 0;
  for (let i = 0; i < CASES; i++) {
    const input = mutate(TWO_SHOTS, r);
    let story: ReturnType<typeof parseStory>;
    try {
      story = parseStory(input, 'fuzz.story.json');
    } catch (e) {
      if (e instanceof StoryError && e.message.startsWith('fuzz.story.json')) continue;
      crash('story', i, input, e);
    }
    accepted++;
    // an accepted story is within the limits the rest of the pipeline assumes
    const { frames } = storyFrames(story);
    assert.ok(
      Number.isInteger(frames) && frames >= 2 && frames <= 600 * 60 + 1,
      `case ${i}: ${frames} frames`,
    );
    assert.ok(Number.isInteger(story.seed) && story.seed >= 0 && story.seed < 2 ** 32, `case ${i}: seed`);
    try {
      latentLayout(story, { time: 4, space: 8 });
    } catch (e) {
      if (!(e instanceof Error && /^story shot \d+ .* owns no latent frame/.test(e.message)))
        crash('story layout', i, input, e);
    }
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(
    `story fuzz: ${CASES} cases (seed ${SEED}): ${accepted} accepted, ${CASES - accepted} refused; ${seconds} s`,
  );
  assert.ok(
    accepted > CASES / 20,
    `only ${accepted} of ${CASES} mutants were valid: the fuzzer is not exploring`,
  );
});

class Refused extends Error {}

test(`model configs: ${CASES} mutated configs are refused by field or build a model, never crash`, () => {
  const r = rng(SEED + 1);
  const t0 = performance.now();
  let refused = 0;
  const base = microConfig();
  let built = 0;
  for (let i = 0; i < CASES; i++) {
    const input = mutate(base, r) as ModelConfig;
    try {
      checkModelConfig(input, (m) => {
        throw new Refused(m);
      });
    } catch (e) {
      if (e instanceof Refused && e.message.length > 0) {
        refused++;
        continue;
      }
      crash('config', i, input, e);
    }
    // accepted: small ones must build (the check guards every field the constructors read)
    if (input.codec.kind !== 'pool' || modelParamCount(input) > 2e6) continue;
    try {
      const m = initModel(input, 1);
      built++;
      for (const t of [m.dit.params.head.modulation]) t.dispose();
    } catch (e) {
      // what only the codec knows (its latent channels) is refused when the model is assembled
      if (!(e instanceof ModelLoadError)) crash('config (accepted, then failed to build)', i, input, e);
    }
  }
  const seconds = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(
    `config fuzz: ${CASES} cases (seed ${SEED + 1}): ${refused} refused by field, ${CASES - refused} accepted, ${built} of them built; ${seconds} s`,
  );
  assert.ok(built > 10, `only ${built} accepted configs were built: the fuzzer is not exploring`);
});
