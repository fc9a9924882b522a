/**
 * Training checkpoints: a directory holding
 *   model.safetensors      the parameters, by name
 *   ema.safetensors        the EMA of the parameters (when training keeps one)
 *   optimizer.safetensors  AdamW moments `m.<name>` and `v.<name>`
 *   state.json             step, RNG state {seed, offset}, optimizer hyper-parameters, config
 *   any `files` the caller adds (a recipe's run history), written with the rest
 *
 * Atomicity: everything is written (and fsynced) into a fresh sibling directory `<dir>.tmp-*`,
 * then swapped in with renames: `<dir>` -> `<dir>.prev`, tmp -> `<dir>`, remove `<dir>.prev`.
 * A crash at any point leaves a complete checkpoint: `<dir>` if the swap finished, else the
 * previous one, which `loadCheckpoint` finds at `<dir>.prev` when `<dir>` is missing. Temp
 * directories left by crashed saves are removed by the next successful one; the temp directory of
 * a save in progress is removed by the exit cleanups (an exception, or `moga train`'s second
 * Ctrl-C).
 *
 * Test-only: `MOGA_FAULT=checkpoint:<phase>@<step>` SIGKILLs the process at that phase of the
 * save of step <step> (see `faultPoint`), so a test can kill a real trainer at every phase.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fsyncDir } from '../io/atomic-file.js';
import { onCleanup } from '../io/exit-cleanup.js';
import { readSafetensors, type TensorToWrite, writeDurable, writeSafetensors } from '../io/safetensors.js';
import type { ParamTree } from '../nn/params.js';
import { loadParamsInto, namedTensors, paramsToEntries } from '../nn/params-file.js';
import type { AdamWConfig, AdamWState } from './adamw.js';

let tmpCounter = 0;

/** `<dir>.tmp-<pid>-<n>`: a fresh sibling directory for one save (see the header). */
function tempPath(dir: string): string {
  return `${dir}.tmp-${process.pid}-${tmpCounter++}`;
}

export const CHECKPOINT_FORMAT = 'moga-checkpoint';
export const CHECKPOINT_VERSION = 1;

/** Hyper-parameters of the loop that shape the trajectory (all saved in state.json). */
export interface TrainHyper {
  readonly adamw: AdamWConfig;
  readonly warmupSteps: number;
  /** 0 = no clipping. */
  readonly maxGradNorm: number;
  /** null = no EMA. */
  readonly emaDecay: number | null;
  readonly accumulate: number;
}

/** Everything besides the parameters that a resumed run needs to continue exactly. */
export interface TrainState {
  /** Optimizer steps taken. */
  step: number;
  rng: { seed: number; offset: number };
  readonly opt: AdamWState;
  readonly ema: Map<string, Float32Array> | null;
}

export interface StateJson {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  rng: { seed: number; offset: number };
  optimizer: AdamWConfig & { t: number };
  hyper: Omit<TrainHyper, 'adamw'>;
  config: unknown;
  savedAt: string;
}

/** Writes a checkpoint of `params` and `state` to `dir` atomically (see the file comment). */
export function saveCheckpoint(
  dir: string,
  params: ParamTree,
  state: TrainState,
  hyper: TrainHyper,
  config: unknown = null,
  files: Readonly<Record<string, string>> = {},
): void {
  for (const name of Object.keys(files))
    if (!/^[\w.-]+$/.test(name) || name.startsWith('.') || OWN_FILES.includes(name))
      throw new Error(`checkpoint ${dir}: cannot add a file named '${name}'`);
  const tmp = tempPath(dir);
  const prev = `${dir}.prev`;
  const fault = (phase: FaultPhase) => faultPoint(phase, state.step);
  fault('before-temp');
  mkdirSync(tmp, { recursive: true }); // the parent may not exist yet (a fresh checkpoints/ folder)
  const release = onCleanup(() => rmSync(tmp, { recursive: true, force: true }));
  try {
    // plain writes inside the temp directory: the directory swap below is the atomic step
    const plain = { atomic: false };
    const step = { step: String(state.step) };
    writeSafetensors(`${tmp}/model.safetensors`, paramsToEntries(params), step, plain);
    fault('during-temp');
    if (state.ema)
      writeSafetensors(`${tmp}/ema.safetensors`, hostEntries(params, state.ema, ''), step, plain);
    const moments = [...hostEntries(params, state.opt.m, 'm.'), ...hostEntries(params, state.opt.v, 'v.')];
    writeSafetensors(`${tmp}/optimizer.safetensors`, moments, { t: String(state.opt.t) }, plain);
    for (const [name, text] of Object.entries(files)) writeDurable(`${tmp}/${name}`, text);
    const json: StateJson = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      step: state.step,
      rng: { seed: state.rng.seed, offset: state.rng.offset },
      optimizer: { ...hyper.adamw, t: state.opt.t },
      hyper: {
        warmupSteps: hyper.warmupSteps,
        maxGradNorm: hyper.maxGradNorm,
        emaDecay: hyper.emaDecay,
        accumulate: hyper.accumulate,
      },
      config,
      savedAt: new Date().toISOString(),
    };
    writeDurable(`${tmp}/state.json`, `${JSON.stringify(json, null, 2)}\n`);
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    release();
    throw e;
  }
  fault('before-swap');
  // `<dir>` and `<dir>.prev` both present: `<dir>` is complete, the stale `.prev` can go.
  // Only `.prev` present: it is the last good checkpoint and stays until the new one is in place.
  if (existsSync(dir)) {
    rmSync(prev, { recursive: true, force: true });
    renameSync(dir, prev);
    fault('between-renames');
  }
  renameSync(tmp, dir);
  release();
  fsyncDir(dirname(resolve(dir))); // the swap itself is durable before the old checkpoint goes
  fault('before-prev-removed');
  rmSync(prev, { recursive: true, force: true });
  // temp directories of saves that crashed before their swap are garbage now
  const stem = `${basename(dir)}.tmp-`;
  for (const f of readdirSync(dirname(dir) || '.'))
    if (f.startsWith(stem)) rmSync(join(dirname(dir), f), { recursive: true, force: true });
  fault('after');
}

/** The phases of `saveCheckpoint` at which `MOGA_FAULT` can kill the process, in order. */
export const FAULT_PHASES = [
  'before-temp', // nothing of this save on disk yet
  'during-temp', // the temp directory holds model.safetensors only
  'before-swap', // the temp directory is complete, nothing renamed
  'between-renames', // `<dir>` renamed to `<dir>.prev`, the temp not yet renamed to `<dir>` (not on a first save)
  'before-prev-removed', // the new `<dir>` in place, `<dir>.prev` still there
  'after', // the save complete, about to return
] as const;
export type FaultPhase = (typeof FAULT_PHASES)[number];

/**
 * TEST-ONLY fault injection, read here and nowhere else: with `MOGA_FAULT=checkpoint:<phase>@<step>`
 * the process SIGKILLs itself (no exit handlers, no cleanup: what `kill -9` or the OOM killer
 * does) when the save of step <step> reaches <phase> (one of FAULT_PHASES).
 * test/cli/train-kill-phases.test.ts kills a real `moga train dit` this way at every phase and
 * resumes it. Unset (as in any real run), it is one environment lookup per phase.
 */
function faultPoint(phase: FaultPhase, step: number): void {
  const spec = process.env.MOGA_FAULT;
  if (!spec) return;
  const m = /^checkpoint:([a-z-]+)@(\d+)$/.exec(spec);
  if (!m || !(FAULT_PHASES as readonly string[]).includes(m[1]))
    throw new Error(`MOGA_FAULT '${spec}': expected checkpoint:<${FAULT_PHASES.join('|')}>@<step>`);
  if (m[1] === phase && Number(m[2]) === step) process.kill(process.pid, 'SIGKILL');
}

const OWN_FILES = ['model.safetensors', 'ema.safetensors', 'optimizer.safetensors', 'state.json'];

/** The directory holding the latest complete checkpoint for `dir`, or null when there is none. */
export function findCheckpoint(dir: string): string | null {
  if (existsSync(`${dir}/state.json`)) return dir;
  if (existsSync(`${dir}.prev/state.json`)) return `${dir}.prev`;
  return null;
}

/** Reads and validates state.json of a checkpoint directory. */
export function readStateJson(dir: string): StateJson {
  const path = `${dir}/state.json`;
  let raw: string;
  try {
    raw = readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`checkpoint ${dir}: cannot read state.json (${(e as Error).message})`);
  }
  let j: StateJson;
  try {
    j = JSON.parse(raw);
  } catch (e) {
    throw new Error(`checkpoint ${path}: not valid JSON (${(e as Error).message})`);
  }
  const bad = (m: string) => new Error(`checkpoint ${path}: ${m}`);
  if (!j || typeof j !== 'object' || j.format !== CHECKPOINT_FORMAT)
    throw bad(`not a ${CHECKPOINT_FORMAT} state file`);
  if (j.version !== CHECKPOINT_VERSION)
    throw bad(`version ${j.version}, this build reads version ${CHECKPOINT_VERSION}`);
  if (!Number.isInteger(j.step) || j.step < 0) throw bad(`step ${j.step} is not an integer >= 0`);
  if (!j.rng || !Number.isInteger(j.rng.seed) || !Number.isInteger(j.rng.offset) || j.rng.offset < 0)
    throw bad(`rng ${JSON.stringify(j.rng)} is not {seed, offset} integers`);
  if (!j.optimizer || !Number.isInteger(j.optimizer.t) || j.optimizer.t < 0)
    throw bad(`optimizer.t ${j.optimizer?.t} is not an integer >= 0`);
  if (!j.hyper || typeof j.hyper !== 'object') throw bad('hyper is missing');
  return j;
}

/**
 * Loads the latest complete checkpoint for `dir` into `params` and `state` (in place; `state`
 * must have been created for the same parameters). Every name, shape and dtype is checked.
 */
export function loadCheckpoint(dir: string, params: ParamTree, state: TrainState): StateJson {
  const at = findCheckpoint(dir);
  if (!at) throw new Error(`no checkpoint at ${dir} (no state.json there or in ${basename(dir)}.prev)`);
  const json = readStateJson(at);
  const model = readSafetensors(`${at}/model.safetensors`);
  const opt = readSafetensors(`${at}/optimizer.safetensors`);
  const ema = state.ema ? readSafetensors(`${at}/ema.safetensors`) : null;
  // validate everything before writing anything
  const named = namedTensors(params);
  checkHost(opt, named, ['m.', 'v.'], `${at}/optimizer.safetensors`);
  if (ema) checkHost(ema, named, [''], `${at}/ema.safetensors`);
  loadParamsInto(params, model, { source: `${at}/model.safetensors` });
  for (const [name] of named) {
    state.opt.m.get(name)?.set(opt.tensors.get(`m.${name}`)!.data as Float32Array);
    state.opt.v.get(name)?.set(opt.tensors.get(`v.${name}`)!.data as Float32Array);
    if (ema) state.ema!.get(name)?.set(ema.tensors.get(name)!.data as Float32Array);
  }
  state.opt.t = json.optimizer.t;
  state.step = json.step;
  state.rng = { ...json.rng };
  return json;
}

function hostEntries(
  params: ParamTree,
  arrays: Map<string, Float32Array>,
  prefix: string,
): [string, TensorToWrite][] {
  const out: [string, TensorToWrite][] = [];
  for (const [name, t] of namedTensors(params)) {
    const a = arrays.get(name);
    if (a) out.push([`${prefix}${name}`, { shape: t.shape, data: a }]);
  }
  return out;
}

type Named = [string, { shape: readonly number[]; dtype: string }][];

/**
 * For every float parameter and every prefix, `prefix + name` must exist as F32 of the
 * parameter's shape; nothing else may be in the file.
 */
function checkHost(
  file: ReturnType<typeof readSafetensors>,
  named: Named,
  prefixes: string[],
  source: string,
): void {
  const missing: string[] = [];
  const wrong: string[] = [];
  const expected = new Set<string>();
  for (const [name, t] of named) {
    if (t.dtype !== 'float32') continue;
    for (const prefix of prefixes) {
      const key = `${prefix}${name}`;
      expected.add(key);
      const f = file.tensors.get(key);
      if (!f) missing.push(key);
      else if (f.dtype !== 'F32' || f.shape.join() !== t.shape.join())
        wrong.push(`${key} (file ${f.dtype} [${f.shape.join(', ')}], model [${t.shape.join(', ')}])`);
    }
  }
  const unexpected = [...file.tensors.keys()].filter((k) => !expected.has(k));
  const problems = [
    missing.length ? `missing ${missing.join(', ')}` : '',
    unexpected.length ? `unexpected ${unexpected.join(', ')}` : '',
    wrong.length ? `mis-shaped ${wrong.join(', ')}` : '',
  ].filter(Boolean);
  if (problems.length) throw new Error(`${source} does not fit the model: ${problems.join('; ')}`);
}
